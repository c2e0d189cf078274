#!/bin/sh
# Starts our router (`ecommerce serve router`) for the federation compliance audit, on the
# supergraph the audit composed for one test suite. README.md here says how the audit runs it.
#
#   router/audit/gateway.sh <supergraph.graphql> <port>
#
# It listens on 127.0.0.1:<port> (GraphQL at /graphql, health at /health) until SIGTERM, which
# reaches the router itself (exec). Its configuration is derived at every start from
# ../router.config.yaml, the one we ship: the same file without its top-level
# `override_subgraph_urls` block (the audit's own subgraphs serve the audit's supergraph, so the
# URLs composed into it must be used), written to a private folder outside the repository,
# ${TMPDIR:-/tmp}/ecommerce-audit-<uid>-<port>/router.config.yaml. The engine's own environment
# overrides supply the rest: SUPERGRAPH_FILE_PATH replaces `supergraph.path`, HOST and PORT
# replace `http.host` and `http.port`. Environment:
#   ECOMMERCE_BIN        the binary (default: target/debug/ecommerce in this repository, what
#                        `cargo run`, `cargo build` and scripts/test.sh build; when only
#                        target/release/ecommerce exists, as after scripts/bench.sh, that one,
#                        with a note on stderr)
#   AUDIT_ROUTER_CONFIG  another configuration to derive from, to score a variation (default:
#                        ../router.config.yaml); relative paths in it other than the supergraph's
#                        would resolve against the private folder, so use absolute ones
#   LOG_LEVEL, LOG_FORMAT, SUBGRAPH_TIMEOUT, GRAPHQL_MAX_*  as for the router itself
set -eu

usage() {
  echo "usage: $0 <supergraph.graphql> <port>" >&2
  exit 2
}

[ "$#" -eq 2 ] || usage
supergraph=$1
port=$2

case $port in
  '' | *[!0-9]*) echo "$0: the port must be a number, not '$port'" >&2; exit 2 ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
  echo "$0: the port must be between 1 and 65535" >&2
  exit 2
fi
if [ ! -f "$supergraph" ]; then
  echo "$0: no supergraph at '$supergraph'" >&2
  exit 1
fi

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
repo=$(CDPATH='' cd -- "$here/../.." && pwd)
# The engine resolves a relative supergraph path, SUPERGRAPH_FILE_PATH's too, against the
# configuration's folder (the private one below), so pass an absolute one.
supergraph_dir=$(CDPATH='' cd -- "$(dirname -- "$supergraph")" && pwd)
supergraph="$supergraph_dir/$(basename -- "$supergraph")"

source_config=${AUDIT_ROUTER_CONFIG:-$repo/router/router.config.yaml}
if [ -n "${ECOMMERCE_BIN:-}" ]; then
  bin=$ECOMMERCE_BIN
  if [ ! -x "$bin" ]; then
    echo "$0: ECOMMERCE_BIN names '$bin', which is not an executable file" >&2
    exit 1
  fi
elif [ -x "$repo/target/debug/ecommerce" ]; then
  bin=$repo/target/debug/ecommerce
elif [ -x "$repo/target/release/ecommerce" ]; then
  bin=$repo/target/release/ecommerce
  echo "$0: no target/debug/ecommerce (what 'cargo run' and 'cargo build' build); using the release build at '$bin'" >&2
else
  echo "$0: no router binary: build it with 'cargo build' (or 'cargo run', or scripts/test.sh), which" \
    "writes target/debug/ecommerce; or set ECOMMERCE_BIN to one" >&2
  exit 1
fi
if [ ! -f "$source_config" ]; then
  echo "$0: no configuration at '$source_config'" >&2
  exit 1
fi

# One private folder per user and port, reused by later runs: `exec` leaves nothing behind to
# remove a fresh one on exit. An existing one is used only if it is our own folder, not a link.
umask 077
state=${TMPDIR:-/tmp}/ecommerce-audit-$(id -u)-$port
if ! mkdir -m 700 -- "$state" 2>/dev/null; then
  if [ -h "$state" ] || [ ! -d "$state" ] || [ ! -O "$state" ]; then
    echo "$0: '$state' exists and is not a folder of this user's" >&2
    exit 1
  fi
  chmod 700 -- "$state"
fi
config=$state/router.config.yaml

# Everything but the top-level `override_subgraph_urls:` key and what belongs to it: the lines
# from that key up to the next top-level key (a line that starts with neither a blank nor `#`).
# Blank lines and unindented comments just before that next key are its own and stay.
awk '
  /^[^[:space:]#]/ {
    skip = ($0 ~ /^["\047]?override_subgraph_urls["\047]?[[:space:]]*:/)
    printf "%s", held
    held = ""
  }
  skip && /^(#|[[:space:]]*$)/ { held = held $0 "\n"; next }
  skip { held = ""; next }
  { print }
  END { printf "%s", held }
' "$source_config" >"$config"
if grep -q '^[^#]*override_subgraph_urls' "$config"; then
  echo "$0: '$source_config' names override_subgraph_urls other than as a top-level block key;" \
    "the audit's subgraphs would not be used" >&2
  exit 1
fi

ROUTER_CONFIG_FILE_PATH=$config
SUPERGRAPH_FILE_PATH=$supergraph
PORT=$port
HOST=127.0.0.1
export ROUTER_CONFIG_FILE_PATH SUPERGRAPH_FILE_PATH PORT HOST
exec "$bin" serve router
