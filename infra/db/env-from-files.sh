#!/usr/bin/env bash
# compose only: for every variable X_FILE, exports X with the text of the file it names (without
# trailing newlines and carriage returns), unsets X_FILE, then runs its arguments. It stands in
# front of an image's entrypoint so that scripts reading plain variables (infra/db/init.sql's
# \getenv, mongo-init.js, mongo-keyfile.sh) get the secrets compose mounts as files; Kubernetes
# sets those variables from its Secrets and does not use this. X and X_FILE both set is an error,
# as in the postgres and mongo images' own X_FILE support (which then sees only X).
#
#   bash env-from-files.sh docker-entrypoint.sh postgres
set -euo pipefail

for file_var in $(compgen -e); do
  [[ $file_var =~ ^[A-Za-z_][A-Za-z0-9_]*_FILE$ ]] || continue
  var=${file_var%_FILE}
  path=${!file_var}
  [[ -n $path ]] || continue
  if [[ -n ${!var:-} ]]; then
    echo "env-from-files: set $var or $file_var, not both" >&2
    exit 1
  fi
  if [[ ! -f $path || ! -r $path ]]; then
    echo "env-from-files: $file_var=$path is not a readable file" >&2
    exit 1
  fi
  value=$(<"$path")
  while [[ $value == *[$'\r\n'] ]]; do value=${value%[$'\r\n']}; done
  # An empty password would make init.sql create a role nobody can log in as.
  if [[ -z ${value//[[:space:]]/} ]]; then
    echo "env-from-files: $file_var=$path is empty" >&2
    exit 1
  fi
  export "$var=$value"
  unset "$file_var"
done

exec "$@"
