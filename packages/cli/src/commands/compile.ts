import fs from "node:fs";
import path from "node:path";
import { type CompiledRun, checkRun, compilePlan, compilerErrors, locateRun } from "@dwm/compiler";
import { acquireLock, coreErrors, type LockHandle, nodeProcessRunner } from "@dwm/core";
import { loadPlanFile } from "@dwm/plan-evaluator";
import { applyRecompile, JOURNAL_FILE, type Journal, LOCK_FILE, openJournal } from "@dwm/runtime";
import type { ChangeReport, CompileResult, RunCheck } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { checkBeforeChange } from "../internal/preflight.js";
import { ensureStoreIgnored, ignoredDirOf } from "../internal/store-ignore.js";

async function git(ctx: CommandContext, cwd: string, args: string[]): Promise<string | null> {
  const r = await nodeProcessRunner.run({
    argv: ["git", ...args],
    cwd,
    env: Object.fromEntries(Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined)),
    timeoutMs: 15_000,
  });
  return r.exitCode === 0 && r.spawnError === null ? r.stdout.trim() : null;
}

/** The repository that holds the plan (else the one around cwd, else cwd) and its HEAD. */
async function locateRepo(
  ctx: CommandContext,
  planFile: string,
): Promise<{ root: string; head: string | null }> {
  for (const dir of [path.dirname(planFile), ctx.cwd]) {
    const top = await git(ctx, dir, ["rev-parse", "--show-toplevel"]);
    if (top) {
      const head = await git(ctx, top, ["rev-parse", "--verify", "--quiet", "HEAD"]);
      return {
        root: fs.realpathSync(top),
        head: head && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(head) ? head : null,
      };
    }
  }
  return { root: fs.realpathSync(ctx.cwd), head: null };
}

/** `--store` is relative to the repository root; an absolute path is accepted only inside it. */
function storeRelative(root: string, store: string | undefined): string | undefined {
  if (store === undefined) return undefined;
  if (!path.isAbsolute(store)) return store;
  const rel = path.relative(root, path.resolve(store));
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) {
    throw coreErrors.create(
      "ERR_OUT_PATH_UNSAFE",
      `store directory ${store} is outside the repository ${root}`,
      {
        details: { path: store, reason: "outside the repository" },
      },
    );
  }
  return rel.split(path.sep).join("/");
}

export function toCompileResult(c: CompiledRun): CompileResult {
  return {
    kind: "compile-result",
    schema_version: "1",
    ok: true,
    run_id: c.runId,
    run_dir: c.runDirRel,
    run_digest: c.runDigest,
    plan_id: c.run.plan_id,
    plan_digest: c.run.plan_digest,
    revision: c.run.revision,
    created: c.created,
    base_commit: c.run.base_commit,
    compiler_version: c.run.compiler_version,
    packets: c.run.packets.map((e, i) => {
      const p = c.packets[i];
      return {
        packet_id: e.packet_id,
        digest: e.digest,
        prompt_digest: e.prompt_digest,
        depends_on: e.depends_on,
        gates: p?.gates ?? [],
        human_gate: p?.human_gate ?? false,
      };
    }),
    gates: c.gates.map((g, i) => ({
      gate_id: g.gate_id,
      digest: c.run.gates[i]?.digest ?? "",
      category: g.category,
      source: g.source,
      trigger: g.trigger,
      safe_default: g.safe_default,
      packets: g.packets,
    })),
    changes: c.changes,
  };
}

