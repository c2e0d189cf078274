#!/usr/bin/env bash
# The image run in CI. Builds the runtime stage of the real infra/Dockerfile with podman, starts
# every service compose.yaml starts from it (the one-shot `secrets` first, then users, products,
# cart, orders and the router) with compose's own command, environment, ports, read_only, cap_drop,
# security_opt, init, restart, volumes and health check, waits for compose's health check of each
# to pass, checks the image and the running containers (uid 65532, no capabilities, read-only
# root, no shell, no secret in the image or the logs), and runs the README walkthrough against the
# containers, the one query through the router included. scripts/test.sh runs it; alone:
#
#   scripts/container-test.sh     (needs target/debug/ecommerce: cargo build; runs as root)
#
# It fails, never skips, when podman cannot run. Podman is configured only through files of its
# own (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) with its storage in a temporary directory, removed
# at exit with every container (podman 4.3 still updates its blob-digest cache in
# /var/lib/containers/cache, whatever the configuration). Nothing is pulled (--pull=never) and no network is made: the
# containers share the host's (--network host), so the ports are compose's published ones.
#
# What stands in for what, since CI reaches no image registry and cannot afford a release build:
#   - RUNTIME_IMAGE (gcr.io/distroless/cc-debian12:nonroot): the same Debian 12 packages as
#     distroless cc (libc6, libgcc-s1, libstdc++6, libssl3, tzdata, netbase, the CA bundle) taken
#     from a debootstrapped bookworm minbase, with distroless's users (nonroot is 65532), USER 65532
#     and /home/nonroot; no shell, no coreutils, no package manager (scripts/container-test.py).
#   - RUST_IMAGE (cargo-chef's image: rust:1.95.0-slim-bookworm with cargo-chef): bookworm minbase
#     whose `cargo` is a shim (below) for exactly what the Dockerfile runs: `chef prepare` writes a
#     recipe, `chef cook` compiles nothing, `build --release --bin ecommerce` puts the test profile's
#     target/debug/ecommerce, copied into the stand-in image, at target/release/ecommerce. Every
#     other instruction of infra/Dockerfile runs for real, on the real build context (.dockerignore);
#     the shim checks that the context has what cargo reads and no .env, target/, data/ or .git.
#     So this tests the image's assembly and the binary the tests built, not a release compile.
#   - postgres:17.5 as the `secrets` service's image (it uses only bash and coreutils): bookworm
#     minbase. The service's real script, infra/db/compose-secrets.sh, generates the secrets.
#   - PostgreSQL (compose: postgres 17.5): the throwaway cluster scripts/test.sh runs (pg_virtualenv,
#     the installed server, 15 on Debian 12), initialised by infra/db/init.sql through compose's
#     entrypoint wrapper (infra/db/env-from-files.sh) and psql, as the postgres image's first start
#     does, with the secrets service's passwords. Its roles and databases are dropped at exit.
#   - MongoDB (compose: mongo 8.0, replica set rs0 with a keyFile, one user per service made by
#     mongo-init.js): the MongoDB-protocol test server scripts/test.sh runs (SecantusDB), without
#     access control or replica set; cart and orders get databases of their own on it (cart_ct...,
#     orders_ct...). mongo and mongo-init are not run, so neither is tested here.
#   - Compose's service names become 127.0.0.1 in every URL; the database URLs the secrets service
#     writes point at the test's servers (scripts/container-test.py prints each change).
#
# The debootstrapped bases are cached per user, outside the checkout, so a fresh clone reuses
# them: in ${CONTAINER_TEST_CACHE:-${XDG_CACHE_HOME:-~/.cache}/ecommerce/container-test}/<recipe
# hash>/ (a change of the recipe builds new ones; delete the directory to refresh them).
# Missing podman, runc, debootstrap and friends are installed from Debian when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }
step() { echo "==> [${SECONDS}s] $*"; }

binary=target/debug/ecommerce
[[ -x $binary ]] || die "$binary is missing: build it first (cargo build --bin ecommerce; scripts/test.sh does)"
[[ $(id -u) -eq 0 ]] || die "the container test runs rootful podman: run it as root"

