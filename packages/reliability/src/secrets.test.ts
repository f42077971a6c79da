// Secrets: values planted in the environment of `dwm run` must never appear in any file of the run
// store. The workers try hard to leak them: the fake Codex CLI and Claude Code print the variables
// they were given; a shell worker prints its whole environment and its ancestors' (from
// /proc/<pid>/environ, which any process of the same user can read), and scan_lib's worker also
// writes them into its declared output and into the work (diff), which fails its review (the run
// stops there, exit 1: what matters is what the store holds). Planted: what the agent backends are given
// (OPENAI_API_KEY, ANTHROPIC_API_KEY, a gateway key by api_key_env), a secret-looking variable a
// binding passes on (pass_env), and secrets no worker is given (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
// NPM_TOKEN, DATABASE_PASSWORD).
import fs from "node:fs";
import path from "node:path";
import { makeTempDir, pathWithFakeClis } from "@dwm/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { baseEnv, dwmChild, filesUnder, requireBuiltCli, runIds } from "./support/dwm.js";
import { exampleRepo } from "./support/repos.js";
import { modeOf, report, SEED, size, suiteRng } from "./support/suite.js";

const RUNS = size("secrets", 1, 5);

const NAMES = [
  "OPENAI_API_KEY",
  "ANTHROPIC_API_KEY",
  "RELIABILITY_GATEWAY_KEY",
  "RELIABILITY_SERVICE_TOKEN",
  "GITHUB_TOKEN",
  "AWS_SECRET_ACCESS_KEY",
  "NPM_TOKEN",
  "DATABASE_PASSWORD",
];

/** Prints its environment and its ancestors', optionally writes it into files, then runs argv. */
const LEAKER = `import { spawnSync } from "node:child_process";
import fs from "node:fs";
const lines = Object.entries(process.env).map(([k, v]) => \`\${k}=\${v}\`);
let pid = process.ppid;
for (let i = 0; i < 8 && pid > 1; i++) {
  try {
    for (const e of fs.readFileSync(\`/proc/\${pid}/environ\`, "utf8").split("\\0")) lines.push(\`ancestor \${pid}: \${e}\`);
  } catch {}
  try {
    pid = Number(fs.readFileSync(\`/proc/\${pid}/stat\`, "utf8").split(") ")[1].split(" ")[1]);
  } catch {
    break;
  }
}
const dump = lines.join("\\n");
console.log(dump);
console.error(dump);
const [mode, cmd, ...args] = process.argv.slice(2);
const r = spawnSync(cmd, args, { stdio: "inherit" });
if (mode === "write") {
  // Into the declared outputs (still valid JSON) and into the work beside them.
  for (const f of fs.readdirSync("audit")) {
    const p = \`audit/\${f}\`;
    if (f.endsWith(".json")) fs.writeFileSync(p, JSON.stringify({ ...JSON.parse(fs.readFileSync(p, "utf8")), leak: dump }));
  }
  fs.writeFileSync("audit/env-dump.txt", dump);
}
process.exit(r.status ?? 1);
`;

const stats = {
  runs: 0,
  planted_values: 0,
  evidence_files_scanned: 0,
  evidence_bytes_scanned: 0,
  leaks_found: 0,
  redaction_marks: 0,
  secret_in_work_findings: 0,
  workers_that_saw_a_secret: 0,
};
const leaks: { run: number; file: string; name: string }[] = [];
const startedAt = Date.now();

