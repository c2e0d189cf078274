#!/usr/bin/env bash
# Removes everything deploy.sh created in the cluster (the namespace and its volumes).
# The generated secrets in infra/.secrets/ stay, so a new deploy reuses them; delete that
# folder too for a clean slate.
set -euo pipefail

namespace=ecommerce
command -v kubectl >/dev/null || { echo "error: kubectl is required" >&2; exit 1; }
if kubectl get namespace "$namespace" >/dev/null 2>&1; then
  kubectl delete namespace "$namespace" --wait=true --timeout=180s
  echo "deleted namespace $namespace"
else
  echo "namespace $namespace does not exist; nothing to do"
fi
