#!/usr/bin/env bash
# Hive Gateway (@graphql-hive/gateway CLI) for the gateway comparison benchmark: serves POST
# /graphql for the supergraph in the file named by SUPERGRAPH, on PORT (HOST, default 127.0.0.1).
# Ready when GET /readiness answers 200.
#   FORK=n               cluster workers (the CLI's default is 1: no fork, one process serves;
#                        it refuses more than min(cores, free GiB), so at most 2 on 2 cores)
#   JIT=1                compile operations with graphql-jit (graphql-gateways-benchmark uses --jit)
#   HIVE_UPSTREAM_DEDUPE / HIVE_INBOUND_DEDUPE   see hive.config.mjs
# The process execs into the gateway, so its PID is the gateway's (the primary, with FORK > 1).
#
#   SUPERGRAPH=path/to/supergraph.graphql PORT=5102 bench/gateways/hive.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${SUPERGRAPH:?SUPERGRAPH=<supergraph file>}" "${PORT:?PORT=<port>}"
args=(supergraph "$(realpath "$SUPERGRAPH")" --config-path "$here/hive.config.mjs"
      --host "${HOST:-127.0.0.1}" --port "$PORT" --fork "${FORK:-1}" --disable-websockets)
[[ "${JIT:-0}" == 1 ]] && args+=(--jit)
# The CLI also reads FORK and JIT from the environment (JIT=0 would count as set).
unset FORK JIT
export NODE_ENV=production
exec "$here/node_modules/.bin/hive-gateway" "${args[@]}"