function render(r: CompileResult): string {
  const lines = [
    `${r.created ? "Compiled" : "Recompiled"} run ${r.run_id} (revision ${r.revision})`,
    `  store:  ${r.run_dir}`,
    `  plan:   ${r.plan_id} ${r.plan_digest}`,
    `  base:   ${r.base_commit ?? "(not a git repository)"}`,
    "",
    `Packets (${r.packets.length}, in run order):`,
  ];
  const w = Math.max(0, ...r.packets.map((p) => p.packet_id.length));
  for (const p of r.packets) {
    const deps = p.depends_on.length ? `after ${p.depends_on.join(", ")}` : "first";
    const gates = p.gates.length ? `held by ${p.gates.join(", ")}` : "no gate";
    lines.push(`  ${p.packet_id.padEnd(w)}  ${deps}; ${gates}${p.human_gate ? "; human gate" : ""}`);
  }
  lines.push("", `Gates (${r.gates.length}; recorded, not approved):`);
  for (const g of r.gates) {
    const held = g.packets.length ? g.packets.join(", ") : "no packet";
    lines.push(`  ${g.gate_id} [${g.category}, ${g.source}] holds ${held}: ${g.trigger}`);
  }
  if (r.gates.length === 0) lines.push("  none");
  if (r.changes && [r.changes.added, r.changes.changed, r.changes.removed].every((l) => l.length === 0)) {
    lines.push("", "No packet changed since the last compile.");
  } else if (r.changes) {
    const c = r.changes;
    const list = (xs: string[]) => (xs.length ? xs.join(", ") : "none");
    lines.push(
      "",
      `Changes since revision ${r.revision - 1}:`,
      `  added: ${list(c.added)}`,
      `  changed: ${list(c.changed)}`,
      `  removed: ${list(c.removed)}`,
      `  downstream (re-run): ${list(c.downstream)}`,
      `  gates added/changed/removed: ${list(c.gates.added)} / ${list(c.gates.changed)} / ${list(c.gates.removed)}`,
    );
  }
  const held = r.packets.filter((p) => p.gates.length > 0).length;
  lines.push(
    "",
    held
      ? `${held} packet(s) wait for gate approval (dwm approve ${r.run_id} <gate>).`
      : "No packet waits for a gate approval.",
    `Next: dwm status ${r.run_id}`,
  );
  return lines.join("\n");
}

/**
 * A problem of a compiled file whose bytes are already what this compile writes: an earlier
 * compile of this same plan died part-way through (it writes run.json last). This compile
 * finishes that write and journals it (run.recompiled); any other change of a compiled file
 * is damage, and the compile refuses it.
 */
export function writtenAlready(
  runDir: string,
  files: ReadonlyMap<string, string>,
  p: { code: string; file: string },
): boolean {
  const text = files.get(p.file);
  if (text === undefined || !["ERR_VERIFY_FILE_DIGEST", "ERR_VERIFY_RUN_DIGEST"].includes(p.code))
    return false;
  try {
    return fs.readFileSync(path.join(runDir, p.file), "utf8") === text;
  } catch {
    return false;
  }
}

/**
 * The change report as the journal must see it. Normally the compiler's report
 * (old run.json → new). When an earlier compile wrote run.json but died before
 * journaling it, the on-disk run.json is already new and the compiler's report is
 * empty; the journal's own view (its packet set, and the digest each packet was
 * dispatched with) supplies what changed since the run.json it last recorded.
 */
export function journalChanges(c: CompiledRun, journal: Journal): ChangeReport {
  const report = c.changes as ChangeReport;
  const state = journal.state;
  const known = Object.entries(state.packets).flatMap(([id, p]) =>
    p && p.fanout_from === null ? [[id, p] as const] : [],
  );
  const knownIds = new Set(known.map(([id]) => id));
  const now = new Map(c.run.packets.map((p) => [p.packet_id, p.digest]));
  const added = c.run.packets.map((p) => p.packet_id).filter((id) => !knownIds.has(id));
  const removed = known.map(([id]) => id).filter((id) => !now.has(id));
  const changedSet = new Set(report.changed.filter((id) => knownIds.has(id)));
  for (const [id, p] of known) {
    const d = now.get(id);
    if (d !== undefined && p.packet_digest !== null && p.packet_digest !== d) changedSet.add(id);
  }
  const changed = c.run.packets.map((p) => p.packet_id).filter((id) => changedSet.has(id));
  const hit = new Set([...added, ...changed]);
  const downstream: string[] = [];
  for (const p of c.run.packets) {
    if (hit.has(p.packet_id)) continue;
    if (p.depends_on.some((d) => hit.has(d))) {
      hit.add(p.packet_id);
      downstream.push(p.packet_id);
    }
  }
  return { added, changed, removed, downstream, gates: report.gates };
}

