import fs from "node:fs";
import path from "node:path";
import { publicKeySsh, readOperators } from "@dwm/core";
import { validateSchema } from "@dwm/schemas";
import { FakeClock, makeGitRepo, makeTempDir, type TempDir, testOperatorKey } from "@dwm/test-utils";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../main.js";

let repo: TempDir;
let config: TempDir;
beforeEach(() => {
  repo = makeGitRepo();
  config = makeTempDir("dwm-config-");
});
afterEach(() => {
  repo.cleanup();
  config.cleanup();
});

async function dwm(argv: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    {
      cwd: repo.path,
      env: { PATH: process.env.PATH, DWM_CONFIG_DIR: path.join(config.path, "dwm"), ...env },
      clock: new FakeClock(),
    },
  );
  return { code, stdout, stderr, doc: stdout.startsWith("{") ? JSON.parse(stdout) : null };
}

describe("dwm keys", () => {
  it("init makes a key once; show prints it; trust adds it to dwm.operators.json under the git name", async () => {
    const init = await dwm(["keys", "init", "--json"]);
    expect(init.code).toBe(0);
    expect(validateSchema("keys-result", init.doc).problems).toEqual([]);
    expect(init.doc).toMatchObject({ action: "init", trusted: false, operators_file: null });
    expect(fs.statSync(path.join(config.path, "dwm", "operator.key")).mode & 0o777).toBe(0o600);
    const again = await dwm(["keys", "init"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("error ERR_KEY_EXISTS:");
    const show = await dwm(["keys", "show", "--json"]);
    expect(show.doc).toMatchObject({
      action: "show",
      key_id: init.doc.key_id,
      public_key: init.doc.public_key,
    });
    const trust = await dwm(["keys", "trust", "--json"]);
    expect(trust.code).toBe(0);
    expect(trust.doc).toMatchObject({
      action: "trust",
      key_id: init.doc.key_id,
      name: "DWM Test <test@dwm.invalid>",
      trusted: true,
    });
    const ops = readOperators(path.join(repo.path, "dwm.operators.json"));
    expect(ops.keys.map((k) => [k.key_id, k.name])).toEqual([
      [init.doc.key_id, "DWM Test <test@dwm.invalid>"],
    ]);
    const text = await dwm(["keys", "show"]);
    expect(text.stdout).toContain(`key id (fingerprint): ${init.doc.key_id}`);
    expect(text.stdout).toContain("trusted here as DWM Test <test@dwm.invalid>");
  });

  it("trust takes another operator's ssh-ed25519 line or PEM file; a name is needed when the key carries none", async () => {
    const other = testOperatorKey(2);
    const line = await dwm(["keys", "trust", publicKeySsh(other.publicKey, "bob@laptop"), "--json"]);
    expect(line.doc).toMatchObject({ key_id: other.keyId, name: "bob@laptop", trusted: true });
    const pem = path.join(config.path, "carol.pem");
    const carol = testOperatorKey(3);
    fs.writeFileSync(pem, carol.publicKey.export({ type: "spki", format: "pem" }));
    const unnamed = await dwm(["keys", "trust", pem]);
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain("name the key's holder with --name");
    const named = await dwm(["keys", "trust", pem, "--name", "Carol", "--json"]);
    expect(named.doc).toMatchObject({ key_id: carol.keyId, name: "Carol" });
    const bad = await dwm(["keys", "trust", "ssh-rsa AAAAB3Nza", "--name", "x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error ERR_KEY_INVALID:");
  });

  it("init and show with an invalid dwm.operators.json: the key is made and shown, untrusted, with a warning; exit 0", async () => {
    const ops = path.join(repo.path, "dwm.operators.json");
    fs.writeFileSync(ops, "{ not json");
    const init = await dwm(["keys", "init", "--json"]);
    expect(init.code, init.stderr).toBe(0);
    expect(validateSchema("keys-result", init.doc).problems).toEqual([]);
    expect(init.doc).toMatchObject({ action: "init", trusted: false, name: null, operators_file: ops });
    expect(fs.existsSync(path.join(config.path, "dwm", "operator.key"))).toBe(true);
    expect(init.stderr).toMatch(/^warning: dwm\.operators\.json cannot be read \(ERR_[A-Z_]+: /m);
    const show = await dwm(["keys", "show"]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`key id (fingerprint): ${init.doc.key_id}`);
    expect(show.stderr).toContain("warning: dwm.operators.json cannot be read");
    // trust writes the file: it still refuses one it cannot read (nothing is overwritten).
    const trust = await dwm(["keys", "trust"]);
    expect(trust.code).toBe(1);
    expect(fs.readFileSync(ops, "utf8")).toBe("{ not json");
  });

  it("refuses a config directory inside a repository, and show without a key says how to make one", async () => {
    const inside = await dwm(["keys", "init"], { DWM_CONFIG_DIR: path.join(repo.path, ".config", "dwm") });
    expect(inside.code).toBe(1);
    expect(inside.stderr).toContain("error ERR_KEY_IN_REPOSITORY:");
    const none = await dwm(["keys", "show"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("hint: Run `dwm keys init`");
  });
});