# The databases: scripts/test.sh's, or this run's own (a pg_virtualenv cluster; the MongoDB test
# server from the venv scripts/test.sh installs).
if [[ -z ${PGHOST:-} && -z ${PGPORT:-} ]]; then
  command -v pg_virtualenv >/dev/null || die "pg_virtualenv not found (apt-get install postgresql)"
  exec pg_virtualenv -t -o fsync=off "$0" "$@"
fi
[[ ${PGHOST:-localhost} =~ ^(localhost|127\.0\.0\.1)$ ]] \
  || die "PGHOST=$PGHOST: the containers reach PostgreSQL over TCP on 127.0.0.1 (run under pg_virtualenv)"
pg_port=${PGPORT:-5432}

work=""
mongo_pid=""
created_databases=()
created_roles=()
started=0
failed_logs() {
  local name
  for name in $(podman ps -a --format '{{.Names}}' 2>/dev/null); do
    echo "--- logs of $name ($(podman inspect -f '{{.State.Status}}, exit {{.State.ExitCode}}, restarts {{.RestartCount}}' "$name" 2>/dev/null))"
    podman logs --tail 200 "$name" 2>&1 || true
  done
}
cleanup() {
  local status=$? name
  set +e
  if [[ $status -ne 0 && $started -eq 1 ]]; then failed_logs >&2; fi
  if [[ -n $work && -f $work/containers.conf ]]; then
    podman rm -a -f -t 0 >/dev/null 2>&1
    podman image unmount -a >/dev/null 2>&1
  fi
  # Whatever podman (or an interrupted debootstrap) left mounted under the work directory.
  for _ in 1 2 3; do
    [[ -n $work ]] || break
    awk -v work="$work" 'index($2, work "/") == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r umount -l
    rm -rf "$work" 2>/dev/null && break
    sleep 1
  done
  [[ -z $work || ! -e $work ]] || echo "warning: could not remove $work" >&2
  for name in "${created_databases[@]}"; do
    psql -q -v ON_ERROR_STOP=1 --no-psqlrc -d postgres -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  done
  for name in "${created_roles[@]}"; do
    psql -q -v ON_ERROR_STOP=1 --no-psqlrc -d postgres -c "DROP ROLE IF EXISTS \"$name\"" >/dev/null
  done
  if [[ -n $mongo_pid ]]; then kill "$mongo_pid" 2>/dev/null; wait "$mongo_pid" 2>/dev/null; rm -rf "$mongo_home"; fi
  exit "$status"
}
trap cleanup EXIT

if [[ -z ${TEST_MONGODB_URL:-} ]]; then
  [[ -x .venv-mongo/bin/secantusd-py ]] || die "TEST_MONGODB_URL is not set and .venv-mongo is missing: run scripts/test.sh once (it installs the MongoDB test server)"
  # As scripts/test.sh runs it: in an empty folder of its own, which is also its HOME.
  mongo_home=$(mktemp -d)
  mongo_log=$mongo_home/server.log
  (cd "$mongo_home" && HOME="$mongo_home" exec "$OLDPWD/.venv-mongo/bin/secantusd-py" \
    --host 127.0.0.1 --port 0 --storage-path :memory:) >"$mongo_log" 2>&1 &
  mongo_pid=$!
  for _ in $(seq 1 150); do
    grep -qE 'listening on 127\.0\.0\.1:[0-9]+' "$mongo_log" && break
    kill -0 "$mongo_pid" 2>/dev/null || { cat "$mongo_log" >&2; die "the MongoDB test server did not start"; }
    sleep 0.2
  done
  TEST_MONGODB_URL="mongodb://127.0.0.1:$(grep -oE 'listening on 127\.0\.0\.1:[0-9]+' "$mongo_log" | grep -oE '[0-9]+$')/?directConnection=true"
