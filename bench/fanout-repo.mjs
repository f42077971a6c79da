// The fan-out side by side with `xargs -P` (issue 30): a generated git repository of real size,
// the per-item script both sides run, the schema 0.6 plan DWM runs, and the comparison of their
// results. Everything generated is a function of the seed and the sizes, so two runs compare.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { benchPlan, CONCURRENCY } from "./plans.mjs";

/** Full size: at least 2,000 files and 20 MB; quick (the CI smoke test): about 20 files. */
export const REPO_SIZES = {
  full: { files: 2_000, jsShare: 0.6, minBytes: 20 * 2 ** 20 },
  quick: { files: 25, jsShare: 0.8, minBytes: 64 * 2 ** 10 },
};

/** A small seeded PRNG (mulberry32): the same seed, the same repository. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "alpha beta gamma delta parse render queue cache token index value store merge split fetch item node tree path list count check build write read".split(
    " ",
  );

/** Source text of about `size` bytes: CommonJS, or an ES module for `.mjs`; `broken` ends in a syntax error. */
function jsSource(rand, size, { esm, broken }) {
  const w = () => WORDS[Math.floor(rand() * WORDS.length)];
  let k = 0;
  // Names are unique in a file (a module may not declare one twice).
  const id = () => `${w()}${w()[0].toUpperCase()}${w().slice(1)}${k++}`;
  const out = [`// ${w()} ${w()} ${w()}: generated for the fan-out bench`, '"use strict";'];
  if (esm) out.pop();
  let bytes = out.join("\n").length;
  const names = [];
  while (bytes < size) {
    let name = id();
    const r = rand();
    let block;
    if (r < 0.45) {
      block = [
        `/** ${w()} the ${w()} of a ${w()}. */`,
        `function ${name}(${w()}, ${w()}Opts = {}) {`,
        `  const ${w()}List = [${Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Math.floor(rand() * 1e4)).join(", ")}];`,
        `  if (${w()}Opts.${w()} === undefined) return ${w()}List.length;`,
        `  return ${w()}List.map((x) => x * ${Math.floor(rand() * 97)}).reduce((a, b) => a + b, 0);`,
        "}",
      ];
    } else if (r < 0.7) {
      name = `${name[0].toUpperCase()}${name.slice(1)}`;
      block = [
        `class ${name} {`,
        `  constructor(${w()}) { this.${w()} = ${w()}; this.count = ${Math.floor(rand() * 100)}; }`,
        `  ${w()}() { return \`${w()} \${this.count} ${w()}\`; }`,
        "}",
      ];
    } else if (r < 0.9) {
      block = [
        `const ${name} = {`,
        ...Array.from(
          { length: 2 + Math.floor(rand() * 8) },
          (_, i) => `  ${w()}${i}: "${w()} ${w()} ${w()}",`,
        ),
        "};",
      ];
    } else {
      block = Array.from(
        { length: 1 + Math.floor(rand() * 5) },
        () => `// ${w()} ${w()} ${w()} ${w()} ${w()}`,
      );
      block.push(`let ${name} = ${Math.floor(rand() * 1e6)};`);
    }
    names.push(name);
    const text = block.join("\n");
    out.push(text, "");
    bytes += text.length + 2;
  }
  out.push(
    esm
      ? `export { ${names.slice(0, 3).join(", ")} };`
      : `module.exports = { ${names.slice(0, 3).join(", ")} };`,
  );
  if (broken) out.push(`const ${names[0]}Broken = {;`);
  return `${out.join("\n")}\n`;
}

/** Text of about `size` bytes for a non-JS file of kind `ext`. */
function otherText(rand, size, ext) {
  const w = () => WORDS[Math.floor(rand() * WORDS.length)];
  const lines = [];
  let bytes = 0;
  while (bytes < size) {
    let l;
    if (ext === "md")
      l = rand() < 0.15 ? `## ${w()} ${w()}` : `${w()} ${w()} ${w()} ${w()} ${w()} ${w()} ${w()}.`;
    else if (ext === "json") l = `  {"${w()}": ${Math.floor(rand() * 1e6)}, "${w()}": "${w()} ${w()}"},`;
    else l = `${Math.floor(rand() * 1e6)},${w()},${w()},${(rand() * 100).toFixed(3)}`;
    lines.push(l);
    bytes += l.length + 1;
  }
  if (ext === "json") return `[\n${lines.join("\n").replace(/,$/, "")}\n]\n`;
  return `${lines.join("\n")}\n`;
}

