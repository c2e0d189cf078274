# shellcheck shell=bash
# What the README's walkthrough block must print wherever it runs: scripts/walkthrough.sh (the
# launcher, with demo data) and scripts/container-test.sh (the containers, without). Sourced; the
# caller defines `expect TEXT DESCRIPTION`. $1: how many products GraphQL lists there.
walkthrough_expected() {
  local catalogue=$1
  expect '"email":"test@example.com","name":"Test User","role":"customer"' "register, log in and read the profile with the token"
  expect '"price": 999.99' "the admin creates a product with an exact price"
  expect '"stock": 45' "the admin applies a signed stock delta"
  expect '"code":"INSUFFICIENT_STOCK"' "overselling is refused"
  expect '"code":"FORBIDDEN"' "customers cannot create products"
  expect "\"totalCount\":$catalogue" "GraphQL counts the catalogue (totalCount $catalogue)"
  expect '"role":"CUSTOMER"' "GraphQL me with the token"
  expect '{"itemCount":3,"subtotal":2999.97}' "adding the same product again adds to its line"
  expect '{"itemCount":2,"subtotal":1999.98}' "setting a cart line's quantity"
  expect 'first: 201' "checkout places an order"
  expect 'retry: 200' "the same Idempotency-Key returns the same order"
  expect '{"status":"pending","total":1999.98,"items":[{"name":"Laptop","quantity":2,"unitPrice":999.99}]}' "the order is priced by products"
  expect '[{"status":"pending","total":1999.98}]' "one order in the list, not two"
  expect '{"itemCount":0}' "checkout empties the cart"
  expect '{"name":"Test User","cart":0,"orders":1,"first":{"quantity":2,"product":{"name":"Laptop","stock":43}}}' "the one query through the router"
  expect '{"status":"shipped"}' "the admin ships the order"
}
