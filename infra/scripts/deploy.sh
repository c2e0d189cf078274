#!/usr/bin/env bash
# Builds the platform image into Minikube (or loads one this machine already built), creates the
# Secrets the manifests read (each key once, with a generated value that stays in the cluster),
# applies k8s/ and waits until all is Ready.
#
#   minikube start --cpus=4 --memory=8192 --cni=calico --kubernetes-version=v1.34.0
#   minikube addons enable metrics-server
#   infra/scripts/deploy.sh [--small] [--load] [--render]
#
#   --small   one replica per service (infra/overlays/small), for a 2-CPU Minikube
#   --load    no build: load the image this machine's Docker holds (`docker compose build` makes
#             it) into Minikube with `minikube image load`
#   --render  print what it would apply (the Secrets with freshly generated values, then the
#             manifests) and touch no cluster
#
# Before it builds anything it checks that the node can hold the platform (the CPU and memory its
# manifests request at the HPA minimum, plus the one surge pod of the Deployment being rolled) and
# has the memory the build needs, and picks the build for the node's container runtime (docker:
# its Docker daemon; containerd, cri-o: `minikube image build`). Databases come up first; the
# services' Deployments are applied and rolled one at a time once they are Ready, so no service
# starts before its database and no two rollouts surge at once.
#
# Acts on kubectl context $KUBE_CONTEXT / Minikube profile $MINIKUBE_PROFILE (default: minikube).
# MONGO_INIT_TIMEOUT_SECS bounds the wait for the mongo-init Job (default 960: its own deadline,
# 900 s, ends it first).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: $0 [--small] [--load] [--render]" >&2; exit 2; }

render_only=false
small=false
load=false
for arg in "$@"; do
  case $arg in
    --render) render_only=true ;;
    --small) small=true ;;
    --load) load=true ;;
    -h | --help) usage ;;
    *) echo "error: unknown option $arg" >&2; usage ;;
  esac
done
full_dir="$repo/k8s"
small_dir="$repo/infra/overlays/small"
manifests_dir=$full_dir
[[ $small == true ]] && manifests_dir=$small_dir

need kubectl head od base64 tr
image=$(manifest_image)
keys_file="$repo/k8s/secrets/keys.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# The Secret names, then the keys of one, from k8s/secrets/keys.txt.
secret_names() { grep -v '^#' "$keys_file" | awk '{ print $1 }' | uniq; }
secret_keys() { grep -v '^#' "$keys_file" | awk -v s="$1" '$1 == s { print $2 }'; }

# Writes a generated value for each key of Secret $1 not named in $2 into $work/$1/<key>.
write_values() {
  local secret=$1 present=" ${2:-} " key
  mkdir -p "$work/$secret"
  for key in $(secret_keys "$secret"); do
    [[ $present == *" $key "* ]] || (umask 077 && generate "$key" >"$work/$secret/$key")
  done
}

if [[ $render_only == true ]]; then
  for secret in $(secret_names); do
    write_values "$secret"
    kubectl create secret generic "$secret" --namespace "$namespace" --from-file="$work/$secret" \
      --dry-run=client -o yaml
    echo "---"
  done
  kubectl kustomize "$manifests_dir"
  exit 0
fi

need minikube docker
require_context
mk status >/dev/null 2>&1 || die "Minikube profile '$profile' is not running: minikube start --cpus=4 --memory=8192 --cni=calico"

# -- what the node must hold ----------------------------------------------------------------------
# Kubernetes quantities as millicores and MiB, and a pod's requests: the sum of its containers' or
# its largest init container's, whichever is larger (as the scheduler counts them).
awk_quantities='
function cpu(q) { if (q == "") return 0; if (q ~ /m$/) return q + 0; return q * 1000 }
function mib(q,   n, unit) {
  if (q == "") return 0
  n = q + 0; unit = q; sub(/^[0-9.]+/, "", unit)
  if (unit == "Ki") return n / 1024
  if (unit == "Mi") return n
  if (unit == "Gi") return n * 1024
  if (unit == "Ti") return n * 1048576
  if (unit == "k") return n * 1000 / 1048576
  if (unit == "M") return n * 1000000 / 1048576
  if (unit == "G") return n * 1000000000 / 1048576
  return n / 1048576
}
function ceil(x) { return x == int(x) ? x : int(x) + 1 }
function pod(containers, inits,   list, n, k, r, c, m, ic, im) {
  n = split(containers, list, ";")
  for (k = 1; k <= n; k++) if (list[k] != "") { split(list[k], r, ","); c += cpu(r[1]); m += mib(r[2]) }
  n = split(inits, list, ";")
  for (k = 1; k <= n; k++) if (list[k] != "") {
    split(list[k], r, ",")
    if (cpu(r[1]) > ic) ic = cpu(r[1])
    if (mib(r[2]) > im) im = mib(r[2])
  }
  pod_cpu = c > ic ? c : ic; pod_mib = m > im ? m : im
}'
requests_template='{range .spec.containers[*]}{.resources.requests.cpu},{.resources.requests.memory};{end}|{range .spec.initContainers[*]}{.resources.requests.cpu},{.resources.requests.memory};{end}'

