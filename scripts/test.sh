#!/usr/bin/env bash
# Runs every test: the Rust suites with the PostgreSQL contract tests on a throwaway cluster,
# the hostile-traffic tests against real service processes, the README walkthrough against the
# real launcher, the static deployment checks, and the image run as compose runs it (podman).
# Installs what the tests need on first run.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }
# Each step's start, in minutes and seconds since the run began (a slow step shows in CI's log).
started=${TEST_STARTED:-$(date +%s)}
export TEST_STARTED=$started
phase() { local t=$(($(date +%s) - started)); printf '==> [%d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*"; }

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"

# A throwaway PostgreSQL cluster from the installed server binaries. Without one the PostgreSQL
# suites fail loudly rather than being skipped.
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  command -v pg_virtualenv >/dev/null \
    || die "pg_virtualenv not found: install postgresql and postgresql-common (apt-get install postgresql), or set TEST_DATABASE_URL"
  if [[ -z "${PGHOST:-}" ]]; then
    phase "starting a throwaway PostgreSQL cluster (pg_virtualenv)"
    exec pg_virtualenv -t -o fsync=off -o synchronous_commit=off -o full_page_writes=off -o max_connections=300 \
      "$0" "$@"
  fi
fi

# A MongoDB-protocol server for the cart and orders contract suites: SecantusDB (GPL, from PyPI),
# installed into a venv of its own and run as a separate, test-only process on a free port.
# Without it those suites fail loudly rather than being skipped.
if [[ -z "${TEST_MONGODB_URL:-}" ]]; then
  mongo_venv=.venv-mongo
  if ! cmp -s scripts/mongo-test-server.txt "$mongo_venv/.requirements" 2>/dev/null; then
    phase "installing the MongoDB test server (SecantusDB) into $mongo_venv"
    python3 -m venv "$mongo_venv"
    "$mongo_venv/bin/pip" install --quiet --disable-pip-version-check --pre -r scripts/mongo-test-server.txt
    cp scripts/mongo-test-server.txt "$mongo_venv/.requirements"
  fi
  mongo_home=$(mktemp -d)
  # Its own empty folder and HOME, so no stray secantusd.toml is read.
  (cd "$mongo_home" && HOME="$mongo_home" exec "$OLDPWD/$mongo_venv/bin/secantusd-py" \
    --host 127.0.0.1 --port 0 --storage-path :memory:) >"$mongo_home/server.log" 2>&1 &
  mongo_pid=$!
  stop_mongo() { kill "$mongo_pid" 2>/dev/null && wait "$mongo_pid" 2>/dev/null; rm -rf "$mongo_home"; }
  trap stop_mongo EXIT
  for _ in $(seq 1 300); do
    mongo_port=$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$mongo_home/server.log" | grep -oE '[0-9]+$' || true)
    [[ -n "$mongo_port" ]] && break
    kill -0 "$mongo_pid" 2>/dev/null || { cat "$mongo_home/server.log" >&2; die "the MongoDB test server did not start"; }
    sleep 0.2
  done
  [[ -n "$mongo_port" ]] || die "the MongoDB test server did not say where it listens"
  export TEST_MONGODB_URL="mongodb://127.0.0.1:$mongo_port/?directConnection=true"
fi
phase "MongoDB (test server): $TEST_MONGODB_URL"

# The GraphiQL playground's pinned npm packages, so the test of their SRI hashes (and a
# playground without internet) has the real files. npm verifies each tarball's integrity.
graphiql_dir=.cache/graphiql
if [[ ! -f "$graphiql_dir/.installed" ]]; then
  command -v npm >/dev/null || die "npm is required to fetch the GraphiQL playground's packages (apt-get install npm)"
  phase "fetching the playground's npm packages into $graphiql_dir"
  rm -rf "$graphiql_dir" && mkdir -p "$graphiql_dir/node_modules"
  (cd "$graphiql_dir" && npm pack --silent react@18.3.1 react-dom@18.3.1 graphiql@3.8.3 >/dev/null)
  for package in react react-dom graphiql; do
    mkdir -p "$graphiql_dir/node_modules/$package"
    tar -xzf "$graphiql_dir/$package"-[0-9]*.tgz -C "$graphiql_dir/node_modules/$package" --strip-components=1
  done
  touch "$graphiql_dir/.installed"
fi
export GRAPHIQL_ASSETS_DIR="$PWD/$graphiql_dir/node_modules"

# The browser test: Debian's Chromium, driven by playwright-core (pinned in tests/browser).
if ! command -v "${CHROMIUM:-chromium}" >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    phase "installing Chromium (apt-get install chromium) for the browser test"
    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  fi
  command -v "${CHROMIUM:-chromium}" >/dev/null \
    || die "Chromium is required for the browser test (apt-get install chromium), or set CHROMIUM to its path"
fi
if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.installed-lock 2>/dev/null; then
  command -v npm >/dev/null || die "npm is required for the browser test (apt-get install npm)"
  phase "installing playwright-core into tests/browser (npm ci)"
  (cd tests/browser && npm ci --silent --no-audit --no-fund && cp package-lock.json node_modules/.installed-lock)
fi

phase "PostgreSQL: $(psql -Atc 'select version()' 2>/dev/null || echo "${TEST_DATABASE_URL:-unknown}")"
phase "cargo test"
log=$(mktemp)
trap 'rm -f "$log"; declare -F stop_mongo >/dev/null && stop_mongo' EXIT
# CARGO_TIMINGS=1 (CI sets it) also writes where the compile time went:
# target/cargo-timings/cargo-timing.html.
cargo test --workspace --locked ${CARGO_TIMINGS:+--timings} "$@" 2>&1 | tee "$log"

# A filtered run (extra args) stops here; a full run also checks coverage and the walkthrough.
[[ $# -eq 0 ]] || exit 0

# Say how many store-contract and concurrency tests ran per crate and per backend, so a missing
# backend is visible. Which backends a crate must cover is read from its on_each_backend! lists.
phase "store contract + concurrency tests passed, per crate and backend"
missing=0
for tests in subgraphs/*/tests; do
  crate=$(basename "$(dirname "$tests")")
  backends=$(grep -rhoE 'on_each_backend!\(\[[a-z, ]+\]' "$tests" | grep -oE '\[[a-z, ]+\]' | tr -d '[] ' | tr ',' '\n' | sort -u)
  for backend in $backends; do
    n=$(awk -v bin="${crate}_api-" -v backend="$backend" '
      /^ *Running / { current = index($0, "/" bin) > 0 }
      current && $0 ~ "^test (store_contract|concurrency)::" backend "::.* \\.\\.\\. ok$" { n++ }
      END { print n + 0 }' "$log")
    printf '    %-10s %-9s %3d\n' "$crate" "$backend" "$n"
    [[ "$n" -gt 0 ]] || { echo "error: no $backend contract tests ran for $crate" >&2; missing=1; }
  done
done
[[ $missing -eq 0 ]] || exit 1

phase "supergraph"
scripts/schema.sh --check

# The benchmark (scripts/bench.sh) is not run here; its Node parts must at least parse.
phase "benchmark scripts parse"
node --check bench/checkout.mjs
node --check bench/gateways/apollo.mjs
node --check bench/gateways/hive.config.mjs

# The walkthrough and the image run target/debug/ecommerce as `cargo test` built it for the
# integration tests. Cargo builds it with the features the tests' dev-dependencies ask for, so it
# carries orders' `failpoints` hook, which only orders' in-process tests can set (nothing reads
# it from the environment): it runs as `cargo build`'s binary does. Building that one instead
# would recompile orders and relink the launcher here, and again in the next `cargo test`.
phase "README walkthrough against the running platform"
ECOMMERCE_BUILT=1 scripts/walkthrough.sh

phase "Dockerfile, compose.yaml, Kubernetes manifests and scripts"
scripts/lint-deploy.sh

# The image itself, built from infra/Dockerfile with podman on stand-in bases (no registry, no
# release compile: it holds the binary built above) and run as compose runs it.
phase "the image, run as compose runs it (podman)"
scripts/container-test.sh
