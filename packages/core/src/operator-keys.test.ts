import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createOperatorKey,
  dwmConfigDir,
  loadOperatorKey,
  OPERATOR_KEY_FILE,
  readOperators,
  readTrustStore,
  trustOperatorKey,
} from "./operator-keys.js";
import { keyIdOf, publicKeyPem, publicKeySsh } from "./signing.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dwm-keys-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dir = (name: string) => path.join(tmp, name);

describe("dwmConfigDir", () => {
  it("is DWM_CONFIG_DIR, else $XDG_CONFIG_HOME/dwm, else ~/.config/dwm", () => {
    expect(dwmConfigDir({ DWM_CONFIG_DIR: "/k", XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/k");
    expect(dwmConfigDir({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/dwm");
    expect(dwmConfigDir({ HOME: "/h" })).toBe("/h/.config/dwm");
  });
});

describe("operator keys", () => {
  it("createOperatorKey writes a 0600 private key in a 0700 folder; loadOperatorKey reads the same key", () => {
    const d = dir("cfg/dwm");
    const made = createOperatorKey(d);
    expect(fs.statSync(path.join(d, OPERATOR_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(d).mode & 0o777).toBe(0o700);
    const loaded = loadOperatorKey(d);
    expect(loaded.keyId).toBe(made.keyId);
    expect(keyIdOf(loaded.publicKey)).toBe(made.keyId);
    // The private key file is what openssl reads too.
    const pub = execFileSync("openssl", ["pkey", "-in", path.join(d, OPERATOR_KEY_FILE), "-pubout"], {
      encoding: "utf8",
    });
    expect(pub).toBe(publicKeyPem(made.publicKey));
  });

  it("never overwrites a key, and refuses a config folder inside a git repository", () => {
    const d = dir("twice");
    createOperatorKey(d);
    const before = fs.readFileSync(path.join(d, OPERATOR_KEY_FILE));
    expect(() => createOperatorKey(d)).toThrow(expect.objectContaining({ code: "ERR_KEY_EXISTS" }));
    expect(fs.readFileSync(path.join(d, OPERATOR_KEY_FILE))).toEqual(before);
    fs.mkdirSync(dir("repo/.git"), { recursive: true });
    expect(() => createOperatorKey(dir("repo/config/dwm"))).toThrow(
      expect.objectContaining({ code: "ERR_KEY_IN_REPOSITORY" }),
    );
    expect(fs.existsSync(dir("repo/config/dwm"))).toBe(false);
  });

  it("loadOperatorKey: ERR_KEY_MISSING without a key, ERR_KEY_PERMISSIONS when others may read it", () => {
    expect(() => loadOperatorKey(dir("none"))).toThrow(expect.objectContaining({ code: "ERR_KEY_MISSING" }));
    const d = dir("open");
    createOperatorKey(d);
    fs.chmodSync(path.join(d, OPERATOR_KEY_FILE), 0o644);
    expect(() => loadOperatorKey(d)).toThrow(expect.objectContaining({ code: "ERR_KEY_PERMISSIONS" }));
  });
});

describe("dwm.operators.json", () => {
  it("is empty when missing; trustOperatorKey adds PEM and ssh keys sorted by id, once each", () => {
    const file = dir("trust/dwm.operators.json");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    expect(readOperators(file).keys).toEqual([]);
    const a = generateKeyPairSync("ed25519").publicKey;
    const b = generateKeyPairSync("ed25519").publicKey;
    trustOperatorKey(file, publicKeyPem(a), "ada");
    trustOperatorKey(file, publicKeySsh(b, "bob@laptop"), "bob");
    const { doc } = trustOperatorKey(file, publicKeyPem(a), "ada lovelace");
    const ids = [keyIdOf(a), keyIdOf(b)].sort();
    expect(doc.keys.map((k) => k.key_id)).toEqual(ids);
    expect(doc.keys.find((k) => k.key_id === keyIdOf(a))?.name).toBe("ada lovelace");
    expect(readOperators(file)).toEqual(doc);
    const store = readTrustStore(path.dirname(file));
    expect([...store.keys()]).toEqual(ids);
    expect(store.get(keyIdOf(b))?.name).toBe("bob");
  });

  it("refuses a file whose key id was edited to name another key", () => {
    const file = dir("edited/dwm.operators.json");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const a = generateKeyPairSync("ed25519").publicKey;
    const { doc } = trustOperatorKey(file, publicKeyPem(a), "ada");
    const other = keyIdOf(generateKeyPairSync("ed25519").publicKey);
    fs.writeFileSync(file, JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], key_id: other }] }));
    expect(() => readOperators(file)).toThrow(expect.objectContaining({ code: "ERR_OPERATORS_INVALID" }));
  });
});
