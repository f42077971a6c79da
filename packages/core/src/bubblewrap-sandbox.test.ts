// The real bubblewrap sandbox, one view property per test. scripts/ci-setup.sh (run by `pnpm test`
// and CI) installs bubblewrap; where it does not work, the suite fails with why. Skipped only when
// the user left it out: DWM_TEST_SKIP=bubblewrap (see the README; @dwm/test-utils' leftOut, which
// this package cannot import).
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bubblewrapArgs, bubblewrapSandbox } from "./bubblewrap-sandbox.js";
import { isDwmError } from "./errors.js";
import type { ProcessRequest } from "./ports.js";
import { nodeProcessRunner } from "./process-runner.js";
import { homeSecretPaths, noSandbox, type SandboxBind, type SandboxView } from "./sandbox.js";

/** A read-only bind of this Node's folder when it lies under /tmp (else none). */
function nodeUnderTmp(): SandboxBind[] {
  const dir = path.dirname(fs.realpathSync(process.execPath));
  return dir.startsWith("/tmp/") ? [{ source: dir, target: dir, writable: false }] : [];
}

const sandbox = bubblewrapSandbox();
const leftOut = (process.env.DWM_TEST_SKIP ?? "").split(/[\s,]+/).includes("bubblewrap");
const probe = await sandbox.probe();
if (!probe.ok && !leftOut) {
  throw new Error(
    `bubblewrap does not work here (${probe.reason}); the worker sandbox tests need it. Install: \`apt-get install -y bubblewrap\` (\`bash scripts/ci-setup.sh\` does); or leave these tests out: DWM_TEST_SKIP=bubblewrap.`,
  );
}

// Outside /tmp on purpose: the sandbox's /tmp is private, so host paths under it are never visible.
let root: string;
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.homedir(), LANG: "C" };

async function sh(script: string, view: Partial<SandboxView> = {}, extra: Partial<ProcessRequest> = {}) {
  const full: SandboxView = { binds: [], hidden: [], network: "none", ...view };
  const prepared = await sandbox.prepare(
    { argv: ["sh", "-c", script], cwd: root, env, timeoutMs: 30_000, ...extra },
    full,
  );
  try {
    return await nodeProcessRunner.run(prepared.request);
  } finally {
    await prepared.dispose();
  }
}

