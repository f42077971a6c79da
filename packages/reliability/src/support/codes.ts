// Every error code DWM's catalogues define (the same catalogues docs/errors.md is built from).
import * as compiler from "@dwm/compiler";
import * as core from "@dwm/core";
import * as dispatcher from "@dwm/dispatcher";
import * as executor from "@dwm/executor";
import * as gateResolver from "@dwm/gate-resolver";
import * as ingester from "@dwm/ingester";
import * as evaluator from "@dwm/plan-evaluator";
import * as reviewer from "@dwm/reviewer";
import * as runtime from "@dwm/runtime";

/** The codes of every `<name>Errors` catalogue the stage packages export (the CLI keeps its own private). */
export function catalogueCodes(): Set<string> {
  const out = new Set<string>();
  for (const mod of [
    core,
    evaluator,
    compiler,
    runtime,
    executor,
    reviewer,
    ingester,
    gateResolver,
    dispatcher,
  ]) {
    for (const [name, value] of Object.entries(mod as Record<string, unknown>)) {
      const list = (value as { list?: unknown } | null)?.list;
      if (name.endsWith("Errors") && typeof list === "function")
        for (const d of (value as { list: () => { code: string }[] }).list()) out.add(d.code);
    }
  }
  return out;
}