# What the manifests in $1 request, from the rendered objects (kubectl kustomize; `patch --local`
# only prints them through a template, offline): "<cpu m> <MiB> <base cpu> <base MiB> <Job cpu>
# <Job MiB> <surge cpu> <surge MiB> <pods> <Deployments...>". Base: every Deployment at its HPA's
# minReplicas, every StatefulSet at its replicas. The mongo-init Job runs beside them before the
# services roll; the rollouts come after it, one Deployment at a time, each with up to maxSurge
# extra pods: the node must hold the base plus the larger of the two.
platform_requests() {
  kubectl kustomize "$1" \
    | kubectl patch --local -f - --type merge -p '{}' -o jsonpath="{.kind}|{.metadata.name}|{.spec.replicas}|{.spec.parallelism}|{.spec.strategy.rollingUpdate.maxSurge}|{.spec.scaleTargetRef.kind}/{.spec.scaleTargetRef.name}|{.spec.minReplicas}|${requests_template//.spec./.spec.template.spec.}{\"\\n\"}" \
    | awk -F'|' "$awk_quantities"'
      $1 == "HorizontalPodAutoscaler" { split($6, t, "/"); if (t[1] == "Deployment") minimum[t[2]] = $7; next }
      $1 == "Deployment" { pod($8, $9); order[++n] = $2; dc[$2] = pod_cpu; dm[$2] = pod_mib; dr[$2] = $3; ds[$2] = $5; next }
      $1 == "StatefulSet" { pod($8, $9); r = $3 == "" ? 1 : $3; bc += r * pod_cpu; bm += r * pod_mib; pods += r; next }
      $1 == "Job" { pod($8, $9); r = $4 == "" ? 1 : $4; jc += r * pod_cpu; jm += r * pod_mib; next }
      END {
        for (i = 1; i <= n; i++) {
          d = order[i]
          r = (d in minimum) ? minimum[d] : (dr[d] == "" ? 1 : dr[d])
          s = ds[d] == "" ? "25%" : ds[d]
          s = s ~ /%$/ ? ceil(r * (s + 0) / 100) : s + 0
          bc += r * dc[d]; bm += r * dm[d]; pods += r; names = names " " d
          if (s * dc[d] > sc) sc = s * dc[d]
          if (s * dm[d] > sm) sm = s * dm[d]
        }
        printf "%d %d %d %d %d %d %d %d %d%s\n", ceil(bc + (jc > sc ? jc : sc)), ceil(bm + (jm > sm ? jm : sm)),
          ceil(bc), ceil(bm), ceil(jc), ceil(jm), ceil(sc), ceil(sm), pods, names
      }'
}

# The node(s): "<allocatable cpu m> <allocatable MiB> <cpu m> <MiB> requested by pods outside
# $namespace (kube-system, metrics-server, the CNI...), which stay while the platform runs".
node_capacity() {
  local allocatable others
  # Run inside $(...), where set -e does not reach: a failed listing prints nothing, which the
  # caller refuses, rather than counting as an empty node.
  allocatable=$(kc get nodes -o jsonpath='{range .items[*]}node|{.status.allocatable.cpu}|{.status.allocatable.memory}{"\n"}{end}') || return 1
  others=$(kc get pods --all-namespaces --field-selector=status.phase!=Succeeded,status.phase!=Failed \
    -o jsonpath="{range .items[*]}pod|{.metadata.namespace}|$requests_template{\"\\n\"}{end}") || return 1
  printf '%s\n%s\n' "$allocatable" "$others" | awk -F'|' -v ours="$namespace" "$awk_quantities"'
    $1 == "node" && $2 != "" { ac += cpu($2); am += mib($3); next }
    $1 == "pod" && $2 != "" && $2 != ours { pod($3, $4); oc += pod_cpu; om += pod_mib }
    END { printf "%d %d %d %d\n", ac, am, ceil(oc), ceil(om) }'
}

