// measure phase (per item, a command phase): count the lines and words of this
// item's document. The item is in $DWM_INPUTS_DIR/fanout-item.json; the item's
// outputs go under $DWM_PACKET_ID/ (measure/<key>-<digest>/measure.json).
import fs from "node:fs";
import path from "node:path";

const item = JSON.parse(fs.readFileSync(path.join(process.env.DWM_INPUTS_DIR, "fanout-item.json"), "utf8"));
const text = fs.readFileSync(item.path, "utf8");
const out = {
  id: item.id,
  path: item.path,
  revision: item.revision ?? 1,
  lines: text.split("\n").filter((l) => l.trim() !== "").length,
  words: text.split(/\s+/).filter(Boolean).length,
};
fs.mkdirSync(process.env.DWM_PACKET_ID, { recursive: true });
fs.writeFileSync(path.join(process.env.DWM_PACKET_ID, "measure.json"), `${JSON.stringify(out, null, 2)}\n`);
