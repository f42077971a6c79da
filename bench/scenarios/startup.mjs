// Start-up cost of the dwm binary against the floor of starting Node at all: `dwm status --json`
// on a 1,000-packet run, `dwm --version`, `dwm mcp` (an MCP client's handshake: initialize and
// tools/list answered, then stdin closes), and `node -e 0`, timed in the same run; peak RSS of
// each from one extra run. The run is compiled and run once before timing: its seed packet with the
// shell backend, the other 999 with the dry-run backend (no worktrees), whose reviews always ask
// for a human, so the journal holds every packet's dispatch, attempt and review and the run waits
// at 999 needs-human gates, which `dwm status` folds and lists.
import fs from "node:fs";
import path from "node:path";
import { dwmBin, timeProcess, writeResult } from "../lib.mjs";
import { preparedNoopRun } from "../plans.mjs";

/** A repository holding a run of `n` packets, every packet attempted; the repo, the run's id and journal size. */
async function finishedRun(n) {
  const run = await preparedNoopRun(n, { backend: "dry-run" }, "dwm-bench-startup-");
  const out = await run.start();
  if (out.status !== "gate" || out.counts.completed !== 1) {
    fs.rmSync(run.dir, { recursive: true, force: true });
    throw new Error(`startup bench run: ${out.status}: ${out.detail.slice(0, 200)}`);
  }
  const events = fs.readFileSync(path.join(run.runDir, "journal.jsonl"), "utf8").split("\n").length - 1;
  return { dir: run.dir, runId: run.runId, events };
}

/** What an MCP client sends first: initialize, initialized, tools/list (then it waits for the answers). */
const MCP_HANDSHAKE = `${[
  {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
  },
  { jsonrpc: "2.0", method: "notifications/initialized" },
  { jsonrpc: "2.0", id: 2, method: "tools/list" },
]
  .map((m) => JSON.stringify(m))
  .join("\n")}\n`;

export async function run({ quick }) {
  const runs = quick ? 3 : 15;
  const packets = quick ? 40 : 1_000;
  const { dir, runId, events } = await finishedRun(packets);
  try {
    const env = { ...process.env, NO_COLOR: "1" };
    const floor = timeProcess([process.execPath, "-e", "0"], { runs, env });
    const version = timeProcess([process.execPath, dwmBin, "--version"], { runs, env });
    const mcp = timeProcess([process.execPath, dwmBin, "mcp"], {
      runs,
      cwd: dir,
      env,
      input: MCP_HANDSHAKE,
      check: (stdout) => {
        const ids = stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).id);
        if (ids.join() !== "1,2") throw new Error(`dwm mcp answered ${stdout.slice(0, 300)}`);
      },
    });
    const status = timeProcess([process.execPath, dwmBin, "status", runId, "--json"], {
      runs,
      cwd: dir,
      env,
    });
    const row = (what, t) => ({
      case: what,
      median_ms: t.median.toFixed(1),
      ratio: (t.median / floor.median).toFixed(2),
      peak_rss_mib: t.peakRssMiB.toFixed(0),
    });
    const rows = [
      row("node -e 0 (floor)", floor),
      row("dwm --version", version),
      row("dwm mcp (initialize, tools/list)", mcp),
      row(`dwm status --json (${packets} packets, ${events} events)`, status),
    ];
    writeResult("startup", {
      runs,
      packets,
      journal_events: events,
      rows,
      note: "median wall time of each command over the runs; every packet of the run was attempted (seed with shell, the rest dry-run, waiting at needs-human gates), so status reads every packet and folds the whole journal",
    });
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
