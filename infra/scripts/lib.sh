# shellcheck shell=bash
# Shared by deploy.sh, cleanup.sh and test-k8s.sh: which cluster they act on, and the secret
# generators. Every cluster call goes through kc (kubectl) and mk (minikube), pinned to one
# context and profile, so a script never acts on whatever cluster kubectl happens to point at.
#
#   MINIKUBE_PROFILE   the Minikube profile (default minikube)
#   KUBE_CONTEXT       the kubectl context (default: the profile's name, as Minikube names it)

# shellcheck disable=SC2034 # repo and namespace are for the scripts that source this
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034
namespace=ecommerce
profile=${MINIKUBE_PROFILE:-minikube}
context=${KUBE_CONTEXT:-$profile}

die() { echo "error: $*" >&2; exit 1; }

kc() { kubectl --context "$context" "$@"; }
mk() { minikube --profile "$profile" "$@"; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is required"
  done
}

# Refuses to go on unless the pinned context exists: never fall back to the current one.
require_context() {
  kubectl config get-contexts "$context" >/dev/null 2>&1 \
    || die "no kubectl context '$context' (start Minikube, or set KUBE_CONTEXT / MINIKUBE_PROFILE)"
}

random_hex() { head -c "${1:-32}" /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

# An Ed25519 private key as PKCS#8 PEM: the fixed 16-byte PKCS#8 header for Ed25519 (RFC 8410,
# section 7) followed by 32 random bytes. Needs no OpenSSL build with Ed25519 (macOS ships LibreSSL).
ed25519_pem() {
  echo "-----BEGIN PRIVATE KEY-----"
  { printf '\060\056\002\001\000\060\005\006\003\053\145\160\004\042\004\040'; head -c 32 /dev/urandom; } | base64 | tr -d '\n'
  echo
  echo "-----END PRIVATE KEY-----"
}

# A value for secret KEY, chosen by its name.
generate() {
  case "$1" in
    JWT_PRIVATE_KEY) ed25519_pem ;;
    MONGO_KEYFILE) head -c 756 /dev/urandom | base64 | tr -d '\n' ;;  # 1008 base64 characters
    ADMIN_EMAIL) printf '%s' "${ADMIN_EMAIL:-admin@example.com}" ;;
    ADMIN_PASSWORD) printf 'Admin-%s-1' "$(random_hex 12)" ;;
    *_PASSWORD | *_SECRET) random_hex 32 ;;
    *) die "no generator for secret key $1" ;;
  esac
}

# The platform image the manifests run (one, built locally): what deploy.sh must build.
manifest_image() {
  local images
  images=$(kubectl kustomize "$repo/k8s" | sed -n 's/^ *image: *\(ecommerce\/[^ ]*\)$/\1/p' | sort -u)
  [[ -n $images ]] || die "the manifests run no ecommerce/ image"
  [[ $(wc -l <<<"$images") -eq 1 ]] || die "the manifests run more than one ecommerce/ image: $(echo "$images" | tr '\n' ' ')"
  echo "$images"
}