async function oneRun(n: number): Promise<void> {
  const rng = suiteRng("secrets").fork(n);
  const planted: Record<string, string> = {};
  for (const name of NAMES)
    planted[name] = `planted-${name.toLowerCase()}-${rng.next().toString(36)}${rng.next().toString(36)}`;
  const tmp = makeTempDir("dwm-rel-secrets-");
  const scenario = (tool: string, area: string) => {
    const file = path.join(tmp.path, `${tool}.json`);
    const findings = { area, files_scanned: 0, findings: [] };
    fs.writeFileSync(
      file,
      JSON.stringify({
        echoEnv: NAMES,
        message: `scanned ${area}`,
        writes: [{ path: `audit/findings-${area}.json`, content: `${JSON.stringify(findings)}\n` }],
      }),
    );
    return `@${file}`;
  };
  const repo = exampleRepo("repo-audit", {
    passEnv: ["RELIABILITY_SERVICE_TOKEN"],
    edit: (dir) => {
      fs.writeFileSync(path.join(dir, "leak.mjs"), LEAKER);
      const file = path.join(dir, "dwm.workers.json");
      const b = JSON.parse(fs.readFileSync(file, "utf8"));
      const shell = (mode: string, argv: string[]) => ({
        backend: "shell",
        argv: ["node", "leak.mjs", mode, ...argv],
        pass_env: ["RELIABILITY_SERVICE_TOKEN"],
      });
      b.bindings["inventory-worker"] = shell("print", ["node", "scripts/inventory.mjs"]);
      b.bindings["scan-src-worker"] = {
        backend: "codex",
        sandbox: "workspace-write",
        api_key_env: "RELIABILITY_GATEWAY_KEY",
        pass_env: ["DWM_FAKE_CODEX"],
      };
      b.bindings["scan-docs-worker"] = {
        backend: "claude",
        permission_mode: "acceptEdits",
        api_key_env: "RELIABILITY_GATEWAY_KEY",
        pass_env: ["DWM_FAKE_CLAUDE"],
      };
      b.bindings["scan-lib-worker"] = shell("write", ["node", "scripts/scan.mjs", "lib"]);
      b.bindings["report-worker"] = shell("print", ["node", "scripts/report.mjs"]);
      b.bindings["gate-worker"] = shell("print", ["node", "scripts/acceptance-request.mjs"]);
      fs.writeFileSync(file, `${JSON.stringify(b, null, 2)}\n`);
    },
  });
  try {
    const env = baseEnv({
      ...planted,
      PATH: pathWithFakeClis(process.env.PATH),
      TMPDIR: tmp.path,
      DWM_FAKE_CODEX: scenario("codex", "src"),
      DWM_FAKE_CLAUDE: scenario("claude", "docs"),
    });
    const first = await dwmChild(repo.path, ["run", "workflow.plan.json"], env);
    expect([1, 4], first.stderr).toContain(first.code);
    const [runId] = runIds(repo.path);
    if (first.code === 4) {
      await dwmChild(repo.path, ["approve", runId as string, "human-gate"], env);
      await dwmChild(repo.path, ["run", runId as string], env);
    }
    stats.runs++;
    stats.planted_values += NAMES.length;
    const store = path.join(repo.path, ".dwm");
    for (const rel of filesUnder(store)) {
      const bytes = fs.readFileSync(path.join(store, rel));
      stats.evidence_files_scanned++;
      stats.evidence_bytes_scanned += bytes.length;
      const text = bytes.toString("latin1");
      stats.redaction_marks += text.split("[REDACTED:").length - 1;
      for (const [name, value] of Object.entries(planted)) {
        if (bytes.includes(value)) {
          stats.leaks_found++;
          leaks.push({ run: n, file: rel, name });
        }
      }
      if (rel.endsWith("attempt.json")) {
        const a = JSON.parse(bytes.toString("utf8")) as { findings: { code: string }[] };
        stats.secret_in_work_findings += a.findings.filter((f) => f.code === "secret-in-work").length;
      }
      if (/\/workers\/[^/]+\/(stdout|transcript\.jsonl)$/.test(rel) && /\[REDACTED:/.test(text))
        stats.workers_that_saw_a_secret++;
    }
  } finally {
    repo.cleanup();
    tmp.cleanup();
  }
}

requireBuiltCli();

describe(`secrets (${RUNS} run(s), seed ${SEED})`, () => {
  afterAll(() => {
    report(
      { suite: "secrets", mode: modeOf("secrets"), seed: SEED, counts: stats, detail: { leaks } },
      startedAt,
    );
  });

  it("no planted value appears in any file of the run store", async () => {
    for (let n = 0; n < RUNS; n++) await oneRun(n);
    expect(leaks).toEqual([]);
    // Not vacuous: the workers did print and write the secrets they were given (now redacted).
    expect(stats.redaction_marks).toBeGreaterThan(0);
    expect(stats.workers_that_saw_a_secret).toBeGreaterThan(0);
  });
});
