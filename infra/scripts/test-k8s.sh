#!/usr/bin/env bash
# The user journey against the NodePorts of a deploy.sh deployment: health, register, login,
# profile, admin creates a product, stock changes, and refusals. Exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
for tool in minikube curl jq; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
env_file="$repo/infra/.secrets/minikube.env"
[[ -f "$env_file" ]] || { echo "error: $env_file not found: deploy with infra/scripts/deploy.sh first" >&2; exit 1; }
admin_email=$(grep '^ADMIN_EMAIL=' "$env_file" | cut -d= -f2-)
admin_password=$(grep '^ADMIN_PASSWORD=' "$env_file" | cut -d= -f2-)

ip=$(minikube ip)
users="http://$ip:30001"
products="http://$ip:30002"
passed=0
failed=0

# check NAME EXPECTED_STATUS CURL_ARGS...: runs curl, compares the status, keeps the body in $body.
check() {
  local name=$1 expected=$2
  shift 2
  local response
  response=$(curl -sS -w '\n%{http_code}' "$@") || { echo "FAILED: $name (curl error)"; failed=$((failed + 1)); return 0; }
  body=$(sed '$d' <<<"$response")
  local status
  status=$(tail -n1 <<<"$response")
  if [[ "$status" == "$expected" ]]; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name (expected $expected, got $status: $body)"
    failed=$((failed + 1))
  fi
}

json=(-H 'Content-Type: application/json')
email="k8s-$(date +%s)-$RANDOM@example.com"

check "users is healthy" 200 "$users/health"
check "products is healthy" 200 "$products/health"
check "register a customer" 201 -X POST "$users/api/users/register" "${json[@]}" \
  -d "{\"email\":\"$email\",\"password\":\"Test123!\",\"name\":\"K8s Test\"}"
check "log in" 200 -X POST "$users/api/users/login" "${json[@]}" -d "{\"email\":\"$email\",\"password\":\"Test123!\"}"
token=$(jq -r .accessToken <<<"$body")
user_id=$(jq -r .user.id <<<"$body")
check "read the profile with the token" 200 "$users/api/users/$user_id" -H "Authorization: Bearer $token"
check "the profile needs a token" 401 "$users/api/users/$user_id"
check "log in as admin" 200 -X POST "$users/api/users/login" "${json[@]}" \
  -d "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}"
admin_token=$(jq -r .accessToken <<<"$body")
check "admin creates a product (token verified through the JWKS)" 201 -X POST "$products/api/products" \
  -H "Authorization: Bearer $admin_token" "${json[@]}" \
  -d '{"name":"K8s Laptop","price":999.99,"stock":10,"category":"Electronics"}'
product_id=$(jq -r .id <<<"$body")
check "the product is listed" 200 "$products/api/products/$product_id"
check "admin takes 3 from stock" 200 -X PUT "$products/api/products/$product_id/stock" \
  -H "Authorization: Bearer $admin_token" "${json[@]}" -d '{"quantity":-3}'
[[ $(jq -r .stock <<<"$body") == 7 ]] || { echo "FAILED: stock should be 7: $body"; failed=$((failed + 1)); }
check "overselling is refused" 409 -X PUT "$products/api/products/$product_id/stock" \
  -H "Authorization: Bearer $admin_token" "${json[@]}" -d '{"quantity":-8}'
check "a customer cannot create products" 403 -X POST "$products/api/products" \
  -H "Authorization: Bearer $token" "${json[@]}" -d '{"name":"X","price":1,"stock":1}'

echo "test-k8s: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
