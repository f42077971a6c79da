import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import type { InTotoStatement, SignedBundle } from "@dwm/schemas";
import { validateSchema } from "@dwm/schemas";
import { canonicalJson } from "./canonical.js";
import { signingErrors } from "./signing-errors.js";

/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** `_type` of an in-toto Statement v1. */
export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** Media type of the Sigstore bundle DWM writes (one DSSE envelope, public-key verification material). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** A key that can sign: an operator's Ed25519 key pair and its id. */
export interface SigningKey {
  keyId: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** A public key a repository trusts (dwm.operators.json), with the name it was given. */
export interface TrustedKey {
  keyId: string;
  name: string;
  publicKey: KeyObject;
}

/** The keys whose signatures count, by key id. */
export type TrustStore = ReadonlyMap<string, TrustedKey>;

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow it.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** The 32 raw bytes of an Ed25519 public key; ERR_KEY_INVALID for any other kind of key. */
export function rawEd25519(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== "ed25519") {
    throw signingErrors.create(
      "ERR_KEY_INVALID",
      `only Ed25519 keys are supported, not ${publicKey.asymmetricKeyType ?? "this key"}`,
    );
  }
  const der = publicKey.export({ type: "spki", format: "der" });
  return der.subarray(ED25519_SPKI_PREFIX.length);
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** The key in OpenSSH wire form (`ssh-ed25519` blob), what its fingerprint hashes. */
function sshBlob(publicKey: KeyObject): Buffer {
  return Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(rawEd25519(publicKey))]);
}

/**
 * A key's id: its OpenSSH SHA256 fingerprint (`SHA256:` + unpadded base64 of sha256 of the
 * OpenSSH key blob), so `ssh-keygen -l` on the same key in OpenSSH form prints the same.
 */
export function keyIdOf(publicKey: KeyObject): string {
  return `SHA256:${createHash("sha256").update(sshBlob(publicKey)).digest("base64").replace(/=+$/, "")}`;
}

/** The public key as PEM (SubjectPublicKeyInfo): what dwm.operators.json and openssl take. */
export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: "spki", format: "pem" }).toString();
}

/** The public key as one OpenSSH line (`ssh-ed25519 AAAA… comment`). */
export function publicKeySsh(publicKey: KeyObject, comment = ""): string {
  return `ssh-ed25519 ${sshBlob(publicKey).toString("base64")}${comment ? ` ${comment}` : ""}`;
}

/** Parse a public key given as PEM or as an OpenSSH `ssh-ed25519` line; ERR_KEY_INVALID otherwise. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  const ssh = /^ssh-ed25519\s+([A-Za-z0-9+/]+={0,2})(\s.*)?$/.exec(t);
  let key: KeyObject;
  try {
    if (ssh?.[1]) {
      const blob = Buffer.from(ssh[1], "base64");
      const expect = sshString(Buffer.from("ssh-ed25519"));
      if (blob.length !== expect.length + 36 || !blob.subarray(0, expect.length).equals(expect))
        throw new Error("not an ssh-ed25519 key blob");
      const raw = blob.subarray(expect.length + 4);
      key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
    } else {
      key = createPublicKey(t);
    }
  } catch (e) {
    throw signingErrors.create(
      "ERR_KEY_INVALID",
      `not a public key (PEM or ssh-ed25519 line): ${(e as Error).message}`,
      { cause: e },
    );
  }
  rawEd25519(key);
  return key;
}

/** DSSE v1 pre-authentication encoding: the exact bytes a DSSE signature signs. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, "utf8"),
    type,
    Buffer.from(` ${payload.length} `, "utf8"),
    payload,
  ]);
}

/**
 * Sign an in-toto statement: its RFC 8785 canonical JSON is the DSSE payload, signed
 * with Ed25519 over the pre-authentication encoding, packed as a Sigstore bundle v0.3 with
 * the key id as the public-key hint. Deterministic (Ed25519 signatures are).
 */
