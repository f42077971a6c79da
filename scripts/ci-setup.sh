#!/usr/bin/env bash
# Sets up what the test suites need beyond `pnpm install`, or stops with one message saying what is
# missing and the command that installs it. `pnpm test` and .ci/run run it before any test; it is
# idempotent, and takes well under a second when everything is already there.
#
# The parts (names as in DWM_TEST_SKIP and in TEST_PARTS of @dwm/test-utils; a test keeps them equal):
#   redis-server     Debian package redis-server: the scale-out tests start private servers on loopback
#   openssl          Debian package openssl: the TLS scale-out test makes a throwaway CA
#   bubblewrap       Debian package bubblewrap (bwrap): the worker sandbox
#   chromium         Debian package chromium: the HTML report test
#   zsh, fish        Debian packages zsh and fish: the shell completion tests of dwm
#   iproute2         Debian package iproute2 (ip): the scale-out test's network namespaces
#   util-linux       Debian package util-linux (unshare): workers in namespaces of their own
#   agent-clis       the real Codex CLI and Claude Code pinned in tools/agent-clis (~640 MB):
#                    `npm ci --prefix tools/agent-clis`, for the contract tests
#   reference-plans  ../shared/reference-plans beside the checkout, or DWM_REFERENCE_PLANS: read by
#                    the plan-evaluator and compiler tests; not part of this repository, never installed
#
# Missing Debian packages are installed with apt-get when that is allowed (root, or `sudo -n` works).
# DWM_TEST_SKIP=part,part leaves those parts out on purpose: nothing is checked or installed for them
# and their tests count as skipped. Anything else missing stops here, before the tests, with exit 1.
set -uo pipefail
DWM_TEST_SKIP=${DWM_TEST_SKIP:-}
cd "$(dirname "$0")/.."
t0=$(date +%s%N)

PARTS=(redis-server openssl bubblewrap chromium zsh fish iproute2 util-linux agent-clis reference-plans)
SYSTEM_PARTS=(redis-server openssl bubblewrap chromium zsh fish iproute2 util-linux)
AGENT_CLIS_DIR=tools/agent-clis

say() { echo "ci-setup: $*"; }

# --- DWM_TEST_SKIP: the parts the user left out.
declare -A skip=()
for name in ${DWM_TEST_SKIP//,/ }; do
  case " ${PARTS[*]} " in
    *" $name "*) skip[$name]=1 ;;
    *)
      say "DWM_TEST_SKIP names an unknown part '$name'; the parts are: ${PARTS[*]}" >&2
      exit 2
      ;;
  esac
done
left_out() { [ -n "${skip[$1]:-}" ]; }

program_of() {
  case $1 in
    bubblewrap) echo bwrap ;;
    iproute2) echo ip ;;
    util-linux) echo unshare ;;
    *) echo "$1" ;;
  esac
}

missing=() # one line per missing part: what it is and why it is missing
fixes=()   # the commands that install them

