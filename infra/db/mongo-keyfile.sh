#!/usr/bin/env bash
# compose only: writes MONGO_KEYFILE where mongod can use it, then runs the image's entrypoint.
# mongod refuses a keyFile that anyone but its owner can read, and a bind-mounted file keeps the
# host's owner and mode. (Kubernetes does the same with an init container: k8s/databases/mongo.yaml.)
set -euo pipefail
keyfile=/data/configdb/keyfile
umask 077
printf '%s\n' "${MONGO_KEYFILE:?set MONGO_KEYFILE in .env (see .env.example)}" >"$keyfile"
chown mongodb:mongodb "$keyfile"
chmod 0400 "$keyfile"
unset MONGO_KEYFILE
exec docker-entrypoint.sh "$@"