export function signStatement(statement: InTotoStatement, key: SigningKey): SignedBundle {
  const v = validateSchema("in-toto-statement", statement);
  if (!v.ok) {
    throw signingErrors.create(
      "ERR_SIGNATURE_PAYLOAD",
      "refusing to sign a statement that is not in-toto v1",
      {
        details: { problems: v.problems.slice(0, 10) },
      },
    );
  }
  const payload = Buffer.from(canonicalJson(statement), "utf8");
  const sig = sign(null, dssePae(IN_TOTO_PAYLOAD_TYPE, payload), key.privateKey);
  return {
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: key.keyId }, timestampVerificationData: {} },
    dsseEnvelope: {
      payload: payload.toString("base64"),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sig.toString("base64"), keyid: key.keyId }],
    },
  };
}

/** Why a signed bundle does not count: a stable code, a message, the key it names (if any). */
export interface SignatureProblem {
  code:
    | "ERR_SIGNATURE_UNSIGNED"
    | "ERR_SIGNATURE_KEY_UNTRUSTED"
    | "ERR_SIGNATURE_INVALID"
    | "ERR_SIGNATURE_PAYLOAD";
  message: string;
  keyId: string | null;
}

/** A bundle whose signature verified against a trusted key: its statement and who signed it. */
export interface OpenedStatement {
  statement: InTotoStatement;
  signer: TrustedKey;
}

export type OpenResult = { ok: true; value: OpenedStatement } | { ok: false; problem: SignatureProblem };

const fail = (code: SignatureProblem["code"], message: string, keyId: string | null = null): OpenResult => ({
  ok: false,
  problem: { code, message, keyId },
});

/** The envelope's key id and signature bytes once the bundle's shape is right, else the problem. */
function envelopeParts(value: unknown): { bundle: SignedBundle; keyId: string } | OpenResult {
  const v = validateSchema("signed-bundle", value);
  if (!v.ok) {
    const first = v.problems[0];
    return fail(
      "ERR_SIGNATURE_UNSIGNED",
      `not a signed bundle: ${first ? `${first.pointer || "/"} ${first.message}` : "wrong shape"}`,
    );
  }
  const bundle = value as SignedBundle;
  const [s] = bundle.dsseEnvelope.signatures;
  const keyId = s?.keyid ?? "";
  if (bundle.verificationMaterial.publicKey.hint !== keyId)
    return fail("ERR_SIGNATURE_INVALID", "the bundle's key hint and the signature's key id differ", keyId);
  return { bundle, keyId };
}

/**
 * Open a signed bundle: its one signature must verify, over the DSSE pre-authentication
 * encoding, against the trusted key its key id names; the payload must be an in-toto v1
 * statement in RFC 8785 canonical JSON. Pure; says why not as data.
 */
export function openStatement(value: unknown, trust: TrustStore): OpenResult {
  const parts = envelopeParts(value);
  if ("ok" in parts) return parts;
  const { bundle, keyId } = parts;
  const signer = trust.get(keyId);
  if (!signer)
    return fail(
      "ERR_SIGNATURE_KEY_UNTRUSTED",
      `signed by ${keyId}, a key this repository does not trust`,
      keyId,
    );
  const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64");
  const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? "", "base64");
  let good = false;
  try {
    good = verify(null, dssePae(bundle.dsseEnvelope.payloadType, payload), signer.publicKey, sig);
  } catch {
    good = false;
  }
  if (!good)
    return fail(
      "ERR_SIGNATURE_INVALID",
      `the signature does not verify with ${keyId} (${signer.name})`,
      keyId,
    );
  return statementOf(payload, signer);
}

function statementOf(payload: Buffer, signer: TrustedKey): OpenResult {
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString("utf8"));
  } catch {
    return fail("ERR_SIGNATURE_PAYLOAD", "the signed payload is not JSON", signer.keyId);
  }
  const v = validateSchema("in-toto-statement", statement);
  if (!v.ok)
    return fail("ERR_SIGNATURE_PAYLOAD", "the signed payload is not an in-toto v1 statement", signer.keyId);
  if (canonicalJson(statement) !== payload.toString("utf8"))
    return fail("ERR_SIGNATURE_PAYLOAD", "the signed payload is not RFC 8785 canonical JSON", signer.keyId);
  return { ok: true, value: { statement: statement as InTotoStatement, signer } };
}