/** Processes on the host whose command line contains `marker`. */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(marker)) found.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(leftOut)("bubblewrapSandbox (real bwrap)", () => {
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.homedir(), ".dwm-sandbox-test-"));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("probes ok and names its version", () => {
    expect(probe).toMatchObject({ ok: true, name: "bubblewrap", reason: null });
    expect(probe.version).toMatch(/^\d+\.\d+/);
  });

  it("shows the host read-only: a write outside every bind fails and changes nothing", async () => {
    fs.writeFileSync(path.join(root, "host.txt"), "host\n");
    const r = await sh("cat host.txt; echo changed > host.txt; echo new > new.txt");
    expect(r.stdout).toBe("host\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.exitCode).not.toBe(0);
    expect(fs.readFileSync(path.join(root, "host.txt"), "utf8")).toBe("host\n");
    expect(fs.existsSync(path.join(root, "new.txt"))).toBe(false);
  });

  it("writes through a writable bind, and nowhere else", async () => {
    const work = path.join(root, "work");
    fs.mkdirSync(work);
    const r = await sh("echo made > work/made.txt && echo ok", {
      binds: [{ source: work, writable: true }],
    });
    expect(r.stdout).toBe("ok\n");
    expect(fs.readFileSync(path.join(work, "made.txt"), "utf8")).toBe("made\n");
  });

  it("shows a read-only bind at another place, readable but not writable", async () => {
    const inputs = path.join(root, "inputs");
    fs.mkdirSync(inputs);
    fs.writeFileSync(path.join(inputs, "in.json"), '{"a":1}\n');
    const r = await sh("cat /tmp/in/in.json; echo x > /tmp/in/in.json; rm -f /tmp/in/in.json; ls /tmp/in", {
      binds: [{ source: inputs, target: "/tmp/in", writable: false }],
    });
    expect(r.stdout).toBe('{"a":1}\nin.json\n');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(fs.readFileSync(path.join(inputs, "in.json"), "utf8")).toBe('{"a":1}\n');
  });

  it("hides folders and files: a hidden folder is empty, a hidden file empty, and neither writable", async () => {
    const store = path.join(root, ".dwm");
    fs.mkdirSync(path.join(store, "runs"), { recursive: true });
    fs.writeFileSync(path.join(store, "runs", "journal.jsonl"), "secret journal\n");
    fs.writeFileSync(path.join(root, "key.pem"), "PRIVATE KEY\n");
    const r = await sh("ls -A .dwm; cat key.pem; echo x > .dwm/forged && echo WROTE; echo end", {
      hidden: [store, path.join(root, "key.pem"), path.join(root, "missing-is-skipped")],
    });
    expect(r.stdout).toBe("end\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(fs.existsSync(path.join(store, "forged"))).toBe(false);
  });

  it("hides a path inside another hidden one with it (an attempt's evidence inside the run store)", async () => {
    const store = path.join(root, "nested-store");
    fs.mkdirSync(path.join(store, "exec", "p", "1"), { recursive: true });
    fs.writeFileSync(path.join(store, "exec", "p", "1", "stdout"), "evidence\n");
    const r = await sh(`ls -A ${store}; echo end`, {
      hidden: [store, path.join(store, "exec", "p", "1")],
    });
    expect([r.exitCode, r.stdout]).toEqual([0, "end\n"]);
  });

  it("hides a path inside a writable bind too", async () => {
    const work = path.join(root, "work2");
    fs.mkdirSync(path.join(work, ".dwm"), { recursive: true });
    fs.writeFileSync(path.join(work, ".dwm", "x"), "x");
    const r = await sh(`ls -A ${work}/.dwm; echo end`, {
      binds: [{ source: work, writable: true }],
      hidden: [path.join(work, ".dwm")],
    });
    expect(r.stdout).toBe("end\n");
  });

  it("hides a path inside a bind from under /tmp (a home folder kept in the temp folder)", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-home-bind-"));
    try {
      fs.mkdirSync(path.join(home, ".ssh"));
      fs.writeFileSync(path.join(home, ".ssh", "id"), "SECRET\n");
      fs.writeFileSync(path.join(home, "notes.txt"), "notes\n");
      const r = await sh(`cat ${home}/notes.txt; cat ${home}/.ssh/id; ls -A ${home}/.ssh; echo end`, {
        binds: [{ source: home, writable: false }],
        hidden: [path.join(home, ".ssh")],
      });
      expect(r.stdout).toBe("notes\nend\n");
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("gives a private /tmp and hides /run (system service sockets)", async () => {
    const mine = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-host-tmp-"));
    try {
      const r = await sh(
        `ls -A /tmp; ls -A /run; test -e ${mine} || echo gone; echo t > /tmp/t && cat /tmp/t`,
      );
      expect(r.stdout).toBe("gone\nt\n");
    } finally {
      fs.rmSync(mine, { recursive: true, force: true });
    }
  });

  it("drops every capability: no remount of the read-only host", async () => {
    const r = await sh(
      "grep CapEff /proc/self/status; mount -o remount,bind,rw / 2>/dev/null && echo REMOUNTED; echo end",
    );
    expect(r.stdout).toBe("CapEff:\t0000000000000000\nend\n");
  });

  it("has its own PID namespace: nothing it starts survives it (unsandboxed, the same script leaves a survivor)", async () => {
    const marker = `dwm-survivor-${process.pid}-${Date.now()}`;
    const script = `setsid bash -c 'exec -a ${marker} sleep 300' </dev/null >/dev/null 2>&1 & sleep 0.2; echo started`;
    // The control: without the sandbox, the detached child outlives the command.
    const bare = await nodeProcessRunner.run({
      argv: ["sh", "-c", script],
      cwd: root,
      env,
      timeoutMs: 30_000,
    });
    expect(bare.stdout).toBe("started\n");
    const survivors = processesWith(marker);
    for (const s of survivors) process.kill(Number(s.split(":")[0]), "SIGKILL");
    expect(survivors).toHaveLength(1);

    const r = await sh(script);
    expect(r.stdout).toBe("started\n");
    for (let i = 0; i < 50 && processesWith(marker).length > 0; i++)
      await new Promise((w) => setTimeout(w, 20));
    expect(processesWith(marker)).toEqual([]);
  });

  it("a fork bomb stays within its process limit; the host's processes are untouched", async () => {
    const small = bubblewrapSandbox({ maxProcesses: 40 });
    const prepared = await small.prepare(
      {
        // 200 children wanted; past the limit spawning fails (EAGAIN). Node counts (its threads count too).
        argv: [
          process.execPath,
          "-e",
          `const { spawn } = require("node:child_process");
           let ok = 0, failed = 0, pending = 200;
           for (let i = 0; i < 200; i++) {
             const c = spawn("sleep", ["5.25"], { stdio: "ignore" });
             c.once("spawn", () => { ok++; if (--pending === 0) done(); });
             c.once("error", () => { failed++; if (--pending === 0) done(); });
           }
           function done() { console.log(ok + " " + failed); process.exit(0); }`,
        ],
        cwd: root,
        env,
        timeoutMs: 30_000,
      },
      // This Node may live under the temp folder (CI's Node 22/24 passes in a clone in /tmp):
      // the view's fresh /tmp would hide it, so its folder is bound back read-only.
      { binds: nodeUnderTmp(), hidden: [], network: "none" },
    );
    try {
      const r = await nodeProcessRunner.run(prepared.request);
      const [ok = 0, failed = 0] = r.stdout.trim().split(" ").map(Number);
      expect(ok + failed, r.stderr).toBe(200);
      expect(ok).toBeGreaterThan(5);
      expect(ok).toBeLessThan(40);
    } finally {
      await prepared.dispose();
    }
    // An odd duration: a plain "sleep 5…" of anything else on the machine must not match.
    expect(processesWith("sleep 5.25")).toEqual([]);
  });

  it("cannot see or signal the runner's processes", async () => {
    const r = await sh(
      `test -e /proc/${process.pid}/environ && echo SEEN; kill -0 ${process.pid} 2>/dev/null && echo SIGNALLED; echo end`,
    );
    expect(r.stdout).toBe("end\n");
  });

  it("a timeout ends everything inside, a new session's child included", async () => {
    const marker = `dwm-timeout-${process.pid}-${Date.now()}`;
    const r = await sh(
      `setsid bash -c 'exec -a ${marker} sleep 300' & sleep 0.2; echo "$(ls /proc | grep -c '^[0-9]')"; exec bash -c 'exec -a ${marker} sleep 300'`,
      {},
      { timeoutMs: 1000, killGraceMs: 200 },
    );
    expect(r.timedOut).toBe(true);
    // Its own PID namespace: a handful of processes (bwrap's init, sh, the sleeper, ls, grep), not the host's.
    expect(Number(r.stdout.trim())).toBeGreaterThanOrEqual(3);
    expect(Number(r.stdout.trim())).toBeLessThan(10);
    for (let i = 0; i < 50 && processesWith(marker).length > 0; i++)
      await new Promise((w) => setTimeout(w, 20));
    expect(processesWith(marker)).toEqual([]);
  });

  describe("network", () => {
    let model: http.Server;
    let other: http.Server;
    const port = (s: http.Server) => (s.address() as { port: number }).port;
    beforeAll(async () => {
      model = http.createServer((_q, s) => s.end("model\n"));
      other = http.createServer((_q, s) => s.end("other\n"));
      await new Promise<void>((r) => model.listen(0, "127.0.0.1", r));
      await new Promise<void>((r) => other.listen(0, "127.0.0.1", r));
    });
    afterAll(() => {
      model.close();
      other.close();
    });
    const fetchIn = (p: number) =>
      `node -e 'fetch("http://127.0.0.1:${p}/").then(r=>r.text()).then(t=>process.stdout.write(t),e=>process.stdout.write("refused "+(e.cause?.code??e.message)+"\\n"))'`;

    it("none: a loopback port of the host is unreachable", async () => {
      const r = await sh(fetchIn(port(model)));
      expect(r.stdout).toBe("refused ECONNREFUSED\n");
    });

    it("endpoints: the named loopback endpoint is reachable, another loopback port is not", async () => {
      const r = await sh(`${fetchIn(port(model))}; ${fetchIn(port(other))}`, {
        network: { endpoints: [{ host: "127.0.0.1", port: port(model) }] },
      });
      expect(r.stdout).toBe("model\nrefused ECONNREFUSED\n");
      expect(r.exitCode).toBe(0);
    });

    it("endpoints: the command's exit status and stdin pass through the relay", async () => {
      const r = await sh(
        "cat; exit 7",
        { network: { endpoints: [{ host: "127.0.0.1", port: port(model) }] } },
        {
          stdin: "prompt text\n",
        },
      );
      expect(r.stdout).toBe("prompt text\n");
      expect(r.exitCode).toBe(7);
    });

    it("host: the host's loopback is reachable", async () => {
      const r = await sh(fetchIn(port(other)), { network: "host" });
      expect(r.stdout).toBe("other\n");
    });

    it("refuses an endpoint off the loopback interface", async () => {
      const e = await sandbox
        .prepare(
          { argv: ["true"], cwd: root, env },
          { binds: [], hidden: [], network: { endpoints: [{ host: "10.0.0.1", port: 443 }] } },
        )
        .catch((x: unknown) => x);
      expect(isDwmError(e) && e.code).toBe("ERR_SANDBOX_VIEW");
    });
  });
});

describe("bubblewrapArgs", () => {
  it("refuses a bind whose source is missing, or whose target cannot be made", () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isDwmError(e) ? e.code : String(e);
      }
      return null;
    };
    expect(
      codeOf(() =>
        bubblewrapArgs(
          { binds: [{ source: "/nonexistent-dwm", writable: false }], hidden: [], network: "none" },
          "/",
        ),
      ),
    ).toBe("ERR_SANDBOX_VIEW");
    expect(
      codeOf(() =>
        bubblewrapArgs(
          {
            binds: [{ source: "/etc/hostname", target: "/nonexistent-dwm/x", writable: false }],
            hidden: [],
            network: "none",
          },
          "/",
        ),
      ),
    ).toBe("ERR_SANDBOX_VIEW");
    expect(
      codeOf(() =>
        bubblewrapArgs(
          {
            binds: [{ source: "/etc/hostname", target: "/tmp/x/y", writable: false }],
            hidden: [],
            network: "none",
          },
          "/",
        ),
      ),
    ).toBe(null);
  });

  it("keeps the host network only for network: host, and drops capabilities always", () => {
    const none = bubblewrapArgs({ binds: [], hidden: [], network: "none" }, "/");
    const host = bubblewrapArgs({ binds: [], hidden: [], network: "host" }, "/");
    expect(none).not.toContain("--share-net");
    expect(host).toContain("--share-net");
    for (const a of [none, host]) {
      expect(a.slice(0, 1)).toEqual(["--unshare-all"]);
      expect(a.join(" ")).toContain("--cap-drop ALL");
      expect(a.join(" ")).toContain("--die-with-parent --new-session");
    }
  });
});

describe("noSandbox and homeSecretPaths", () => {
  it("noSandbox passes the request through unchanged", async () => {
    const req = { argv: ["true"], cwd: "/", env: {} };
    const p = await noSandbox.prepare(req, { binds: [], hidden: [], network: "none" });
    expect(p.request).toBe(req);
    expect(await noSandbox.probe()).toEqual({ ok: true, name: "none", version: null, reason: null });
  });

  it("lists the credential places that exist in a home folder", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-home-"));
    try {
      for (const d of [".ssh", ".config/gh", ".config/dwm", ".aws"])
        fs.mkdirSync(path.join(home, d), { recursive: true });
      fs.writeFileSync(path.join(home, ".netrc"), "machine x\n");
      fs.mkdirSync(path.join(home, "projects"));
      expect(
        homeSecretPaths(home)
          .map((p) => path.relative(home, p))
          .sort(),
      ).toEqual([".aws", ".config/dwm", ".config/gh", ".netrc", ".ssh"].sort());
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
