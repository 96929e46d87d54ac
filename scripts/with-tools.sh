#!/usr/bin/env bash
# Runs its arguments with the node and pnpm chosen by scripts/bootstrap.sh first on PATH
# (see scripts/lib/tools.sh), e.g. `bash scripts/with-tools.sh pnpm run check`.
set -euo pipefail
# shellcheck source=lib/tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tools.sh"
PATH="$(fleet_path)"
export PATH
exec "$@"
