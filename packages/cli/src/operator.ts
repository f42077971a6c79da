import path from "node:path";
import {
  dwmConfigDir,
  loadOperatorKey,
  nodeProcessRunner,
  OPERATORS_FILE,
  readTrustStore,
  type SigningKey,
  signingErrors,
  type TrustStore,
} from "@dwm/core";
import { approvalHead } from "@dwm/dispatcher";
import { createGit } from "@dwm/executor";
import type { Run } from "@dwm/schemas";
import type { CommandContext } from "./command.js";

/** The operator as `dwm approve`, `dwm reject` and `dwm run` act: their key, and the repository's trusted keys. */
export interface Operator {
  key: SigningKey;
  trust: TrustStore;
}

/**
 * The operator's key (DWM config directory) and the keys `repo` trusts (dwm.operators.json).
 * ERR_KEY_MISSING without a key; ERR_KEY_UNTRUSTED when the repository does not trust it:
 * what it signed would never count there.
 */
export function operatorFor(ctx: CommandContext, repo: string): Operator {
  const key = loadOperatorKey(dwmConfigDir(ctx.env));
  const trust = readTrustStore(repo);
  if (!trust.has(key.keyId)) {
    throw signingErrors.create(
      "ERR_KEY_UNTRUSTED",
      `your operator key ${key.keyId} is not in ${path.join(repo, OPERATORS_FILE)}`,
      {
        hint: "Run `dwm keys trust` in the repository (it adds your key to dwm.operators.json; commit that file), or use a key it trusts.",
        details: { key_id: key.keyId, repo },
      },
    );
  }
  return { key, trust };
}

/** The integration head an approval of `run` is bound to now: the integration branch's, else the base commit. */
export function integrationHeadNow(ctx: CommandContext, repo: string, run: Run): Promise<string | null> {
  const git = createGit(nodeProcessRunner, ctx.env);
  return approvalHead({ git, clock: ctx.clock, repo }, run.run_id, run.base_commit);
}