fi
[[ $TEST_MONGODB_URL =~ ^mongodb://(127\.0\.0\.1|localhost):([0-9]+)/ ]] \
  || die "TEST_MONGODB_URL=$TEST_MONGODB_URL: the containers reach MongoDB on 127.0.0.1:<port>"
mongo_port=${BASH_REMATCH[2]}

# Podman and what it runs with, from Debian.
packages=(podman buildah runc debootstrap uidmap fuse-overlayfs slirp4netns containernetworking-plugins catatonit)
missing=()
for package in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null) == installed ]] || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  command -v apt-get >/dev/null || die "missing ${missing[*]}, and no apt-get to install them"
  step "installing ${missing[*]} (apt-get)"
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; } \
    || die "could not install ${missing[*]}"
fi
for tool in podman runc debootstrap curl jq psql; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# compose.yaml as compose reads it: the real parser of .venv-tools (scripts/lint-deploy.sh's venv).
venv=.venv-tools
if ! cmp -s infra/checks/requirements.txt "$venv/.requirements" 2>/dev/null; then
  step "installing deployment check tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/checks/requirements.txt
  cp infra/checks/requirements.txt "$venv/.requirements"
fi

work=$(mktemp -d /tmp/container-test.XXXXXX)

mkdir -p "$work/storage" "$work/run" "$work/tmp" "$work/networks"
cat >"$work/containers.conf" <<EOF
[containers]
# runc cannot raise the limits over the host's defaults here: give every container these.
default_ulimits = ["nofile=16384:16384", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$work/tmp"

[network]
network_config_dir = "$work/networks"
EOF
cat >"$work/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
podman info >"$work/podman-info.txt" 2>&1 || { cat "$work/podman-info.txt" >&2; die "podman cannot run here"; }

# What compose would run, with this run's stand-ins.
: >"$work/empty.env"
env -i PATH="$PATH" HOME="$HOME" "$venv/bin/docker-compose" -f compose.yaml --env-file "$work/empty.env" \
  config --format json >"$work/compose.json"
platform_image=$(jq -r '[.services[] | select(.build) | .image] | unique | if length == 1 then .[0] else error("not one platform image") end' "$work/compose.json")
suffix=_ct$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
python3 scripts/container-test.py plan "$work/compose.json" "$work/plan.json" \
  --platform-image "localhost/$platform_image" \
  --database postgres=postgres --database mongo=mongo --not-run mongo-init \
  --stand-in-image "postgres:17.5=localhost/container-test/bookworm-minbase:latest" \
  --volumes-dir "$work/volumes" --pg-port "$pg_port" --mongo-port "$mongo_port" --mongo-suffix "$suffix"
echo "    not run: $(jq -r '.not_run | join(", ")' "$work/plan.json") (the test's databases stand in)"
jq -r '.rewrites[] | "    " + .' "$work/plan.json"

for port in $(jq -r '.ports[]' "$work/plan.json"); do
  listening=$(ss -Hltn "( sport = :$port )") || die "ss (iproute2) is needed to see whether port $port is free"
  if [[ -n $listening ]]; then
    ss -Hltnp "( sport = :$port )" >&2
    die "port $port is in use; compose publishes it and the containers listen on it (--network host)"
  fi
done

# The stand-in base images, from a debootstrapped Debian 12, cached by recipe.
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debootstrap_args=(--variant=minbase "--include=ca-certificates,netbase" bookworm)
key=$({ echo "${debootstrap_args[*]}"; python3 scripts/container-test.py recipe; } | sha256sum | cut -c1-16)
cache_root=${CONTAINER_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecommerce/container-test}
cache=$cache_root/$key
if [[ ! -f $cache/runtime.tar || ! -f $cache/builder.tar ]]; then
  step "debootstrap ${debootstrap_args[*]} (once; cached in $cache)"
  debootstrap "${debootstrap_args[@]}" "$work/bootstrap" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # Older recipes' bases (and a half-written one) go; nothing else in the folder is touched.
  mkdir -p "$cache_root"
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
    -regex '.*/[0-9a-f]{16}(\.partial)?' -exec rm -rf {} +
  mkdir -p "$cache.partial"
  tar -C "$work/bootstrap" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
    -cf "$cache.partial/builder.tar" .
  python3 scripts/container-test.py rootfs "$work/bootstrap" "$cache.partial/runtime.tar"
  rm -rf "$work/bootstrap"
  mv "$cache.partial" "$cache"
fi
step "importing the stand-in base images"
podman import --quiet "$cache/builder.tar" localhost/container-test/bookworm-minbase:latest >/dev/null
podman import --quiet \
  --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  "$cache/runtime.tar" localhost/container-test/distroless-cc-nonroot:latest >/dev/null

# The stand-in Rust image: the binary the tests built, and a cargo that compiles nothing.
mkdir "$work/rust"
ln "$binary" "$work/rust/ecommerce" 2>/dev/null || cp "$binary" "$work/rust/ecommerce"
cat >"$work/rust/cargo" <<'EOF'
#!/bin/sh
# Stand-in cargo (scripts/container-test.sh): what infra/Dockerfile runs, compiling nothing.
set -eu
say() { echo "stand-in cargo: $*" >&2; }
die() { say "$*"; exit 97; }
has() { case " $args " in *" $1 "*) return 0 ;; esac; return 1; }
# What COPY . . must bring (cargo reads it) and what .dockerignore must keep out.
context() {
  for path in Cargo.toml Cargo.lock rust-toolchain.toml src/main.rs; do
    [ -e "$path" ] || die "$path is not in the build context, and cargo needs it (.dockerignore)"
  done
  members=$(tr '\n' ' ' <Cargo.toml | sed -n 's/.*members *= *\[\([^]]*\)\].*/\1/p' | tr -d '" ' | tr ',' ' ')
  [ -n "$members" ] || die "Cargo.toml lists no workspace members"
  for member in $members; do
    [ -f "$member/Cargo.toml" ] && [ -d "$member/src" ] || die "workspace member $member is not in the build context"
  done
  for path in .env target data .git infra/.secrets .venv-tools .cache node_modules; do
    [ ! -e "$path" ] || die "$path is in the build context (.dockerignore)"
  done
}
args="$*"
recipe=""
previous=""
for arg in "$@"; do
  [ "$previous" != --recipe-path ] || recipe=$arg
  previous=$arg
