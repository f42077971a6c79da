// A completed example run, exported with `dwm attest` and checked two ways: by `dwm verify`, and
// by scripts/verify-attestations.sh (jq, base64, openssl, sha256sum: none of DWM's code). One
// flipped byte of an attestation or of an evidence file makes both fail.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, git, makeGitRepo, makeTempDir, type TempDir, testOperatorKey } from "@dwm/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../main.js";
import { operatorEnv, trustOperator } from "../test-support/operator.js";

const EXAMPLES = fileURLToPath(new URL("../../../../examples", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../../../../scripts/verify-attestations.sh", import.meta.url));
const toolsHere = ["jq", "openssl", "sha256sum", "base64"].every(
  (t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0,
);

let repo: TempDir;
let wt: TempDir;
let runId = "";
let runDir = "";

async function dwm(argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd: repo.path,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: wt.path, ...operatorEnv() },
      clock: new FakeClock("2026-01-01T00:00:00.000Z", 1),
      emit: () => {},
      isTTY: false,
    },
  );
  return { code, stdout, stderr };
}

/** The independent check: its exit code and what it said. */
function thirdParty(bundle: string, withRunDir = true) {
  const args = [SCRIPT, bundle, path.join(repo.path, "dwm.operators.json"), ...(withRunDir ? [runDir] : [])];
  const r = spawnSync("sh", args, { encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Flip the lowest bit of one byte of a file; returns the way back. */
function flipByte(file: string, at: (size: number) => number): () => void {
  const before = fs.readFileSync(file);
  const after = Buffer.from(before);
  const i = at(after.length);
  after.writeUInt8(after.readUInt8(i) ^ 0x01, i);
  fs.writeFileSync(file, after);
  return () => fs.writeFileSync(file, before);
}

beforeAll(async () => {
  repo = makeGitRepo({ ".gitignore": ".dwm/\n" });
  wt = makeTempDir("dwm-attest-wt-");
  fs.cpSync(path.join(EXAMPLES, "repo-audit"), repo.path, { recursive: true });
  git(repo.path, "add", "-A");
  git(repo.path, "commit", "-q", "-m", "repo-audit");
  trustOperator(repo.path);
  const first = await dwm(["run", "workflow.plan.json", "--json"]);
  expect(first.code, first.stderr).toBe(4);
  runId = JSON.parse(first.stdout).run_id;
  runDir = path.join(repo.path, ".dwm", "runs", runId);
  expect((await dwm(["approve", runId, "human-gate"])).code).toBe(0);
  const last = await dwm(["run", runId]);
  expect(last.code, last.stderr).toBe(0);
}, 240_000);
afterAll(() => {
  repo.cleanup();
  wt.cleanup();
});

describe("dwm attest and the independent check", () => {
  it("exports every approval and attestation of the run; dwm verify says which key signed what", async () => {
    const r = await dwm(["attest", runId, "--out", "bundle.jsonl", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(validateSchema("attest-result", doc).problems).toEqual([]);
    const kinds = doc.bundles.map((b: { kind: string }) => b.kind);
    // The write gate (policy) and the human gate, six completed packets, the run.
    expect(kinds.filter((k: string) => k === "approval")).toHaveLength(2);
    expect(kinds.filter((k: string) => k === "packet-attestation")).toHaveLength(6);
    expect(kinds.at(-1)).toBe("run-attestation");
    expect(doc.keys.map((k: { key_id: string }) => k.key_id)).toEqual([testOperatorKey().keyId]);
    const lines = fs.readFileSync(path.join(repo.path, "bundle.jsonl"), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(doc.bundles.length);
    const v = await dwm(["verify", runId]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(
      `signed by Test Operator (${testOperatorKey().keyId}): 2 approvals, 6 packet-attestations, 1 run-attestation`,
    );
  });

  it("--json without --out is a usage error (the document would leave the bundle nowhere); without --json the bundle is stdout", async () => {
    const r = await dwm(["attest", runId, "--json"]);
    expect(r.code).toBe(2);
    const error = JSON.parse(r.stdout).error;
    expect(error.code).toBe("ERR_CLI_USAGE");
    expect(error.hint).toContain("--out bundle.jsonl --json");
    const plain = await dwm(["attest", runId]);
    expect(plain.code).toBe(0);
    expect(
      plain.stdout
        .trimEnd()
        .split("\n")
        .map((l) => Object.keys(JSON.parse(l))),
    ).toContainEqual(expect.arrayContaining(["dsseEnvelope"]));
  });

  it.runIf(toolsHere)(
    "the third-party script verifies every line with openssl and every file subject with sha256sum",
    () => {
      const r = thirdParty(path.join(repo.path, "bundle.jsonl"));
      expect(r.out).toContain("all 9 signed statement(s) verified");
      expect(r.code).toBe(0);
    },
  );

  it.runIf(toolsHere)("one flipped byte of an attestation in the bundle fails the script", () => {
    const file = path.join(repo.path, "bundle.jsonl");
    const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    const b = JSON.parse(lines[3] as string);
    const payload = Buffer.from(b.dsseEnvelope.payload, "base64");
    payload.writeUInt8(payload.readUInt8(40) ^ 0x01, 40);
    b.dsseEnvelope.payload = payload.toString("base64");
    const tampered = path.join(repo.path, "tampered.jsonl");
    fs.writeFileSync(
      tampered,
      `${[...lines.slice(0, 3), JSON.stringify(b), ...lines.slice(4)].join("\n")}\n`,
    );
    const r = thirdParty(tampered);
    expect(r.code).toBe(1);
    expect(r.out).toContain("FAIL line 4: the signature does not verify");
  });

  it.runIf(toolsHere)(
    "one flipped byte of an evidence file fails both dwm verify (exit 3, file named) and the script",
    async () => {
      const stdout = fs
        .readdirSync(path.join(runDir, "attempts"))
        .map((p) => path.join(runDir, "attempts", p, "1", "attempt.json"))
        .find((f) => fs.existsSync(f)) as string;
      const restore = flipByte(stdout, (n) => Math.floor(n / 2));
      try {
        const v = await dwm(["verify", runId, "--json"]);
        expect(v.code).toBe(3);
        const rel = path.relative(runDir, stdout);
        const problems = JSON.parse(v.stdout).problems.map(
          (p: { code: string; file: string }) => `${p.code} ${p.file}`,
        );
        expect(problems).toContain(`ERR_VERIFY_FILE_DIGEST ${rel}`);
        expect(problems.some((p: string) => p.startsWith("ERR_VERIFY_SIGNATURE attestations/packets/"))).toBe(
          true,
        );
        const r = thirdParty(path.join(repo.path, "bundle.jsonl"));
        expect(r.code).toBe(1);
        expect(r.out).toContain("a file it attests");
        // A run that does not verify is not exported.
        expect((await dwm(["attest", runId])).code).toBe(3);
      } finally {
        restore();
      }
    },
  );

  it("one flipped byte of an attestation or an approval in the run store: dwm verify exit 3, naming the file", async () => {
    for (const rel of ["attestations/run/1.json", "approvals/human-gate/1.json"]) {
      const restore = flipByte(path.join(runDir, rel), (n) => n - 60);
      try {
        const v = await dwm(["verify", runId, "--json"]);
        expect(v.code).toBe(3);
        const problems = JSON.parse(v.stdout).problems.map(
          (p: { code: string; file: string }) => `${p.code} ${p.file}`,
        );
        expect(problems).toContain(`ERR_VERIFY_FILE_DIGEST ${rel}`);
        expect(problems).toContain(`ERR_VERIFY_SIGNATURE ${rel}`);
      } finally {
        restore();
      }
    }
    expect((await dwm(["verify", runId])).code).toBe(0);
  });
});
