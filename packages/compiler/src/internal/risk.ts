import { GATE_CATEGORIES, type GateCategory, RISK_CATEGORIES } from "@dwm/schemas";

/** DESIGN.md's closed list of risk categories and every gate category (from @dwm/schemas). */
export { GATE_CATEGORIES, RISK_CATEGORIES };

/**
 * Categories a packet's structured fields can show it needs (tool permissions,
 * MCP connectors, written surfaces). A plan risk gate in one of these holds exactly
 * the packets that need the category; a gate in any other category holds every
 * packet that has a side effect at all (nothing else tells which packet might
 * install a dependency or rewrite history).
 */
export const CAPABILITY_CATEGORIES: ReadonlySet<GateCategory> = new Set<GateCategory>([
  "write",
  "shell-process",
  "network",
  "external-message",
]);

/**
 * Trigger text → category. Phrases are token sequences (lowercase, `_`/`-` as
 * spaces, tokens `[a-z0-9]+`) that must appear contiguously; the table is tried
 * top to bottom and the first match wins, so specific phrases come before the
 * generic ones ("public API change" before "change", "dependency install" before
 * "install"). A trigger that matches nothing becomes a `human-review` gate.
 * Documented in packages/compiler/README.md; keep the two in step.
 */
export const TRIGGER_KEYWORDS: readonly (readonly [GateCategory, readonly string[]])[] = [
  [
    "history-rewrite",
    [
      "history rewrite",
      "history rewrites",
      "rewrite history",
      "rewriting history",
      "force push",
      "force pushing",
      "hard reset",
      "reset hard",
      "rebase",
    ],
  ],
  [
    "production-deploy",
    [
      "production deploy",
      "production deploys",
      "production deployment",
      "prod deploy",
      "deploy",
      "deploys",
      "deployment",
      "deploying",
      "publish",
      "publishing",
      "release publication",
    ],
  ],
  [
    "database-migration",
    [
      "database migration",
      "database migrations",
      "db migration",
      "db migrations",
      "schema migration",
      "schema migrations",
      "migrate database",
      "migrate the database",
    ],
  ],
  [
    "dependency-install",
    [
      "dependency install",
      "dependency installs",
      "dependency installation",
      "dependency change",
      "dependency changes",
      "install dependencies",
      "installing dependencies",
      "package install",
      "package installs",
      "npm install",
      "pnpm install",
      "pip install",
      "new dependency",
      "new dependencies",
    ],
  ],
  [
    "public-api-change",
    ["public api", "public apis", "api change", "api changes", "breaking change", "breaking changes"],
  ],
  ["paid-api", ["paid api", "paid apis", "paid external api", "paid service", "paid services", "billing"]],
  [
    "secret-access",
    [
      "secret",
      "secrets",
      "credential",
      "credentials",
      "api key",
      "api keys",
      "access token",
      "access tokens",
    ],
  ],
  [
    "external-message",
    [
      "external message",
      "external messages",
      "external messaging",
      "send email",
      "send emails",
      "email",
      "emails",
      "slack",
      "post comment",
      "post comments",
      "notification",
      "notifications",
    ],
  ],
  [
    "delete",
    ["delete", "deletes", "deletion", "deletions", "deleting", "remove files", "file removal", "rm rf"],
  ],
  [
    "network",
    [
      "network",
      "networking",
      "network access",
      "internet",
      "http",
      "https",
      "download",
      "downloads",
      "external service",
      "external services",
      "web access",
    ],
  ],
  [
    "shell-process",
    [
      "shell",
      "shell process",
      "process execution",
      "command execution",
      "subprocess",
      "run commands",
      "execute commands",
    ],
  ],
  [
    "write",
    [
      "write",
      "writes",
      "writing",
      "write access",
      "file write",
      "file writes",
      "source edit",
      "source edits",
      "edit files",
      "file edits",
      "modify files",
    ],
  ],
];

function tokens(text: string): string[] {
  return (
    text
      .toLowerCase()
      .replace(/[_-]/g, " ")
      .match(/[a-z0-9]+/g) ?? []
  );
}

const COMPILED = TRIGGER_KEYWORDS.map(([cat, phrases]) => [cat, phrases.map(tokens)] as const);

function containsSeq(hay: string[], needle: string[]): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** The risk category a gate trigger names, or null when it names none of them. */
export function categoryFromText(text: string): GateCategory | null {
  const hay = tokens(text);
  for (const [cat, phrases] of COMPILED) {
    for (const p of phrases) if (containsSeq(hay, p)) return cat;
  }
  return null;
}

/** What DWM does while a derived gate of each category is not approved. */
export const DEFAULT_SAFE_DEFAULT: Record<GateCategory, string> = {
  write: "hold the packet before dispatch: nothing is written until the gate is approved",
  "shell-process": "hold the packet before dispatch: no shell or process runs until the gate is approved",
  network: "hold the packet before dispatch: no network access until the gate is approved",
  "dependency-install":
    "hold the packet before dispatch: no dependency is installed until the gate is approved",
  "database-migration": "hold the packet before dispatch: no database is migrated until the gate is approved",
  "production-deploy": "hold the packet before dispatch: nothing is deployed until the gate is approved",
  "public-api-change": "hold the packet before dispatch: no public API changes until the gate is approved",
  "external-message":
    "hold the packet before dispatch: no external message is sent until the gate is approved",
  "paid-api": "hold the packet before dispatch: no paid API is called until the gate is approved",
  "secret-access": "hold the packet before dispatch: no secret is read until the gate is approved",
  "history-rewrite":
    "hold the packet before dispatch: no git history is rewritten until the gate is approved",
  delete: "hold the packet before dispatch: nothing is deleted until the gate is approved",
  "human-review": "hold the packet until an operator approves it with `dwm approve`",
};
