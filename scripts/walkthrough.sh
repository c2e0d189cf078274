#!/usr/bin/env bash
# Runs the README's walkthrough block verbatim against a freshly started platform and checks
# what it printed; then drives the router's playground in headless Chromium, offline. Needs ports
# 8001-8004 and 4000 free, node, and Chromium (scripts/test.sh installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

data=$(mktemp -d)
out=$(mktemp)
log=$(mktemp)
server=""
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$data" "$out" "$log"
}
trap cleanup EXIT

# scripts/test.sh runs this right after `cargo test`, which built target/debug/ecommerce for the
# integration tests (ECOMMERCE_BUILT=1): that is the binary it runs then. Alone, this builds it.
[[ -n ${ECOMMERCE_BUILT:-} ]] || cargo build --locked --quiet --bin ecommerce
target/debug/ecommerce up --data-dir "$data" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if curl -sf http://localhost:8001/health/ready >/dev/null && curl -sf http://localhost:8002/health/ready >/dev/null \
    && curl -sf http://localhost:8003/health/ready >/dev/null && curl -sf http://localhost:8004/health/ready >/dev/null \
    && curl -sf http://localhost:4000/readiness >/dev/null; then
    break
  fi
  kill -0 "$server" 2>/dev/null || { echo "error: the platform did not start:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.2
done

block=$(awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on && !/^```/' README.md)
[[ -n "$block" ]] || { echo "error: no walkthrough block in README.md" >&2; exit 1; }
bash -euo pipefail -c "$block" >"$out" 2>&1 || { cat "$out"; echo "error: the walkthrough failed" >&2; exit 1; }

failures=0
checked=0
expect() {
  checked=$((checked + 1))
  if grep -qF -- "$1" "$out"; then
    echo "ok: $2"
  else
    echo "FAILED: $2 (expected to see $1)"
    failures=$((failures + 1))
  fi
}
# shellcheck source-path=SCRIPTDIR source=walkthrough-expected.sh
source scripts/walkthrough-expected.sh
expect '"name": "Coffee Beans"' "search the demo catalogue"
walkthrough_expected 7
if [[ $failures -gt 0 ]]; then
  echo "--- walkthrough output"; cat "$out"
  exit 1
fi
echo "walkthrough: $checked passed, 0 failed"

echo "==> the router's playground in headless Chromium, offline (screenshot: target/artifacts/playground.png)"
[[ -d tests/browser/node_modules/playwright-core ]] \
  || { echo "error: playwright-core is not installed: run scripts/test.sh, or npm ci in tests/browser" >&2; exit 1; }
mkdir -p target/artifacts
node tests/browser/playground.mjs http://localhost:4000/graphql target/artifacts/playground.png
