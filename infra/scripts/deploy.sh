#!/usr/bin/env bash
# Builds the platform image into Minikube, creates the Secrets the manifests read (each key once,
# with a generated value that stays in the cluster), applies k8s/ and waits until all is Ready.
#
#   minikube start --cpus=4 --memory=8192 --cni=calico --kubernetes-version=v1.34.0
#   minikube addons enable metrics-server
#   infra/scripts/deploy.sh
#
# Acts on kubectl context $KUBE_CONTEXT / Minikube profile $MINIKUBE_PROFILE (default: minikube).
# --render prints what it would apply (the Secrets with freshly generated values, then the
# manifests) and touches no cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

render_only=false
[[ ${1:-} == --render ]] && render_only=true

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
  kubectl kustomize "$repo/k8s"
  exit 0
fi

need minikube docker
require_context
mk status >/dev/null 2>&1 || die "Minikube profile '$profile' is not running: minikube start --cpus=4 --memory=8192 --cni=calico"
if ! kc get pods -n kube-system -o name | grep -qE 'calico|cilium'; then
  echo "warning: no NetworkPolicy-enforcing CNI found; start Minikube with --cni=calico to enforce the policies" >&2
fi

echo "==> building $image into Minikube"
runtime=$(kc get nodes -o jsonpath='{.items[0].status.nodeInfo.containerRuntimeVersion}')
[[ $runtime == docker://* ]] \
  || die "Minikube runs $runtime; this script builds with Minikube's Docker: minikube start --container-runtime=docker (the default)"
eval "$(mk docker-env --shell bash)"
docker build -f "$repo/infra/Dockerfile" -t "$image" "$repo"

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

echo "==> applying k8s/"
# The Job runs on every deploy (it is idempotent); its pod template cannot be changed in place.
kc delete job mongo-init -n "$namespace" --ignore-not-found >/dev/null
kc apply -k "$repo/k8s"

echo "==> waiting until everything is Ready"
kc rollout status statefulset/postgres -n "$namespace" --timeout=300s
if ! kc wait --for=condition=complete job/mongo-init -n "$namespace" --timeout=900s; then
  kc logs job/mongo-init -n "$namespace" --tail=30 >&2 || true
  die "MongoDB was not initialised (the job's last lines are above)"
fi
kc rollout status statefulset/mongo -n "$namespace" --timeout=300s
# The image tag is unchanged by a rebuild: restart so every pod runs the image just built.
kc rollout restart deployment -n "$namespace" >/dev/null
for deployment in $(kc get deployments -n "$namespace" -o name); do
  kc rollout status "$deployment" -n "$namespace" --timeout=300s
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
