import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  checkRelativePath,
  coreErrors,
  fsyncDir,
  parseJsonText,
  resolveInside,
  writeFileAtomic,
} from "@dwm/core";
import { compilerErrors } from "../errors.js";

export const DEFAULT_STORE = ".dwm/runs";
export const MARKER_FILE = ".dwm-run";

/** Resolve the store root inside the repository; refuses `..`, absolute paths, symlinks and `.git`. */
export function resolveStore(repoRoot: string, storeDir: string | undefined): { rel: string; abs: string } {
  const rel = checkRelativePath(storeDir ?? DEFAULT_STORE, "store directory");
  if (rel.split("/")[0] === ".git") {
    throw coreErrors.create("ERR_OUT_PATH_UNSAFE", `store directory ${JSON.stringify(rel)} is inside .git`, {
      details: { path: rel, reason: "inside .git" },
    });
  }
  const abs = resolveInside(repoRoot, rel, "store directory");
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(abs);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) {
    throw coreErrors.create("ERR_OUT_PATH_UNSAFE", `store directory ${rel} exists and is not a directory`, {
      details: { path: rel, reason: "not a directory" },
    });
  }
  return { rel, abs };
}

/** A run id from a plan id and the plan digest: `<plan_id>-<first 12 hex>`, made file-name safe. */
export function makeRunId(planId: string, planDigest: string): string {
  const slug = planId
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 180);
  return `${slug || "plan"}-${planDigest.slice("sha256:".length, "sha256:".length + 12)}`;
}

function isRealDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isRegularFile(p: string): boolean {
  try {
    return fs.lstatSync(p).isFile();
  } catch {
    return false;
  }
}

/** The run id a directory's marker names, or null when it has no valid marker. */
export function readMarker(runDir: string): string | null {
  const f = path.join(runDir, MARKER_FILE);
  if (!isRegularFile(f)) return null;
  try {
    const v = parseJsonText(fs.readFileSync(f, "utf8"), f) as { kind?: unknown; run_id?: unknown };
    return v && v.kind === "run-marker" && typeof v.run_id === "string" ? v.run_id : null;
  } catch {
    return null;
  }
}

/** Refuse a run directory that exists but is not owned by the run `runId`. */
export function assertOwned(runDir: string, runId: string, rel: string): void {
  if (!isRealDir(runDir)) {
    throw compilerErrors.create("ERR_OUT_PATH_NOT_OWNED", `${rel} exists and is not a run directory`, {
      details: { path: rel, run_id: runId },
    });
  }
  const owner = readMarker(runDir);
  if (owner !== runId) {
    throw compilerErrors.create(
      "ERR_OUT_PATH_NOT_OWNED",
      owner === null
        ? `${rel} exists but has no DWM ownership marker (${MARKER_FILE})`
        : `${rel} belongs to run ${owner}, not ${runId}`,
      { details: { path: rel, run_id: runId, owner } },
    );
  }
}

/** Runs in the store compiled from `planId` (owned directories whose run.json names it), sorted by id. */
export function runsForPlan(storeAbs: string, planId: string): string[] {
  if (!isRealDir(storeAbs)) return [];
  const found: string[] = [];
  for (const name of fs.readdirSync(storeAbs).sort()) {
    if (name.startsWith(".")) continue;
    const dir = path.join(storeAbs, name);
    if (!isRealDir(dir) || readMarker(dir) !== name) continue;
    const runFile = path.join(dir, "run.json");
    if (!isRegularFile(runFile)) continue;
    try {
      const run = JSON.parse(fs.readFileSync(runFile, "utf8")) as { kind?: unknown; plan_id?: unknown };
      if (run.kind === "run" && run.plan_id === planId) found.push(name);
    } catch {
      // An unreadable run.json is not a candidate; loadRun reports it when that run is used.
    }
  }
  return found;
}

/** One file of a run: its path relative to the run directory and its exact bytes. */
export interface RunFile {
  rel: string;
  text: string;
}

/**
 * Write files into a fresh staging directory and publish it as `runDir` with one rename.
 * Durability comes from one sync of the file system before that rename (as git batches its
 * object fsyncs), not from an fsync per file: a crash before the rename leaves only the
 * staging directory (a dot name no reader takes for a run), and after it the whole run.
 */
export function publishNewRun(storeAbs: string, runDir: string, files: RunFile[]): void {
  fs.mkdirSync(storeAbs, { recursive: true });
  const staging = path.join(
    storeAbs,
    `.staging-${path.basename(runDir)}-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  fs.mkdirSync(staging);
  try {
    const written = writeStaged(staging, files);
    makeDurable(staging, written);
    if (fs.existsSync(runDir)) {
      throw compilerErrors.create("ERR_OUT_PATH_NOT_OWNED", `${runDir} appeared while the run was compiled`, {
        details: { path: path.basename(runDir) },
      });
    }
    renameInto(staging, runDir);
    fsyncDir(storeAbs);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** Every file and directory written under `staging`, without syncing any. */
function writeStaged(staging: string, files: RunFile[]): { files: string[]; dirs: Set<string> } {
  const dirs = new Set<string>([staging]);
  const written: string[] = [];
  for (const f of files) {
    const target = path.join(staging, f.rel);
    const dir = path.dirname(target);
    if (!dirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      for (let d = dir; d !== staging && !dirs.has(d); d = path.dirname(d)) dirs.add(d);
      dirs.add(dir);
    }
    fs.writeFileSync(target, f.text, { flag: "wx", mode: 0o644 });
    written.push(target);
  }
  return { files: written, dirs };
}

/**
 * Make what `writeStaged` wrote durable: one syncfs(2) of the file system holding it
 * (`sync -f`, Linux); where that is not to be had, an fsync of every file and directory.
 */
function makeDurable(staging: string, written: { files: string[]; dirs: Set<string> }): void {
  if (process.platform === "linux") {
    const r = spawnSync("sync", ["-f", staging], { stdio: "ignore" });
    if (r.status === 0) return;
  }
  for (const file of written.files) {
    const fd = fs.openSync(file, "r+");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  for (const d of written.dirs) fsyncDir(d);
}

function renameInto(staging: string, runDir: string): void {
  try {
    fs.renameSync(staging, runDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      throw compilerErrors.create(
        "ERR_OUT_PATH_NOT_OWNED",
        `${path.basename(runDir)} appeared while the run was compiled`,
        {
          details: { path: path.basename(runDir) },
          cause: e,
        },
      );
    }
    throw e;
  }
}

/**
 * Update an owned run in place: every file atomically, only when its bytes differ,
 * run.json last (it is the anchor: until it is replaced the old run stays whole).
 */
export function updateRun(runDir: string, files: RunFile[], remove: string[]): string[] {
  const written: string[] = [];
  const anchor = files.filter((f) => f.rel === "run.json");
  for (const f of [...files.filter((f) => f.rel !== "run.json"), ...anchor]) {
    const target = resolveInside(runDir, f.rel, "run file");
    if (fs.existsSync(target)) {
      if (!isRegularFile(target)) {
        throw coreErrors.create("ERR_OUT_PATH_UNSAFE", `${f.rel} in the run is not a regular file`, {
          details: { path: f.rel, reason: "not a regular file" },
        });
      }
      if (fs.readFileSync(target, "utf8") === f.text) continue;
    }
    writeFileAtomic(target, f.text);
    written.push(f.rel);
  }
  for (const rel of remove) {
    const target = resolveInside(runDir, rel, "run file");
    if (isRegularFile(target)) fs.rmSync(target);
  }
  return written;
}
