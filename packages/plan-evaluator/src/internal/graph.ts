import type { ProblemList } from "./problems.js";
import { arr, isObj, obj, pointer, show, str, strings } from "./problems.js";

export interface PhaseInfo {
  id: string;
  index: number;
  deps: string[];
  outputs: Set<string>;
}

/** Phase ids (first occurrence wins), with their dependencies and outputs. */
export function phaseTable(plan: Record<string, unknown>): Map<string, PhaseInfo> {
  const table = new Map<string, PhaseInfo>();
  arr(plan.phases).forEach((ph, index) => {
    const id = str(obj(ph).id);
    if (id === undefined || table.has(id)) return;
    table.set(id, {
      id,
      index,
      deps: strings(obj(ph).depends_on).map(([d]) => d),
      outputs: new Set(strings(obj(ph).outputs).map(([o]) => o)),
    });
  });
  return table;
}

/** Duplicate ids in a list of objects with `id`. */
export function checkUniqueIds(
  plan: Record<string, unknown>,
  list: string,
  what: string,
  out: ProblemList,
): void {
  const seen = new Map<string, number>();
  arr(plan[list]).forEach((item, i) => {
    const id = str(obj(item).id);
    if (id === undefined) return;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else
      out.add(
        "ERR_PLAN_DUPLICATE_ID",
        pointer(list, i, "id"),
        `${what} id ${show(id)} is already used by ${list}[${first}]`,
      );
  });
}

/** Unknown phase references in depends_on, and dependency cycles (iterative DFS). */
export function checkDependencies(
  plan: Record<string, unknown>,
  phases: Map<string, PhaseInfo>,
  out: ProblemList,
): void {
  arr(plan.phases).forEach((ph, i) => {
    for (const [dep, j] of strings(obj(ph).depends_on)) {
      if (!phases.has(dep))
        out.add(
          "ERR_PLAN_UNKNOWN_PHASE",
          pointer("phases", i, "depends_on", j),
          `phase ${show(str(obj(ph).id))} depends on unknown phase ${show(dep)}`,
        );
    }
  });
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  for (const start of phases.keys()) {
    if (state.has(start)) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as { id: string; next: number };
      const info = phases.get(top.id) as PhaseInfo;
      if (top.next >= info.deps.length) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      const depIndex = top.next++;
      const dep = info.deps[depIndex] as string;
      if (!phases.has(dep)) continue;
      const s = state.get(dep);
      if (s === 1) {
        const from = stack.findIndex((f) => f.id === dep);
        const cycle = [...stack.slice(from).map((f) => f.id), dep];
        const depPos =
          strings(obj(arr(plan.phases)[info.index]).depends_on).find(([d]) => d === dep)?.[1] ?? 0;
        out.add(
          "ERR_PLAN_CYCLE",
          pointer("phases", info.index, "depends_on", depPos),
          `phase dependency cycle: ${cycle.join(" -> ")} (each depends on the next)`,
        );
      } else if (s === undefined) {
        state.set(dep, 1);
        stack.push({ id: dep, next: 0 });
      }
    }
  }
}

/** Handoff references, producers, dependencies and artifact paths. */
export function checkHandoffs(
  plan: Record<string, unknown>,
  phases: Map<string, PhaseInfo>,
  out: ProblemList,
  isSafePath: (p: string) => string | null,
): void {
  arr(plan.handoffs).forEach((h, i) => {
    if (!isObj(h)) return;
    checkHandoffPhases(h, i, phases, out);
    checkHandoffPath(h, i, out, isSafePath);
  });
}