# What the Minikube profile was started with, "<cpus> <memory MB>" (empty when unknown): with the
# docker driver on Linux the node reports the host's CPUs and memory as allocatable, while the
# node container is limited to these.
profile_resources() {
  mk profile list -o json 2>/dev/null | tr -d '\n' \
    | grep -o "\"Config\":{\"Name\":\"$profile\",[^{}]*" | head -n 1 \
    | sed -n 's/.*"Memory":\([0-9][0-9]*\),"CPUs":\([0-9][0-9]*\),.*/\2 \1/p' || true
}

read -r need_cpu need_mib base_cpu base_mib job_cpu job_mib surge_cpu surge_mib pods deployments <<<"$(platform_requests "$manifests_dir")"
read -r small_cpu small_mib _ <<<"$(platform_requests "$small_dir")"
read -r alloc_cpu alloc_mib other_cpu other_mib <<<"$(node_capacity)"
[[ ${pods:-0} -gt 0 && ${small_cpu:-0} -gt 0 ]] \
  || die "could not add up what the platform requests from the rendered manifests (k8s/ did not render): not deploying"
[[ ${alloc_cpu:-0} -gt 0 && ${alloc_mib:-0} -gt 0 && -n ${other_mib:-} ]] \
  || die "could not read the node's allocatable CPU and memory and what other pods request (listing the nodes or the pods failed): not building"
read -r profile_cpus profile_mb <<<"$(profile_resources)"
node_cpu=$alloc_cpu node_mib=$alloc_mib limited=""
if [[ ${profile_cpus:-0} -gt 0 && $((profile_cpus * 1000)) -lt $node_cpu ]]; then
  node_cpu=$((profile_cpus * 1000)) limited=" (the Minikube profile's --cpus; the node reports ${alloc_cpu}m)"
fi
if [[ ${profile_mb:-0} -gt 0 && $profile_mb -lt $node_mib ]]; then
  node_mib=$profile_mb limited="$limited (the profile's --memory; the node reports ${alloc_mib} MiB)"
fi
free_cpu=$((node_cpu - other_cpu)) free_mib=$((node_mib - other_mib))
variant="the platform" small_flag=""
[[ $small == true ]] && variant="the small platform (--small)" small_flag=" --small"
echo "==> capacity: $variant requests ${need_cpu}m CPU and ${need_mib} MiB: ${base_cpu}m and ${base_mib} MiB for its $pods pods at the HPA minimum, plus the larger of the mongo-init Job (${job_cpu}m, ${job_mib} MiB) and one rollout's surge (${surge_cpu}m, ${surge_mib} MiB)"
echo "    the node has ${node_cpu}m CPU and ${node_mib} MiB$limited; other pods request ${other_cpu}m and ${other_mib} MiB of it, leaving ${free_cpu}m and ${free_mib} MiB"
if ((need_cpu > free_cpu || need_mib > free_mib)); then
  fix="  a bigger node (this deletes the cluster and its data): minikube --profile $profile delete && minikube --profile $profile start --cpus=4 --memory=8192 --cni=calico --kubernetes-version=v1.34.0"
  if [[ $small == false ]]; then
    if ((small_cpu <= free_cpu && small_mib <= free_mib)); then
      fix="$fix"$'\n'"  or one replica per service, which fits this node: $0 --small (${small_cpu}m CPU, ${small_mib} MiB)"
    else
      fix="$fix"$'\n'"  (--small, one replica per service, needs ${small_cpu}m CPU and ${small_mib} MiB: not enough either)"
    fi
  fi
  die "the node cannot hold $variant: it needs ${need_cpu}m CPU and ${need_mib} MiB, and ${free_cpu}m and ${free_mib} MiB are free; pods would stay Pending and the rollout would never finish. Either:"$'\n'"$fix"
