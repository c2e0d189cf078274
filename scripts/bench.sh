#!/usr/bin/env bash
# Load benchmarks of the release build on its embedded default (SQLite), on loopback only.
# Prints requests/s and latency percentiles per scenario and the process's peak memory, in the
# form BENCHMARKS.md records. Needs ports 8001-8004 and 4000 free; installs `hey` when run as root.
#
#   scripts/bench.sh                # default: 10 s per scenario, 32 connections
#   DURATION=30 CONNECTIONS=64 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10}
connections=${CONNECTIONS:-32}

if ! command -v hey >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -q hey >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q hey >/dev/null; }
  fi
fi
for tool in hey curl jq; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install $tool)" >&2; exit 1; }
done

cargo build --release --locked --quiet --bin ecommerce
data=$(mktemp -d)
log=$(mktemp)
server=""
cleanup() {
  [[ -n "$server" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$data" "$log"
}
trap cleanup EXIT
RUST_LOG=warn target/release/ecommerce up --data-dir "$data" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  curl -sf http://localhost:8002/health/ready >/dev/null && curl -sf http://localhost:8001/health/ready >/dev/null \
    && curl -sf http://localhost:4000/readiness >/dev/null && break
  sleep 0.1
done
router=$(pgrep -P "$server" -f 'serve router' || true)
[[ -n "$router" ]] || { echo "error: the router did not start:" >&2; cat "$log" >&2; exit 1; }
# kB of /proc/<pid>/status field $2 of process $1.
mem() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

json=(-H 'Content-Type: application/json')
admin=$(curl -s -X POST http://localhost:8001/api/users/login "${json[@]}" \
  -d '{"email":"admin@example.com","password":"Admin123!"}' | jq -r .accessToken)
ids=()
for i in $(seq 1 100); do
  ids+=("$(curl -s -X POST http://localhost:8002/api/products -H "Authorization: Bearer $admin" "${json[@]}" \
    -d "{\"name\":\"Bench $i\",\"price\":$i.99,\"stock\":1000000000,\"category\":\"Bench\"}" | jq -r .id)")
done
reps=$(printf '%s\n' "${ids[@]}" | jq -R '{__typename: "Product", id: .}' | jq -sc .)
entities=$(jq -nc --argjson r "$reps" '{query: "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price stock } } }", variables: {r: $r}}')
curl -s -X POST http://localhost:8001/api/users/register "${json[@]}" \
  -d '{"email":"bench@example.com","password":"Bench123!","name":"Bench"}' >/dev/null

customer=$(curl -s -X POST http://localhost:8001/api/users/login "${json[@]}" \
  -d '{"email":"customer@example.com","password":"Customer123!"}' | jq -r .accessToken)
one_query='{"query":"{ me { id name email cart { items { quantity product { id name price stock } } subtotal } orders(first: 10) { totalCount nodes { id status total items { quantity product { name } } } } } }"}'
sleep 2
idle_platform=$(mem "$server" VmRSS)
idle_router=$(mem "$router" VmRSS)

# scenario NAME HEY_ARGS...: one line of results.
scenario() {
  local name=$1
  shift
  local out
  out=$(hey -z "${duration}s" -c "$connections" "$@")
  local rps p50 p99 codes
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '/ 50%/ {printf "%.2f", $3 * 1000}' <<<"$out")
  p99=$(awk '/ 99%/ {printf "%.2f", $3 * 1000}' <<<"$out")
  codes=$(awk '/Status code distribution/ {on=1; next} on && /\[/ {gsub(/[\[\]]/, ""); printf "%s%s:%s", sep, $1, $2; sep=" "}' <<<"$out")
  printf '| %-44s | %8s | %8s | %8s | %s |\n' "$name" "$rps" "$p50" "$p99" "$codes"
}

echo "release build, SQLite, ${duration}s per scenario, ${connections} connections, $(nproc) cores"
echo
echo "| scenario | req/s | p50 ms | p99 ms | statuses |"
echo "|---|---|---|---|---|"
scenario "GET /api/products?limit=20" "http://localhost:8002/api/products?limit=20"
scenario "GET /api/products/{id}" "http://localhost:8002/api/products/${ids[0]}"
scenario "POST /graphql _entities x100 (one SQL query)" -m POST -T application/json -d "$entities" http://localhost:8002/graphql
scenario "PUT /api/products/{id}/stock (admin, write)" -m POST -m PUT -T application/json \
  -H "Authorization: Bearer $admin" -d '{"quantity":-1}' "http://localhost:8002/api/products/${ids[1]}/stock"
scenario "GET /api/users/me (token verification)" -H "Authorization: Bearer $admin" http://localhost:8001/api/users/me
# Logins are argon2id-bound; a success clears the throttle, so this measures hashing throughput.
scenario "POST /api/users/login (argon2id)" -m POST -T application/json \
  -d '{"email":"bench@example.com","password":"Bench123!"}' http://localhost:8001/api/users/login
scenario "POST :4000/graphql the one query (router)" -m POST -T application/json \
  -H "Authorization: Bearer $customer" -d "$one_query" http://localhost:4000/graphql
echo
peak_platform=$(mem "$server" VmHWM)
peak_router=$(mem "$router" VmHWM)
echo "memory (RSS) when idle: services $(mib "$idle_platform"), router $(mib "$idle_router"), together $(mib $((idle_platform + idle_router)))"
echo "peak memory (VmHWM): services $(mib "$peak_platform"), router $(mib "$peak_router"), together at most $(mib $((peak_platform + peak_router)))"
