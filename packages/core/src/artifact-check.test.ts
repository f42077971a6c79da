import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readArtifact, writeArtifact } from "./artifact.js";
import {
  type ArtifactProblem,
  checkArtifact,
  checkArtifactBytes,
  checkArtifactContent,
  isReadProblem,
  readArtifactFile,
} from "./artifact-check.js";
import { digest, digestBytes, renderArtifact } from "./canonical.js";

let dir: string;
beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "dwm-check-")));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const gate = {
  kind: "gate",
  schema_version: "1",
  gate_id: "write",
  category: "write",
  trigger: "a worker writes to the repository",
  safe_default: "do not dispatch",
  source: "worker-permission",
  packets: ["implement"],
  requires_approval: true,
};
const GATE_DIGEST = digest(gate);

function put(rel: string, content: string | Buffer): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

/** The one problem of a check that must fail with exactly one. */
function only(c: { ok: boolean; problems: ArtifactProblem[] }): Omit<ArtifactProblem, "detail"> {
  expect(c.ok).toBe(false);
  expect(c.problems).toHaveLength(1);
  const { kind, file, message } = c.problems[0] as ArtifactProblem;
  return { kind, file, message };
}

describe("checkArtifact: every problem kind, with the file and a message", () => {
  it("a sound artifact: value and digest, no problems", () => {
    put("gates/write.json", renderArtifact(gate));
    const c = checkArtifact("gates/write.json", "gate", { root: dir, expectDigest: GATE_DIGEST });
    expect(c).toEqual({ ok: true, value: gate, digest: GATE_DIGEST, problems: [] });
  });

  it("missing", () => {
    const c = checkArtifact("gates/write.json", "gate", { root: dir });
    expect(only(c)).toEqual({
      kind: "missing",
      file: "gates/write.json",
      message: "gates/write.json is missing",
    });
    expect(c.digest).toBeNull();
  });

  it("unreadable: the read fails after the file was found", () => {
    put("gates/write.json", renderArtifact(gate));
    const denied = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    vi.spyOn(fs, "readFileSync").mockImplementationOnce(() => {
      throw denied;
    });
    const c = checkArtifact("gates/write.json", "gate", { root: dir });
    expect(only(c)).toEqual({
      kind: "unreadable",
      file: "gates/write.json",
      message: "gates/write.json cannot be read: EACCES",
    });
    expect(c.problems[0]?.detail).toEqual({ errno: "EACCES", cause: denied });
  });

  it("unreadable: a component of the path is a file", () => {
    put("gates", "not a directory");
    const c = checkArtifact("gates/write.json", "gate", { root: dir });
    const p = only(c);
    expect(p.kind).toBe("unreadable");
    expect(p.message).toMatch(/^Error: ENOTDIR: not a directory, lstat /);
    expect(c.problems[0]?.detail.errno).toBe("ENOTDIR");
  });

  it("not a regular file, a symlink inside the root, an unsafe path", () => {
    fs.mkdirSync(path.join(dir, "gates/write.json"), { recursive: true });
    expect(only(checkArtifact("gates/write.json", "gate", { root: dir }))).toEqual({
      kind: "not-a-file",
      file: "gates/write.json",
      message: "gates/write.json is not a regular file",
    });
    const real = put("elsewhere.json", renderArtifact(gate));
    fs.symlinkSync(real, path.join(dir, "link.json"));
    expect(only(checkArtifact("link.json", "gate", { root: dir, label: "run file" }))).toEqual({
      kind: "symlink",
      file: "link.json",
      message: 'run file "link.json" goes through a symbolic link at link.json',
    });
    expect(only(checkArtifact("../x.json", "gate", { root: dir })).kind).toBe("unsafe-path");
  });

  it("outside a root a symlink is followed, as any reader would", () => {
    const real = put("elsewhere.json", renderArtifact(gate));
    fs.symlinkSync(real, path.join(dir, "link.json"));
    expect(checkArtifact(path.join(dir, "link.json"), "gate").ok).toBe(true);
  });

  it("not JSON (a byte order mark included): the digest is the bytes' digest", () => {
    const bytes = Buffer.from("{ nope");
    put("a.json", bytes);
    const c = checkArtifact("a.json", "gate", { root: dir });
    expect(only(c)).toEqual({
      kind: "not-json",
      file: "a.json",
      // The reason is V8's: Node 22 and later add " (line 1 column 3)" to it.
      message: expect.stringMatching(
        /^a\.json is not valid JSON: Expected property name or '}' in JSON at position 2( \(line 1 column 3\))?$/,
      ),
    });
    expect(c.digest).toBe(digestBytes(bytes));
    put("bom.json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(renderArtifact(gate))]));
    expect(only(checkArtifact("bom.json", "gate", { root: dir })).kind).toBe("not-json");
  });

  it("schema-invalid: the first schema problem is in the message, the first 20 in the detail", () => {
    const bad = { ...gate, packets: "implement" };
    put("gates/write.json", renderArtifact(bad));
    const c = checkArtifact("gates/write.json", "gate", { root: dir });
    expect(only(c)).toEqual({
      kind: "schema",
      file: "gates/write.json",
      message: "gates/write.json does not match schema gate: /packets must be array",
    });
    expect(c.problems[0]?.detail.schema).toBe("gate");
    expect(c.problems[0]?.detail.problems?.[0]?.pointer).toBe("/packets");
    expect(c.digest).toBe(digest(bad));
    expect(c.value).toBeUndefined();
  });

  it("wrong kind: another artifact where this one belongs", () => {
    const packetLike = { ...gate, kind: "packet" };
    put("gates/write.json", renderArtifact(packetLike));
    const c = checkArtifact("gates/write.json", "gate", { root: dir });
    expect(only(c)).toEqual({
      kind: "wrong-kind",
      file: "gates/write.json",
      message: 'gates/write.json is a "packet" artifact, not a "gate"',
    });
    expect(c.problems[0]?.detail).toMatchObject({ schema: "gate", expected: "gate", actual: '"packet"' });
  });

  it("not plain JSON: a number canonical JSON cannot carry", () => {
    const text = renderArtifact({ n: 1 }).replace("1", "1e400");
    put("plan.json", text);
    const c = checkArtifact("plan.json", null, { root: dir });
    expect(only(c)).toEqual({
      kind: "not-plain-json",
      file: "plan.json",
      message: "plan.json cannot be canonicalised: non-finite number at /n",
    });
    expect(c.digest).toBe(digestBytes(text));
  });

  it("digest mismatch: expected and actual, and the value is still returned", () => {
    const changed = { ...gate, trigger: "something else" };
    put("gates/write.json", renderArtifact(changed));
    const c = checkArtifact("gates/write.json", "gate", { root: dir, expectDigest: GATE_DIGEST });
    expect(only(c)).toEqual({
      kind: "digest",
      file: "gates/write.json",
      message: `gates/write.json has digest ${digest(changed)}, expected ${GATE_DIGEST}`,
    });
    expect(c.problems[0]?.detail).toEqual({ expected: GATE_DIGEST, actual: digest(changed) });
    expect(c.value).toEqual(changed);
  });

  it("non-canonical bytes: whitespace, key order, and a byte the UTF-8 decoder would hide", () => {
    put("a.json", `${renderArtifact(gate)} `);
    expect(only(checkArtifact("a.json", "gate", { root: dir }))).toEqual({
      kind: "not-canonical",
      file: "a.json",
      message: "a.json is not in canonical rendering",
    });
    put("b.json", `${JSON.stringify(Object.fromEntries(Object.entries(gate).reverse()), null, 2)}\n`);
    expect(only(checkArtifact("b.json", "gate", { root: dir })).kind).toBe("not-canonical");
    // 0xff decodes to U+FFFD, the same as the three bytes ef bf bd: equal text, different bytes.
    const withReplacement = Buffer.from(renderArtifact({ ...gate, trigger: "a\ufffdb" }));
    put("c.json", withReplacement);
    const at = withReplacement.indexOf(Buffer.from([0xef, 0xbf, 0xbd]));
    put(
      "d.json",
      Buffer.concat([withReplacement.subarray(0, at), Buffer.from([0xff]), withReplacement.subarray(at + 3)]),
    );
    expect(checkArtifact("c.json", "gate", { root: dir }).ok).toBe(true);
    expect(only(checkArtifact("d.json", "gate", { root: dir })).kind).toBe("not-canonical");
    expect(checkArtifact("a.json", "gate", { root: dir, requireCanonical: false }).ok).toBe(true);
  });

  it("a changed digest and a non-canonical rendering are both listed, in check order", () => {
    put("gates/write.json", `${renderArtifact({ ...gate, trigger: "x" })}\n`);
    const c = checkArtifact("gates/write.json", "gate", { root: dir, expectDigest: GATE_DIGEST });
    expect(c.problems.map((p) => p.kind)).toEqual(["digest", "not-canonical"]);
  });

  it("the content check alone needs no file", () => {
    const bytes = Buffer.from(renderArtifact(gate));
    expect(checkArtifactContent(bytes, "mem", "gate", { expectDigest: GATE_DIGEST }).ok).toBe(true);
    expect(checkArtifactContent(bytes, "mem", "packet").problems[0]?.kind).toBe("wrong-kind");
  });

  it("read problems are told from content problems", () => {
    const kinds = ["missing", "symlink", "unsafe-path", "not-a-file", "unreadable"] as const;
    for (const k of kinds) expect(isReadProblem(k)).toBe(true);
    for (const k of [
      "not-json",
      "wrong-kind",
      "schema",
      "not-plain-json",
      "digest",
      "not-canonical",
    ] as const)
      expect(isReadProblem(k)).toBe(false);
  });
});

describe("checkArtifactBytes and readArtifactFile", () => {
  it("a raw file against the digest of its bytes", () => {
    put("prompts/a.md", "# A\n");
    const want = digestBytes("# A\n");
    const ok = checkArtifactBytes("prompts/a.md", { root: dir, expectDigest: want });
    expect(ok.ok && ok.bytes.toString()).toBe("# A\n");
    const bad = checkArtifactBytes("prompts/a.md", { root: dir, expectDigest: digestBytes("# B\n") });
    expect(only(bad).kind).toBe("digest");
    expect(bad.digest).toBe(want);
    expect(only(checkArtifactBytes("prompts/b.md", { root: dir, expectDigest: want })).kind).toBe("missing");
  });

  it("reads bytes as they are", () => {
    put("x.bin", Buffer.from([0, 1, 2]));
    const r = readArtifactFile("x.bin", { root: dir });
    expect(r.ok && [...r.bytes]).toEqual([0, 1, 2]);
  });
});

describe("readArtifact throws the first problem with its catalogued code", () => {
  const codeOf = (f: () => unknown) => {
    try {
      f();
      return null;
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
  };

  it("a wrong kind is a schema error; a directory is a missing artifact", () => {
    const file = path.join(dir, "g.json");
    writeArtifact(file, "gate", gate);
    fs.writeFileSync(file, renderArtifact({ ...gate, kind: "packet" }));
    expect(codeOf(() => readArtifact(file, "gate"))).toEqual({
      code: "ERR_ARTIFACT_SCHEMA",
      message: `${file} is a "packet" artifact, not a "gate"`,
    });
    fs.mkdirSync(path.join(dir, "d.json"));
    expect(codeOf(() => readArtifact(path.join(dir, "d.json"), "gate"))).toEqual({
      code: "ERR_ARTIFACT_MISSING",
      message: `${path.join(dir, "d.json")} does not exist or cannot be read`,
    });
  });
});
