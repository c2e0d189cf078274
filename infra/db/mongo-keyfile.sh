#!/usr/bin/env bash
# compose only: writes MONGO_KEYFILE where mongod can use it, then runs the image's entrypoint.
# mongod refuses a keyFile that anyone but its owner can read, and the secrets volume's files are
# world-readable and root's (compose runs this after env-from-files.sh, which reads MONGO_KEYFILE
# from MONGO_KEYFILE_FILE). Kubernetes does the same with an init container: k8s/databases/mongo.yaml.
set -euo pipefail
keyfile=/data/configdb/keyfile
umask 077
printf '%s\n' "${MONGO_KEYFILE:?set MONGO_KEYFILE or MONGO_KEYFILE_FILE}" >"$keyfile"
chown mongodb:mongodb "$keyfile"
chmod 0400 "$keyfile"
unset MONGO_KEYFILE
exec docker-entrypoint.sh "$@"