/** The per-item script, the very same for DWM and for xargs. */
const CHECK_SH = `# One item: \`node --check\` and a line count of one file, written to <out>/check.json.
# Under DWM (no argument): the file is the item's "file" ($DWM_INPUTS_DIR/fanout-item.json),
# <out> is $DWM_PACKET_ID. Under xargs: check.sh FILE, <out> is $CHECK_OUT/FILE.
set -e
if [ $# -gt 0 ]; then
  f=$1
  out=$CHECK_OUT/$1
else
  f=$(sed -n 's/.*"file":"\\([^"]*\\)".*/\\1/p' "$DWM_INPUTS_DIR/fanout-item.json")
  out=$DWM_PACKET_ID
fi
if node --check "$f" 2>/dev/null; then ok=true; else ok=false; fi
lines=$(wc -l < "$f")
mkdir -p "$out"
printf '{"file":"%s","ok":%s,"lines":%d}\\n' "$f" "$ok" "$((lines))" > "$out/check.json"
`;

/** The list: every JS file under src/ (sorted, at most MAX) as items.json's [{file}], and one path a line on stdout. */
const LIST_MJS = `// node scripts/list.mjs MAX OUT: every JS file under src/, sorted, at most MAX of them, as a JSON
// list of { file } in OUT; the same paths one a line on stdout (what xargs reads).
import fs from "node:fs";
import path from "node:path";

const [max, out] = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\\.(c|m)?js$/.test(e.name)) files.push(p);
  }
};
walk("src");
files.sort();
const picked = files.slice(0, Number(max));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, \`\${JSON.stringify(picked.map((file) => ({ file })), null, 1)}\\n\`);
process.stdout.write(picked.map((f) => \`\${f}\\n\`).join(""));
`;

/** The reduce: one summary of every item's check.json, from DWM's reduce input or from a folder. */
const SUMMARY_MJS = `// node scripts/summary.mjs OUT [DIR]: a summary of every item's check.json into OUT: under DWM,
// from the reduce's input $DWM_INPUTS_DIR/check.json (one list of { key, handoff }); else every
// check.json under DIR (what xargs wrote).
import fs from "node:fs";
import path from "node:path";

const [out, dir] = process.argv.slice(2);
let checks;
if (dir === undefined) {
  const list = JSON.parse(fs.readFileSync(path.join(process.env.DWM_INPUTS_DIR, "check.json"), "utf8"));
  checks = list.map((e) => e.handoff);
} else {
  checks = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "check.json") checks.push(JSON.parse(fs.readFileSync(p, "utf8")));
    }
  };
  walk(dir);
}
checks.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
const summary = {
  files: checks.length,
  ok: checks.filter((c) => c.ok).length,
  lines: checks.reduce((n, c) => n + c.lines, 0),
  failed: checks.filter((c) => !c.ok).map((c) => c.file),
};
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, \`\${JSON.stringify(summary, null, 1)}\\n\`);
`;

/** Sizes of `n` files, log-uniform in [lo, hi], scaled up so they sum to at least `min` bytes. */
function sizes(rand, n, lo, hi) {
  return Array.from({ length: n }, () => Math.round(Math.exp(Math.log(lo) + rand() * Math.log(hi / lo))));
}

/**
 * Write the generated repository into the empty folder `dir` and commit it on `main`: JavaScript
 * files (`.js`, `.mjs`, `.cjs`; about 2% end in a syntax error) in nested folders under src/,
 * Markdown, JSON and CSV files beside them, the scripts both sides run, `plan` as
 * workflow.plan.json when given, and `.dwm/` ignored. Returns `{ head, files, jsFiles, bytes }`.
 */
