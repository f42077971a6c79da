// Escapes: plan-controlled (and operator-given) paths that point outside their root, by `..`, by an
// absolute path or through a symbolic link, for each place a path enters DWM: the run store, handoff
// names, declared outputs and ownership globs. Every one must be refused (a coded error, or the path
// is never used: an output that is not read, a glob that grants nothing), and nothing outside the
// repository may be created, changed or copied into evidence. An "outside" folder with a canary file
// stands beside the repository; its listing and bytes are compared before and after every case.
import fs from "node:fs";
import path from "node:path";
import { registerHandoffs } from "@dwm/ingester";
import { makeTempDir } from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseEnv, dwmInProcess, EXAMPLES, filesUnder, requireBuiltCli, runIds } from "./support/dwm.js";
import { exampleRepo } from "./support/repos.js";
import { FULL, modeOf, report, SEED } from "./support/suite.js";

interface Case {
  target: "store" | "handoff name" | "output" | "ownership glob";
  input: string;
  refused: boolean;
  how: string;
  outside_untouched: boolean;
}
const cases: Case[] = [];
const startedAt = Date.now();
const CANARY = "canary: outside the repository, must never be read into evidence or changed\n";

let outside: { path: string; cleanup(): void };
let tmp: { path: string; cleanup(): void };
const repos: { cleanup(): void }[] = [];

function snapshot(dir: string): string {
  return filesUnder(dir)
    .map((f) => `${f}:${fs.readFileSync(path.join(dir, f)).toString("base64")}`)
    .join("\n");
}

function record(c: Omit<Case, "outside_untouched">, before: string): Case {
  const full: Case = { ...c, outside_untouched: snapshot(outside.path) === before };
  cases.push(full);
  return full;
}

// biome-ignore lint/suspicious/noExplicitAny: edits reach into the plan freely
function planWith(edit: (plan: any) => void) {
  return exampleRepo("repo-audit", {
    edit: (dir) => {
      const file = path.join(dir, "workflow.plan.json");
      const plan = JSON.parse(fs.readFileSync(file, "utf8"));
      edit(plan);
      fs.writeFileSync(file, `${JSON.stringify(plan, null, 2)}\n`);
    },
  });
}

/** Quick mode tries the first two inputs of each list; full mode all of them. */
const some = <T>(xs: T[]): T[] => (FULL ? xs : xs.slice(0, 2));

const codeOf = (stderr: string) => /ERR_[A-Z0-9_]+/.exec(stderr)?.[0] ?? "";

requireBuiltCli();

