// Rules of schema 0.6 beyond its JSON Schema: gate and command phases, structured safe
// defaults, and dynamic fan-out. They run only for plans that declare "0.6", so a 0.5
// plan is judged exactly as before. Like every rule they read defensively: the plan may
// have failed the schema.
import { GATE_CATEGORIES } from "@dwm/schemas";
import { PLAN_LIMITS } from "../limits.js";
import { type PhaseInfo, phaseTable } from "./graph.js";
import { arr, isObj, type Obj, obj, type ProblemList, pointer, show, str, strings } from "./problems.js";

/** Every gate category of schemas/gate.schema.json (read from it by @dwm/schemas). */
export { GATE_CATEGORIES };

/** What a structured safe_default may stop before besides a phase id: a gate category or an escalation name. */
export const SAFE_DEFAULT_CATEGORIES: ReadonlySet<string> = new Set([...GATE_CATEGORIES, "shell"]);

/** The handoff formats a fan-out can iterate. */
export const LIST_FORMATS: readonly string[] = ["json-list", "jsonl"];

const isGate = (ph: Obj) => ph.kind === "gate";

/** kind, review, command and worker_ids of each phase. */
function phaseShapeRules(plan: Obj, out: ProblemList): void {
  arr(plan.phases).forEach((raw, i) => {
    // An unknown kind is a schema problem; which rules would apply is then unknown.
    if (!isObj(raw) || (raw.kind !== undefined && raw.kind !== "work" && raw.kind !== "gate")) return;
    if (isGate(raw)) gatePhaseRules(raw, i, out);
    else workPhaseRules(raw, i, out);
    if (isObj(raw.command)) commandRules(raw.command, i, show(str(raw.id)), out);
  });
}

/** The worker_ids of a phase when they are a list, else null (a schema problem). */
function workerList(ph: Obj): unknown[] | null {
  return Array.isArray(ph.worker_ids) ? ph.worker_ids : null;
}

/** A gate phase has a review list, no workers and no command: a human does it. */
export function gatePhaseRules(ph: Obj, i: number, out: ProblemList): void {
  const id = show(str(ph.id));
  const workers = workerList(ph);
  if (ph.review === undefined)
    out.add("ERR_PLAN_GATE_REVIEW", pointer("phases", i), `gate phase ${id} has no review list`);
  if (workers && workers.length > 0)
    out.add(
      "ERR_PLAN_GATE_WORKERS",
      pointer("phases", i, "worker_ids"),
      `gate phase ${id} names workers ${show(workers)}; a gate phase waits for a human`,
    );
  if (ph.command !== undefined)
    out.add("ERR_PLAN_GATE_COMMAND", pointer("phases", i, "command"), `gate phase ${id} has a command`);
}

/** A work phase has no review list, and is done by its workers or by its command: exactly one of them. */
export function workPhaseRules(ph: Obj, i: number, out: ProblemList): void {
  const id = show(str(ph.id));
  const workers = workerList(ph);
  if (ph.review !== undefined)
    out.add(
      "ERR_PLAN_GATE_REVIEW",
      pointer("phases", i, "review"),
      `phase ${id} has a review list but is not a gate phase ("kind": "gate")`,
    );
  if (isObj(ph.command) && workers && workers.length > 0)
    out.add(
      "ERR_PLAN_COMMAND_WORKERS",
      pointer("phases", i, "worker_ids"),
      `command phase ${id} also names workers ${show(workers)}`,
    );
  if (ph.command === undefined && workers && workers.length === 0)
    out.add(
      "ERR_PLAN_PHASE_NO_WORKERS",
      pointer("phases", i, "worker_ids"),
      `work phase ${id} has no workers and no command, so nothing would do it`,
    );
}

/** A shell string needs "shell": true; an argv list runs without a shell, so it has no "shell". */
export function commandRules(command: Obj, i: number, id: string, out: ProblemList): void {
  if (typeof command.run === "string" && command.shell !== true)
    out.add(
      "ERR_PLAN_COMMAND_SHELL",
      pointer("phases", i, "command"),
      `the command of phase ${id} is a shell string ${show(command.run)}, so it needs "shell": true`,
    );
  else if (Array.isArray(command.run) && command.shell !== undefined)
    out.add(
      "ERR_PLAN_COMMAND_SHELL",
      pointer("phases", i, "command", "shell"),
      `the command of phase ${id} is an argv list, which runs without a shell; remove "shell"`,
    );
}

