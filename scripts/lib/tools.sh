# shellcheck shell=bash
# Which node and pnpm the project runs on. Sourced by scripts/bootstrap.sh and scripts/with-tools.sh.
#
# Tools (Node 24 when the system node is too old, and always the pinned pnpm) live in
# $FLEET_TOOLS/bin, never in /usr. bootstrap.sh only puts a node there when the node on PATH is
# older than FLEET_MIN_NODE, and replaces one there that is too old, so putting that directory
# first on PATH (fleet_path) always yields a good node and the pinned pnpm.

FLEET_TOOLS="${AGENT_FLEET_TOOLS:-$HOME/.cache/agent-fleet/tools}"
FLEET_MIN_NODE=22.12.0

# version_at_least A B: true when dotted version A (optional leading "v") is >= B.
version_at_least() {
  local IFS=.
  local -a a b
  read -r -a a <<<"$(printf '%s' "${1#v}" | sed 's/[^0-9.].*//')"
  read -r -a b <<<"$2"
  local i
  for i in 0 1 2; do
    if ((${a[i]:-0} > ${b[i]:-0})); then return 0; fi
    if ((${a[i]:-0} < ${b[i]:-0})); then return 1; fi
  done
  return 0
}

# node_ok BIN: true when BIN runs and is at least FLEET_MIN_NODE.
node_ok() {
  local version
  version=$("$1" --version 2>/dev/null) && version_at_least "$version" "$FLEET_MIN_NODE"
}

# fleet_tools_node_ok: true when $FLEET_TOOLS/bin holds a good node.
fleet_tools_node_ok() {
  [[ -x "$FLEET_TOOLS/bin/node" ]] && node_ok "$FLEET_TOOLS/bin/node"
}

# fleet_path: the PATH to run project commands with.
fleet_path() {
  printf '%s:%s' "$FLEET_TOOLS/bin" "$PATH"
}
