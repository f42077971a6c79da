import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Operators } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { renderArtifact } from "./artifact.js";
import { fsyncDir, writeFileAtomic } from "./atomic-fs.js";
import { parseJsonText } from "./json-input.js";
import {
  keyIdOf,
  parsePublicKey,
  publicKeyPem,
  rawEd25519,
  type SigningKey,
  type TrustStore,
} from "./signing.js";
import { signingErrors } from "./signing-errors.js";

/** The operator's private key (PKCS#8 PEM, mode 0600) in the DWM config directory. */
export const OPERATOR_KEY_FILE = "operator.key";
/** The operator's public key (PEM) beside it. */
export const OPERATOR_PUBLIC_KEY_FILE = "operator.pub";
/** The repository's trusted operator keys, tracked at the repository root. */
export const OPERATORS_FILE = "dwm.operators.json";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The DWM config directory: $DWM_CONFIG_DIR, else $XDG_CONFIG_HOME/dwm, else
 * ~/.config/dwm. It holds the operator's key; workers never see it (docs/security.md).
 */
export function dwmConfigDir(env: Env): string {
  if (env.DWM_CONFIG_DIR) return path.resolve(env.DWM_CONFIG_DIR);
  if (env.XDG_CONFIG_HOME) return path.join(path.resolve(env.XDG_CONFIG_HOME), "dwm");
  return path.join(env.HOME || os.homedir(), ".config", "dwm");
}

/** The git work tree `dir` lies in (nearest parent holding `.git`), or null. */
function enclosingRepository(dir: string): string | null {
  let d = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(path.join(d, ".git"))) return d;
    const up = path.dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/**
 * Make the operator's Ed25519 key pair in `dir` (created 0700): the private key 0600,
 * never over an existing one (ERR_KEY_EXISTS), never inside a git repository
 * (ERR_KEY_IN_REPOSITORY).
 */
export function createOperatorKey(dir: string): SigningKey {
  const repo = enclosingRepository(dir);
  if (repo !== null) {
    throw signingErrors.create("ERR_KEY_IN_REPOSITORY", `${dir} is inside the git repository ${repo}`, {
      details: { dir, repository: repo },
    });
  }
  const keyFile = path.join(dir, OPERATOR_KEY_FILE);
  if (fs.existsSync(keyFile)) {
    throw signingErrors.create("ERR_KEY_EXISTS", `${keyFile} already exists`, { details: { file: keyFile } });
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  // wx: two `dwm keys init` at once cannot both write; the mode is set at creation, never after.
  const fd = fs.openSync(keyFile, "wx", 0o600);
  try {
    fs.writeFileSync(fd, pem);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  writeFileAtomic(path.join(dir, OPERATOR_PUBLIC_KEY_FILE), publicKeyPem(publicKey));
  fsyncDir(dir);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/**
 * Load the operator's key from `dir`: ERR_KEY_MISSING when there is none,
 * ERR_KEY_PERMISSIONS when others may read it (as ssh refuses such keys).
 */
export function loadOperatorKey(dir: string): SigningKey {
  const keyFile = path.join(dir, OPERATOR_KEY_FILE);
  let st: fs.Stats;
  try {
    st = fs.statSync(keyFile);
  } catch {
    throw signingErrors.create("ERR_KEY_MISSING", `no operator key at ${keyFile}`, {
      details: { file: keyFile },
    });
  }
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw signingErrors.create(
      "ERR_KEY_PERMISSIONS",
      `${keyFile} has mode ${(st.mode & 0o777).toString(8)}; it must not be readable by others`,
      { details: { file: keyFile } },
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(fs.readFileSync(keyFile));
  } catch (e) {
    throw signingErrors.create(
      "ERR_KEY_INVALID",
      `${keyFile} is not a private key: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const publicKey = createPublicKey(privateKey);
  rawEd25519(publicKey);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** The empty trust list, for a repository without dwm.operators.json. */
export function emptyOperators(): Operators {
  return { kind: "operators", schema_version: "1", keys: [] };
}

function invalidOperators(file: string, why: string, cause?: unknown) {
  return signingErrors.create("ERR_OPERATORS_INVALID", `${file}: ${why}`, {
    details: { file },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Read dwm.operators.json (the empty list when the file does not exist): schema, and
 * each key id recomputed from its key (a hand-edited id never names another key).
 */
export function readOperators(file: string): Operators {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyOperators();
    throw invalidOperators(file, "cannot be read", e);
  }
  const value = parseJsonText(text, file);
  const v = validateSchema("operators", value);
  if (!v.ok) {
    const first = v.problems[0];
    throw invalidOperators(
      file,
      `does not match its schema: ${first ? `${first.pointer || "/"} ${first.message}` : ""}`,
    );
  }
  const doc = value as Operators;
  for (const k of doc.keys) {
    const actual = keyIdOf(parsePublicKey(k.public_key));
    if (actual !== k.key_id) throw invalidOperators(file, `key ${k.key_id} (${k.name}) is in fact ${actual}`);
  }
  return doc;
}

/** The trust store of an operators document: key id → trusted key. */
export function trustStoreOf(doc: Operators): TrustStore {
  return new Map(
    doc.keys.map((k) => [
      k.key_id,
      { keyId: k.key_id, name: k.name, publicKey: parsePublicKey(k.public_key) },
    ]),
  );
}

/** Read a repository's trust store from `<repo>/dwm.operators.json`. */
export function readTrustStore(repo: string): TrustStore {
  return trustStoreOf(readOperators(path.join(repo, OPERATORS_FILE)));
}

/**
 * Add a public key (PEM or ssh-ed25519 line) to dwm.operators.json under `name`, in
 * canonical rendering, keys sorted by id. Adding a key already there renames it.
 * Returns the document written and the key's id.
 */
export function trustOperatorKey(
  file: string,
  publicKey: string,
  name: string,
): { doc: Operators; keyId: string } {
  const key = parsePublicKey(publicKey);
  const keyId = keyIdOf(key);
  const doc = readOperators(file);
  const keys = doc.keys.filter((k) => k.key_id !== keyId);
  keys.push({ key_id: keyId, name, algorithm: "ed25519", public_key: publicKeyPem(key) });
  keys.sort((a, b) => (a.key_id < b.key_id ? -1 : a.key_id > b.key_id ? 1 : 0));
  const next: Operators = { ...doc, keys };
  const v = validateSchema("operators", next);
  if (!v.ok) throw invalidOperators(file, `would not match its schema: ${v.problems[0]?.message ?? ""}`);
  writeFileAtomic(file, renderArtifact(next));
  return { doc: next, keyId };
}
