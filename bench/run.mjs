// pnpm bench [--quick] [--large] [scenario...]: runs every scenario in bench/scenarios/ (each in
// a Node process of its own, so its memory figures are its own), prints a table per scenario and
// writes <results>/<scenario>.json (bench/results, or $DWM_BENCH_RESULTS).
//   --quick  small sizes, a smoke test (CI runs it; no thresholds anywhere)
//   --large  also the largest sizes (run loop at 100,000 packets, the side by side at 1,000 agents)
//   --sizes=A,B  the scenarios with a size ladder (runloop, claude-workflows) run exactly these sizes
//   --runs=N     those scenarios repeat each size N times (the median is reported)
//   --nodes=24,22  startup also times these Node.js major versions beside this one, in the same run
//                  (each installed from the npm registry by scripts/ci-node.sh)
//   --items=N    fanout: at most N items in the side by side with xargs (all 1,200 files otherwise)
//   --parts=A,B  fanout: only these rows (expansion, runloop, xargs)
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchDir, dwmBin, machine, resultsDir, table } from "./lib.mjs";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const large = args.includes("--large");
const childOf = args.indexOf("--child");
const flagValue = (flag) => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
const sizes = flagValue("--sizes")
  ?.split(",")
  .map((x) => Number(x.replace(/_/g, "")));
const runs = flagValue("--runs") === undefined ? undefined : Number(flagValue("--runs"));
const nodes = flagValue("--nodes")?.split(",").filter(Boolean);
const items = flagValue("--items") === undefined ? undefined : Number(flagValue("--items"));
const parts = flagValue("--parts")?.split(",").filter(Boolean);
if (items !== undefined && !(Number.isInteger(items) && items >= 1)) {
  console.error("--items takes a whole number (--items=1000)");
  process.exit(2);
}
if (parts?.some((p) => !["expansion", "runloop", "xargs"].includes(p))) {
  console.error("--parts takes expansion, runloop or xargs (--parts=xargs)");
  process.exit(2);
}
if (sizes?.some((n) => !Number.isInteger(n) || n < 1) || (runs !== undefined && !(runs >= 1))) {
  console.error("--sizes takes whole numbers (--sizes=20,200), --runs one (--runs=3)");
  process.exit(2);
}
if (nodes?.some((m) => !/^\d+$/.test(m))) {
  console.error("--nodes takes Node.js major versions (--nodes=24,22)");
  process.exit(2);
}

if (childOf !== -1) {
  // One scenario in this process; its rows go back to the parent.
  const name = args[childOf + 1];
  const mod = await import(pathToFileURL(path.join(benchDir, "scenarios", `${name}.mjs`)).href);
  const rows = await mod.run({ quick, large, sizes, runs, nodes, items, parts });
  process.send?.({ rows: rows ?? [] });
  process.exit(0);
}

const only = args.filter((a) => !a.startsWith("--"));
if (!fs.existsSync(dwmBin)) {
  console.error("dwm is not built: run `pnpm build` first");
  process.exit(1);
}
const scenarios = fs
  .readdirSync(path.join(benchDir, "scenarios"))
  .filter((f) => f.endsWith(".mjs"))
  .map((f) => f.replace(/\.mjs$/, ""))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
for (const n of only) {
  if (!scenarios.includes(n)) {
    console.error(`no scenario ${n} in bench/scenarios`);
    process.exit(2);
  }
}
const mode = [quick && "quick", large && "large"].filter(Boolean).join(", ");
console.log(`machine: ${JSON.stringify(machine())}${mode ? ` (${mode})` : ""}`);
console.log(`results: ${resultsDir()}`);

const self = fileURLToPath(import.meta.url);
const failed = [];
for (const name of scenarios) {
  const t0 = performance.now();
  const outcome = await new Promise((resolve) => {
    let rows = null;
    const c = fork(self, ["--child", name, ...args.filter((a) => a.startsWith("--"))], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    c.on("message", (m) => {
      rows = m.rows;
    });
    c.on("exit", (code, signal) => resolve({ code, signal, rows }));
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (outcome.code !== 0 || outcome.rows === null) {
    failed.push(name);
    console.log(`\n## ${name} FAILED (${secs} s): exit ${outcome.code ?? outcome.signal}`);
    continue;
  }
  const file = path.join(resultsDir(), `${name}.json`);
  const doc = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : null;
  const head = `\n## ${name} (${secs} s)`;
  if (doc?.skipped) console.log(`${head}: skipped: ${doc.skipped}`);
  else if (outcome.rows.length > 0) console.log(`${head}\n${table(outcome.rows)}`);
  else console.log(`${head}: no rows`);
  if (doc?.note) console.log(`note: ${doc.note}`);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exit(1);
}