describe(`escapes (seed ${SEED})`, () => {
  beforeAll(() => {
    outside = makeTempDir("dwm-rel-outside-");
    tmp = makeTempDir("dwm-rel-escapes-");
    fs.writeFileSync(path.join(outside.path, "canary.txt"), CANARY);
  });
  afterAll(() => {
    const byTarget: Record<string, number> = {};
    for (const c of cases) byTarget[c.target] = (byTarget[c.target] ?? 0) + 1;
    report(
      {
        suite: "escapes",
        mode: modeOf("escapes"),
        seed: SEED,
        counts: {
          cases: cases.length,
          refused: cases.filter((c) => c.refused).length,
          outside_untouched: cases.filter((c) => c.outside_untouched).length,
          store_cases: byTarget.store ?? 0,
          handoff_name_cases: byTarget["handoff name"] ?? 0,
          output_cases: byTarget.output ?? 0,
          ownership_glob_cases: byTarget["ownership glob"] ?? 0,
        },
        detail: { cases },
      },
      startedAt,
    );
    for (const r of repos) r.cleanup();
    outside?.cleanup();
    tmp?.cleanup();
  });

  it("store: --store outside the repository, a symlinked store, a symlinked run, plan ids with paths", async () => {
    const repo = exampleRepo("repo-audit");
    repos.push(repo);
    const rel = path.relative(repo.path, outside.path);
    for (const store of some([
      rel,
      outside.path,
      `${rel}/store`,
      ".git/dwm",
      "../../../../../../../tmp/dwm-escape",
    ])) {
      const before = snapshot(outside.path);
      const o = await dwmInProcess(repo.path, ["compile", "workflow.plan.json", "--store", store]);
      const c = record(
        {
          target: "store",
          input: `--store ${store}`,
          refused: o.code !== 0 && codeOf(o.stderr) === "ERR_OUT_PATH_UNSAFE",
          how: `exit ${o.code} ${codeOf(o.stderr)}`,
        },
        before,
      );
      expect(c, o.stderr).toMatchObject({ refused: true, outside_untouched: true });
    }
    expect(fs.existsSync("/tmp/dwm-escape")).toBe(false);

    // The store folder is a symlink to a folder outside.
    const linked = exampleRepo("repo-audit");
    repos.push(linked);
    fs.symlinkSync(outside.path, path.join(linked.path, ".dwm"));
    let before = snapshot(outside.path);
    let o = await dwmInProcess(linked.path, ["compile", "workflow.plan.json"]);
    let c = record(
      {
        target: "store",
        input: ".dwm -> outside",
        refused: o.code !== 0 && codeOf(o.stderr) === "ERR_OUT_PATH_SYMLINK",
        how: `exit ${o.code} ${codeOf(o.stderr)}`,
      },
      before,
    );
    expect(c, o.stderr).toMatchObject({ refused: true, outside_untouched: true });

    // A compiled run whose folder is swapped for a symlink to a copy outside: run, verify and approve refuse it.
    expect((await dwmInProcess(repo.path, ["compile", "workflow.plan.json"])).code).toBe(0);
    const [runId] = runIds(repo.path);
    const runPath = path.join(repo.path, ".dwm", "runs", runId as string);
    const moved = path.join(outside.path, "moved-run");
    fs.cpSync(runPath, moved, { recursive: true });
    fs.rmSync(runPath, { recursive: true });
    fs.symlinkSync(moved, runPath);
    // (dwm verify only reads: it is not a writer, and is left out here.)
    for (const argv of [
      ["run", runId as string],
      ["approve", runId as string, "write"],
      ["exec", runId as string, "inventory", "--backend", "dry-run"],
    ]) {
      before = snapshot(outside.path);
      o = await dwmInProcess(repo.path, argv);
      c = record(
        {
          target: "store",
          input: `dwm ${argv[0]} on a run folder that is a symlink`,
          refused: o.code !== 0,
          how: `exit ${o.code} ${
            codeOf(o.stderr) ||
            o.stdout
              .split("\n")
              .find((l) => l.includes("ERR_"))
              ?.trim() ||
            ""
          }`,
        },
        before,
      );
      expect(c, o.stderr + o.stdout).toMatchObject({ refused: true, outside_untouched: true });
    }

    // Plan ids that look like paths only name a run folder inside the store.
    for (const id of some(["../escape", "/tmp/abs", "a/../../b", ".."])) {
      const r = planWith((p) => (p.plan_id = id));
      repos.push(r);
      before = snapshot(outside.path);
      o = await dwmInProcess(r.path, ["compile", "workflow.plan.json", "--json"]);
      const runDirRel =
        o.code === 0 ? (JSON.parse(o.stdout) as { run_dir?: string; run_id: string }).run_id : "";
      const inside =
        o.code !== 0 ||
        (runIds(r.path).length === 1 && !runDirRel.includes("/") && !runDirRel.startsWith("."));
      c = record(
        {
          target: "store",
          input: `plan_id ${JSON.stringify(id)}`,
          refused: inside,
          how: o.code === 0 ? `run folder .dwm/runs/${runDirRel}` : `exit ${o.code} ${codeOf(o.stderr)}`,
        },
        before,
      );
      expect(c).toMatchObject({ refused: true, outside_untouched: true });
    }
  });

  it("handoff names: .. and absolute artifacts are refused by evaluate and compile; a symlinked handoffs/ is not written through", async () => {
    for (const name of some([
      "../outside.json",
      "/tmp/dwm-escape.json",
      "audit/../../x.json",
      `${outside.path}/canary.txt`,
    ])) {
      const r = planWith((p) => {
        p.handoffs[0].artifact = name;
      });
      repos.push(r);
      const before = snapshot(outside.path);
      const ev = await dwmInProcess(r.path, ["evaluate", "workflow.plan.json", "--json"]);
      const problems = (JSON.parse(ev.stdout) as { problems: { code: string; pointer: string }[] }).problems;
      const co = await dwmInProcess(r.path, ["compile", "workflow.plan.json"]);
      const refused =
        problems.some((p) => p.code === "ERR_PLAN_UNSAFE_PATH" && p.pointer === "/handoffs/0/artifact") &&
        co.code !== 0;
      const c = record(
        {
          target: "handoff name",
          input: name,
          refused,
          how: `evaluate exit ${ev.code} ERR_PLAN_UNSAFE_PATH at /handoffs/0/artifact; compile exit ${co.code}`,
        },
        before,
      );
      expect(c).toMatchObject({ refused: true, outside_untouched: true });
    }
    // The run store's handoffs/ folder replaced by a symlink to a folder outside.
    const runDir = path.join(tmp.path, "run");
    fs.mkdirSync(path.join(runDir, "attempts", "p", "1", "outputs"), { recursive: true });
    fs.writeFileSync(path.join(runDir, "attempts", "p", "1", "outputs", "a.json"), "{}\n");
    fs.symlinkSync(outside.path, path.join(runDir, "handoffs"));
    const before = snapshot(outside.path);
    let how = "registered";
    try {
      registerHandoffs(runDir, [
        {
          artifact: "a.json",
          from: "attempts/p/1/outputs/a.json",
          to: "handoffs/a.json",
          digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        },
      ] as never);
    } catch (e) {
      how = (e as { code?: string }).code ?? String(e);
    }
    const c = record(
      { target: "handoff name", input: "handoffs/ -> outside", refused: how === "ERR_OUT_PATH_SYMLINK", how },
      before,
    );
    expect(c).toMatchObject({ refused: true, outside_untouched: true });
  });

  it("outputs and ownership globs: a worker's paths outside its worktree are never read and grant nothing", async () => {
    const target = path.join(outside.path, "canary.txt");
    const outputs = ["../escape.json", target, "audit/../../escape.json", "audit/linked.json"];
    const globs = ["../**", `${outside.path}/**`, "audit/../../**", "/**"];
    // Quick: the `..` case and the symlinked output; full: all four.
    for (const i of FULL ? [0, 1, 2, 3] : [0, 3]) {
      const output = outputs[i] as string;
      const glob = globs[i] as string;
      const r = planWith((p) => {
        p.phases[0].outputs = ["audit/inventory.json", output];
        p.workers[0].ownership = [glob];
      });
      repos.push(r);
      // The worker writes its real output, tries to write the escaping one, and links audit/linked.json outside.
      const script = `import fs from "node:fs";
fs.mkdirSync("audit", { recursive: true });
fs.writeFileSync("audit/inventory.json", JSON.stringify({ areas: [], files: [] }));
fs.writeFileSync("audit/extra.txt", "not a declared output\\n");
${output === "audit/linked.json" ? "" : `try { fs.writeFileSync(${JSON.stringify(output.startsWith("/") ? path.join(tmp.path, `abs-${i}.json`) : output)}, "escaped\\n"); } catch {}`}
fs.symlinkSync(${JSON.stringify(target)}, "audit/linked.json");
`;
      fs.writeFileSync(path.join(tmp.path, `worker-${i}.mjs`), script);
      const bindings = path.join(tmp.path, `bindings-${i}.json`);
      fs.writeFileSync(
        bindings,
        JSON.stringify({
          kind: "worker-bindings",
          schema_version: "1",
          bindings: { "*": { backend: "shell", argv: ["node", path.join(tmp.path, `worker-${i}.mjs`)] } },
        }),
      );
      const before = snapshot(outside.path);
      expect((await dwmInProcess(r.path, ["compile", "workflow.plan.json"])).code).toBe(0);
      const [runId] = runIds(r.path);
      const o = await dwmInProcess(
        r.path,
        // --no-sandbox: the worker script lives in the test's temp folder, which the sandbox's
        // private /tmp hides; what is tested here is what DWM does with the paths a worker leaves.
        ["exec", runId as string, "inventory", "--workers", bindings, "--no-sandbox", "--json"],
        baseEnv({ TMPDIR: tmp.path }),
      );
      const attempt = JSON.parse(o.stdout) as {
        outputs: { artifact: string; found: boolean; path: string | null }[];
        findings: { code: string; paths: string[] }[];
      };
      const evidence = path.join(r.path, ".dwm", "exec");
      const leaked = filesUnder(evidence).some((f) =>
        fs.readFileSync(path.join(evidence, f)).includes("canary: outside"),
      );
      const out = attempt.outputs.find((x) => x.artifact === output);
      const outRefused = out !== undefined && out.found === false && out.path === null && !leaked;
      let c = record(
        {
          target: "output",
          input: output,
          refused: outRefused,
          how: `output ${JSON.stringify(out)}; findings ${attempt.findings.map((f) => f.code).join(",")}`,
        },
        before,
      );
      expect(c, o.stdout.slice(0, 3000)).toMatchObject({ refused: true, outside_untouched: true });
      // The glob is the worker's only ownership (declared outputs are always its own): its write of
      // audit/extra.txt must be a violation.
      const violation = attempt.findings.some(
        (f) => f.code === "ownership-violation" && f.paths.includes("audit/extra.txt"),
      );
      c = record(
        {
          target: "ownership glob",
          input: glob,
          refused: violation,
          how: violation ? "grants nothing: ownership-violation audit/extra.txt" : "granted",
        },
        before,
      );
      expect(c, JSON.stringify(attempt.findings)).toMatchObject({ refused: true, outside_untouched: true });
    }
    expect(fs.existsSync(path.join(EXAMPLES, "..", "..", "escape.json"))).toBe(false);
  });
});
