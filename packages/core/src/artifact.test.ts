import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readArtifact, renderArtifact, writeArtifact } from "./artifact.js";
import { digest } from "./canonical.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-art-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const report = {
  kind: "doctor-report",
  schema_version: "1",
  ok: true,
  dwm_version: "0.0.0",
  checks: [{ id: "node", status: "ok", message: "fine" }],
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("artifacts", () => {
  it("write then read gives the value and its digest, and leaves no temp files", () => {
    const file = path.join(dir, "sub/r.json");
    const w = writeArtifact(file, "doctor-report", report);
    expect(w.digest).toBe(digest(report));
    const r = readArtifact(file, "doctor-report", { expectDigest: w.digest });
    expect(r.value).toEqual(report);
    expect(fs.readdirSync(path.join(dir, "sub"))).toEqual(["r.json"]);
    expect(fs.readFileSync(file, "utf8")).toBe(renderArtifact(report));
  });

  it("refuses to write an invalid artifact and writes nothing", () => {
    const file = path.join(dir, "bad.json");
    expect(code(() => writeArtifact(file, "doctor-report", { ...report, ok: "yes" }))).toBe(
      "ERR_ARTIFACT_SCHEMA",
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it("detects every kind of change on read", () => {
    const file = path.join(dir, "r.json");
    const { digest: d } = writeArtifact(file, "doctor-report", report);
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace("fine", "fino"));
    expect(code(() => readArtifact(file, "doctor-report", { expectDigest: d }))).toBe("ERR_ARTIFACT_DIGEST");
    fs.writeFileSync(file, text.replace("\n", "\n "));
    expect(code(() => readArtifact(file, "doctor-report", { expectDigest: d }))).toBe(
      "ERR_ARTIFACT_NOT_CANONICAL",
    );
    fs.writeFileSync(file, text.slice(0, 10));
    expect(code(() => readArtifact(file, "doctor-report"))).toBe("ERR_ARTIFACT_PARSE");
    fs.writeFileSync(file, renderArtifact({ ...report, checks: "no" }));
    expect(code(() => readArtifact(file, "doctor-report"))).toBe("ERR_ARTIFACT_SCHEMA");
    expect(code(() => readArtifact(path.join(dir, "none.json"), "doctor-report"))).toBe(
      "ERR_ARTIFACT_MISSING",
    );
  });
});