/** A handoff goes between known phases, from one that outputs it, to one that depends on it. */
export function checkHandoffPhases(
  h: Record<string, unknown>,
  i: number,
  phases: Map<string, PhaseInfo>,
  out: ProblemList,
): void {
  const from = str(h.from_phase);
  const to = str(h.to_phase);
  const artifact = str(h.artifact);
  const src = from === undefined ? undefined : phases.get(from);
  const dst = to === undefined ? undefined : phases.get(to);
  if (from !== undefined && !src)
    out.add(
      "ERR_PLAN_UNKNOWN_PHASE",
      pointer("handoffs", i, "from_phase"),
      `handoff from unknown phase ${show(from)}`,
    );
  if (to !== undefined && !dst)
    out.add(
      "ERR_PLAN_UNKNOWN_PHASE",
      pointer("handoffs", i, "to_phase"),
      `handoff to unknown phase ${show(to)}`,
    );
  if (src && artifact !== undefined && !src.outputs.has(artifact))
    out.add(
      "ERR_PLAN_HANDOFF_NOT_PRODUCED",
      pointer("handoffs", i, "artifact"),
      `handoff artifact ${show(artifact)} is not an output of phase ${show(from)}`,
    );
  if (src && dst && from !== to && !dst.deps.includes(src.id))
    out.add(
      "ERR_PLAN_HANDOFF_DEPENDENCY",
      pointer("handoffs", i, "to_phase"),
      `phase ${show(to)} receives ${show(artifact ?? "an artifact")} from ${show(from)} but does not depend on it`,
      `Add ${show(from)} to the depends_on of phase ${show(to)}.`,
    );
}

/** A handoff's artifact is a safe relative path (isSafePath says why not). */
function checkHandoffPath(
  h: Record<string, unknown>,
  i: number,
  out: ProblemList,
  isSafePath: (p: string) => string | null,
): void {
  const artifact = str(h.artifact);
  if (artifact === undefined || artifact.trim() === "") return;
  const why = isSafePath(artifact);
  if (why)
    out.add(
      "ERR_PLAN_UNSAFE_PATH",
      pointer("handoffs", i, "artifact"),
      `handoff artifact ${show(artifact)} is unsafe: ${why}`,
    );
}

/** resume.cacheable_outputs ⊆ phase outputs, resume.restart_points ⊆ phase ids. */
export function checkResume(
  plan: Record<string, unknown>,
  phases: Map<string, PhaseInfo>,
  out: ProblemList,
): void {
  const resume = obj(plan.resume);
  const produced = new Set<string>();
  for (const ph of arr(plan.phases)) for (const [o] of strings(obj(ph).outputs)) produced.add(o);
  for (const [o, i] of strings(resume.cacheable_outputs))
    if (!produced.has(o))
      out.add(
        "ERR_PLAN_CACHEABLE_NOT_PRODUCED",
        pointer("resume", "cacheable_outputs", i),
        `cacheable output ${show(o)} is not produced by any phase`,
      );
  for (const [r, i] of strings(resume.restart_points))
    if (!phases.has(r))
      out.add(
        "ERR_PLAN_RESTART_NOT_PHASE",
        pointer("resume", "restart_points", i),
        `restart point ${show(r)} is not a phase`,
      );
}

/** Activated graphs are connected: undirected over depends_on and handoffs, from phases[0]. */
export function checkConnected(
  plan: Record<string, unknown>,
  phases: Map<string, PhaseInfo>,
  out: ProblemList,
): void {
  if (phases.size < 2) return;
  const adj = new Map<string, Set<string>>();
  const link = (a: string, b: string) => {
    if (!phases.has(a) || !phases.has(b)) return;
    (adj.get(a) ?? adj.set(a, new Set()).get(a))?.add(b);
    (adj.get(b) ?? adj.set(b, new Set()).get(b))?.add(a);
  };
  for (const p of phases.values()) for (const d of p.deps) link(p.id, d);
  for (const h of arr(plan.handoffs)) {
    const from = str(obj(h).from_phase);
    const to = str(obj(h).to_phase);
    if (from !== undefined && to !== undefined) link(from, to);
  }
  const first = [...phases.values()].sort((a, b) => a.index - b.index)[0] as PhaseInfo;
  const seen = new Set([first.id]);
  const queue = [first.id];
  while (queue.length > 0) {
    const cur = queue.pop() as string;
    for (const n of adj.get(cur) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        queue.push(n);
      }
    }
  }
  for (const p of phases.values())
    if (!seen.has(p.id))
      out.add(
        "ERR_PLAN_DISCONNECTED",
        pointer("phases", p.index),
        `phase ${show(p.id)} is not connected to phase ${show(first.id)} by any dependency or handoff`,
      );
}
