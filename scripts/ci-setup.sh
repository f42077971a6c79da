#!/usr/bin/env bash
# Installs what some test suites need beyond `pnpm install`; .ci/run runs it before the install.
# Idempotent: quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real agent CLIs for @dwm/agent-contracts (packages/agent-contracts), pinned in
# tools/agent-clis/package.json (+ package-lock.json) and kept out of the workspace install
# (~640 MB). The versions must equal COVERED_AGENT_CLI_VERSIONS in @dwm/executor (a test checks).
agent_clis() {
  local dir=tools/agent-clis
  installed() { # <package> → version in node_modules, or nothing
    node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch {}' \
      "./$dir/node_modules/$1/package.json"
  }
  pinned() { node -e 'process.stdout.write(require(process.argv[1]).dependencies[process.argv[2]])' "./$dir/package.json" "$1"; }
  local ok=1 pkg
  for pkg in @openai/codex @anthropic-ai/claude-code; do
    [ "$(installed "$pkg")" = "$(pinned "$pkg")" ] || ok=0
  done
  [ -x "$dir/node_modules/.bin/codex" ] && [ -x "$dir/node_modules/.bin/claude" ] || ok=0
  if [ "$ok" = 1 ]; then
    echo "agent CLIs: already installed ($(installed @openai/codex), $(installed @anthropic-ai/claude-code))"
  else
    echo "agent CLIs: npm ci --prefix $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
  # Both must start and report the pinned version (they run offline).
  local v
  v="$("$dir/node_modules/.bin/codex" --version)"
  case "$v" in *"$(pinned @openai/codex)"*) ;; *) echo "codex --version says: $v" >&2; return 1 ;; esac
  v="$("$dir/node_modules/.bin/claude" --version)"
  case "$v" in *"$(pinned @anthropic-ai/claude-code)"*) ;; *) echo "claude --version says: $v" >&2; return 1 ;; esac
  echo "agent CLIs: ok"
}

# apt_install <program> <package> <what needs it>: install the Debian package when the program is
# missing (apt-get, as root or with sudo); say what is there.
apt_install() {
  local program=$1 package=$2 needed_by=$3
  if command -v "$program" >/dev/null 2>&1; then
    echo "$program: already installed"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$program: missing and apt-get is not available; $needed_by will fail" >&2
    return 1
  fi
  echo "$program: apt-get install -y $package"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
  echo "$program: ok"
}

# redis-server for the scale-out tests (@dwm/dispatcher's BullMQ queue, dwm run --queue / dwm worker):
# each test starts its own private instance on a random loopback port and stops it. The package
# starts a system service on :6379 that the tests do not use; it is stopped after an install.
redis_server() {
  command -v redis-server >/dev/null 2>&1 && {
    echo "redis-server: $(redis-server --version | head -n 1)"
    return 0
  }
  apt_install redis-server redis-server "the Redis tests" || return 1
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo service redis-server stop >/dev/null 2>&1 || true
}

agent_clis
redis_server
# openssl for the TLS scale-out test (a throwaway CA and server certificate for 127.0.0.1).
apt_install openssl openssl "the TLS queue test"
# ip and unshare for the scale-out namespace test (workers in network namespaces of their own).
apt_install ip iproute2 "the scale-out namespace test"
apt_install unshare util-linux "the scale-out namespace test"
# bubblewrap: the OS sandbox every worker runs in (@dwm/core bubblewrapSandbox); its tests need it.
apt_install bwrap bubblewrap "the worker sandbox"
