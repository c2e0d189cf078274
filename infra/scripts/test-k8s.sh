#!/usr/bin/env bash
# The user journey against a deploy.sh deployment, through the NodePort Services: every exposed
# service's health, then register, login, profile, admin creates a product, stock changes, and
# refusals, then a cart, a checkout, its idempotent retry, the one query through the router, and a
# cancellation that returns the stock.
# Exits non-zero on any failure.
#
# URLs come from `minikube service --url`, which works on every driver: with the docker driver on
# macOS and Windows it opens a tunnel, kept while this script runs. Acts on kubectl context
# $KUBE_CONTEXT / Minikube profile $MINIKUBE_PROFILE (default: minikube).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

need kubectl minikube curl jq base64
require_context

tmp=$(mktemp -d)
tunnels=()
finish() {
  local pid
  for pid in ${tunnels[@]+"${tunnels[@]}"}; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap finish EXIT

# Sets url_<name> to where NodePort Service <name> answers from this machine.
service_url() {
  local name=$1 found="" waited=0
  # Not through mk: $! must be minikube itself, so that finish() ends its tunnel.
  minikube --profile "$profile" service "$name" -n "$namespace" --url >"$tmp/$name.url" 2>"$tmp/$name.err" &
  tunnels+=($!)
  until found=$(grep -m1 -E '^https?://' "$tmp/$name.url"); do
    ((waited++ < 300)) || die "minikube service $name --url gave no URL: $(cat "$tmp/$name.err")"
    sleep 0.2
  done
  printf -v "url_$name" '%s' "$found"
}

secret_value() {
  kc get secret ecommerce-secrets -n "$namespace" -o jsonpath="{.data.$1}" | base64 --decode
}

passed=0
failed=0

# check NAME EXPECTED_STATUS CURL_ARGS...: runs curl, compares the status, keeps the body in $body.
check() {
  local name=$1 expected=$2
  shift 2
  body=""
  local response
  response=$(curl -sS --max-time 20 -w '\n%{http_code}' "$@") || { echo "FAILED: $name (curl error)"; failed=$((failed + 1)); return 0; }
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

exposed=$(kc get services -n "$namespace" -o jsonpath='{range .items[?(@.spec.type=="NodePort")]}{.metadata.name}{" "}{end}')
[[ -n $exposed ]] || die "no NodePort Services in namespace $namespace: deploy with infra/scripts/deploy.sh first"
for name in $exposed; do
  service_url "$name"
  url="url_$name"
  echo "$name: ${!url}"
  check "$name is healthy" 200 "${!url}/health"
done
users=${url_users:?the users Service is not exposed}
products=${url_products:?the products Service is not exposed}
cart=${url_cart:?the cart Service is not exposed}
orders=${url_orders:?the orders Service is not exposed}
admin_email=$(secret_value ADMIN_EMAIL)
admin_password=$(secret_value ADMIN_PASSWORD)

json=(-H 'Content-Type: application/json')
email="k8s-$(date +%s)-$RANDOM@example.com"

check "register a customer" 201 -X POST "$users/api/users/register" "${json[@]}" \
  -d "{\"email\":\"$email\",\"password\":\"Test123!\",\"name\":\"K8s Test\"}"
check "log in" 200 -X POST "$users/api/users/login" "${json[@]}" -d "{\"email\":\"$email\",\"password\":\"Test123!\"}"
token=$(jq -r .accessToken <<<"$body")
user_id=$(jq -r .user.id <<<"$body")
check "read the profile with the token" 200 "$users/api/users/$user_id" -H "Authorization: Bearer $token"
check "the profile needs a token" 401 "$users/api/users/$user_id"
# Every users replica signs with the one key: tokens from repeated logins (spread over the
# replicas) all verify at products, which answers 403 (not an admin) rather than 401 (bad token).
for attempt in 1 2 3 4 5 6; do
  check "log in again ($attempt)" 200 -X POST "$users/api/users/login" "${json[@]}" \
    -d "{\"email\":\"$email\",\"password\":\"Test123!\"}"
  check "products verifies that token ($attempt)" 403 -X POST "$products/api/products" \
    -H "Authorization: Bearer $(jq -r .accessToken <<<"$body")" "${json[@]}" -d '{"name":"X","price":1,"stock":1}'
done
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

# Cart (MongoDB) and checkout (orders on MongoDB, calling users, products and cart).
auth=(-H "Authorization: Bearer $token")
check "the customer adds 2 to the cart" 200 -X POST "$cart/api/cart" "${auth[@]}" "${json[@]}" \
  -d "{\"userId\":\"$user_id\",\"productId\":\"$product_id\",\"quantity\":2}"
[[ $(jq -c '{itemCount, subtotal}' <<<"$body") == '{"itemCount":2,"subtotal":1999.98}' ]] \
  || { echo "FAILED: the cart should hold 2 at 999.99: $body"; failed=$((failed + 1)); }
# Another user's id answers 404, as if it did not exist (DESIGN.md, Auth).
check "another user's cart is not shown" 404 "$cart/api/cart/00000000-0000-0000-0000-000000000000" "${auth[@]}"
order_key="k8s-$RANDOM-$RANDOM"
order='{"userId":"'"$user_id"'","shippingAddress":{"street":"1 Main St","city":"Springfield","postalCode":"12345","country":"US"},"paymentMethod":"credit_card"}'
check "checkout places an order" 201 -X POST "$orders/api/orders" "${auth[@]}" "${json[@]}" -H "Idempotency-Key: $order_key" -d "$order"
order_id=$(jq -r .id <<<"$body")
[[ $(jq -r .total <<<"$body") == 1999.98 ]] || { echo "FAILED: the order total should be 1999.98: $body"; failed=$((failed + 1)); }
check "the same Idempotency-Key returns the same order" 200 -X POST "$orders/api/orders" "${auth[@]}" "${json[@]}" \
  -H "Idempotency-Key: $order_key" -d "$order"
[[ $(jq -r .id <<<"$body") == "$order_id" ]] || { echo "FAILED: the retry made another order: $body"; failed=$((failed + 1)); }
check "the order took its stock" 200 "$products/api/products/$product_id"
[[ $(jq -r .stock <<<"$body") == 5 ]] || { echo "FAILED: stock should be 5 after the order: $body"; failed=$((failed + 1)); }
check "checkout emptied the cart" 200 "$cart/api/cart/$user_id" "${auth[@]}"
[[ $(jq -r .itemCount <<<"$body") == 0 ]] || { echo "FAILED: the cart should be empty: $body"; failed=$((failed + 1)); }
check "the order is in the customer's list" 200 "$orders/api/orders/user/$user_id" "${auth[@]}"
[[ $(jq -r 'length' <<<"$body") == 1 ]] || { echo "FAILED: one order expected: $body"; failed=$((failed + 1)); }
# The one query through the router: the user (users), their cart (cart), their orders (orders)
# and the products in them (products), in one request.
router=${url_router:?the router Service is not exposed}
one_query='{"query":"{ me { id email cart { itemCount } orders(first: 10) { totalCount nodes { id status total items { quantity product { name stock } } } } } }"}'
check "the one query through the router" 200 -X POST "$router/graphql" "${auth[@]}" "${json[@]}" -d "$one_query"
expected='{"id":"'"$user_id"'","cart":0,"orders":1,"order":"'"$order_id"'","product":"K8s Laptop","stock":5,"errors":null}'
seen=$(jq -c '{id: .data.me.id, cart: .data.me.cart.itemCount, orders: .data.me.orders.totalCount, order: .data.me.orders.nodes[0].id, product: .data.me.orders.nodes[0].items[0].product.name, stock: .data.me.orders.nodes[0].items[0].product.stock, errors}' <<<"$body")
[[ $seen == "$expected" ]] || { echo "FAILED: the router's answer: $body"; failed=$((failed + 1)); }
open=$(printf '[%.0s' {1..100}); close=$(printf ']%.0s' {1..100})
check "the router refuses a nested value before parsing it" 400 -X POST "$router/graphql" "${json[@]}" \
  -d "{\"query\":\"{__typename(x:${open}1${close})}\"}"
[[ $(jq -r '.errors[0].extensions.code' <<<"$body") == QUERY_TOO_COMPLEX ]] \
  || { echo "FAILED: QUERY_TOO_COMPLEX expected: $body"; failed=$((failed + 1)); }

check "a customer cannot ship their order" 403 -X PUT "$orders/api/orders/$order_id/status" "${auth[@]}" "${json[@]}" -d '{"status":"shipped"}'
check "the customer cancels the pending order" 200 -X PUT "$orders/api/orders/$order_id/status" "${auth[@]}" "${json[@]}" -d '{"status":"cancelled"}'
check "cancelling gave the stock back" 200 "$products/api/products/$product_id"
[[ $(jq -r .stock <<<"$body") == 7 ]] || { echo "FAILED: stock should be 7 again: $body"; failed=$((failed + 1)); }

echo "test-k8s: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