done
case "${1:-} ${2:-}" in
  "chef prepare")
    [ -n "$recipe" ] || die "chef prepare without --recipe-path"
    context
    echo '{"stand_in": "scripts/container-test.sh compiles nothing"}' >"$recipe"
    say "chef prepare: wrote $recipe; the context has what cargo reads and nothing it must not" ;;
  "chef cook")
    [ -f "$recipe" ] || die "chef cook: no recipe at '$recipe' (COPY --from=planner)"
    has --release || die "chef cook without --release: $args"
    say "chef cook: no dependency compiled (stand-in)" ;;
  build\ *)
    has --release || die "build without --release: $args"
    has "--bin ecommerce" || die "only 'build --release --bin ecommerce' is stood in for, not: cargo $args"
    context
    mkdir -p target/release
    cp /opt/container-test/ecommerce target/release/ecommerce
    say "build: target/release/ecommerce is the test profile's binary (stand-in: no release compile)" ;;
  *) die "infra/Dockerfile runs 'cargo $args', which this stand-in does not know (scripts/container-test.sh)" ;;
esac
EOF
chmod 0755 "$work/rust/cargo"
cat >"$work/rust/Containerfile" <<'EOF'
FROM localhost/container-test/bookworm-minbase:latest
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY cargo /usr/local/cargo/bin/cargo
COPY ecommerce /opt/container-test/ecommerce
EOF
step "building the stand-in Rust image (the tests' binary, a cargo shim)"
podman build --quiet --pull=never --network host -t localhost/container-test/rust:latest "$work/rust" >"$work/rust-build.log" 2>&1 \
  || { cat "$work/rust-build.log" >&2; die "the stand-in Rust image did not build"; }

# infra/Dockerfile's runtime stage, with compose's build settings and a stand-in for each base.
build_args=()
while read -r role arg; do
  case $role in
    runtime) build_args+=(--build-arg "$arg=localhost/container-test/distroless-cc-nonroot:latest") ;;
    builder) build_args+=(--build-arg "$arg=localhost/container-test/rust:latest") ;;
  esac
