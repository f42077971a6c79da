import { type SchemaName, validateSchema } from "@dwm/schemas";
import { type ArtifactProblem, type ArtifactProblemKind, checkArtifact } from "./artifact-check.js";
import { writeFileAtomic } from "./atomic-fs.js";
import { canonicalArtifact, type Digest, renderArtifact } from "./canonical.js";
import { coreErrors, type DwmError } from "./errors.js";

export { renderArtifact };

export interface WrittenArtifact {
  digest: Digest;
  bytes: number;
}

/** Validate against the schema, then write atomically in canonical rendering. */
export function writeArtifact(file: string, schema: SchemaName, value: unknown): WrittenArtifact {
  const r = validateSchema(schema, value);
  if (!r.ok) {
    // Writing an invalid artifact is a bug in DWM, not user error; keep it loud and coded.
    throw coreErrors.create(
      "ERR_ARTIFACT_SCHEMA",
      `refusing to write ${file}: it does not match schema ${schema}`,
      {
        details: { file, schema, problems: r.problems.slice(0, 20) },
      },
    );
  }
  const { digest, rendered } = canonicalArtifact(value);
  writeFileAtomic(file, rendered);
  return { digest, bytes: Buffer.byteLength(rendered) };
}

export interface ReadArtifactOptions {
  /** When given, the artifact's digest must equal it. */
  expectDigest?: string | undefined;
  /** Require the file bytes to be the canonical rendering (default true). */
  requireCanonical?: boolean;
}

/** Read, parse, validate and (optionally) check the digest of an artifact; throws its first problem. Read-only. */
export function readArtifact<T>(
  file: string,
  schema: SchemaName,
  options: ReadArtifactOptions = {},
): { value: T; digest: Digest } {
  const c = checkArtifact<T>(file, schema, options);
  if (!c.ok) throw artifactError(c.problems[0]);
  return { value: c.value, digest: c.digest };
}

type ArtifactCode =
  | "ERR_ARTIFACT_MISSING"
  | "ERR_ARTIFACT_PARSE"
  | "ERR_ARTIFACT_SCHEMA"
  | "ERR_ARTIFACT_DIGEST"
  | "ERR_ARTIFACT_NOT_CANONICAL";

/** The coded error of each problem kind. */
const ARTIFACT_PROBLEM_CODES: Readonly<Record<ArtifactProblemKind, ArtifactCode>> = {
  missing: "ERR_ARTIFACT_MISSING",
  symlink: "ERR_ARTIFACT_MISSING",
  "unsafe-path": "ERR_ARTIFACT_MISSING",
  "not-a-file": "ERR_ARTIFACT_MISSING",
  unreadable: "ERR_ARTIFACT_MISSING",
  "not-json": "ERR_ARTIFACT_PARSE",
  "not-plain-json": "ERR_ARTIFACT_PARSE",
  "wrong-kind": "ERR_ARTIFACT_SCHEMA",
  schema: "ERR_ARTIFACT_SCHEMA",
  digest: "ERR_ARTIFACT_DIGEST",
  "not-canonical": "ERR_ARTIFACT_NOT_CANONICAL",
};

/** The DwmError readArtifact throws for a problem (exit 3: an integrity failure). */
function artifactError(p: ArtifactProblem): DwmError {
  const code = ARTIFACT_PROBLEM_CODES[p.kind];
  const { file, detail } = p;
  switch (code) {
    case "ERR_ARTIFACT_MISSING":
      return coreErrors.create(code, `${file} does not exist or cannot be read`, {
        details: { file },
        cause: detail.cause,
      });
    case "ERR_ARTIFACT_SCHEMA":
      return coreErrors.create(
        code,
        p.kind === "schema" ? `${file} does not match schema ${detail.schema}` : p.message,
        { details: { file, schema: detail.schema, problems: detail.problems } },
      );
    case "ERR_ARTIFACT_DIGEST":
      return coreErrors.create(code, p.message, {
        details: { file, expected: detail.expected, actual: detail.actual },
      });
    default:
      return coreErrors.create(code, p.message, { details: { file } });
  }
}
