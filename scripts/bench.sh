#!/usr/bin/env bash
# Every figure of BENCHMARKS.md, in one run on this machine: release builds, loopback only, the
# load generator on the same cores as what it measures.
#
#   1. platform: `ecommerce up` on SQLite. REST routes (hey); the one query through the router
#      (wrk), and against its direct-call critical path, timed as whole units of work
#      (bench-drive); checkout through REST and through the router, with the stock invariant
#      checked from what the services store after each run; memory of every process.
#   2. routers: our router, Apollo Gateway and Hive Gateway, one at a time, in front of the same
#      in-memory benchmark subgraphs (bench-subgraphs), with the same supergraph, query
#      (bench/query.graphql) and load (wrk), deduplication off and on. Every router's answer must
#      equal ours before it is timed.
#
# It installs what it needs from the registries: wrk, hey and jq with apt (when run as root), the
# gateways with npm into bench/gateways/node_modules, the composition library into
# schema/compose/node_modules. It never builds a fetched repository. Needs ports 8001-8004, 4000,
# 4100 and 4200 free. Results go to stdout (markdown) and target/bench/results.md.
#
#   scripts/bench.sh                       both parts (about 7 minutes after the build)
#   scripts/bench.sh platform | routers    one part
#   BENCH_BIN=/tmp/old/target/release scripts/bench.sh platform   another build, no compile
#   DURATION=10 CONNECTIONS=64 SUBGRAPH_DELAY_MS=0 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
delay=${SUBGRAPH_DELAY_MS:-0}
parts=${1:-all}
case $parts in all | platform | routers) ;; *) echo "usage: $0 [all|platform|routers]" >&2; exit 2 ;; esac

die() { echo "error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# What the run needs.
missing=()
for tool in wrk hey jq curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    die "install ${missing[*]} (apt-get install ${missing[*]})"
  fi
  echo "==> installing ${missing[*]}" >&2
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || die "Node.js and npm are required (apt-get install nodejs npm)"
done
npm_ci() { # folder: install its lockfile's packages unless already installed from that lockfile
  local stamp=$1/node_modules/.installed-from-lock
  cmp -s "$1/package-lock.json" "$stamp" 2>/dev/null && return
  echo "==> npm ci in $1" >&2
  (cd "$1" && npm ci --silent --no-audit --no-fund)
  cp "$1/package-lock.json" "$stamp"
}
npm_ci schema/compose
npm_ci bench/gateways

# BENCH_BIN: a folder with release builds of ecommerce, bench-drive and bench-subgraphs made
# elsewhere (another commit's worktree), run instead of building this checkout: two builds
# measured in alternating runs of this one script.
if [[ -n ${BENCH_BIN:-} ]]; then
  bin=$(cd "$BENCH_BIN" && pwd)
  for program in ecommerce bench-drive bench-subgraphs; do
    [[ -x $bin/$program ]] || die "BENCH_BIN=$bin has no $program"
  done
  echo "==> the builds in $bin (BENCH_BIN)" >&2
else
  echo "==> cargo build --release (ecommerce, bench)" >&2
  cargo build --release --locked --quiet -p ecommerce -p bench
  bin=$PWD/target/release
fi
scratch=target/bench
rm -rf "$scratch" && mkdir -p "$scratch"
results=$scratch/results.md

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '%s\n' "$*" | tee -a "$results"; }
# kB of /proc/<pid>/status field $2: of process $1, or with `memtree` of $1 and its descendants.
mem() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
tree() { echo "$1"; local child; for child in $(pgrep -P "$1" || true); do tree "$child"; done; }
memtree() {
  local total=0 pid kb
  for pid in $(tree "$1"); do
    kb=$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Starts a command in its own process group; its pid (= group id) in $started.
start() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 &
  started=$!
  pids+=("$started")
}
stop() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
wait_for() { # url [curl args]: until it answers 2xx, at most 60 s
  local url=$1
  shift
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$@" "$url" && return; sleep 0.1; done
  die "$url did not answer"
}

