#!/usr/bin/env bash
# compose only: the one-shot `secrets` service runs this before anything else starts. It makes sure
# SECRETS_DIR (the named volume `secrets`) holds one file per secret key of .env.example, named in
# lower case (SERVICE_SECRET -> service_secret), and one per <NAME>_DATABASE_URL template in its
# environment (users_database_url, ...). The services read them through <NAME>_FILE variables.
#
#   - A key set (non-empty) in the environment, i.e. in .env, is written as given, replacing the
#     file when it differs: .env overrides. JWT_PRIVATE_KEY may be one line with \n for newlines.
#     A value containing change-me (.env.example's placeholders) is refused.
#   - A key not set keeps its file; a missing file gets a generated value (the generators of
#     infra/scripts/lib.sh, which compose-env.sh and deploy.sh use too). So the secrets survive
#     restarts and the databases keep the passwords of their first start.
#   - A template such as postgres://users:${USERS_DB_PASSWORD}@postgres:5432/users gets the
#     current value of each ${KEY} (percent-encoded); the file is rewritten when that changes.
#   - It prints which files it generated or replaced, never a value (on stderr, so that
#     `docker compose run --rm secrets cat /run/secrets/ecommerce/admin_password` prints only
#     the password: arguments are run, with exec, after the secrets are in place).
#
# Files are mode 0444 in a 0755 directory: every consumer runs as a different uid (postgres and
# mongo as 999, the platform image as 65532) and this runs as root without capabilities (no
# chown), so only world-readable files can be read by all of them. The volume is mounted only by
# the services that need a secret, and read-only by them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

dir=${SECRETS_DIR:?SECRETS_DIR names the directory the secrets go in}
[[ -d $dir ]] || die "$dir is not a directory (compose mounts the volume secrets there)"
chmod 0755 "$dir"
umask 022

say() { echo "compose-secrets: $*" >&2; }

# The value without its trailing newlines and carriage returns (as the services read a file).
trimmed() {
  local value=$1
  while [[ $value == *[$'\r\n'] ]]; do value=${value%[$'\r\n']}; done
  printf '%s' "$value"
}

# Writes file NAME with VALUE and a newline, mode 0444, in one rename. The temporary file is
# removed first: without CAP_DAC_OVERRIDE even root cannot write over a 0444 file left behind.
put() {
  local file=$dir/$1 tmp=$dir/.$1.tmp
  rm -f "$tmp"
  printf '%s\n' "$2" >"$tmp"
  chmod 0444 "$tmp"
  mv -f "$tmp" "$file"
}

current() { [[ -e $dir/$1 ]] && trimmed "$(<"$dir/$1")"; }

# Percent-encodes everything but the characters that mean nothing in a URL's user information.
url_encoded() {
  local LC_ALL=C value=$1 out='' char i
  for ((i = 0; i < ${#value}; i++)); do
    char=${value:i:1}
    case $char in
      [A-Za-z0-9._~-]) out+=$char ;;
      *) printf -v char '%%%02X' "'$char"; out+=$char ;;
    esac
  done
  printf '%s' "$out"
}

example=$repo/.env.example
[[ -r $example ]] || die "$example is missing (compose mounts it beside infra/)"
keys=()
while IFS= read -r key; do
  # ADMIN_EMAIL is no secret: compose passes it to users as it is.
  [[ $key == ADMIN_EMAIL ]] || keys+=("$key")
done < <(sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' "$example")
[[ ${#keys[@]} -gt 0 ]] || die "$example lists no keys"

# What a database or the users service takes only on its first start: PostgreSQL's superuser and
# the roles infra/db/init.sql creates, MongoDB's root user, the first admin account. Replacing
# one of these files later would only make the file disagree with what is stored (and lose the
# one copy of the value in use), so a different value for one of them is refused.
# (CART_DB_PASSWORD and ORDERS_DB_PASSWORD may change: mongo-init.js updates them on every start.)
fixed_after_first_start=" POSTGRES_PASSWORD USERS_DB_PASSWORD PRODUCTS_DB_PASSWORD MONGO_ROOT_PASSWORD ADMIN_PASSWORD "

# Given values are checked before anything is written: .env.example's placeholders, copied
# unchanged, must not become real passwords, and a first-start value cannot change.
for key in "${keys[@]}"; do
  given=${!key:-}
  [[ -n $given ]] || continue
  [[ ${given,,} != *change-me* && ${given,,} != *changeme* ]] \
    || die "$key in .env is .env.example's placeholder: set a real value, or delete the line to have one generated"
  if [[ $fixed_after_first_start == *" $key "* && -e $dir/${key,,} ]] && [[ $(current "${key,,}") != "$(trimmed "$given")" ]]; then
    die "$key from the environment (.env or the shell) differs from the value the platform was first started with, which is what the database or account still uses. Unset it (the file ${key,,} in the volume keeps the value in use), or start over with docker compose down -v, which deletes the data"
  fi
done

for key in "${keys[@]}"; do
  name=${key,,}
  given=${!key:-}
  if [[ -n $given ]]; then
    [[ $key != JWT_PRIVATE_KEY ]] || given=${given//\\n/$'\n'}
    given=$(trimmed "$given")
    if [[ ! -e $dir/$name ]]; then
      put "$name" "$given"
      say "$name: from the environment (.env)"
    elif [[ $(current "$name") != "$given" ]]; then
      put "$name" "$given"
      say "$name: replaced with the value from the environment (.env)"
    fi
  elif [[ ! -e $dir/$name ]]; then
    value=$(generate "$key")
    put "$name" "$value"
    say "$name: generated"
  fi
done

for var in $(compgen -e); do
  [[ $var =~ ^[A-Z][A-Z0-9_]*_DATABASE_URL$ ]] || continue
  template=${!var}
  url=$template
  for key in "${keys[@]}"; do
    url=${url//"\${$key}"/"$(url_encoded "$(current "${key,,}")")"}
  done
  [[ $url != *"\${"* ]] || die "$var=$template names a key that .env.example does not list"
  name=${var,,}
  if [[ $(current "$name" || true) != "$url" ]]; then
    put "$name" "$url"
    say "$name: written"
  fi
done

[[ $# -eq 0 ]] || exec "$@"
