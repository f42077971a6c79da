import { dispatcherErrors } from "./errors.js";
import { dwmCommitEnv, type IntegrationPorts, updateRef } from "./integration.js";

const OID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** A completed packet whose commit changes only its own folder, on top of `base` (its only parent). */
export interface FolderWork {
  packetId: string;
  attempt: number;
  /** The folder the commit changes (`<packet id>`); nothing outside it. */
  folder: string;
  base: string;
  commit: string;
}

/** What a batch merge did: the packets it merged (all into `commit`), and the ones left to merge one by one. */
export interface BatchResult {
  commit: string | null;
  merged: string[];
  rest: string[];
}

async function gitOut(ports: IntegrationPorts, args: string[], stdin?: string): Promise<string> {
  const r = await ports.git.run(ports.repo, args, stdin === undefined ? {} : { stdin });
  if (r.exitCode !== 0) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `git ${args[0]} failed (exit ${r.exitCode}): ${r.stderr.trim()}`,
      { details: { args: args.slice(0, 4) } },
    );
  }
  return r.stdout;
}

/** The object each `rev:path` names (null: no such path), in one `cat-file --batch-check`. */
async function objectsAt(ports: IntegrationPorts, specs: readonly string[]): Promise<(string | null)[]> {
  const out = await gitOut(
    ports,
    ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
    `${specs.join("\n")}\n`,
  );
  return out
    .split("\n")
    .slice(0, specs.length)
    .map((l) => {
      const [oid, type] = l.split(" ");
      return oid !== undefined && OID.test(oid) && type === "tree" ? oid : null;
    });
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

function nameOf(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * The tree of `head` with each folder of `set` (path → its tree) put in place: each folder
 * above them is listed once (`ls-tree`) and made again (`mktree`), deepest first.
 */
async function replaceFolders(
  ports: IntegrationPorts,
  head: string,
  set: ReadonlyMap<string, string>,
): Promise<string> {
  const changed = new Map<string, Map<string, string>>();
  const want = (dir: string) => {
    let m = changed.get(dir);
    if (m === undefined) {
      m = new Map();
      changed.set(dir, m);
      if (dir !== "") want(parentOf(dir));
    }
    return m;
  };
  for (const [folder, tree] of set) want(parentOf(folder)).set(nameOf(folder), tree);
  const depth = (d: string) => (d === "" ? 0 : d.split("/").length);
  const dirs = [...changed.keys()].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
  let root = "";
  for (const dir of dirs) {
    const entries = new Map<string, string>();
    const listed = await ports.git.run(ports.repo, ["ls-tree", "-z", dir === "" ? head : `${head}:${dir}`]);
    // A folder the head does not have yet starts empty.
    if (listed.exitCode === 0) {
      for (const line of listed.stdout.split("\0").filter((l) => l !== "")) {
        entries.set(line.slice(line.indexOf("\t") + 1), line);
      }
    }
    for (const [name, tree] of changed.get(dir) ?? []) entries.set(name, `040000 tree ${tree}\t${name}`);
    const made = (await gitOut(ports, ["mktree", "-z"], `${[...entries.values()].join("\0")}\0`)).trim();
    if (dir === "") root = made;
    else want(parentOf(dir)).set(nameOf(dir), made);
  }
  return root;
}

/**
 * Merge several completed packets whose commits each change only their own folder, in one pass:
 * one tree (the integration head's, with each packet's folder as its commit has it), one
 * commit whose parents are the head and every packet's commit, one compare-and-swap of the
 * branch. A packet whose folder the head has changed since its base (so that its merge could
 * conflict or lose work) is left in `rest`, to be merged one by one as before.
 */
export async function mergeFolderBatch(
  ports: IntegrationPorts,
  input: { runId: string; head: string; work: readonly FolderWork[] },
): Promise<BatchResult> {
  const { head, work } = input;
  const specs = work.flatMap((w) => [
    `${head}:${w.folder}`,
    `${w.base}:${w.folder}`,
    `${w.commit}:${w.folder}`,
  ]);
  const trees = await objectsAt(ports, specs);
  const set = new Map<string, string>();
  const merged: FolderWork[] = [];
  const rest: string[] = [];
  for (const [i, w] of work.entries()) {
    const [atHead, atBase, atCommit] = [trees[3 * i], trees[3 * i + 1], trees[3 * i + 2]];
    const nested = work.some(
      (o) => o !== w && (w.folder.startsWith(`${o.folder}/`) || o.folder.startsWith(`${w.folder}/`)),
    );
    if (atHead !== atBase || nested || atCommit === null || atCommit === undefined || set.has(w.folder)) {
      rest.push(w.packetId);
      continue;
    }
    set.set(w.folder, atCommit);
    merged.push(w);
  }
  if (merged.length === 0) return { commit: null, merged: [], rest };
  const tree = await replaceFolders(ports, head, set);
  const ids = merged.map((w) => `${w.packetId} (attempt ${w.attempt})`);
  const args = ["commit-tree", tree, "-p", head, ...merged.flatMap((w) => ["-p", w.commit])];
  const message = `dwm: merge ${merged.length} packets\n\n${ids.join("\n")}\n\nrun ${input.runId}`;
  const made = await ports.git.run(ports.repo, [...args, "-m", message], { env: dwmCommitEnv(ports.clock) });
  const commit = made.stdout.trim();
  if (made.exitCode !== 0 || !OID.test(commit)) {
    throw dispatcherErrors.create(
      "ERR_DISPATCH_BASE_MISSING",
      `git commit-tree of a batch merge failed: ${made.stderr.trim()}`,
      {
        details: { packets: merged.map((w) => w.packetId) },
      },
    );
  }
  await updateRef(ports, input.runId, commit, head);
  return { commit, merged: merged.map((w) => w.packetId), rest };
}
