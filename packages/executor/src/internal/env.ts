import type { BackendName } from "@dwm/schemas";

/**
 * Every worker and check gets these, when DWM's own environment has them. TRACEPARENT and
 * TRACESTATE (W3C trace context) are set by a traced `dwm run`, so an instrumented agent's spans
 * join the run's trace.
 */
export const BASE_ENV_NAMES = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TERM",
  "TMPDIR",
  "TRACEPARENT",
  "TRACESTATE",
] as const;

/** Variables each backend documents for itself (auth, endpoint, config home). */
export const BACKEND_ENV_NAMES: Readonly<Record<BackendName, readonly string[]>> = {
  "dry-run": [],
  shell: [],
  command: [],
  codex: ["OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL", "CODEX_HOME"],
  claude: [
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_MODEL",
    "CLAUDE_CONFIG_DIR",
  ],
};

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL/i;

/** A variable whose value must never reach evidence. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

// Shorter values would redact ordinary text ("1", "yes") everywhere; no real secret is that short.
const MIN_SECRET_LENGTH = 4;

/**
 * The environment of one process: allow-listed names taken from `source` (absent ones skipped),
 * then literal values, then DWM's own variables. Returns it with its sorted names.
 */
export function buildEnv(
  source: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
  literal: Readonly<Record<string, string>> = {},
  dwm: Readonly<Record<string, string>> = {},
): { env: Record<string, string>; names: string[] } {
  const env: Record<string, string> = {};
  for (const n of names) {
    const v = source[n];
    if (v !== undefined) env[n] = v;
  }
  Object.assign(env, literal, dwm);
  return { env, names: Object.keys(env).sort() };
}

/** Replaces the values of secret-looking variables in bytes, binary-safe. */
export class Redactor {
  private readonly secrets: { name: string; value: Buffer }[] = [];

  /**
   * Remember every secret-looking variable of `env`, and those named in `secretNames` whatever
   * their name (call for each environment handed out).
   */
  add(env: Readonly<Record<string, string>>, secretNames: readonly string[] = []): void {
    for (const [name, value] of Object.entries(env)) {
      if (!(isSecretName(name) || secretNames.includes(name)) || value.length < MIN_SECRET_LENGTH) continue;
      if (this.secrets.some((s) => s.value.toString() === value)) continue;
      this.secrets.push({ name, value: Buffer.from(value) });
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.secrets.sort((a, b) => b.value.length - a.value.length);
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Redacted bytes and the names of the variables whose values were found. */
  redact(data: Buffer): { data: Buffer; hits: string[] } {
    const hits = new Set<string>();
    let out = data;
    for (const s of this.secrets) {
      let i = out.indexOf(s.value);
      if (i < 0) continue;
      hits.add(s.name);
      const mark = Buffer.from(`[REDACTED:${s.name}]`);
      const parts: Buffer[] = [];
      let from = 0;
      while (i >= 0) {
        parts.push(out.subarray(from, i), mark);
        from = i + s.value.length;
        i = out.indexOf(s.value, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return { data: out, hits: [...hits].sort() };
  }

  redactText(text: string): string {
    return this.redact(Buffer.from(text)).data.toString();
  }
}
