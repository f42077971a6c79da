// grade phase (per item, run by the grade-worker binding): grade one document from
// its measurement ($DWM_INPUTS_DIR/measure.json, handed over from the same item's
// measure packet) and write $DWM_PACKET_ID/grade.json.
import fs from "node:fs";
import path from "node:path";

const m = JSON.parse(fs.readFileSync(path.join(process.env.DWM_INPUTS_DIR, "measure.json"), "utf8"));
const grade = m.words >= 40 ? "A" : m.words >= 15 ? "B" : "C";
const out = { id: m.id, revision: m.revision, words: m.words, grade };
fs.mkdirSync(process.env.DWM_PACKET_ID, { recursive: true });
fs.writeFileSync(path.join(process.env.DWM_PACKET_ID, "grade.json"), `${JSON.stringify(out, null, 2)}\n`);