fi

runtime=$(kc get nodes -o jsonpath='{.items[0].status.nodeInfo.containerRuntimeVersion}')
if ! kc get pods -n kube-system -o name | grep -qE 'calico|cilium'; then
  echo "warning: no NetworkPolicy-enforcing CNI found; start Minikube with --cni=calico to enforce the policies" >&2
fi

# -- the image --------------------------------------------------------------------------------------
# The release build peaks at about 3.6 GB of memory with 2 compile jobs, 2.6 GB of it the engine's
# crate alone (infra/Dockerfile), beside what Kubernetes and the databases use (about 1.5 GB). The
# build runs in the node, outside any pod's requests: its memory is the node's.
build_mib=${profile_mb:-0}
((build_mib > 0 && build_mib <= alloc_mib)) || build_mib=$alloc_mib
build_args=()
if [[ $load == true ]]; then
  echo "==> loading $image from this machine's Docker into Minikube (no build)"
  docker image inspect "$image" >/dev/null 2>&1 \
    || die "this machine's Docker has no image $image: build it with 'docker compose build' (or: docker build -f infra/Dockerfile -t $image .), or deploy without --load to build it in Minikube"
  mk image load "$image"
else
  if ((build_mib < 4096)); then
    die "the node has ${build_mib} MiB of memory; building the image in it needs about 4 GiB (2.6 GB for the engine's crate with one compile job, beside Kubernetes). Build it on this machine instead and load it: docker compose build && $0 --load$small_flag"
  elif ((build_mib < 5120)); then
    build_args=(CARGO_BUILD_JOBS=1)
    jobs_note="one compile job at a time (the node has ${build_mib} MiB; two jobs peak at about 3.6 GB), which is slower"
  else
    jobs_note="one compile job per CPU"
  fi
  cat <<TIME
==> building $image in Minikube ($runtime, ${node_cpu}m CPU, $jobs_note)
    A first build on this node compiles every dependency in release: about 20 minutes on 2
    cores (measured: 20 min), less on more cores. Later builds reuse the compiled dependencies (a cached
    cargo-chef layer) while Cargo.toml and Cargo.lock are unchanged and recompile only this
    repository's crates: minutes (not measured); with no change at all, seconds. The build cache
    takes about 4 GB of the node's disk. Not building: docker compose build, then $0 --load$small_flag.
TIME
  case $runtime in
    docker://*)
      eval "$(mk docker-env --shell bash)"
      docker build ${build_args[@]+"${build_args[@]/#/--build-arg=}"} -f "$repo/infra/Dockerfile" -t "$image" "$repo"
      ;;
    containerd://*)
      # BuildKit (buildctl) in the node; the Dockerfile's path is relative to the context.
      mk image build -t "$image" -f infra/Dockerfile ${build_args[@]+"${build_args[@]/#/--build-opt=opt=build-arg:}"} "$repo"
      ;;
    cri-o://*)
      # Podman in the node.
      mk image build -t "$image" -f infra/Dockerfile ${build_args[@]+"${build_args[@]/#/--build-opt=build-arg=}"} "$repo"
      ;;
    *) die "Minikube runs $runtime; this script builds with docker, containerd or cri-o (start Minikube with --container-runtime=one of them), or loads a built image with --load" ;;
  esac
fi

echo "==> secrets"
kc apply -f "$repo/k8s/namespace.yaml" >/dev/null
for secret in $(secret_names); do
  # shellcheck disable=SC2016 # a Go template, not shell
  if present=$(kc get secret "$secret" -n "$namespace" -o go-template='{{range $k, $v := .data}}{{$k}} {{end}}' 2>/dev/null); then
    write_values "$secret" "$present"
    added=$(cd "$work/$secret" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' ')
    if [[ -n $added ]]; then
      # New keys only (a service added since the last deploy); existing values never change.
      {
        printf '{"data":{'
        separator=""
        for key in $added; do
          printf '%s"%s":"%s"' "$separator" "$key" "$(base64 <"$work/$secret/$key" | tr -d '\n')"
          separator=","
        done
        printf '}}'
      } >"$work/$secret.patch.json"
      kc patch secret "$secret" -n "$namespace" --type merge --patch-file "$work/$secret.patch.json" >/dev/null
      echo "added ${added}to Secret $secret"
    fi
    continue
  fi
  # A database volume keeps the passwords it was initialised with: new ones would lock the
  # services out. Only a volume and its Secret together may be created (or deleted: cleanup.sh).
  volume=""
  case $secret in
    postgres-credentials) volume=data-postgres-0 ;;
    mongo-credentials) volume=data-mongo-0 ;;
  esac
  if [[ -n $volume ]] && kc get pvc "$volume" -n "$namespace" >/dev/null 2>&1; then
    die "Secret $secret is gone but volume $volume, initialised with its passwords, is still there. Restore the Secret, or delete the data with infra/scripts/cleanup.sh, then deploy again."
  fi
  write_values "$secret"
  kc create secret generic "$secret" -n "$namespace" --from-file="$work/$secret" >/dev/null
  echo "created Secret $secret ($(secret_keys "$secret" | wc -l | tr -d ' ') generated keys)"