done < <(python3 scripts/container-test.py dockerfile-bases "$(jq -r .build.dockerfile "$work/plan.json")" "$(jq -r .build.target "$work/plan.json")")
while IFS= read -r arg; do build_args+=(--build-arg "$arg"); done \
  < <(jq -r '.build.args // {} | to_entries[] | "\(.key)=\(.value // "")"' "$work/plan.json")
step "podman build -f $(jq -r .build.dockerfile "$work/plan.json") --target $(jq -r .build.target "$work/plan.json") ${build_args[*]}"
podman build --pull=never --network host --layers=false \
  -f "$(jq -r .build.dockerfile "$work/plan.json")" --target "$(jq -r .build.target "$work/plan.json")" \
  "${build_args[@]}" -t "localhost/$platform_image" "$(jq -r .build.context "$work/plan.json")" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; die "infra/Dockerfile did not build"; }
grep '^stand-in cargo:' "$work/build.log" | sed 's/^/    /'

# --- the image ---------------------------------------------------------------------------------
failures=0
check() {  # check DESCRIPTION COMMAND...: runs the command, says ok or FAILED
  local description=$1
  shift
  if "$@" >"$work/check.out" 2>&1; then
    echo "ok: $description"
  else
    echo "FAILED: $description"
    sed 's/^/    /' "$work/check.out"
    failures=$((failures + 1))
  fi
}
image=localhost/$platform_image
podman image inspect "$image" >"$work/image.json"
podman history --no-trunc --format '{{.CreatedBy}}' "$image" >"$work/history.txt"
mnt=$(podman image mount "$image")
secret_keys=$(sed -n 's/^\([A-Z][A-Z0-9_]*\)=.*/\1/p' .env.example | paste -sd '|')
step "the image"
check "runs as 65532:65532" test "$(jq -r '.[0].Config.User' "$work/image.json")" = 65532:65532
check "its entrypoint is the binary" test "$(jq -c '.[0].Config.Entrypoint' "$work/image.json")" = '["/usr/local/bin/ecommerce"]'
check "the binary is the one the tests built" cmp "$mnt/usr/local/bin/ecommerce" "$binary"
router_files() {
  cmp "$mnt/etc/ecommerce/router/router.config.yaml" router/router.config.yaml \
    && cmp "$mnt/etc/ecommerce/schema/supergraph.graphql" schema/supergraph.graphql
}
no_shell() {
  ! find "$mnt" \( -name sh -o -name bash -o -name dash -o -name busybox -o -name apt -o -name dpkg \) -print | grep .
}
no_secret_config() {
  ! { jq -r '.[0].Config.Env[]' "$work/image.json"; cat "$work/history.txt"; } \
    | grep -E "(^|[^A-Z_])($secret_keys|DATABASE_URL)="
}
no_secret_files() {
  ! find "$mnt" -path "$mnt/usr/local/bin/ecommerce" -prune -o -type f \
      \( -name '.env*' -o -name '*.pem' -o -name '*.key' \) -print | grep . \
    && ! grep -rlI 'PRIVATE KEY-----' "$mnt/etc" "$mnt/home" "$mnt/root"
}
cannot_run_shell() {
  local out
  out=$(podman run --rm --pull=never --network none --entrypoint /bin/sh "$image" -c true 2>&1) && return 1
  echo "$out"
  grep -q '/bin/sh.*no such file or directory' <<<"$out"
}
check "the router's configuration and supergraph under /etc/ecommerce" router_files
check "no shell, busybox or package manager in it" no_shell
check "no secret in its environment or history (no key of .env.example, no DATABASE_URL)" no_secret_config
check "no key, .env or .pem file in it" no_secret_files
podman image unmount "$image" >/dev/null
check "the image cannot run a shell" cannot_run_shell

# --- compose's services --------------------------------------------------------------------------
started=1
run_args() { jq -j --arg s "$1" '.run[] | select(.service == $s) | .args[] | . + "\u0000"' "$work/plan.json"; }
postgres_names() { grep -oiE "^CREATE $1 +[a-z_][a-z0-9_]*" "$2" | awk '{print $3}'; }

