// The infrastructure retry policy from the command line and the bindings file: how many times a
// packet that keeps timing out is retried, after which delays, and that the journal shows both.
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_INFRA_RETRY_POLICY } from "@dwm/ingester";
import { FakeClock, git, makeTempDir } from "@dwm/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { auditRepo, journalEvents } from "../test-support/built-cli.js";
import { operatorEnv } from "../test-support/operator.js";
import { infraPolicyOf } from "./run.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** examples/repo-audit whose first packet's worker never finishes within its 300 ms timeout. */
function hangingAudit(extra: Record<string, unknown> = {}) {
  const repo = auditRepo(cleanups);
  const file = path.join(repo.path, "dwm.workers.json");
  const b = JSON.parse(fs.readFileSync(file, "utf8"));
  b.bindings["inventory-worker"] = {
    backend: "shell",
    argv: ["node", "-e", "setTimeout(() => {}, 60000)"],
    timeout_ms: 300,
  };
  Object.assign(b, extra);
  fs.writeFileSync(file, JSON.stringify(b, null, 2));
  git(repo.path, "commit", "-qam", "hanging inventory");
  return repo;
}

/** `dwm argv` in this process; the clock moves 1 ms a read, so retry delays pass. */
async function dwm(cwd: string, argv: string[]) {
  const wt = makeTempDir("dwm-infra-wt-");
  cleanups.push(wt.cleanup);
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: wt.path, ...operatorEnv() },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: () => {},
    },
  );
  return { code, stdout, stderr };
}

const retries = (repo: string) =>
  journalEvents(repo)
    .filter((e) => e.type === "infra.retry-scheduled")
    .map((e) => e.data as { retry?: number; delay_ms?: number });
const dispatched = (repo: string) => journalEvents(repo).filter((e) => e.type === "packet.dispatched").length;

describe("infraPolicyOf", () => {
  it("flags over the bindings file over the defaults; the retried outcomes stay the default", () => {
    expect(infraPolicyOf({}, {})).toEqual(DEFAULT_INFRA_RETRY_POLICY);
    expect(infraPolicyOf({}, { infra_retries: 0, infra_backoff_ms: [5] })).toEqual({
      ...DEFAULT_INFRA_RETRY_POLICY,
      max_retries: 0,
      delays_ms: [5],
    });
    expect(
      infraPolicyOf({ infraRetries: 2, infraBackoffMs: [1, 2] }, { infra_retries: 0, infra_backoff_ms: [5] }),
    ).toEqual({ ...DEFAULT_INFRA_RETRY_POLICY, max_retries: 2, delays_ms: [1, 2] });
  });
});

describe("dwm run --infra-retries / --infra-backoff", () => {
  it("retries a timing-out packet as often as asked, after the delays asked, and the journal records the policy", async () => {
    const repo = hangingAudit();
    const r = await dwm(repo.path, [
      "run",
      "workflow.plan.json",
      "--infra-retries",
      "2",
      "--infra-backoff",
      "10,20",
      "--json",
    ]);
    expect(r.code).toBe(1);
    const outcome = JSON.parse(r.stdout);
    expect(outcome.status).toBe("failed");
    expect(JSON.stringify(outcome)).toContain("2 retries already spent (policy max_retries 2)");
    expect(retries(repo.path)).toEqual([
      {
        packet_id: "inventory",
        attempt: 1,
        reason: "timeout: retry 1",
        retry: 1,
        delay_ms: 10,
        max_retries: 2,
      },
      {
        packet_id: "inventory",
        attempt: 2,
        reason: "timeout: retry 2",
        retry: 2,
        delay_ms: 20,
        max_retries: 2,
      },
    ]);
    expect(dispatched(repo.path)).toBe(3);
  }, 120_000);

  it("takes infra_retries and infra_backoff_ms from the bindings file; the flags win over it", async () => {
    const repo = hangingAudit({ infra_retries: 1, infra_backoff_ms: [15] });
    const r = await dwm(repo.path, ["run", "workflow.plan.json"]);
    expect(r.code).toBe(1);
    expect(retries(repo.path).map((d) => [d.retry, (d as { delay_ms?: number }).delay_ms])).toEqual([
      [1, 15],
    ]);
    expect(dispatched(repo.path)).toBe(2);

    const other = hangingAudit({ infra_retries: 1, infra_backoff_ms: [15] });
    const none = await dwm(other.path, ["run", "workflow.plan.json", "--infra-retries", "0"]);
    expect(none.code).toBe(1);
    expect(retries(other.path)).toEqual([]);
    expect(dispatched(other.path)).toBe(1);
  }, 120_000);

  it("refuses a backoff that is not a list of milliseconds", async () => {
    const repo = hangingAudit();
    const r = await dwm(repo.path, ["run", "workflow.plan.json", "--infra-backoff", "5s,10s"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'ERR_CLI_USAGE: --infra-backoff takes delays in milliseconds separated by commas (e.g. 5000,30000), not "5s,10s"',
    );
    expect(journalEvents(repo.path)).toEqual([]);
  });
});