/** A structured safe_default's `before` names a gate category or a phase. */
function safeDefaultRules(plan: Obj, phases: Map<string, PhaseInfo>, out: ProblemList): void {
  arr(plan.risk_gates).forEach((g, i) => {
    const sd = obj(g).safe_default;
    const before = isObj(sd) ? str(sd.before) : undefined;
    if (before === undefined || before.trim() === "") return;
    if (SAFE_DEFAULT_CATEGORIES.has(before) || phases.has(before)) return;
    out.add(
      "ERR_PLAN_SAFE_DEFAULT_BEFORE",
      pointer("risk_gates", i, "safe_default", "before"),
      `safe_default stops before ${show(before)}, which is neither a gate category nor a phase id`,
    );
  });
}

/** One fan-out: the phase that carries it and its per-item phases in order (with their pointers). */
export interface FanOut {
  id: string;
  index: number;
  spec: Obj;
  perItem: { id: string; at: string }[];
}

/** The fan-outs of a plan: phases whose fan_out is an object (first phase of an id only). */
export function fanOuts(plan: Obj, phases: Map<string, PhaseInfo>): FanOut[] {
  const list: FanOut[] = [];
  arr(plan.phases).forEach((ph, index) => {
    const id = str(obj(ph).id);
    const spec = obj(ph).fan_out;
    if (id === undefined || !isObj(spec) || phases.get(id)?.index !== index) return;
    list.push({ id, index, spec, perItem: [{ id, at: pointer("phases", index) }] });
  });
  return list;
}

/** Every phase id `id` depends on, directly or not (cycle-safe). */
function ancestors(id: string, phases: Map<string, PhaseInfo>): Set<string> {
  const seen = new Set<string>();
  const stack = [...(phases.get(id)?.deps ?? [])];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    if (seen.has(d) || !phases.has(d)) continue;
    seen.add(d);
    stack.push(...(phases.get(d) as PhaseInfo).deps);
  }
  return seen;
}

/** A path of dependencies from `from` to `to` (breadth first), or null. */
function dependencyPath(from: string, to: string, edges: Map<string, string[]>): string[] | null {
  const parent = new Map<string, string>([[from, from]]);
  const queue = [from];
  while (queue.length > 0) {
    const cur = queue.shift() as string;
    if (cur === to) {
      const path = [to];
      for (let p = to; p !== from; p = parent.get(p) as string) path.unshift(parent.get(p) as string);
      return path;
    }
    for (const n of edges.get(cur) ?? [])
      if (!parent.has(n)) {
        parent.set(n, cur);
        queue.push(n);
      }
  }
  return null;
}

/** Membership: pipeline phases known, listed once, in one fan-out, not nested, no gates. */
function collectPerItem(fans: FanOut[], phases: Map<string, PhaseInfo>, plan: Obj, out: ProblemList) {
  const carriers = new Set(fans.map((f) => f.id));
  const owner = new Map<string, FanOut>(fans.map((f) => [f.id, f]));
  for (const f of fans) {
    for (const [p, j] of strings(f.spec.pipeline)) {
      const at = pointer("phases", f.index, "fan_out", "pipeline", j);
      if (!phases.has(p)) {
        out.add("ERR_PLAN_UNKNOWN_PHASE", at, `the fan-out at ${show(f.id)} lists unknown phase ${show(p)}`);
      } else if (carriers.has(p) && p !== f.id) {
        out.add("ERR_PLAN_FANOUT_NESTED", at, `pipeline phase ${show(p)} carries its own fan_out`);
      } else if (owner.has(p)) {
        const other = (owner.get(p) as FanOut).id;
        out.add(
          "ERR_PLAN_FANOUT_OVERLAP",
          at,
          `phase ${show(p)} is already a per-item phase of the fan-out at ${show(other)}`,
        );
      } else {
        owner.set(p, f);
        f.perItem.push({ id: p, at });
      }
    }
  }
  for (const f of fans)
    for (const { id } of f.perItem) {
      const info = phases.get(id) as PhaseInfo;
      if (isGate(obj(arr(plan.phases)[info.index])))
        out.add(
          "ERR_PLAN_FANOUT_GATE",
          pointer("phases", info.index, "kind"),
          `gate phase ${show(id)} is a per-item phase of the fan-out at ${show(f.id)}`,
        );
    }
  return owner;
}

