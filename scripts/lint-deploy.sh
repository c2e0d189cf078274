#!/usr/bin/env bash
# Static checks of everything that deploys the platform (the Dockerfile, compose.yaml, the
# Kubernetes manifests, the scripts), and proof that each check fails on a broken copy of the real
# files. Installs what it needs: a Python venv with pinned tools (.venv-tools) and shellcheck.
#
#   scripts/lint-deploy.sh            check
#   scripts/lint-deploy.sh --render   rewrite the k8s/ files generated from infra/services.yaml first
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "error: $*" >&2; exit 1; }

command -v kubectl >/dev/null || die "kubectl is required for 'kubectl kustomize' (apt-get install kubectl, or see kubernetes.io)"
command -v python3 >/dev/null || die "python3 is required"

venv=.venv-tools
stamp="$venv/.requirements"
if ! cmp -s infra/checks/requirements.txt "$stamp" 2>/dev/null; then
  echo "==> installing deployment check tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r infra/checks/requirements.txt
  cp infra/checks/requirements.txt "$stamp"
fi

if ! command -v shellcheck >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "==> installing shellcheck (Debian)"
    apt-get install -y -q shellcheck >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q shellcheck >/dev/null; }
  fi
fi
command -v shellcheck >/dev/null || die "shellcheck is required (apt-get install shellcheck)"

if [[ ${1:-} == --render ]]; then
  echo "==> rendering k8s/ from infra/services.yaml"
  "$venv/bin/python" infra/render.py
fi

echo "==> deployment checks"
"$venv/bin/python" infra/checks/deploy_checks.py
echo "==> each check fails on a broken copy of the real files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if "$venv/bin/python" -m unittest infra/checks/test_deploy_checks.py >"$log" 2>&1; then
  tail -n 3 "$log"
else
  cat "$log"
  exit 1
fi
