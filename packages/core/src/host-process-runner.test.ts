import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hostProcessRunner } from "./host-process-runner.js";

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
const gone = (pid: number) => {
  try {
    if (/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return true;
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};
const waitFor = async (f: () => boolean) => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
  return f();
};

describe("hostProcessRunner", () => {
  it("spawns from its host process, not from the caller", async () => {
    const runner = hostProcessRunner();
    try {
      const r = await runner.run({ argv: ["sh", "-c", "echo $PPID"], cwd: os.tmpdir(), env });
      expect(runner.hostPid).not.toBeNull();
      expect(Number(r.stdout.trim())).toBe(runner.hostPid);
      expect(runner.hostPid).not.toBe(process.pid);
    } finally {
      await runner.close();
    }
    expect(runner.hostPid).toBeNull();
  });

  it("a host that dies settles what it ran as a spawn error, and the next request starts a new host", async () => {
    const runner = hostProcessRunner();
    try {
      const first = await runner.run({ argv: ["true"], cwd: os.tmpdir(), env });
      expect(first.exitCode).toBe(0);
      const pid = runner.hostPid as number;
      const hanging = runner.run({ argv: ["sleep", "30"], cwd: os.tmpdir(), env });
      await new Promise((r) => setTimeout(r, 200));
      process.kill(pid, "SIGKILL");
      const r = await hanging;
      expect(r.spawnError).toBe("process host exited (SIGKILL)");
      expect(r.exitCode).toBeNull();
      const again = await runner.run({ argv: ["sh", "-c", "echo again"], cwd: os.tmpdir(), env });
      expect(again.stdout).toBe("again\n");
      expect(runner.hostPid).not.toBe(pid);
    } finally {
      await runner.close();
    }
  });

  it("close() stops what still runs (its process group) and ends the host", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-host-"));
    const runner = hostProcessRunner();
    const pidFile = path.join(dir, "child.pid");
    const hanging = runner.run({
      argv: ["sh", "-c", `echo $$ > ${pidFile}; exec sleep 30`],
      cwd: dir,
      env,
      killGraceMs: 100,
    });
    expect(
      await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")),
    ).toBe(true);
    const child = Number(fs.readFileSync(pidFile, "utf8"));
    const hostPid = runner.hostPid as number;
    await runner.close();
    expect((await hanging).spawnError).toMatch(/^process host exited/);
    expect(await waitFor(() => gone(child))).toBe(true);
    expect(gone(hostPid)).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a caller killed with SIGKILL takes its children with it: the host stops their process groups", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-host-"));
    const pidFile = path.join(dir, "child.pid");
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `import { hostProcessRunner } from ${JSON.stringify(dist)};
const r = hostProcessRunner();
await r.run({ argv: ["sh", "-c", "echo $$ > ${pidFile}; exec sleep 60"], cwd: "/", env: { PATH: process.env.PATH }, killGraceMs: 100 });`;
    const caller = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore" });
    expect(
      await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").endsWith("\n")),
    ).toBe(true);
    const child = Number(fs.readFileSync(pidFile, "utf8"));
    expect(gone(child)).toBe(false);
    caller.kill("SIGKILL");
    expect(await waitFor(() => gone(child))).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("an idle host does not keep its caller alive", () => {
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `import { hostProcessRunner } from ${JSON.stringify(dist)};
const r = hostProcessRunner();
const out = await r.run({ argv: ["true"], cwd: "/", env: { PATH: process.env.PATH } });
console.log("ran", out.exitCode, r.hostPid > 0);`;
    const t0 = performance.now();
    const p = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(p.stdout).toBe("ran 0 true\n");
    expect(p.status).toBe(0);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});
