#!/usr/bin/env bash
# The GraphQL schemas in schema/: each subgraph's SDL, generated from the code, and the supergraph
# composed from the four with The Guild's federation composition (schema/compose, npm packages
# pinned in its lockfile and installed with `npm ci`).
#
#   scripts/schema.sh           regenerate schema/<service>.graphql from the code (their tests
#                               with UPDATE_SCHEMA=1), then compose schema/supergraph.graphql
#   scripts/schema.sh --check   compose from the committed SDLs and fail if the committed
#                               supergraph differs (the subgraph SDLs are checked by their tests)
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }

compose_dir=schema/compose
stamp=$compose_dir/node_modules/.installed-from-lock
if ! cmp -s "$compose_dir/package-lock.json" "$stamp" 2>/dev/null; then
  command -v npm >/dev/null || die "npm is required to compose the supergraph (apt-get install npm)"
  echo "==> installing the composition library into $compose_dir/node_modules"
  (cd "$compose_dir" && npm ci --silent --no-audit --no-fund)
  cp "$compose_dir/package-lock.json" "$stamp"
fi

composed=$(mktemp)
trap 'rm -f "$composed"' EXIT

if [[ ${1:-} == --check ]]; then
  node "$compose_dir/compose.mjs" >"$composed" || die "the subgraph SDLs in schema/ do not compose (above)"
  if ! diff -u schema/supergraph.graphql "$composed" >/dev/null; then
    diff -u schema/supergraph.graphql "$composed" | head -40 >&2
    die "schema/supergraph.graphql is not what schema/<service>.graphql compose to; regenerate it with scripts/schema.sh"
  fi
  echo "ok: schema/supergraph.graphql is composed from the four subgraph SDLs"
  exit 0
fi

echo "==> regenerating schema/<service>.graphql from the code"
UPDATE_SCHEMA=1 cargo test --workspace --locked --quiet committed_sdl_matches_the_code >/dev/null
echo "==> composing schema/supergraph.graphql"
node "$compose_dir/compose.mjs" >"$composed" || die "the subgraph SDLs in schema/ do not compose (above)"
cp "$composed" schema/supergraph.graphql
echo "wrote schema/supergraph.graphql"