export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const [planArg] = args.positionals;
  if (planArg === undefined) throw cliErrors.create("ERR_CLI_USAGE", "compile needs a plan file");
  if (args.values.new === true && typeof args.values.run === "string") {
    throw cliErrors.create("ERR_CLI_USAGE", "--new and --run cannot be used together");
  }
  const planFile = path.resolve(ctx.cwd, planArg);
  // Guarded read (size, BOM, UTF-8, syntax with line and column, depth): ERR_PLAN_* errors, exit 1.
  const { plan } = loadPlanFile(planFile);
  const repo = await locateRepo(ctx, planFile);
  const storeDir = storeRelative(
    repo.root,
    typeof args.values.store === "string" ? args.values.store : undefined,
  );
  const runId = typeof args.values.run === "string" ? args.values.run : undefined;

  if (args.values.check === true) {
    // Read-only: which artifacts of the run are stale against the plan file, if any.
    const target = locateRun(plan, { repoRoot: repo.root, storeDir, runId });
    if (!target.exists) {
      throw compilerErrors.create("ERR_RESUME_MISSING_ARTIFACT", `run ${target.runId} does not exist`, {
        hint: "Compile the plan first: dwm compile <plan>.",
        details: { run_dir: target.runDirRel },
      });
    }
    const invalidators = checkRun(target.runDir, planFile);
    const output: RunCheck = {
      kind: "run-check",
      schema_version: "1",
      ok: invalidators.length === 0,
      run_id: target.runId,
      run_dir: target.runDirRel,
      invalidators,
    };
    const text = output.ok
      ? `Run ${target.runId} is up to date with ${planArg}.`
      : [
          `Run ${target.runId} is stale (${invalidators.length} artifact(s)); recompile with: dwm compile ${planArg}`,
          ...invalidators.map((i) => `  ${i.code}  ${i.artifact} ${i.id}: ${i.message}`),
        ].join("\n");
    return { exitCode: output.ok ? 0 : 3, output, text };
  }
  // A run that already has a journal is recompiled under its run lock, and the
  // recompile is journaled (docs/internals.md, "Recompiling a run that has a journal").
  let journal: Journal | null = null;
  let lock: LockHandle | null = null;
  let compiled: CompiledRun;
  try {
    compiled = compilePlan(plan, {
      repoRoot: repo.root,
      storeDir: storeRelative(
        repo.root,
        typeof args.values.store === "string" ? args.values.store : undefined,
      ),
      baseCommit: repo.head,
      runId: typeof args.values.run === "string" ? args.values.run : undefined,
      newRun: args.values.new === true,
      beforeWrite: ({ runId: id, runDir, created, files }) => {
        if (created) return; // a new run is published with one rename
        checkBeforeChange(runDir, "recompile", id, { repairs: (p) => writtenAlready(runDir, files, p) });
        if (fs.existsSync(path.join(runDir, JOURNAL_FILE))) {
          journal = openJournal(runDir, { clock: ctx.clock, recompile: true });
        } else {
          // No journal yet: still one writer at a time (a runner or another compile).
          lock = acquireLock(path.join(runDir, LOCK_FILE), { clock: ctx.clock, purpose: "compile" });
        }
      },
    });
    const j = journal as Journal | null;
    if (j && compiled.changes) {
      // Report what the journal records, so the output and the journal agree.
      const changes = journalChanges(compiled, j);
      applyRecompile(j, changes);
      compiled = { ...compiled, changes };
    }
  } finally {
    (journal as Journal | null)?.close();
    (lock as LockHandle | null)?.release();
  }
  ensureStoreIgnored(repo.root, ignoredDirOf(storeDir));
  const output = toCompileResult(compiled);
  const warnings = (journal as Journal | null)?.warnings ?? [];
  return { exitCode: 0, output, text: render(output), warnings };
}
