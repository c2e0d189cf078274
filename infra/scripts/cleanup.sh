#!/usr/bin/env bash
# Deletes everything deploy.sh created: the namespace with its volumes and its Secrets, which live
# and die together (a database volume keeps the passwords it was initialised with). Acts on
# kubectl context $KUBE_CONTEXT / Minikube profile $MINIKUBE_PROFILE (default: minikube) only.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

need kubectl
require_context
if kc get namespace "$namespace" >/dev/null 2>&1; then
  echo "deleting namespace $namespace in context $context (its data and secrets with it)"
  kc delete namespace "$namespace" --wait=true --timeout=300s
  echo "deleted namespace $namespace"
else
  echo "namespace $namespace does not exist in context $context; nothing to do"
fi