/** Fan-out rules: chain, reduce, max_items, over/key, escapes and implied cycles. */
function fanOutRules(plan: Obj, phases: Map<string, PhaseInfo>, out: ProblemList): void {
  const fans = fanOuts(plan, phases);
  if (fans.length === 0) return;
  const owner = collectPerItem(fans, phases, plan, out);
  const handoffs = arr(plan.handoffs).map((h, i) => ({ h: obj(h), i }));
  // Order the fan-out implies that depends_on does not state: edges "a runs after b".
  const implied: { a: string; b: string; at: string }[] = [];

  for (const f of fans) {
    const at = (...k: (string | number)[]) => pointer("phases", f.index, "fan_out", ...k);
    const last = f.perItem[f.perItem.length - 1] as { id: string };
    // The pipeline is a chain.
    f.perItem.forEach((p, k) => {
      if (k === 0) return;
      const prev = (f.perItem[k - 1] as { id: string }).id;
      if (!(phases.get(p.id) as PhaseInfo).deps.includes(prev)) {
        out.add(
          "ERR_PLAN_FANOUT_PIPELINE",
          p.at,
          `pipeline phase ${show(p.id)} does not depend on the per-item phase before it, ${show(prev)}`,
          `Add ${show(prev)} to the depends_on of phase ${show(p.id)}.`,
        );
        implied.push({ a: p.id, b: prev, at: p.at });
      }
    });
    // The reduce phase collects after the last per-item phase.
    const reduce = str(f.spec.reduce);
    if (reduce !== undefined && reduce.trim() !== "") {
      if (!phases.has(reduce))
        out.add(
          "ERR_PLAN_UNKNOWN_PHASE",
          at("reduce"),
          `the fan-out at ${show(f.id)} reduces in unknown phase ${show(reduce)}`,
        );
      else if (owner.has(reduce))
        out.add(
          "ERR_PLAN_FANOUT_REDUCE",
          at("reduce"),
          `reduce phase ${show(reduce)} is itself a per-item phase (of the fan-out at ${show((owner.get(reduce) as FanOut).id)})`,
        );
      else if (fans.some((g) => g.id === reduce))
        out.add(
          "ERR_PLAN_FANOUT_NESTED",
          at("reduce"),
          `reduce phase ${show(reduce)} carries its own fan_out`,
        );
      else if (!(phases.get(reduce) as PhaseInfo).deps.includes(last.id)) {
        out.add(
          "ERR_PLAN_FANOUT_REDUCE",
          at("reduce"),
          `reduce phase ${show(reduce)} does not depend on the last per-item phase, ${show(last.id)}`,
          `Add ${show(last.id)} to the depends_on of phase ${show(reduce)}.`,
        );
        implied.push({ a: reduce, b: last.id, at: at("reduce") });
      }
    }
    const max = f.spec.max_items;
    if (typeof max === "number" && max > PLAN_LIMITS.maxFanOutItems)
      out.add(
        "ERR_PLAN_FANOUT_MAX_ITEMS",
        at("max_items"),
        `max_items ${max} is more than ${PLAN_LIMITS.maxFanOutItems}`,
      );
    overRules(f, handoffs, phases, owner, implied, out);
  }
  escapeRules(plan, phases, owner, out);
  cycleRules(phases, implied, out);
}

/** `over` names a list handoff into the fan-out phase from upstream; `key` is one of its fields. */
function overRules(
  f: FanOut,
  handoffs: { h: Obj; i: number }[],
  phases: Map<string, PhaseInfo>,
  owner: Map<string, FanOut>,
  implied: { a: string; b: string; at: string }[],
  out: ProblemList,
): void {
  const over = str(f.spec.over);
  if (over === undefined || over.trim() === "") return;
  const at = (k: string) => pointer("phases", f.index, "fan_out", k);
  const carrying = handoffs.filter(({ h }) => h.artifact === over);
  if (carrying.length === 0) {
    out.add("ERR_PLAN_FANOUT_OVER_UNKNOWN", at("over"), `no handoff carries ${show(over)}`);
    return;
  }
  const into = carrying.filter(({ h }) => h.to_phase === f.id);
  if (into.length === 0) {
    const targets = [...new Set(carrying.map(({ h }) => show(str(h.to_phase))))].join(", ");
    out.add(
      "ERR_PLAN_FANOUT_OVER_TARGET",
      at("over"),
      `${show(over)} is handed to ${targets}, not to the fan-out phase ${show(f.id)}`,
    );
    return;
  }
  const upstream = ancestors(f.id, phases);
  for (const { h, i } of into) {
    overFormatRule(f, over, h, i, out);
    overSourceRule(f, over, h, { phases, owner, upstream, implied }, out);
    overKeyRule(f, over, h, i, out);
  }
}

/** The handoff a fan-out iterates is a list: "json-list" or "jsonl". */
function overFormatRule(f: FanOut, over: string, h: Obj, i: number, out: ProblemList): void {
  const format = obj(h.artifact_schema).format;
  if (typeof format === "string" && !LIST_FORMATS.includes(format))
    out.add(
      "ERR_PLAN_FANOUT_OVER_FORMAT",
      pointer("phases", f.index, "fan_out", "over"),
      `${show(over)} (handoffs[${i}]) has format ${show(format)}; a fan-out iterates "json-list" or "jsonl"`,
    );
}

