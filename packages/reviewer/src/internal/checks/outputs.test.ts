import { makeTempDir, type TempDir } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AttemptBuilder, check, makePacket } from "../../test-support/builders.js";
import { EvidenceReader } from "../evidence.js";
import { checkOutputs } from "./outputs.js";

let tmp: TempDir;
beforeEach(() => {
  tmp = makeTempDir("dwm-review-outputs-");
});
afterEach(() => tmp.cleanup());

const summary = (j: ReturnType<typeof checkOutputs>) => ({
  checks: j.checks.map((c) => `${c.id}=${c.status}`),
  findings: j.findings.map((f) => `${f.code}:${f.effect}`),
  falsifiers: j.falsifiers,
  handoffs: j.handoffs.map((h) => h.artifact),
});

describe("checkOutputs", () => {
  it("a good handoff passes output, handoff and validation, counts as a falsifier and is registered", () => {
    const packet = makePacket();
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.good();
    const j = checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(summary(j)).toEqual({
      checks: ["output:report.json=pass", "handoff:report.json=pass"],
      findings: [],
      falsifiers: 1,
      handoffs: ["report.json"],
    });
    expect(j.handoffs[0]).toMatchObject({ path: "outputs/report.json", bytes: 16 });
  });

  it("an output the executor has no record of was not looked for; prose is skipped and no falsifier", () => {
    const packet = makePacket({
      outputs: [{ artifact: "report.json", format: "json" }, { artifact: "a description" }],
    });
    const attempt = new AttemptBuilder(tmp.path, packet).build({
      outputs: [
        { artifact: "a description", checked: false, found: false, path: null, digest: null, bytes: null },
      ],
    });
    expect(summary(checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt)))).toEqual({
      checks: ["output:report.json=fail", "output:a description=skipped"],
      findings: ["REVIEW_MISSING_OUTPUT:repair"],
      falsifiers: 0,
      handoffs: [],
    });
  });

  it("a handoff that is a directory asks for a repair; a validation command never run needs a human", () => {
    const packet = makePacket({
      outputs: [
        { artifact: "site/", format: "json" },
        { artifact: "notes.md", validation_command: "test -s notes.md" },
      ],
    });
    const b = new AttemptBuilder(tmp.path, packet);
    const notes = b.output("notes.md", "# notes\n");
    const attempt = b.build({
      outputs: [
        { artifact: "site/", checked: true, found: true, path: null, digest: null, bytes: null },
        notes,
      ],
      checks: [check({ source: "other.md" })],
    });
    expect(summary(checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt)))).toEqual({
      checks: ["output:site/=pass", "output:notes.md=pass", "validation:notes.md=fail"],
      findings: ["REVIEW_HANDOFF_FORMAT:repair", "REVIEW_CHECK_NOT_RUN:human"],
      falsifiers: 2,
      handoffs: [],
    });
  });

  it("an empty output, and a handoff without its fields, ask for repairs; an unsafe artifact path is never registered", () => {
    const packet = makePacket({
      outputs: [
        { artifact: "empty.txt" },
        { artifact: "list.json", format: "json", required_fields: ["items"] },
        { artifact: "./ok.json", format: "json" },
      ],
    });
    const b = new AttemptBuilder(tmp.path, packet);
    const attempt = b.build({
      outputs: [
        b.output("empty.txt", " \n"),
        b.output("list.json", '{"other":1}'),
        { ...b.output("ok.json", "{}"), artifact: "./ok.json" },
      ],
    });
    expect(summary(checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt)))).toEqual({
      checks: [
        "output:empty.txt=fail",
        "output:list.json=pass",
        "handoff:list.json=fail",
        "output:./ok.json=pass",
        "handoff:./ok.json=pass",
      ],
      findings: ["REVIEW_EMPTY_OUTPUT:repair", "REVIEW_HANDOFF_FIELDS_MISSING:repair"],
      falsifiers: 3,
      handoffs: [],
    });
  });

  it("an output file that differs from its record is an integrity error", () => {
    const packet = makePacket({ outputs: [{ artifact: "a.txt" }] });
    const b = new AttemptBuilder(tmp.path, packet);
    const rec = b.output("a.txt", "one\n");
    b.file("outputs/a.txt", "two\n");
    const attempt = b.build({ outputs: [rec] });
    expect(() => checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt))).toThrow(
      expect.objectContaining({ code: "ERR_REVIEW_EVIDENCE_DIGEST" }),
    );
  });
});

describe("checkOutputs: list handoffs", () => {
  const listPacket = (format: "json-list" | "jsonl") =>
    makePacket({ outputs: [{ artifact: "routes.json", format, required_fields: ["route", "method"] }] });

  it("a json-list whose items lack fields asks the producer for a repair, quoting each offending item", () => {
    const packet = listPacket("json-list");
    const b = new AttemptBuilder(tmp.path, packet);
    const items = [
      { route: "/a", method: "GET" },
      ...Array.from({ length: 7 }, (_, i) => ({ route: `/r${i}` })),
    ];
    const attempt = b.build({ outputs: [b.output("routes.json", JSON.stringify(items))] });
    const j = checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(summary(j)).toEqual({
      checks: ["output:routes.json=pass", "handoff:routes.json=fail"],
      findings: ["REVIEW_HANDOFF_FIELDS_MISSING:repair"],
      falsifiers: 1,
      handoffs: [],
    });
    expect(j.checks[1]?.detail).toBe(
      "missing required fields in 7 items: method (json-list: every item an object with every field)",
    );
    expect(j.findings[0]?.message).toBe("handoff routes.json lacks required field(s) method");
    expect(j.findings[0]?.evidence.map((e) => e.excerpt)).toEqual([
      'item [1] lacks method:\n{"route":"/r0"}',
      'item [2] lacks method:\n{"route":"/r1"}',
      'item [3] lacks method:\n{"route":"/r2"}',
      'item [4] lacks method:\n{"route":"/r3"}',
      'item [5] lacks method:\n{"route":"/r4"}\n(and 2 more items like it)',
    ]);
    expect(j.findings[0]?.evidence[0]?.path).toBe("outputs/routes.json");
  });

  it("a jsonl item that is not an object is a format finding naming its line; a good list registers", () => {
    const packet = listPacket("jsonl");
    let b = new AttemptBuilder(tmp.path, packet);
    let attempt = b.build({ outputs: [b.output("routes.json", '{"route":"/a","method":"GET"}\n[1]\n')] });
    let j = checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(j.findings.map((f) => [f.code, f.message])).toEqual([
      ["REVIEW_HANDOFF_FORMAT", "handoff routes.json is not valid jsonl: line 2 is not a JSON object"],
    ]);
    expect(j.findings[0]?.evidence.map((e) => e.excerpt)).toEqual(["line 2 is not a JSON object:\n[1]"]);

    b = new AttemptBuilder(tmp.path, packet);
    attempt = b.build({ outputs: [b.output("routes.json", '{"route":"/a","method":"GET"}\n')] });
    j = checkOutputs(packet, attempt, new EvidenceReader(tmp.path, attempt));
    expect(summary(j).findings).toEqual([]);
    expect(j.handoffs.map((h) => h.artifact)).toEqual(["routes.json"]);
  });
});
