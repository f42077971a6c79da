import type { Review, ReviewCheck, ReviewEvidence, ReviewFinding } from "@dwm/schemas";

export type Effect = ReviewFinding["effect"];
export type Verdict = Review["verdict"];

/** What one check of the review found, in the order it found it. */
export interface Judgement {
  readonly checks: ReviewCheck[];
  readonly findings: ReviewFinding[];
  /** How many things in the evidence could have failed the result here (a review with none cannot approve). */
  falsifiers: number;
}

/** Collects one check's results. */
export class Judge implements Judgement {
  readonly checks: ReviewCheck[] = [];
  readonly findings: ReviewFinding[] = [];
  falsifiers = 0;

  check(id: string, kind: ReviewCheck["kind"], status: ReviewCheck["status"], detail: string): this {
    this.checks.push({ id, kind, status, detail });
    return this;
  }

  // A string, not ReviewFindingCode: tests judge made-up codes; the docs test checks every code in src is catalogued.
  find(code: string, message: string, effect: Effect, evidence: (ReviewEvidence | null)[] = []): this {
    this.findings.push({
      code,
      message,
      effect,
      evidence: evidence.filter((e): e is ReviewEvidence => e !== null),
    });
    return this;
  }

  /** The judgement, with what else the check found. */
  done<T extends object>(extra: T): Judgement & T {
    return { checks: this.checks, findings: this.findings, falsifiers: this.falsifiers, ...extra };
  }
}

const VERDICT_OF_EFFECT: Readonly<Record<Effect, Verdict>> = {
  repair: "changes-requested",
  human: "needs-human",
  infra: "infra-failed",
};

// An infrastructure failure says nothing about the work, so it outranks everything; a human
// must decide before a repair is worth trying.
const GRAVITY: Readonly<Record<Verdict, number>> = {
  approved: 0,
  "changes-requested": 1,
  "needs-human": 2,
  "infra-failed": 3,
};

/** The verdict over every finding of the review: the gravest effect (infra, then human, then repair), else approved. */
export function verdictOf(judged: readonly Pick<Judgement, "findings">[]): Verdict {
  let verdict: Verdict = "approved";
  for (const j of judged) {
    for (const f of j.findings) {
      const v = VERDICT_OF_EFFECT[f.effect];
      if (GRAVITY[v] > GRAVITY[verdict]) verdict = v;
    }
  }
  return verdict;
}

/** Lines as one excerpt, or null when there are none. */
export function lineExcerpt(lines: readonly string[]): string | null {
  return lines.length ? lines.join("\n") : null;
}
