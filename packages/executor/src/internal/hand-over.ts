import fs from "node:fs";
import path from "node:path";
import type { AttemptFinding } from "@dwm/schemas";

/** Default cap of each output stream and each handed-back file of one invocation or check. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

const CHUNK = 1024 * 1024;

/**
 * Copy at most `cap` bytes of a regular file the worker left, never following a symbolic link
 * (O_NOFOLLOW: the worker chose the name). Returns whether it was cut, or null when `src` is
 * not a regular file.
 */
function copyCapped(src: string, dest: string, cap: number): boolean | null {
  let fd: number;
  try {
    fd = fs.openSync(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return null;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const out = fs.openSync(dest, "w");
    try {
      const buf = Buffer.alloc(Math.min(CHUNK, cap));
      let total = 0;
      while (total < cap) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, cap - total), null);
        if (n === 0) break;
        fs.writeSync(out, buf, 0, n);
        total += n;
      }
      // One more byte read means the file went on past the cap.
      return total >= cap && fs.readSync(fd, Buffer.alloc(1), 0, 1, null) > 0;
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** What taking the hand-over folder back found. */
export interface TakenBack {
  /** Evidence files cut at the cap (absolute paths). */
  cut: string[];
  notes: string[];
}

/**
 * Copy what a worker left in its hand-over folder into its evidence folder: `last-message.md`,
 * and, when the backend has one, every regular file of `out/` (kept as `out/`). Symbolic links
 * and other special files are not copied (noted); each file is cut at `cap` bytes.
 */
export function takeBack(
  hostIoDir: string,
  evidenceDir: string,
  options: { outputDir: boolean; cap: number },
): TakenBack {
  const taken: TakenBack = { cut: [], notes: [] };
  const copy = (rel: string) => {
    const dest = path.join(evidenceDir, rel);
    const cut = copyCapped(path.join(hostIoDir, rel), dest, options.cap);
    if (cut === null) taken.notes.push(`${rel} in the hand-over folder is not a regular file: not kept`);
    else if (cut) taken.cut.push(dest);
  };
  if (fs.existsSync(path.join(hostIoDir, "last-message.md"))) copy("last-message.md");
  if (!options.outputDir) return taken;
  fs.mkdirSync(path.join(evidenceDir, "out"), { recursive: true });
  const visit = (rel: string) => {
    const dir = path.join(hostIoDir, rel);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) visit(r);
      else copy(r);
    }
  };
  if (fs.lstatSync(path.join(hostIoDir, "out"), { throwIfNoEntry: false })?.isDirectory()) visit("out");
  return taken;
}

/** Cut `file` to `cap` bytes; returns whether it was longer. */
export function capFile(file: string, cap: number): boolean {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st === undefined || st.size <= cap) return false;
  fs.truncateSync(file, cap);
  return true;
}

/**
 * One `output-truncated` finding for the evidence files of one worker (or check) cut at the cap;
 * `stopped`: its processes were killed when an output stream reached the cap.
 */
export function outputCapFindings(
  workerId: string | null,
  attemptDir: string,
  cut: readonly string[],
  cap: number,
  stopped = false,
): AttemptFinding[] {
  if (cut.length === 0) return [];
  const paths = [...new Set(cut.map((f) => path.relative(attemptDir, f).split(path.sep).join("/")))].sort();
  const how = stopped
    ? "stopped at the cap (its process group killed); each was cut there"
    : "each was cut there";
  return [
    {
      code: "output-truncated",
      message: `${workerId === null ? "DWM's checks" : `worker ${workerId}`} wrote more than ${cap} bytes to ${paths.length} output(s): ${how}`,
      worker_id: workerId,
      paths,
    },
  ];
}
