#!/usr/bin/env bash
# Runs every test: the Rust suites with the PostgreSQL contract tests on a throwaway cluster,
# the README walkthrough against the real launcher, and the static deployment checks.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"

# A throwaway PostgreSQL cluster from the installed server binaries. Without one the PostgreSQL
# suites fail loudly rather than being skipped.
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  command -v pg_virtualenv >/dev/null \
    || die "pg_virtualenv not found: install postgresql and postgresql-common (apt-get install postgresql), or set TEST_DATABASE_URL"
  if [[ -z "${PGHOST:-}" ]]; then
    echo "==> starting a throwaway PostgreSQL cluster (pg_virtualenv)"
    exec pg_virtualenv -t -o fsync=off -o synchronous_commit=off -o full_page_writes=off -o max_connections=300 \
      "$0" "$@"
  fi
fi

echo "==> PostgreSQL: $(psql -Atc 'select version()' 2>/dev/null || echo "${TEST_DATABASE_URL:-unknown}")"
echo "==> cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked "$@" 2>&1 | tee "$log"

# A filtered run (extra args) stops here; a full run also checks coverage and the walkthrough.
[[ $# -eq 0 ]] || exit 0

# Say how many store-contract tests ran on each backend, so a missing backend is visible.
for backend in sqlite postgres; do
  n=$(grep -cE "^test (store_contract|concurrency)::${backend}::.* \.\.\. ok$" "$log" || true)
  echo "==> store contract + concurrency tests passed on ${backend}: ${n}"
  [[ "$n" -gt 0 ]] || die "no ${backend} contract tests ran"
done

echo "==> README walkthrough against the running platform"
scripts/walkthrough.sh

echo "==> Dockerfile, compose.yaml, Kubernetes manifests and scripts"
scripts/lint-deploy.sh