export function generateRepo(dir, { files, jsShare, minBytes }, { seed = 30, plan = null } = {}) {
  const rand = prng(seed);
  const nJs = Math.round(files * jsShare);
  const kinds = ["md", "json", "csv"];
  const specs = [];
  const dirs = Array.from({ length: Math.max(2, Math.ceil(files / 25)) }, (_, i) => {
    const depth = 1 + (i % 4);
    return Array.from(
      { length: depth },
      (_, d) => `${WORDS[(i * 7 + d * 3) % WORDS.length]}${d === 0 ? i % 13 : d}`,
    ).join("/");
  });
  const jsSizes = sizes(rand, nJs, 400, 60_000);
  const otherSizes = sizes(rand, files - nJs, 400, 80_000);
  const total = [...jsSizes, ...otherSizes].reduce((a, b) => a + b, 0);
  const scale = total < minBytes ? (minBytes / total) * 1.02 : 1;
  for (let i = 0; i < nJs; i++) {
    const ext = ["js", "js", "mjs", "cjs"][i % 4];
    specs.push({
      rel: `src/${dirs[i % dirs.length]}/m${String(i).padStart(5, "0")}.${ext}`,
      js: true,
      ext,
      size: jsSizes[i] * scale,
    });
  }
  for (let i = 0; i < files - nJs; i++) {
    const ext = kinds[i % kinds.length];
    const top = ext === "md" ? "docs" : ext === "json" ? "fixtures" : "data";
    specs.push({
      rel: `${top}/${dirs[(i * 5) % dirs.length]}/f${String(i).padStart(5, "0")}.${ext}`,
      js: false,
      ext,
      size: otherSizes[i] * scale,
    });
  }
  let bytes = 0;
  for (const s of specs) {
    const text = s.js
      ? jsSource(rand, s.size, { esm: s.ext === "mjs", broken: rand() < 0.02 })
      : otherText(rand, s.size, s.ext);
    const abs = path.join(dir, s.rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, text);
    bytes += Buffer.byteLength(text);
  }
  fs.mkdirSync(path.join(dir, "scripts"), { recursive: true });
  fs.writeFileSync(path.join(dir, "scripts", "check.sh"), CHECK_SH);
  fs.writeFileSync(path.join(dir, "scripts", "list.mjs"), LIST_MJS);
  fs.writeFileSync(path.join(dir, "scripts", "summary.mjs"), SUMMARY_MJS);
  fs.writeFileSync(path.join(dir, ".gitignore"), ".dwm/\n");
  if (plan) fs.writeFileSync(path.join(dir, "workflow.plan.json"), `${JSON.stringify(plan, null, 2)}\n`);
  const git = (...a) =>
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...a], {
      cwd: dir,
      encoding: "utf8",
    }).trim();
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-q", "-m", "generated repository");
  return { head: git("rev-parse", "HEAD"), files: specs.length, jsFiles: nJs, bytes };
}

/**
 * The schema 0.6 plan: `list` writes items.json (at most `n` JS files), `check` runs
 * scripts/check.sh once per file (check.json in the item's folder), `summary` reduces every
 * check.json into reports/summary.json. Command phases only.
 */
export function repoPlan(n) {
  const base = benchPlan({});
  return benchPlan({
    schema_version: "0.6",
    plan_id: `bench-fanout-repo-${n}`,
    source_prompt: "Check every JavaScript file of the repository with node --check and count its lines.",
    objective: `List up to ${n} JavaScript files, check each in its own item, and summarise.`,
    activation: {
      ...base.activation,
      matched_thresholds: ["multi-surface-fanout", "planned-fanout", "resumable-handoffs"],
      reason: "Every file is an independent item.",
    },
    execution_path: {
      ...base.execution_path,
      first_slice: {
        instruction: "List the JavaScript files under src/ into items.json.",
        inputs: ["repository path"],
        expected_output: "items.json",
        completion_check: "items.json is a JSON list of { file }",
        forbidden_actions: ["editing src/"],
      },
    },
    handoffs: [
      {
        artifact: "items.json",
        from_phase: "list",
        to_phase: "check",
        artifact_schema: {
          format: "json-list",
          required_fields: ["file"],
          validation_command: "test -s items.json",
        },
      },
      {
        artifact: "check.json",
        from_phase: "check",
        to_phase: "summary",
        artifact_schema: {
          format: "json",
          required_fields: ["file", "ok", "lines"],
          validation_command: "test -s check.json",
        },
      },
    ],
    parallelism: { ...base.parallelism, fan_in_rule: "summary reads every item's check.json as one list" },
    phases: [
      {
        id: "list",
        name: "List the JavaScript files",
        depends_on: [],
        entry_criteria: ["the repository is checked out"],
        exit_criteria: ["items.json lists the files"],
        outputs: ["items.json"],
        worker_ids: [],
        command: { run: ["node", "scripts/list.mjs", String(n), "items.json"] },
      },
      {
        id: "check",
        name: "Check one file",
        depends_on: ["list"],
        entry_criteria: ["the item names a file"],
        exit_criteria: ["check.json has the file's check and line count"],
        outputs: ["check.json"],
        worker_ids: [],
        command: { run: ["sh", "scripts/check.sh"] },
        fan_out: { over: "items.json", key: "file", max_items: n, pipeline: [], reduce: "summary" },
      },
      {
        id: "summary",
        name: "Summarise",
        depends_on: ["check"],
        entry_criteria: ["every item has a check.json"],
        exit_criteria: ["reports/summary.json counts every file"],
        outputs: ["reports/summary.json"],
        worker_ids: [],
        command: { run: ["node", "scripts/summary.mjs", "reports/summary.json"] },
      },
    ],
    resume: {
      cacheable_outputs: ["items.json", "check.json"],
      invalidators: ["plan changes"],
      restart_points: ["list"],
    },
    risk_gates: [
      ...base.risk_gates,
      {
        requires_user_approval: true,
        safe_default: { action: "stop", before: "shell-process" },
        trigger: "shell command execution",
      },
    ],
    verification: [
      {
        claim_or_output: "reports/summary.json counts every listed file",
        evidence_required: ["reports/summary.json"],
        falsifier: "a listed file missing from the summary",
      },
    ],
    workers: [],
  });
}

