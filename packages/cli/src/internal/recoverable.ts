import type { VerifyProblem } from "@dwm/schemas";

/** What each repairable problem code is, in words, for one count of it. */
const WHAT: Record<string, string> = {
  ERR_VERIFY_TORN_TAIL: "an incomplete last journal line",
  ERR_VERIFY_LEFTOVER_TEMP: "temporary file(s) of atomic writes",
  ERR_VERIFY_LEFTOVER_ATTEMPT: "unrecorded files of attempt(s) in flight",
  ERR_VERIFY_LEFTOVER_REF_LOCK: "git lock(s) of refs of this run",
  ERR_VERIFY_PENDING_APPROVAL: "approval(s) not journaled yet",
  ERR_VERIFY_LEFTOVER_ATTESTATION: "attestation(s) not journaled yet",
  ERR_VERIFY_UNATTESTED: "completed packet(s) not attested yet",
};

/**
 * A problem `dwm run` takes care of: verify's repairable ones, and a completed packet whose
 * signed attestation a killed runner had not written yet (the next runner attests it). The one
 * rule of what blocks a change: every other problem is damage, for the check before a change
 * (preflight), status's exit 3 and next's repair-store alike. (A forged approval the runner
 * refused and journaled is no problem at all: verify names it as a refused forgery on record.)
 */
export function recoverableByRun(p: VerifyProblem): boolean {
  return p.repairable || p.code === "ERR_VERIFY_UNATTESTED";
}

/**
 * The crash leftovers of a store whose every problem is repairable, in words: what a crash
 * left that `dwm run` recovers (and journals). Null when a problem is not repairable.
 */
export function recoverableText(problems: readonly VerifyProblem[]): string | null {
  if (!problems.every(recoverableByRun)) return null;
  const counts = new Map<string, number>();
  for (const p of problems) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
  const parts = [...counts].map(([code, n]) => {
    const what = WHAT[code] ?? code;
    return code === "ERR_VERIFY_TORN_TAIL" ? what : `${n} ${what}`;
  });
  return `a crash left ${parts.join(", ")}; not tampering: running the workflow recovers ${problems.length === 1 ? "it" : "them"} and journals what it did`;
}

/** What `dwm run` does about one problem it takes care of, in words (dwm verify's line under it). */
export function recoveryOf(p: VerifyProblem): string {
  if (p.code === "ERR_VERIFY_TORN_TAIL") return "truncates the incomplete last line";
  if (p.code === "ERR_VERIFY_UNATTESTED") return "attests it (a completed packet not attested yet)";
  return `recovers it (${WHAT[p.code] ?? "a crash leftover"}) and journals what it did`;
}
