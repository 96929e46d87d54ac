#!/bin/sh
# Usage: install-deployable.sh <package> <out-dir>, from the root of a copy of the workspace whose
# store `pnpm fetch` has filled. Installs the production dependencies of one deployable and of the
# workspace packages it imports, from the lockfile and offline, then copies into <out-dir> exactly
# those packages (tests left out), the root node_modules holding their dependencies, and the
# health check: the tree an image of that deployable runs from, laid out as in the repository so
# that the workspace packages stay outside node_modules, where Node strips their types.
set -eu
pkg="$1"
out="$2"
pnpm install --offline --frozen-lockfile --prod --filter-prod "${pkg}..." >&2
dirs=$(pnpm --silent --filter-prod "${pkg}..." exec pwd)
mkdir -p "${out}/packages"
for dir in ${dirs}; do
  cp -a "${dir}" "${out}/packages/"
done
cp -a package.json pnpm-workspace.yaml "${out}/"
# Moved, not copied: this workspace copy is one deployable's and its node_modules is only that.
mv node_modules "${out}/"
find "${out}/packages" -name '*.test.ts' -delete
cp infra/docker/healthcheck.mjs "${out}/"
# A deployable that retrieves gets the local embedder's word-vector table built now: at run time
# its tree is not writable, and a process should read the 20 MB table, not stream the 300 MB JSON.
if [ -d "${out}/packages/rag" ]; then
  (cd "${out}" && node packages/rag/scripts/prepare-word-vectors.ts) >&2
fi