/** What overSourceRule reads about the graph, and the implied order edges it adds to. */
interface OverGraph {
  phases: Map<string, PhaseInfo>;
  owner: Map<string, FanOut>;
  upstream: Set<string>;
  implied: { a: string; b: string; at: string }[];
}

/**
 * The iterated handoff comes from upstream of the fan-out, not from the fan-out itself.
 * A source that is not upstream also implies "the fan-out runs after it" (checked for cycles).
 */
export function overSourceRule(f: FanOut, over: string, h: Obj, g: OverGraph, out: ProblemList): void {
  const from = str(h.from_phase);
  if (from === undefined || !g.phases.has(from)) return;
  const at = pointer("phases", f.index, "fan_out", "over");
  if (from === f.id || g.owner.get(from) === f || !g.upstream.has(from))
    out.add(
      "ERR_PLAN_FANOUT_OVER_SOURCE",
      at,
      `${show(over)} comes from ${show(from)}, which is not upstream of the fan-out at ${show(f.id)}`,
    );
  if (from !== f.id && !g.upstream.has(from)) g.implied.push({ a: f.id, b: from, at });
}

/** The fan-out's key is one of the iterated handoff's required_fields. */
function overKeyRule(f: FanOut, over: string, h: Obj, i: number, out: ProblemList): void {
  const key = str(f.spec.key);
  const fields = obj(h.artifact_schema).required_fields;
  if (key !== undefined && key.trim() !== "" && Array.isArray(fields) && !fields.includes(key))
    out.add(
      "ERR_PLAN_FANOUT_KEY",
      pointer("phases", f.index, "fan_out", "key"),
      `key ${show(key)} is not one of the required_fields of ${show(over)} (handoffs[${i}]): ${show(fields)}`,
    );
}

/** Outside a fan-out, only its reduce phase depends on a per-item phase, and only on the last one. */
function escapeRules(
  plan: Obj,
  phases: Map<string, PhaseInfo>,
  owner: Map<string, FanOut>,
  out: ProblemList,
): void {
  for (const p of phases.values()) {
    const mine = owner.get(p.id);
    strings(obj(arr(plan.phases)[p.index]).depends_on).forEach(([d, j]) => {
      const theirs = owner.get(d);
      if (theirs === undefined || theirs === mine) return;
      const last = (theirs.perItem[theirs.perItem.length - 1] as { id: string }).id;
      if (mine === undefined && str(theirs.spec.reduce) === p.id && d === last) return;
      const reduce = str(theirs.spec.reduce);
      out.add(
        "ERR_PLAN_FANOUT_ESCAPE",
        pointer("phases", p.index, "depends_on", j),
        `phase ${show(p.id)} depends on ${show(d)}, a per-item phase of the fan-out at ${show(theirs.id)}; only its reduce phase${reduce ? ` ${show(reduce)}` : ""} may, through ${show(last)}`,
      );
    });
  }
}

/** Report each implied order edge that closes a cycle with the dependencies. */
function cycleRules(
  phases: Map<string, PhaseInfo>,
  implied: { a: string; b: string; at: string }[],
  out: ProblemList,
): void {
  if (implied.length === 0) return;
  const edges = new Map<string, string[]>();
  for (const p of phases.values()) edges.set(p.id, [...p.deps]);
  for (const e of implied) edges.get(e.a)?.push(e.b);
  for (const e of implied) {
    const path = dependencyPath(e.b, e.a, edges);
    if (path)
      out.add(
        "ERR_PLAN_FANOUT_CYCLE",
        e.at,
        `the fan-out makes ${show(e.a)} run after ${show(e.b)}, but ${path.join(" -> ")} (each runs after the next)`,
      );
  }
}

/** A phase's or a worker's `reviewer` names a worker of the plan. */
export function reviewerRules(plan: Obj, out: ProblemList): void {
  const workers = new Set(arr(plan.workers).map((w) => str(obj(w).id)));
  const check = (list: "phases" | "workers", what: string) =>
    arr(plan[list]).forEach((x, i) => {
      const r = str(obj(x).reviewer);
      if (r !== undefined && !workers.has(r))
        out.add(
          "ERR_PLAN_UNKNOWN_WORKER",
          pointer(list, i, "reviewer"),
          `${what} ${show(str(obj(x).id))} names unknown reviewer worker ${show(r)}`,
        );
    });
  check("phases", "phase");
  check("workers", "worker");
}

/** Every 0.6 rule. */
export function rules06(plan: Obj, out: ProblemList): void {
  const phases = phaseTable(plan);
  phaseShapeRules(plan, out);
  reviewerRules(plan, out);
  safeDefaultRules(plan, phases, out);
  fanOutRules(plan, phases, out);
}