# --- Debian packages.
system_parts() {
  local need=() part
  for part in "${SYSTEM_PARTS[@]}"; do
    left_out "$part" && continue
    command -v "$(program_of "$part")" >/dev/null 2>&1 || need+=("$part")
  done
  [ ${#need[@]} -eq 0 ] && return 0

  local sudo="" why=""
  if ! command -v apt-get >/dev/null 2>&1; then
    why="no apt-get here"
  elif [ "$(id -u)" != 0 ]; then
    if sudo -n true >/dev/null 2>&1; then sudo="sudo -n"; else why="not root, and sudo asks for a password"; fi
  fi
  if [ -n "$why" ]; then
    missing+=("${need[*]} (Debian packages; $why)")
    if [ "$why" = "no apt-get here" ]; then
      fixes+=("install ${need[*]} with this system's package manager (Debian, Ubuntu: sudo apt-get install -y ${need[*]})")
    else
      fixes+=("sudo apt-get install -y ${need[*]}")
    fi
    return 0
  fi

  say "installing ${need[*]} (apt-get; the first time takes a minute or two)"
  local log
  log=$(mktemp)
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 ||
    ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
  fi
  rm -f "$log"
  local still=()
  for part in "${need[@]}"; do
    command -v "$(program_of "$part")" >/dev/null 2>&1 || still+=("$part")
  done
  if [ ${#still[@]} -gt 0 ]; then
    missing+=("${still[*]} (Debian packages; apt-get install failed, its output is above)")
    fixes+=("${sudo:+sudo }apt-get install -y ${still[*]}")
  fi
  # The package starts a system service on :6379 that no test uses (each starts its own server).
  case " ${need[*]} " in
    *" redis-server "*) $sudo service redis-server stop >/dev/null 2>&1 || true ;;
  esac
}

# --- The pinned agent CLIs: their versions must be the ones tools/agent-clis/package.json pins (the
# contract tests check those against COVERED_AGENT_CLI_VERSIONS of @dwm/executor).
# The first "version" of a package.json (its own), or nothing; bash only, to keep the check quick.
json_version() { [ -f "$1" ] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
# The version tools/agent-clis/package.json pins for a package.
pinned() { sed -n "s|^ *\"$1\": *\"\([^\"]*\)\".*|\1|p" "$AGENT_CLIS_DIR/package.json" | head -n 1; }

agent_clis_state() { # prints "ok <versions>" or what is wrong
  local found=() pkg bin v
  for pkg in @openai/codex:codex @anthropic-ai/claude-code:claude; do
    bin=${pkg#*:}
    pkg=${pkg%:*}
    v=$(json_version "$AGENT_CLIS_DIR/node_modules/$pkg/package.json")
    if [ -z "$v" ] || [ ! -x "$AGENT_CLIS_DIR/node_modules/.bin/$bin" ]; then
      echo "$pkg is not installed"
      return
    fi
    if [ "$v" != "$(pinned "$pkg")" ]; then
      echo "$pkg $v is installed, $(pinned "$pkg") is pinned"
      return
    fi
    found+=("$bin $v")
  done
  echo "ok ${found[0]}, ${found[1]}"
}

agent_clis() {
  left_out agent-clis && return 0
  local state
  state=$(agent_clis_state)
  case $state in ok*) return 0 ;; esac
  say "agent CLIs: $state; npm ci --prefix $AGENT_CLIS_DIR (~640 MB, about 15 s from a warm npm cache)"
  if ! npm ci --prefix "$AGENT_CLIS_DIR" --no-audit --no-fund --loglevel=error; then
    missing+=("agent-clis (the pinned Codex CLI and Claude Code: npm ci failed, its output is above)")
    fixes+=("npm ci --prefix $AGENT_CLIS_DIR")
    return 0
  fi
  state=$(agent_clis_state)
  # Both must start (their native binaries come in platform packages and a postinstall step).
  local bin out
  for bin in codex claude; do
    if ! out=$("$AGENT_CLIS_DIR/node_modules/.bin/$bin" --version 2>&1); then
      state="$bin --version failed: $out"
    fi
  done
  case $state in
    ok*) say "agent CLIs: installed (${state#ok })" ;;
    *)
      missing+=("agent-clis ($state)")
      fixes+=("rm -rf $AGENT_CLIS_DIR/node_modules && npm ci --prefix $AGENT_CLIS_DIR")
      ;;
  esac
}

# --- The reference plans: found, never installed (the same search as referencePlansDir in @dwm/test-utils).
reference_plans() {
  left_out reference-plans && return 0
  if [ -n "${DWM_REFERENCE_PLANS:-}" ]; then
    [ -d "$DWM_REFERENCE_PLANS" ] && return 0
    missing+=("reference-plans (DWM_REFERENCE_PLANS=$DWM_REFERENCE_PLANS is not a folder)")
  else
    [ -d ../shared/reference-plans ] || [ -d /work/shared/reference-plans ] && return 0
    missing+=("reference-plans (not in ../shared/reference-plans beside this checkout; they are not part of the repository)")
  fi
  fixes+=("export DWM_REFERENCE_PLANS=<the folder that holds them>")
}

system_parts
agent_clis
reference_plans

ms=$((($(date +%s%N) - t0) / 1000000))
if [ ${#missing[@]} -gt 0 ]; then
  names=()
  for line in "${missing[@]}"; do
    for word in ${line%% (*}; do names+=("$word"); done
  done
  {
    echo "ci-setup: the tests cannot run; missing here:"
    for line in "${missing[@]}"; do echo "  - $line"; done
    echo "Install them, then run the tests again:"
    for cmd in "${fixes[@]}"; do echo "  $cmd"; done
    skips=$(
      IFS=,
      echo "${names[*]}${DWM_TEST_SKIP:+,$DWM_TEST_SKIP}"
    )
    echo "Or leave out the tests that need them (counted as skipped): DWM_TEST_SKIP=$skips pnpm test"
  } >&2
  exit 1
fi
present=()
for part in "${PARTS[@]}"; do left_out "$part" || present+=("$part"); done
say "ready in ${ms} ms: ${present[*]:-nothing needed}${DWM_TEST_SKIP:+; left out (DWM_TEST_SKIP): ${DWM_TEST_SKIP}}"
