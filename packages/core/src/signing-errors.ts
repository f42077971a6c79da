import { defineErrors, EXIT } from "./errors.js";

/** Errors of operator keys, trust and signatures (@dwm/core). */
export const signingErrors = defineErrors({
  ERR_KEY_INVALID: {
    title: "A key is not an Ed25519 key DWM can read.",
    hint: "Give a public key as PEM (what `dwm keys show` prints) or as an `ssh-ed25519 AAAA…` line; operator keys are made with `dwm keys init`.",
  },
  ERR_KEY_MISSING: {
    title: "There is no operator key in the DWM config directory.",
    hint: "Run `dwm keys init` (once per operator), then `dwm keys trust` in each repository whose gates you decide.",
  },
  ERR_KEY_EXISTS: {
    title: "An operator key already exists in the DWM config directory.",
    hint: "`dwm keys show` prints it. A key is never overwritten: move the old files away yourself if you mean to replace it.",
  },
  ERR_KEY_PERMISSIONS: {
    title: "The operator's private key file can be read by other users.",
    hint: "Run `chmod 600` on the key file named in the message (and `chmod 700` on its folder).",
  },
  ERR_KEY_IN_REPOSITORY: {
    title:
      "The DWM config directory lies inside a git repository, where a commit or a worker could expose the private key.",
    hint: "Keep keys outside every repository: unset DWM_CONFIG_DIR / XDG_CONFIG_HOME or point them elsewhere.",
  },
  ERR_KEY_UNTRUSTED: {
    title: "The operator key is not one this repository trusts (dwm.operators.json).",
    hint: "Add it with `dwm keys trust` (it changes dwm.operators.json, a tracked file: commit it), or use a trusted key.",
  },
  ERR_OPERATORS_INVALID: {
    title:
      "dwm.operators.json is not valid JSON, does not match its schema, or a key id does not match its key.",
    hint: "Fix or restore the file from git; add keys only with `dwm keys trust`.",
    exitCode: EXIT.integrity,
  },
  ERR_SIGNATURE_UNSIGNED: {
    title: "A file that must be signed is not a signed bundle.",
    hint: "Approvals are written by `dwm approve` / `dwm reject` and attestations by `dwm run`; a file written another way never counts.",
    exitCode: EXIT.integrity,
  },
  ERR_SIGNATURE_KEY_UNTRUSTED: {
    title: "A signature was made with a key the repository does not trust.",
    hint: "Only keys in dwm.operators.json count; `dwm keys trust` adds one (review that change like code).",
    exitCode: EXIT.integrity,
  },
  ERR_SIGNATURE_INVALID: {
    title: "A signature does not verify: the signed content or the signature was changed.",
    hint: "The file was tampered with after it was signed; run `dwm verify` for the full report.",
    exitCode: EXIT.integrity,
  },
  ERR_SIGNATURE_PAYLOAD: {
    title: "A signed payload is not an in-toto v1 statement in canonical JSON.",
    hint: "DWM signs only canonical in-toto statements; the file was not made by DWM.",
    exitCode: EXIT.integrity,
  },
});
