import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { InTotoStatement, SignedBundle } from "@dwm/schemas";
import { bundleFromJSON, bundleToJSON } from "@sigstore/bundle";
import { DSSEBundleBuilder } from "@sigstore/sign";
import { toSignedEntity, toTrustMaterial, Verifier } from "@sigstore/verify";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical.js";
import {
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  keyIdOf,
  openStatement,
  parsePublicKey,
  publicKeyPem,
  publicKeySsh,
  type SigningKey,
  signStatement,
  type TrustStore,
} from "./signing.js";

// A fixed key, so signatures (deterministic for Ed25519) and key ids can be asserted exactly.
const FIXED_PKCS8 =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n-----END PRIVATE KEY-----\n";

function keyFrom(pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

function freshKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** Flip bits of one byte in place. */
function flip(b: Buffer, at: number, mask = 0x01): void {
  b.writeUInt8(b.readUInt8(at) ^ mask, at);
}

const trustOf = (...keys: { k: SigningKey; name: string }[]): TrustStore =>
  new Map(keys.map(({ k, name }) => [k.keyId, { keyId: k.keyId, name, publicKey: k.publicKey }]));

const statement: InTotoStatement = {
  _type: "https://in-toto.io/Statement/v1",
  subject: [{ name: "gate:write", digest: { sha256: "1".repeat(64) } }],
  predicateType: "https://dwm.dev/attestations/approval/v1",
  predicate: { kind: "example", note: "é and \u2028 survive canonical JSON" },
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-signing-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("key ids", () => {
  it("are the OpenSSH SHA256 fingerprint: ssh-keygen -l prints the same for the key's OpenSSH line", () => {
    const k = keyFrom(FIXED_PKCS8);
    const pub = path.join(tmp, "fixed.pub");
    fs.writeFileSync(pub, `${publicKeySsh(k.publicKey, "test")}\n`);
    const out = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", pub], { encoding: "utf8" });
    expect(out.split(" ")[1]).toBe(k.keyId);
    expect(k.keyId).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("parsePublicKey reads PEM and ssh-ed25519 lines to the same key, and refuses other keys", () => {
    const k = freshKey();
    expect(keyIdOf(parsePublicKey(publicKeyPem(k.publicKey)))).toBe(k.keyId);
    expect(keyIdOf(parsePublicKey(publicKeySsh(k.publicKey, "ada@host")))).toBe(k.keyId);
    const rsa = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
    expect(() => parsePublicKey(rsa.export({ type: "spki", format: "pem" }).toString())).toThrow(
      expect.objectContaining({ code: "ERR_KEY_INVALID" }),
    );
    expect(() => parsePublicKey("ssh-ed25519 AAAA")).toThrow(
      expect.objectContaining({ code: "ERR_KEY_INVALID" }),
    );
  });
});

describe("signStatement / openStatement", () => {
  const k = freshKey();
  const trust = trustOf({ k, name: "ada" });

  it("signs the canonical JSON of the statement as a Sigstore v0.3 bundle that opens with the trusted key", () => {
    const b = signStatement(statement, k);
    expect(b.mediaType).toBe("application/vnd.dev.sigstore.bundle.v0.3+json");
    expect(Buffer.from(b.dsseEnvelope.payload, "base64").toString("utf8")).toBe(canonicalJson(statement));
    expect(b.dsseEnvelope.signatures).toEqual([{ sig: expect.any(String), keyid: k.keyId }]);
    const r = openStatement(b, trust);
    expect(r).toEqual({
      ok: true,
      value: { statement, signer: expect.objectContaining({ keyId: k.keyId, name: "ada" }) },
    });
  });

  it("is deterministic: the same statement and key give the same bytes", () => {
    const fixed = keyFrom(FIXED_PKCS8);
    expect(canonicalJson(signStatement(statement, fixed))).toBe(
      canonicalJson(signStatement(statement, fixed)),
    );
  });

  it("refuses a key the store does not trust, naming it", () => {
    const other = freshKey();
    const r = openStatement(signStatement(statement, other), trust);
    expect(r).toEqual({
      ok: false,
      problem: {
        code: "ERR_SIGNATURE_KEY_UNTRUSTED",
        message: expect.stringContaining(other.keyId),
        keyId: other.keyId,
      },
    });
  });

  it("refuses a changed payload, a changed signature, and a signature relabelled with a trusted key id", () => {
    const b = signStatement(statement, k);
    const changed = structuredClone(b);
    const payload = Buffer.from(changed.dsseEnvelope.payload, "base64");
    flip(payload, payload.length - 3);
    changed.dsseEnvelope.payload = payload.toString("base64");
    expect(openStatement(changed, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_INVALID", keyId: k.keyId },
    });

    const badSig = structuredClone(b);
    const sig = Buffer.from(badSig.dsseEnvelope.signatures[0].sig, "base64");
    flip(sig, 0, 0x80);
    badSig.dsseEnvelope.signatures[0].sig = sig.toString("base64");
    expect(openStatement(badSig, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_INVALID" },
    });

    // Signed by an untrusted key, then labelled with the trusted key's id: the signature does not verify.
    const forged = signStatement(statement, freshKey());
    forged.dsseEnvelope.signatures[0].keyid = k.keyId;
    forged.verificationMaterial.publicKey.hint = k.keyId;
    expect(openStatement(forged, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_INVALID" },
    });

    const mislabelled = structuredClone(b);
    mislabelled.verificationMaterial.publicKey.hint = freshKey().keyId;
    expect(openStatement(mislabelled, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_INVALID" },
    });
  });

  it("refuses what is not a signed bundle: an unsigned approval, an envelope without signatures", () => {
    expect(openStatement({ kind: "approval", gate_id: "write" }, trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_UNSIGNED", keyId: null },
    });
    const b = signStatement(statement, k) as unknown as { dsseEnvelope: { signatures: unknown[] } };
    b.dsseEnvelope.signatures = [];
    expect(openStatement(b, trust)).toMatchObject({ ok: false, problem: { code: "ERR_SIGNATURE_UNSIGNED" } });
  });

  it("refuses a validly signed payload that is not canonical JSON or not an in-toto statement", () => {
    const signRaw = (payload: string): SignedBundle => {
      const bytes = Buffer.from(payload);
      const sig = nodeSign(null, dssePae(IN_TOTO_PAYLOAD_TYPE, bytes), k.privateKey).toString("base64");
      return {
        mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
        verificationMaterial: { publicKey: { hint: k.keyId }, timestampVerificationData: {} },
        dsseEnvelope: {
          payload: bytes.toString("base64"),
          payloadType: IN_TOTO_PAYLOAD_TYPE,
          signatures: [{ sig, keyid: k.keyId }],
        },
      };
    };
    expect(openStatement(signRaw(JSON.stringify(statement, null, 2)), trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_PAYLOAD", message: expect.stringContaining("canonical") },
    });
    expect(openStatement(signRaw(canonicalJson({ hello: "world" })), trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_PAYLOAD", message: expect.stringContaining("in-toto") },
    });
    expect(openStatement(signRaw("not json"), trust)).toMatchObject({
      ok: false,
      problem: { code: "ERR_SIGNATURE_PAYLOAD" },
    });
  });
});

describe("independent verification (no DWM code decides)", () => {
  const k = freshKey();
  const opensslOk = spawnSync("openssl", ["version"]).status === 0;

  /** What a third party does with openssl alone: PAE bytes, signature bytes, the PEM key. */
  function opensslVerifies(b: SignedBundle, pem: string): boolean {
    const dir = fs.mkdtempSync(path.join(tmp, "openssl-"));
    const payload = Buffer.from(b.dsseEnvelope.payload, "base64");
    const type = Buffer.from(b.dsseEnvelope.payloadType);
    // The DSSE PAE written out byte by byte, as docs/attestations.md tells a third party to.
    fs.writeFileSync(
      path.join(dir, "pae"),
      Buffer.concat([
        Buffer.from(`DSSEv1 ${type.length} `),
        type,
        Buffer.from(` ${payload.length} `),
        payload,
      ]),
    );
    fs.writeFileSync(path.join(dir, "sig"), Buffer.from(b.dsseEnvelope.signatures[0].sig, "base64"));
    fs.writeFileSync(path.join(dir, "key.pem"), pem);
    const r = spawnSync(
      "openssl",
      ["pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", "pae", "-sigfile", "sig"],
      { cwd: dir, encoding: "utf8" },
    );
    return r.status === 0 && r.stdout.includes("Signature Verified Successfully");
  }

  it.runIf(opensslOk)(
    "openssl pkeyutl -verify -rawin checks the signature over the PAE; one flipped byte fails it",
    () => {
      const b = signStatement(statement, k);
      const pem = publicKeyPem(k.publicKey);
      expect(opensslVerifies(b, pem)).toBe(true);
      const payload = Buffer.from(b.dsseEnvelope.payload, "base64");
      for (const at of [0, Math.floor(payload.length / 2), payload.length - 1]) {
        const flipped = Buffer.from(payload);
        flip(flipped, at);
        expect(
          opensslVerifies(
            { ...b, dsseEnvelope: { ...b.dsseEnvelope, payload: flipped.toString("base64") } },
            pem,
          ),
        ).toBe(false);
      }
      expect(opensslVerifies(b, publicKeyPem(freshKey().publicKey))).toBe(false);
    },
  );

  it("@sigstore/verify verifies the bundle with public-key trust material and no transparency log", () => {
    const b = signStatement(statement, k);
    const trust = toTrustMaterial(
      {
        mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      },
      (hint: string) => {
        if (hint !== k.keyId) throw new Error(`unknown key ${hint}`);
        return { publicKey: k.publicKey, validFor: () => true };
      },
    );
    const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    expect(verifier.verify(toSignedEntity(bundleFromJSON(b))).key.asymmetricKeyType).toBe("ed25519");
    const payload = Buffer.from(b.dsseEnvelope.payload, "base64");
    flip(payload, 10);
    const tampered = { ...b, dsseEnvelope: { ...b.dsseEnvelope, payload: payload.toString("base64") } };
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(tampered)))).toThrow(
      /signature verification failed/,
    );
  });

  it("@sigstore/sign's DSSEBundleBuilder, given the same key, makes the same bundle byte for byte", async () => {
    const builder = new DSSEBundleBuilder({
      signer: {
        sign: async (data: Buffer) => ({
          signature: nodeSign(null, data, k.privateKey),
          key: { $case: "publicKey", publicKey: publicKeyPem(k.publicKey), hint: k.keyId },
        }),
      },
      witnesses: [],
    });
    const theirs = await builder.create({
      data: Buffer.from(canonicalJson(statement)),
      type: IN_TOTO_PAYLOAD_TYPE,
    });
    expect(canonicalJson(bundleToJSON(theirs))).toBe(canonicalJson(signStatement(statement, k)));
  });
});
