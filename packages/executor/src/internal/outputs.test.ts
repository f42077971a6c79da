import fs from "node:fs";
import path from "node:path";
import type { Packet } from "@dwm/schemas";
import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectOutputs } from "./outputs.js";

let wt: TempDir;
let evidence: TempDir;
beforeEach(() => {
  wt = makeTempDir("dwm-outputs-wt-");
  evidence = makeTempDir("dwm-outputs-ev-");
});
afterEach(() => {
  wt.cleanup();
  evidence.cleanup();
});

const outputs = (...artifacts: string[]): Packet["outputs"] =>
  artifacts.map((artifact) => ({ artifact, required_fields: [] }));

describe("collectOutputs", () => {
  it("copies a produced file into outputs/ and records it (digest filled in later)", () => {
    fs.mkdirSync(path.join(wt.path, "out"));
    fs.writeFileSync(path.join(wt.path, "out/report.md"), "# report\n");
    const r = collectOutputs(outputs("out/report.md"), wt.path, evidence.path);
    const record = {
      artifact: "out/report.md",
      checked: true,
      found: true,
      path: "outputs/out/report.md",
      digest: null,
      bytes: null,
    };
    expect(r.outputs).toEqual([record]);
    expect(r.copied).toEqual([{ record, rel: "outputs/out/report.md" }]);
    expect(r.copied[0]?.record).toBe(r.outputs[0]);
    expect(fs.readFileSync(path.join(evidence.path, "outputs/out/report.md"), "utf8")).toBe("# report\n");
    expect([...r.declared]).toEqual(["out/report.md"]);
    expect([r.findings, r.notes]).toEqual([[], []]);
  });

  it("a missing output is a finding; a directory is found with a note; prose is not looked for", () => {
    fs.mkdirSync(path.join(wt.path, "site"));
    const r = collectOutputs(
      outputs("missing.json", "site/", "a summary of the findings"),
      wt.path,
      evidence.path,
    );
    expect(r.outputs).toEqual([
      { artifact: "missing.json", checked: true, found: false, path: null, digest: null, bytes: null },
      { artifact: "site/", checked: true, found: true, path: null, digest: null, bytes: null },
      {
        artifact: "a summary of the findings",
        checked: false,
        found: false,
        path: null,
        digest: null,
        bytes: null,
      },
    ]);
    expect(r.findings).toEqual([
      {
        code: "output-missing",
        message: "declared output missing.json was not produced",
        worker_id: null,
        paths: ["missing.json"],
      },
    ]);
    expect(r.notes).toEqual([
      "output site/ is a directory: its files are in diff.patch",
      'output "a summary of the findings" is prose, not a path: not looked for',
    ]);
    expect(r.copied).toEqual([]);
  });

  it("an output path that escapes the worktree or is a symbolic link cannot be read: a finding, nothing copied", () => {
    fs.writeFileSync(path.join(evidence.path, "secret.txt"), "secret");
    fs.symlinkSync(path.join(evidence.path, "secret.txt"), path.join(wt.path, "link.txt"));
    const r = collectOutputs(outputs("../up.txt", "link.txt"), wt.path, evidence.path);
    expect(r.outputs.map((o) => [o.artifact, o.checked, o.found, o.path])).toEqual([
      ["../up.txt", true, false, null],
      ["link.txt", true, false, null],
    ]);
    expect(
      r.findings.map((f) => [
        f.code,
        f.paths,
        f.message.startsWith(`declared output ${f.paths[0]} cannot be read: `),
      ]),
    ).toEqual([
      ["output-missing", ["../up.txt"], true],
      ["output-missing", ["link.txt"], true],
    ]);
    // A symbolic link is still the packet's own declared path; a path that escapes is not one.
    expect([...r.declared]).toEqual(["link.txt"]);
    expect(fs.existsSync(path.join(evidence.path, "outputs"))).toBe(false);
  });
});
