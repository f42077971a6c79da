import { createPrivateKey, createPublicKey } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  keyIdOf,
  OPERATOR_KEY_FILE,
  OPERATOR_PUBLIC_KEY_FILE,
  OPERATORS_FILE,
  publicKeyPem,
  type SigningKey,
  type TrustStore,
  trustOperatorKey,
} from "@dwm/core";

// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * A fixed Ed25519 operator key for tests: `n` picks one of many (0 = "the operator",
 * others = strangers). Fixed keys make signatures, and so golden digests, reproducible.
 */
export function testOperatorKey(n = 0): SigningKey {
  const seed = Buffer.alloc(32, 0);
  seed.write(`dwm-test-operator-${n}`);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), publicKey, privateKey };
}

/** A trust store of the given keys (default: the test operator), named operator-<n> by position. */
export function testTrust(...keys: SigningKey[]): TrustStore {
  const list = keys.length ? keys : [testOperatorKey()];
  return new Map(
    list.map((k, i) => [k.keyId, { keyId: k.keyId, name: `operator-${i}`, publicKey: k.publicKey }]),
  );
}

/** Trust `key` (default: the test operator) in `repo`'s dwm.operators.json. */
export function trustTestOperator(
  repo: string,
  key: SigningKey = testOperatorKey(),
  name = "Test Operator",
): void {
  trustOperatorKey(path.join(repo, OPERATORS_FILE), publicKeyPem(key.publicKey), name);
}

/**
 * Put `key` (default: the test operator) in `dir` as an operator's DWM config directory
 * (what `dwm keys init` makes), for commands run with DWM_CONFIG_DIR=dir. Returns dir.
 */
export function writeTestOperatorConfig(dir: string, key: SigningKey = testOperatorKey()): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, OPERATOR_KEY_FILE);
  fs.writeFileSync(keyFile, key.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  fs.chmodSync(keyFile, 0o600);
  fs.writeFileSync(path.join(dir, OPERATOR_PUBLIC_KEY_FILE), publicKeyPem(key.publicKey));
  return dir;
}
