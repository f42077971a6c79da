import { type Digest, digestBytes, renderArtifact } from "@dwm/core";
import type { Attempt } from "@dwm/schemas";

/**
 * The files of an attempt as a journal event's `data.files` names them: every evidence file,
 * then attempt.json itself, with raw-bytes digests, paths prefixed by the attempt directory
 * relative to the run dir (e.g. `attempts/build/1`). `dwm verify` checks exactly these.
 */
export function attemptFiles(attempt: Attempt, attemptDirRel: string): { path: string; digest: Digest }[] {
  const dir = attemptDirRel.replace(/\/+$/, "");
  return [
    ...attempt.files.map((f) => ({ path: `${dir}/${f.path}`, digest: f.digest as Digest })),
    { path: `${dir}/attempt.json`, digest: digestBytes(renderArtifact(attempt)) },
  ];
}
