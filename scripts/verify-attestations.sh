#!/bin/sh
# Check a DWM attestation bundle without DWM: only jq, base64, openssl and sha256sum.
#
#   scripts/verify-attestations.sh BUNDLE.jsonl KEYS [RUN_DIR]
#
# BUNDLE.jsonl  what `dwm attest <run> --out FILE` wrote: one Sigstore bundle (v0.3, one DSSE
#               envelope over an in-toto statement) per line.
# KEYS          the repository's dwm.operators.json (keys by id), or one PEM public key.
# RUN_DIR       optional: the run store (.dwm/runs/<run>); every file subject's sha256 is checked
#               against it (names with a colon, such as gate:write, are artifacts by digest, not files).
#
# For each line: the Ed25519 signature is checked by openssl over the DSSE pre-authentication
# encoding "DSSEv1 <len(type)> <type> <len(payload)> <payload>" with the key the envelope names.
# Exit 0 when every line holds; 1 naming the first line that does not. docs/attestations.md.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BUNDLE.jsonl KEYS [RUN_DIR]" >&2; exit 2; }
bundle=$1
keys=$2
rundir=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
fail() { echo "FAIL line $n: $*" >&2; exit 1; }
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  [ -n "$line" ] || continue
  printf '%s' "$line" > "$work/line.json"
  keyid=$(jq -r '.dsseEnvelope.signatures[0].keyid // empty' "$work/line.json") || fail "not JSON"
  [ -n "$keyid" ] || fail "no signature"
  type=$(jq -r '.dsseEnvelope.payloadType' "$work/line.json")
  jq -r '.dsseEnvelope.payload' "$work/line.json" | base64 -d > "$work/payload" || fail "payload is not base64"
  jq -r '.dsseEnvelope.signatures[0].sig' "$work/line.json" | base64 -d > "$work/sig" || fail "signature is not base64"
  if ! jq -e . "$keys" > /dev/null 2>&1; then
    cp "$keys" "$work/key.pem"
  else
    jq -r --arg k "$keyid" '.keys[] | select(.key_id == $k) | .public_key' "$keys" > "$work/key.pem"
    [ -s "$work/key.pem" ] || fail "signed by $keyid, which $keys does not list"
  fi
  size=$(wc -c < "$work/payload" | tr -d ' ')
  printf 'DSSEv1 %s %s %s ' "$(printf '%s' "$type" | wc -c | tr -d ' ')" "$type" "$size" > "$work/pae"
  cat "$work/payload" >> "$work/pae"
  openssl pkeyutl -verify -pubin -inkey "$work/key.pem" -rawin -in "$work/pae" -sigfile "$work/sig" > /dev/null 2>&1 ||
    fail "the signature does not verify with $keyid"
  predicate=$(jq -r '.predicateType' "$work/payload")
  if [ -n "$rundir" ]; then
    jq -r '.subject[] | select(.digest.sha256 != null) | select(.name | contains(":") | not) | "\(.digest.sha256)  \(.name)"' \
      "$work/payload" > "$work/sums"
    if [ -s "$work/sums" ]; then
      (cd "$rundir" && sha256sum --check --quiet --strict "$work/sums") > /dev/null 2>&1 ||
        fail "a file it attests in $rundir is not the one signed ($predicate)"
    fi
  fi
  echo "ok line $n: $predicate signed by $keyid"
done < "$bundle"
[ "$n" -gt 0 ] || { echo "FAIL: $bundle holds no bundle" >&2; exit 1; }
echo "all $n signed statement(s) verified"
