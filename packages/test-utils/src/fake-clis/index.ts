import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** What a fake `codex` or `claude` does; JSON in $DWM_FAKE_CODEX, $DWM_FAKE_CLAUDE or $DWM_FAKE_CLI (or "@file"). */
export interface FakeCliScenario {
  /** Default `succeed`. */
  mode?: "succeed" | "fail" | "hang" | "crash" | "auth" | "auth-retry" | "rate-limit" | "garbage";
  /** claude `auth-retry`: the HTTP status its api_retry lines carry (default 401) and how often they come (default 300 ms). */
  status?: number;
  retryEveryMs?: number;
  /** Files to write (relative to the working directory), only where the sandbox/permission mode allows it. */
  writes?: { path: string; content: string }[];
  /** Write even where the permissions forbid it (a tool that does not honour them). */
  ignorePermissions?: boolean;
  /** The final agent message. */
  message?: string;
  /** `fail`: the error text and exit code (default 1); `garbage`: exit code (default 0). */
  error?: string;
  exitCode?: number;
  /** Token usage to report (the tool's own field names). */
  usage?: Record<string, number>;
  /** `hang`: start a grandchild that ignores SIGTERM and write its pid here. */
  grandchildPidFile?: string;
  /** `crash`: the signal to die by (default SIGSEGV). */
  signal?: string;
  /** Print these variables' values on stdout and stderr (for leak tests). */
  echoEnv?: string[];
  /** Write `{ tool, argv, stdin, cwd, env_names }` here. */
  recordFile?: string;
  /** `garbage`: what to print. */
  garbage?: string;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json")) || path.basename(dir) === "bin")
    dir = path.dirname(dir);
  return dir;
}

/**
 * The folder holding the fake `codex` and `claude` executables: put it first on PATH.
 * (Scripts stay in src/, also when this module runs from dist/.)
 */
export function fakeCliBinDir(): string {
  return path.join(packageRoot(), "src", "fake-clis", "bin");
}

/** PATH with the fake CLIs first. */
export function pathWithFakeClis(basePath = process.env.PATH ?? "/usr/bin:/bin"): string {
  return `${fakeCliBinDir()}${path.delimiter}${basePath}`;
}