# wrk URL BODY_FILE [TOKEN] -> "req/s p50_ms p99_ms errors", errors counting non-200s, GraphQL
# errors (bench/wrk/graphql.lua), socket errors and timeouts.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
load() {
  local out
  out=$(BODY=$2 TOKEN=${3:-} wrk -t2 -c"$connections" -d"${4:-$duration}s" --timeout 10s --latency \
    -s bench/wrk/graphql.lua "$1")
  local rps p50 p99 errors socket
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errors=$(awk '$1 == "errors" {print $2}' <<<"$out")
  # "  Socket errors: connect 0, read 0, write 0, timeout 0" (the leading blanks make $1 empty)
  socket=$(awk -F'[ ,]+' '/Socket errors/ {print $5 + $7 + $9 + $11}' <<<"$out")
  echo "$rps $p50 $p99 $((errors + ${socket:-0}))"
}

json=(-H 'Content-Type: application/json')
: >"$results"
say "$(date -u +%F), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), rustc $(rustc --version | cut -d' ' -f2), node $(node --version), release build; ${duration} s per scenario, ${connections} connections unless said"

# ---------------------------------------------------------------------------------------------
platform() {
  local data=$scratch/data log=$scratch/up.log
  mkdir -p "$data"
  # Registrations per address are limited (10 an hour); the checkout run registers a customer
  # per connection, all from this address.
  start "$log" env RUST_LOG=warn REGISTER_MAX_PER_ADDRESS=100000 "$bin/ecommerce" up --data-dir "$data"
  local server=$started
  wait_for http://localhost:8001/health/ready
  wait_for http://localhost:8002/health/ready
  wait_for http://localhost:4000/readiness
  local router
  router=$(pgrep -P "$server" -f 'serve router' || true)
  [[ -n $router ]] || die "the router did not start: $(cat "$log")"

  local admin customer
  admin=$(curl -s -X POST http://localhost:8001/api/users/login "${json[@]}" \
    -d '{"email":"admin@example.com","password":"Admin123!"}' | jq -r .accessToken)
  customer=$(curl -s -X POST http://localhost:8001/api/users/login "${json[@]}" \
    -d '{"email":"customer@example.com","password":"Customer123!"}' | jq -r .accessToken)
  product() { # name stock -> id
    curl -sf -X POST http://localhost:8002/api/products -H "Authorization: Bearer $admin" "${json[@]}" \
      -d "{\"name\":\"$1\",\"price\":9.99,\"stock\":$2,\"category\":\"Bench\"}" | jq -r .id
  }
  local ids=() i
  for i in $(seq 1 100); do ids+=("$(product "Bench $i" 1000000000)"); done
  curl -s -X POST http://localhost:8001/api/users/register "${json[@]}" \
    -d '{"email":"bench@example.com","password":"Bench123!","name":"Bench"}' >/dev/null
  sleep 2
  local idle_services idle_router
  idle_services=$(mem "$server" VmRSS)
  idle_router=$(mem "$router" VmRSS)

  say
  say "### The platform: REST routes (hey)"
  say
  say "| scenario | req/s | p50 ms | p99 ms | statuses |"
  say "|---|---|---|---|---|"
  rest() {
    local name=$1 out
    shift
    out=$(hey -z "${duration}s" -c "$connections" "$@")
    say "$(printf '| %s | %s | %s | %s | %s |' "$name" \
      "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")" \
      "$(awk '/ 50%/ {printf "%.2f", $3 * 1000}' <<<"$out")" \
      "$(awk '/ 99%/ {printf "%.2f", $3 * 1000}' <<<"$out")" \
      "$(awk '/Status code distribution/ {on=1; next} on && /\[/ {gsub(/[\[\]]/, ""); printf "%s%s:%s", sep, $1, $2; sep=" "}' <<<"$out")")"
  }
  local reps entities
  reps=$(printf '%s\n' "${ids[@]}" | jq -R '{__typename: "Product", id: .}' | jq -sc .)
  entities=$(jq -nc --argjson r "$reps" '{query: "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name price stock } } }", variables: {r: $r}}')
  rest "GET /api/products?limit=20" "http://localhost:8002/api/products?limit=20"
  rest "GET /api/products/{id}" "http://localhost:8002/api/products/${ids[0]}"
  rest "POST /graphql _entities x100 (one SQL query)" -m POST -T application/json -d "$entities" http://localhost:8002/graphql
  rest "PUT /api/products/{id}/stock (admin, write)" -m PUT -T application/json \
    -H "Authorization: Bearer $admin" -d '{"quantity":-1}' "http://localhost:8002/api/products/${ids[1]}/stock"
  rest "GET /api/users/me (token verification)" -H "Authorization: Bearer $admin" http://localhost:8001/api/users/me
  # A success clears the throttle, so this measures hashing; most of a burst is turned away (429).
  rest "POST /api/users/login (argon2id)" -m POST -T application/json \
    -d '{"email":"bench@example.com","password":"Bench123!"}' http://localhost:8001/api/users/login

  say
  say "### The one query: me, cart and orders with product fields, through the router"
  say
  local body=$scratch/one-query.json
  jq -nc '{query: "{ me { id name email cart { items { quantity product { id name price stock } } subtotal } orders(first: 10) { totalCount nodes { id status total items { quantity product { name } } } } } }"}' >"$body"
  local answer
  answer=$(curl -s -X POST http://localhost:4000/graphql "${json[@]}" -H "Authorization: Bearer $customer" -d @"$body")
  jq -e '.errors == null and (.data.me.cart.items | length) > 0 and .data.me.orders.totalCount > 0' <<<"$answer" >/dev/null \
    || die "the one query does not answer as it should: $answer"
  local rps p50 p99 errors
  read -r rps p50 p99 errors < <(load http://localhost:4000/graphql "$body" "$customer")
  say "wrk, ${connections} connections: **${rps} req/s**, p50 ${p50} ms, p99 ${p99} ms, **${errors} errors** (non-200, GraphQL errors, socket errors)."
  say
  say "The same data fetched by calling the subgraphs directly (the user; then their cart and their"
  say "orders at once; then the products both name): the critical path no router can beat. Both"
  say "timed as whole units of work by the same client (bench-drive: Rust, reqwest, keep-alive):"
  say
  say "| connections | path | units/s | p50 ms | p99 ms | errors | p50 router ÷ direct |"
  say "|---|---|---|---|---|---|---|"
  local c via direct result
  drive() { # mode connections seconds
    USERS=http://localhost:8001 CART=http://localhost:8003 ORDERS=http://localhost:8004 PRODUCTS=http://localhost:8002 \
      ROUTER=http://localhost:4000 TOKEN=$customer "$bin/bench-drive" "$@"
  }
  drive one-query 4 3 >/dev/null # warm-up: connections, caches
  drive critical-path 4 3 >/dev/null
  for c in 1 "$connections"; do
    via=$(drive one-query "$c" "$duration")
    direct=$(drive critical-path "$c" "$duration")
    for result in "$via" "$direct"; do
      jq -e '.completed > 0 and .errors == 0' <<<"$result" >/dev/null || die "bench-drive failed: $result"
    done
    say "$(jq -r --argjson c "$c" '"| \($c) | router, the one query | \(.per_second) | \(.p50_ms) | \(.p99_ms) | \(.errors) | |"' <<<"$via")"
    say "$(jq -r --argjson c "$c" --argjson via "$via" '"| \($c) | direct subgraph calls | \(.per_second) | \(.p50_ms) | \(.p99_ms) | \(.errors) | **\($via.p50_ms / .p50_ms * 100 | round / 100)×** |"' <<<"$direct")"
  done

  say
  say "### Checkout under concurrency (bench/checkout.mjs: ${connections} customers, each: a product into the cart, then the order)"
  say
  # One customer per connection (register + login: two password hashes each), products with
  # little stock so the runs sell out and refusals are exercised, a fresh set for each run.
  local users=() n token id
  for n in $(seq 1 "$connections"); do
    curl -sf -X POST http://localhost:8001/api/users/register "${json[@]}" \
      -d "{\"email\":\"shopper$n@example.com\",\"password\":\"Shopper123!\",\"name\":\"Shopper $n\"}" >/dev/null \
      || die "registering shopper $n failed"
    read -r id token < <(curl -sf -X POST http://localhost:8001/api/users/login "${json[@]}" \
      -d "{\"email\":\"shopper$n@example.com\",\"password\":\"Shopper123!\"}" | jq -r '"\(.user.id) \(.accessToken)"')
    [[ -n $token && $token != null ]] || die "shopper $n cannot log in"
    users+=("{\"id\":\"$id\",\"token\":\"$token\"}")
  done
  say "| path | checkouts/s | p50 ms | p99 ms | placed | refused (sold out) | errors | units sold | oversold | lost |"
  say "|---|---|---|---|---|---|---|---|---|---|"
  local run label products out
  for run in rest router; do
    products=()
    for n in $(seq 1 20); do products+=("{\"id\":\"$(product "Checkout $run $n" 50)\",\"stock\":50}"); done
    jq -n --argjson u "[$(IFS=,; echo "${users[*]}")]" --argjson p "[$(IFS=,; echo "${products[*]}")]" \
      '{users: $u, products: $p}' >"$scratch/checkout-$run.json"
    if [[ $run == rest ]]; then label="POST /api/orders"; else label="placeOrder through the router"; fi
    out=$(BENCH_FILE=$scratch/checkout-$run.json ROUTER=http://localhost:4000 CART=http://localhost:8003 \
      ORDERS=http://localhost:8004 PRODUCTS=http://localhost:8002 \
      node bench/checkout.mjs "$run" "$connections" "$duration")
    say "$(jq -r --arg l "$label" '"| \($l) | \(.per_second) | \(.p50_ms) | \(.p99_ms) | \(.placed) | \(.refused) | \(.errors) | \(.sold) | \(.oversold) | \(.lost) |"' <<<"$out")"
    jq -e '.oversold == 0 and .lost == 0' <<<"$out" >/dev/null || die "stock invariant broken: $out"
    jq -e '.placed > 0 and .errors == 0' <<<"$out" >/dev/null || die "checkout failed: $out"
    [[ $(jq -r '.first_error // empty' <<<"$out") == "" ]] || say "first error: $(jq -r .first_error <<<"$out")"
  done

  local peak_services peak_router
  peak_services=$(mem "$server" VmHWM)
  peak_router=$(mem "$router" VmHWM)
  say
  say "### Memory of the platform (four services in one process + the router)"
  say
  say "| | services | router | together | target |"
  say "|---|---|---|---|---|"
  say "| idle, after start-up and seeding (RSS) | $(mib "$idle_services") MiB | $(mib "$idle_router") MiB | **$(mib $((idle_services + idle_router))) MiB** | < 100 MiB |"
  say "| peak through every scenario above (VmHWM) | $(mib "$peak_services") MiB | $(mib "$peak_router") MiB | **$(mib $((peak_services + peak_router))) MiB** at most | < 256 MiB |"
  stop "$server"
}

# ---------------------------------------------------------------------------------------------
routers() {
  local sdl=$scratch/sdl port=4200 subgraphs
  mkdir -p "$sdl"
  start "$scratch/subgraphs.log" env PORT=$port SUBGRAPH_DELAY_MS="$delay" "$bin/bench-subgraphs"
  subgraphs=$started
  wait_for "http://127.0.0.1:$port/health"
  local name args=()
  for name in accounts inventory products reviews; do
    "$bin/bench-subgraphs" sdl "$name" >"$sdl/$name.graphql"
    args+=("$name=http://127.0.0.1:$port/$name=$sdl/$name.graphql")
  done
  local supergraph=$scratch/supergraph.graphql
  node schema/compose/compose.mjs "${args[@]}" >"$supergraph" || die "the benchmark subgraphs do not compose (above)"
  local body=$scratch/query.json
  jq -Rsc '{query: .}' bench/query.graphql >"$body"

  # Our router as shipped (router/router.config.yaml, plugins included), minus the URL overrides
  # (router/audit/gateway.sh derives that), with deduplication set for the run.
  local off=$scratch/router-dedupe-off.yaml on=$scratch/router-dedupe-on.yaml
  sed 's/^    dedupe_enabled: true$/    dedupe_enabled: false/' router/router.config.yaml >"$off"
  grep -q 'dedupe_enabled: false' "$off" || die "router.config.yaml no longer sets dedupe_enabled"
  awk '{print} /^  router:$/ {print "    dedupe:\n      enabled: true"}' router/router.config.yaml >"$on"
  grep -q '^      enabled: true' "$on" || die "router.config.yaml has no traffic_shaping.router block"

  say
  say "### Router overhead: the same subgraphs, supergraph, query and load (wrk, ${connections} connections)"
  say
  say "Subgraphs: bench-subgraphs (in memory, ${delay} ms added delay), one process, peak RSS below. Query: bench/query.graphql."
  say
  say "| router | deduplication | processes | req/s | p50 ms | p99 ms | errors | peak RSS |"
  say "|---|---|---|---|---|---|---|---|"
  local reference="" url=http://127.0.0.1:4100/graphql
  declare -gA best=()
  gateway() { # key label dedupe processes command...: key names the row for the ratios
    local key=$1 label=$2 dedupe=$3 procs=$4
    shift 4
    start "$scratch/gateway.log" "$@"
    local pid=$started answer
    for _ in $(seq 1 600); do
      answer=$(curl -s -X POST "$url" "${json[@]}" -d @"$body" 2>/dev/null || true)
      [[ -n $answer ]] && jq -e '.data != null' <<<"$answer" >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || die "$label exited: $(tail -20 "$scratch/gateway.log")"
      sleep 0.1
    done
    # Hive Gateway's workers may start after the first answers; give every process its start.
    sleep 2
    answer=$(curl -s -X POST "$url" "${json[@]}" -d @"$body" | jq -S .)
    jq -e '.errors == null' <<<"$answer" >/dev/null || die "$label answers with errors: $(head -c 500 <<<"$answer")"
    if [[ -z $reference ]]; then
      reference=$answer
    elif [[ $answer != "$reference" ]]; then
      diff <(echo "$reference") <(echo "$answer") | head -20 >&2
      die "$label answers differently from our router"
    fi
    load "$url" "$body" "" 3 >/dev/null # warm-up
    local rps p50 p99 errors peak
    read -r rps p50 p99 errors < <(load "$url" "$body")
    peak=$(memtree "$pid" VmHWM)
    stop "$pid"
    say "| $label | $dedupe | $procs | **$rps** | $p50 | $p99 | $errors | $(mib "$peak") MiB |"
    if [[ -z ${best[$key]:-} ]] || ((rps > ${best[$key]%% *})); then best[$key]="$rps $label, $procs"; fi
  }
  local ours=(env ECOMMERCE_BIN="$bin/ecommerce" LOG_LEVEL=warn router/audit/gateway.sh "$supergraph" 4100)
  local apollo=(env SUPERGRAPH="$supergraph" PORT=4100 NODE_ENV=production node bench/gateways/apollo.mjs)
  local hive=(env SUPERGRAPH="$supergraph" PORT=4100 bench/gateways/hive.sh)
  gateway ours-off "ours (Hive Router 0.2.19 + plugins)" off 1 env AUDIT_ROUTER_CONFIG="$PWD/$off" "${ours[@]}"
  gateway ours-on "ours (Hive Router 0.2.19 + plugins)" on 1 env AUDIT_ROUTER_CONFIG="$PWD/$on" "${ours[@]}"
  gateway apollo "Apollo Gateway 2.14.4" "(has none)" 1 env FORK=1 "${apollo[@]}"
  gateway apollo "Apollo Gateway 2.14.4" "(has none)" "2 workers" env FORK=2 "${apollo[@]}"
  gateway hive-off "Hive Gateway 2.15.1" off 1 env FORK=1 HIVE_UPSTREAM_DEDUPE=0 HIVE_INBOUND_DEDUPE=0 "${hive[@]}"
  gateway hive-off "Hive Gateway 2.15.1" off "2 workers" env FORK=2 HIVE_UPSTREAM_DEDUPE=0 HIVE_INBOUND_DEDUPE=0 "${hive[@]}"
  gateway hive-on "Hive Gateway 2.15.1" on 1 env FORK=1 HIVE_UPSTREAM_DEDUPE=1 HIVE_INBOUND_DEDUPE=1 "${hive[@]}"
  gateway hive-on "Hive Gateway 2.15.1 --jit" on "2 workers" env FORK=2 HIVE_UPSTREAM_DEDUPE=1 HIVE_INBOUND_DEDUPE=1 JIT=1 "${hive[@]}"
  say
  say "Subgraphs' peak RSS: $(mib "$(memtree "$subgraphs" VmHWM)") MiB."
  say
  ratio() { awk -v a="${best[$1]%% *}" -v b="${best[$2]%% *}" 'BEGIN {printf "%.1f", a / b}'; }
  setting() { cut -d' ' -f2- <<<"${best[$1]}"; }
  say "Requests/s ratios, each against the other router's best row of the same deduplication:"
  say "- deduplication off: ours ÷ Apollo Gateway ($(setting apollo)) = **$(ratio ours-off apollo)×** (target ≥ 10×); ours ÷ Hive Gateway ($(setting hive-off)) = **$(ratio ours-off hive-off)×** (target ≥ 3×)"
  say "- deduplication on: ours ÷ Apollo Gateway = **$(ratio ours-on apollo)×**; ours ÷ Hive Gateway ($(setting hive-on)) = **$(ratio ours-on hive-on)×**"
  stop "$subgraphs"
}

[[ $parts == all || $parts == platform ]] && platform
[[ $parts == all || $parts == routers ]] && routers
echo >&2
echo "results: $results" >&2
