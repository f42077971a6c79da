import fs from "node:fs";
import path from "node:path";
import { digestBytes } from "@dwm/core";
import type { OutputRecord } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Redactor } from "./env.js";
import { sealEvidence } from "./seal.js";

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir("dwm-seal-");
});
afterEach(() => dir.cleanup());

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(dir.path, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir.path, rel), text);
}

describe("sealEvidence", () => {
  it("a secret in the work (diff, outputs) is a finding; in a worker's output only a note; both redacted", () => {
    const redactor = new Redactor();
    redactor.add({ API_KEY: "sk-live-1234" });
    write("diff.patch", "+key = sk-live-1234\n");
    write("outputs/report.md", "used sk-live-1234\n");
    write("workers/1-w/stdout", "echo sk-live-1234\n");
    write("workers/1-w/stderr", "nothing here\n");
    const record: OutputRecord = {
      artifact: "report.md",
      checked: true,
      found: true,
      path: "outputs/report.md",
      digest: null,
      bytes: null,
    };
    const r = sealEvidence(dir.path, redactor, [{ record, rel: "outputs/report.md" }]);
    expect(r.findings).toEqual([
      {
        code: "secret-in-work",
        message:
          "the value of API_KEY appears in the work (redacted from the evidence; the attempt branch holds it as written)",
        worker_id: null,
        paths: ["diff.patch", "outputs/report.md"],
      },
    ]);
    expect(r.notes).toEqual(["value of API_KEY redacted from workers/1-w/stdout"]);
    const report = fs.readFileSync(path.join(dir.path, "outputs/report.md"));
    expect(report.toString()).toBe("used [REDACTED:API_KEY]\n");
    // The output's record describes the bytes as sealed, not as the worker wrote them.
    expect(record.digest).toBe(digestBytes(report));
    expect(record.bytes).toBe(report.length);
    expect(fs.readFileSync(path.join(dir.path, "workers/1-w/stdout"), "utf8")).toBe(
      "echo [REDACTED:API_KEY]\n",
    );
  });

  it("removes symbolic links from the evidence, with a note; nothing else changes when no secret is known", () => {
    write("workers/1-w/out/real.txt", "data\n");
    fs.symlinkSync("/etc/passwd", path.join(dir.path, "workers/1-w/out/link"));
    const r = sealEvidence(dir.path, new Redactor(), []);
    expect(r).toEqual({
      findings: [],
      notes: ["symbolic link workers/1-w/out/link removed from the evidence"],
    });
    expect(fs.existsSync(path.join(dir.path, "workers/1-w/out/link"))).toBe(false);
    expect(fs.readFileSync(path.join(dir.path, "workers/1-w/out/real.txt"), "utf8")).toBe("data\n");
  });
});
