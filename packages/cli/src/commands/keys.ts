import fs from "node:fs";
import path from "node:path";
import {
  createOperatorKey,
  dwmConfigDir,
  keyIdOf,
  loadOperatorKey,
  OPERATORS_FILE,
  parsePublicKey,
  publicKeyPem,
  publicKeySsh,
  readOperators,
  trustOperatorKey,
} from "@dwm/core";
import { executorErrors } from "@dwm/executor";
import type { KeysResult } from "@dwm/schemas";
import type { CommandContext, CommandResult, ParsedArgs } from "../command.js";
import { cliErrors } from "../errors.js";
import { codedErrorOf } from "../internal/error-of.js";
import { repoRoot } from "../run-arg.js";
import { approverOf } from "./approve.js";

/** The repository `dwm keys` works in (the nearest parent holding .git), or null. */
function currentRepository(ctx: CommandContext): string | null {
  const root = repoRoot(ctx.cwd);
  return fs.existsSync(path.join(root, ".git")) ? root : null;
}

/**
 * The trusted keys of the repository's operators file. init and show only report trust, after
 * the key is made: a file that cannot be read leaves it unknown (untrusted here, with a warning)
 * rather than failing a command whose key is already written. trust, which writes the file, reads
 * it strictly.
 */
function operatorsOf(file: string, warnings: string[] | null): ReturnType<typeof readOperators>["keys"] {
  if (warnings === null) return readOperators(file).keys;
  try {
    return readOperators(file).keys;
  } catch (caught) {
    const e = codedErrorOf(caught);
    if (e.code === "ERR_CLI_INTERNAL") throw caught;
    warnings.push(
      `${OPERATORS_FILE} cannot be read (${e.code}: ${e.message}): whether this repository trusts the key is unknown; fix the file (dwm keys trust refuses it until then)`,
    );
    return [];
  }
}

/** What a key is, and whether (and as whom) the current repository trusts it; `warnings` for a tolerant read. */
function describe(
  ctx: CommandContext,
  action: KeysResult["action"],
  publicKey: ReturnType<typeof parsePublicKey>,
  configDir: string | null,
  warnings: string[] | null = null,
): KeysResult {
  const repo = currentRepository(ctx);
  const file = repo === null ? null : path.join(repo, OPERATORS_FILE);
  const keyId = keyIdOf(publicKey);
  const entry = file === null ? undefined : operatorsOf(file, warnings).find((k) => k.key_id === keyId);
  return {
    kind: "keys-result",
    schema_version: "1",
    action,
    key_id: keyId,
    public_key: publicKeyPem(publicKey),
    public_key_ssh: publicKeySsh(publicKey, entry?.name.replace(/\s+/g, "_") ?? "dwm-operator"),
    config_dir: configDir,
    operators_file: file !== null && fs.existsSync(file) ? file : null,
    name: entry?.name ?? null,
    trusted: entry !== undefined,
  };
}

function text(r: KeysResult): string {
  const lines: string[] = [];
  if (r.action === "init") lines.push(`Made an operator key in ${r.config_dir} (private key mode 0600).`);
  if (r.action === "trust") lines.push(`${r.operators_file} now trusts ${r.key_id} as ${r.name}.`);
  lines.push(`key id (fingerprint): ${r.key_id}`, "public key:", r.public_key.trimEnd(), r.public_key_ssh);
  if (r.action === "trust")
    lines.push("next: commit dwm.operators.json (a reviewer sees who may approve gates)");
  else if (r.trusted) lines.push(`trusted here as ${r.name} (${r.operators_file})`);
  else
    lines.push("not trusted by this repository: run `dwm keys trust` here, then commit dwm.operators.json");
  return lines.join("\n");
}

/** The key text `dwm keys trust` was given: a file holding it, or the key itself. */
function keyText(arg: string, ctx: CommandContext): string {
  const file = path.resolve(ctx.cwd, arg);
  try {
    if (fs.statSync(file).isFile()) return fs.readFileSync(file, "utf8");
  } catch {
    // not a file: the argument is the key
  }
  return arg;
}

/** `dwm keys trust [<pubkey|file>] [--name NAME]`: add a key (default: your own) to dwm.operators.json. */
function trust(args: ParsedArgs, ctx: CommandContext): KeysResult {
  const repo = currentRepository(ctx);
  if (repo === null) {
    throw executorErrors.create("ERR_EXEC_NOT_A_REPO", `${ctx.cwd} is not inside a git repository`, {
      details: { dir: ctx.cwd },
    });
  }
  const given = args.positionals[1];
  const name = typeof args.values.name === "string" ? args.values.name.trim() : "";
  let publicKey: ReturnType<typeof parsePublicKey>;
  let defaultName: string;
  if (given === undefined) {
    publicKey = loadOperatorKey(dwmConfigDir(ctx.env)).publicKey;
    defaultName = approverOf(ctx).name;
  } else {
    const t = keyText(given, ctx);
    publicKey = parsePublicKey(t);
    // An OpenSSH line's comment names its holder (ssh-ed25519 AAAA… ada@laptop).
    defaultName = /^ssh-ed25519\s+\S+\s+(.+)$/.exec(t.trim())?.[1]?.trim() ?? "";
  }
  const who = name || defaultName;
  if (!who) {
    throw cliErrors.create("ERR_CLI_USAGE", "name the key's holder with --name", {
      hint: 'Usage: dwm keys trust <pubkey|file> --name "Ada Lovelace"',
    });
  }
  trustOperatorKey(path.join(repo, OPERATORS_FILE), publicKeyPem(publicKey), who);
  return describe(ctx, "trust", publicKey, null);
}

/** `dwm keys init|show|trust`: the operator's signing key and the repository's trusted keys. */
export async function run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult> {
  const action = args.positionals[0];
  const configDir = dwmConfigDir(ctx.env);
  const warnings: string[] = [];
  let result: KeysResult;
  if (action === "init")
    result = describe(ctx, "init", createOperatorKey(configDir).publicKey, configDir, warnings);
  else if (action === "show")
    result = describe(ctx, "show", loadOperatorKey(configDir).publicKey, configDir, warnings);
  else if (action === "trust") result = trust(args, ctx);
  else {
    throw cliErrors.create("ERR_CLI_USAGE", `keys: unknown action ${JSON.stringify(action)}`, {
      hint: "Usage: dwm keys init | dwm keys show | dwm keys trust [<pubkey|file>] [--name NAME]",
    });
  }
  return { exitCode: 0, output: result, text: text(result), warnings };
}