/** The shell line the xargs side runs in the repository: the same list, `xargs -P`, the same reduce. */
export function xargsCommand(n, scratch) {
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  return [
    `node scripts/list.mjs ${n} ${q(path.join(scratch, "items.json"))}`,
    `| CHECK_OUT=${q(path.join(scratch, "out"))} xargs -P ${CONCURRENCY} -n 1 sh scripts/check.sh`,
    `&& node scripts/summary.mjs ${q(path.join(scratch, "summary.json"))} ${q(path.join(scratch, "out"))}`,
  ].join(" ");
}

/**
 * Compare two sides' results, each a Map from file to its check.json bytes: the differences as
 * strings (a file on one side only, or different bytes); empty when they are equal.
 */
export function compareChecks(dwm, floor) {
  const diffs = [];
  for (const [file, bytes] of dwm) {
    if (!floor.has(file)) diffs.push(`${file}: only in dwm`);
    else if (!Buffer.from(bytes).equals(Buffer.from(floor.get(file))))
      diffs.push(
        `${file}: dwm ${JSON.stringify(String(bytes))} != xargs ${JSON.stringify(String(floor.get(file)))}`,
      );
  }
  for (const file of floor.keys()) if (!dwm.has(file)) diffs.push(`${file}: only in xargs`);
  return diffs;
}

/** Every check.json xargs wrote under `out` (out/<file>/check.json), keyed by file. */
export function readFloorChecks(out) {
  const m = new Map();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "check.json")
        m.set(path.relative(out, d).split(path.sep).join("/"), fs.readFileSync(p));
    }
  };
  if (fs.existsSync(out)) walk(out);
  return m;
}

/**
 * Every item's check.json on `ref` of the repository in `dir` (check/<item>/check.json), keyed by
 * the file it names: read with one `git ls-tree` and one `git cat-file --batch`.
 */
export function readRefChecks(dir, ref) {
  const names = execFileSync("git", ["ls-tree", "-r", "--name-only", ref, "--", "check/"], {
    cwd: dir,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  })
    .split("\n")
    .filter((p) => p.endsWith("/check.json"));
  const raw = execFileSync("git", ["cat-file", "--batch"], {
    cwd: dir,
    input: names.map((p) => `${ref}:${p}\n`).join(""),
    maxBuffer: 1 << 30,
  });
  const m = new Map();
  let at = 0;
  for (const name of names) {
    const nl = raw.indexOf(10, at);
    const header = raw.subarray(at, nl).toString();
    const size = Number(header.split(" ")[2]);
    if (!Number.isInteger(size)) throw new Error(`git cat-file ${ref}:${name}: ${header}`);
    const bytes = raw.subarray(nl + 1, nl + 1 + size);
    at = nl + 1 + size + 1;
    const file = JSON.parse(bytes.toString()).file;
    if (m.has(file)) throw new Error(`two items wrote the check of ${file}`);
    m.set(file, bytes);
  }
  return m;
}