for service in $(jq -r '.run[] | .service' "$work/plan.json"); do
  container=$(jq -r --arg s "$service" '.run[] | select(.service == $s) | .container' "$work/plan.json")
  mapfile -d '' args < <(run_args "$service")
  if [[ $(jq -r --arg s "$service" '.run[] | select(.service == $s) | .oneshot' "$work/plan.json") == true ]]; then
    step "$service (one-shot)"
    podman run -d "${args[@]}" >/dev/null
    code=$(podman wait "$container")
    podman logs "$container" 2>&1 | sed 's/^/    /'
    [[ $code -eq 0 ]] || die "$service exited with $code (compose: service_completed_successfully)"
  else
    step "$service"
    podman run -d "${args[@]}" >/dev/null
    deadline=$(jq -r --arg s "$service" '.run[] | select(.service == $s) | .deadline // 60 | floor' "$work/plan.json")
    end=$((SECONDS + deadline))
    until health=$(podman healthcheck run "$container" 2>&1); do
      [[ $(podman inspect -f '{{.State.Running}}' "$container") == true ]] \
        || die "$service stopped before its health check passed"
      [[ $SECONDS -lt $end ]] \
        || die "$service not healthy within ${deadline}s (compose's start_period + retries x interval): $health"
      sleep 0.5
    done
    echo "    healthy: $(jq -c --arg s "$service" '.run[] | select(.service == $s) | .health_test' "$work/plan.json")"
  fi

  # PostgreSQL's first start, once the secrets exist: init.sql through compose's wrapper.
  if [[ $service == secrets ]] && [[ $(jq -r '.postgres_init != null' "$work/plan.json") == true ]]; then
    mapfile -t wrapper < <(jq -r '.postgres_init.wrapper[]' "$work/plan.json")
    mapfile -t init_env < <(jq -r '.postgres_init.env | to_entries[] | "\(.key)=\(.value)"' "$work/plan.json")
    for script in $(jq -r '.postgres_init.scripts[]' "$work/plan.json"); do
      step "PostgreSQL: $script (as the postgres image's first start: ${wrapper[*]} ... psql)"
      for role in $(postgres_names ROLE "$script"); do
        [[ -z $(psql -Atc "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]] \
          || die "role $role exists in this cluster already (not this run's: not dropped)"
      done
      for database in $(postgres_names DATABASE "$script"); do
        [[ -z $(psql -Atc "SELECT 1 FROM pg_database WHERE datname = '$database'") ]] \
          || die "database $database exists in this cluster already (not this run's: not dropped)"
      done
      mapfile -t new_roles < <(postgres_names ROLE "$script")
      mapfile -t new_databases < <(postgres_names DATABASE "$script")
      created_roles+=("${new_roles[@]}")
      created_databases+=("${new_databases[@]}")
      env -i PATH="$PATH" PGHOST="${PGHOST:-localhost}" PGPORT="$pg_port" PGUSER="${PGUSER:-postgres}" \
        PGPASSWORD="${PGPASSWORD:-}" "${init_env[@]}" \
        "${wrapper[@]}" psql -q -v ON_ERROR_STOP=1 --no-password --no-psqlrc --dbname postgres -f "$script"
    done
  fi
done

step "the running containers"
unprivileged() {
  grep -qx $'CapEff:\t0000000000000000' <<<"$1" && grep -qx $'CapBnd:\t0000000000000000' <<<"$1" \
    && grep -qx $'NoNewPrivs:\t1' <<<"$1"
}
read_only_root() {  # the last mount at / in the process's view is read-only
  awk '$5 == "/" { split($6, options, ","); top = options[1] } END { print top }' "/proc/$1/mountinfo" | grep -qx ro
}
for container in $(jq -r '.run[] | select(.oneshot | not) | .container' "$work/plan.json"); do
  # A listing that fails or is empty must fail the test, not check nothing.
  pids=$(podman top "$container" hpid | tail -n +2) || die "podman top $container failed"
  [[ -n $pids ]] || die "podman top $container lists no process to check"
  for pid in $pids; do
    status=$(cat "/proc/$pid/status")
    check "$container pid $pid: uid and gid 65532" \
      grep -qE $'^Uid:\t65532\t65532\t65532\t65532$' <<<"$status"
    check "$container pid $pid: no capabilities, no new privileges" unprivileged "$status"
  done
  pid=$(podman inspect -f '{{.State.Pid}}' "$container")
  check "$container: root filesystem mounted read-only" read_only_root "$pid"
done
# A write from inside: the host's touch (glibc like the image's) in a container started as users is.
mapfile -d '' args < <(run_args users)
probe=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --name | --restart | --health-*) i=$((i + 1)) ;;
    "$image") break ;;
    *) probe+=("${args[i]}") ;;
  esac
done
writes_fail() {
  local out
  out=$(podman run --rm "${probe[@]}" --volume "$(command -v touch):/probe/touch:ro" \
    --entrypoint /probe/touch "$image" "$@" 2>&1) && { echo "a write succeeded: $out"; return 1; }
  echo "$out"
  [[ $(grep -c 'Read-only file system' <<<"$out") -eq $# ]]
}
check "nothing in the root filesystem is writable, /tmp included (read_only)" \
  writes_fail /usr/local/bin/x /etc/ecommerce/x /tmp/x /home/nonroot/x

# --- the README walkthrough against the containers -----------------------------------------------
admin_email=$(jq -r .admin_email "$work/plan.json")
admin_password=$(<"$(jq -r .admin_password_file "$work/plan.json")")
block=$(awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on && !/^```/' README.md)
[[ $block == *'"email":"admin@example.com","password":"Admin123!"'* ]] \
  || die "README's walkthrough no longer logs in as admin@example.com / Admin123!: update scripts/container-test.sh"
# The admin compose made (ADMIN_EMAIL, and the password the secrets service generated).
block=${block//'"email":"admin@example.com","password":"Admin123!"'/"\"email\":\"$admin_email\",\"password\":\"$admin_password\""}
step "the README walkthrough against the containers (admin: $admin_email, the generated password)"
if ! bash -euo pipefail -c "$block" >"$work/walkthrough.out" 2>&1; then
  cat "$work/walkthrough.out"
  die "the walkthrough failed"
fi
expect() {
  check "$2" grep -qF -- "$1" "$work/walkthrough.out"
}
# The same outputs scripts/walkthrough.sh checks, but for the demo data: compose seeds none, so
# the catalogue holds only the walkthrough's laptop.
# shellcheck source-path=SCRIPTDIR source=walkthrough-expected.sh
source scripts/walkthrough-expected.sh
walkthrough_expected 1

# --- afterwards ----------------------------------------------------------------------------------
step "afterwards"
no_secret_in() { ! podman inspect "$1" | cat - "$work/log" | grep -F -f "$work/secret-values"; }
find "$work/volumes/secrets" -maxdepth 1 -type f ! -name '.*' ! -name '*_database_url' -exec cat {} + \
  | grep -vE '^-----(BEGIN|END) ' | sed '/^$/d' >"$work/secret-values"
for container in $(jq -r '.run[] | .container' "$work/plan.json"); do
  check "$container: never restarted" test "$(podman inspect -f '{{.RestartCount}}' "$container")" -eq 0
  podman logs "$container" >"$work/log" 2>&1
  check "$container: no secret in its logs or its configuration" no_secret_in "$container"
done
# The engine's warning that it is a debug build is plain text; a release build prints none.
for container in $(jq -r '.run[] | select(.platform) | .container' "$work/plan.json"); do
  podman logs "$container" 2>&1 | awk '
    /^WARNING: You are running Hive Router using a debug binary/ { banner = 1; next }
    banner && /^  / { next }
    { banner = 0; print }' >"$work/log"
  check "$container: logs JSON, one object per line (LOG_FORMAT=json)" jq -e . "$work/log"
done

if [[ $failures -gt 0 ]]; then
  echo "--- walkthrough output"
  cat "$work/walkthrough.out"
  die "$failures container checks failed"
fi
step "container test passed"
