#!/usr/bin/env bash
# Builds the images into Minikube's Docker, generates secrets on first run (kept in
# infra/.secrets/, never committed), applies the kustomization and waits for the rollouts.
#
#   minikube start --cpus=4 --memory=8192 --cni=calico --kubernetes-version=v1.34.0
#   minikube addons enable metrics-server
#   infra/scripts/deploy.sh
#
# infra/scripts/deploy.sh --render prints the manifests it would apply (secrets included) and
# touches no cluster.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
namespace=ecommerce
version=0.1.0
services=(users products)
secrets_dir="$repo/infra/.secrets"
render_only=false
[[ "${1:-}" == "--render" ]] && render_only=true

die() { echo "error: $*" >&2; exit 1; }
say() { [[ $render_only == true ]] || echo "$@"; }

tools=(kubectl openssl)
[[ $render_only == true ]] || tools+=(minikube docker)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

if [[ $render_only == false ]]; then
  minikube status >/dev/null 2>&1 || die "Minikube is not running: minikube start --cpus=4 --memory=8192 --cni=calico"
  if ! kubectl get pods -n kube-system -o name | grep -qE 'calico|cilium'; then
    echo "warning: no NetworkPolicy-enforcing CNI found; start Minikube with --cni=calico to enforce the policies" >&2
  fi
  echo "==> building images into Minikube's Docker"
  eval "$(minikube docker-env)"
  for service in "${services[@]}"; do
    docker build -f "$repo/infra/Dockerfile" --target "$service" -t "ecommerce/$service:$version" "$repo"
  done
fi

say "==> secrets"
mkdir -p "$secrets_dir"
chmod 700 "$secrets_dir"
env_file="$secrets_dir/minikube.env"
if [[ ! -f "$env_file" ]]; then
  key=$(openssl genpkey -algorithm ed25519 | awk 'BEGIN { ORS = "\\n" } { print }')
  umask 077
  cat >"$env_file" <<SECRETS
POSTGRES_PASSWORD=$(openssl rand -hex 24)
SERVICE_SECRET=$(openssl rand -hex 32)
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@example.com}
ADMIN_PASSWORD=${ADMIN_PASSWORD:-Admin-$(openssl rand -hex 8)-1}
JWT_PRIVATE_KEY=$key
SECRETS
  say "generated $env_file (the admin password is in it)"
fi
# An overlay that swaps the development placeholders for the generated values.
cat >"$secrets_dir/kustomization.yaml" <<KUSTOMIZATION
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../k8s
secretGenerator:
  - name: ecommerce-secrets
    namespace: $namespace
    behavior: replace
    envs:
      - minikube.env
generatorOptions:
  disableNameSuffixHash: true
KUSTOMIZATION

if [[ $render_only == true ]]; then
  kubectl kustomize "$secrets_dir"
  exit 0
fi

echo "==> applying k8s/"
kubectl apply -k "$secrets_dir"

echo "==> waiting for rollouts"
for statefulset in postgres mongo; do
  kubectl rollout status "statefulset/$statefulset" -n "$namespace" --timeout=300s
done
for service in "${services[@]}"; do
  kubectl rollout restart "deployment/$service" -n "$namespace" >/dev/null
  kubectl rollout status "deployment/$service" -n "$namespace" --timeout=300s
done

ip=$(minikube ip)
echo
echo "users:    http://$ip:30001"
echo "products: http://$ip:30002"
echo "run infra/scripts/test-k8s.sh to check the journey end to end"