done

echo "==> applying ${manifests_dir#"$repo/"}/: the databases and everything but the services' Deployments"
# The Job runs on every deploy (it is idempotent); its pod template cannot be changed in place.
kc delete job mongo-init -n "$namespace" --ignore-not-found >/dev/null
existing=" $(kc get deployments -n "$namespace" -o name | tr '\n' ' ') "
kc apply -k "$manifests_dir" -l 'app.kubernetes.io/component!=service'

# Waits for Job $1 to complete. Fails at once, with its log, when it has failed (its
# backoffLimit is 0: the script retries by itself); prints its last line now and then.
wait_for_job() {
  local job=$1 limit=${MONGO_INIT_TIMEOUT_SECS:-960} started=$SECONDS shown=$SECONDS conditions failed
  while :; do
    conditions=$(kc get job "$job" -n "$namespace" \
      -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}: {.reason} {.message}{"\n"}{end}' 2>/dev/null || true)
    grep -q '^Complete:' <<<"$conditions" && return 0
    failed=$(grep -E '^(Failed|FailureTarget):' <<<"$conditions" | head -n 1 || true)
    if [[ -n $failed ]] || ((SECONDS - started >= limit)); then
      echo "--- kubectl logs job/$job" >&2
      kc logs "job/$job" -n "$namespace" --tail=50 >&2 || true
      [[ -n $failed ]] && die "Job $job failed ($failed); its log is above"
      die "Job $job did not finish in ${limit}s; its log is above"
    fi
    if ((SECONDS - shown >= 30)); then
      echo "    $job, after $((SECONDS - started))s: $(kc logs "job/$job" -n "$namespace" --tail=1 2>/dev/null || echo 'no log yet')"
      shown=$SECONDS
    fi
    sleep 2
  done
}

echo "==> waiting for the databases"
kc rollout status statefulset/postgres -n "$namespace" --timeout=300s
wait_for_job mongo-init
kc rollout status statefulset/mongo -n "$namespace" --timeout=300s

# One Deployment at a time, so at most one rollout surges (what the capacity check counted). A
# Deployment that existed is restarted, since the image tag is unchanged by a rebuild; a new one
# already runs the image just built.
echo "==> the services, one Deployment at a time:$deployments"
for name in $deployments; do
  kc apply -k "$manifests_dir" -l "app.kubernetes.io/component=service,app.kubernetes.io/name=$name" >/dev/null
  if [[ $existing == *" deployment.apps/$name "* ]]; then
    kc rollout restart "deployment/$name" -n "$namespace" >/dev/null
  fi
  kc rollout status "deployment/$name" -n "$namespace" --timeout=300s
done

cat <<DONE

Deployed. Service URLs, on any Minikube driver (keep the terminal open where it says so):
$(kc get services -n "$namespace" -o jsonpath='{range .items[?(@.spec.type=="NodePort")]}{.metadata.name}{"\n"}{end}' \
  | sed "s|.*|  minikube --profile $profile service & -n $namespace --url|")
The admin account:
  kubectl --context $context get secret ecommerce-secrets -n $namespace -o jsonpath='{.data.ADMIN_EMAIL}' | base64 --decode
  kubectl --context $context get secret ecommerce-secrets -n $namespace -o jsonpath='{.data.ADMIN_PASSWORD}' | base64 --decode
Run infra/scripts/test-k8s.sh to check the journey end to end.
DONE
