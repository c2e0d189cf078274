// Checkout under concurrency for the benchmark (scripts/bench.sh): each connection is one
// customer who puts a product into the cart and places the order, over and over, through REST or
// through the router; afterwards the stock invariant is checked from what the services store.
// Prints one JSON line of results.
//
//   node bench/checkout.mjs rest   <connections> <seconds>   POST /api/cart, POST /api/orders
//   node bench/checkout.mjs router <connections> <seconds>   POST /api/cart, placeOrder via router
//
// Environment: ROUTER, PRODUCTS, CART, ORDERS (base URLs), BENCH_FILE (JSON {users: [{id, token}],
// products: [{id, stock}]}, one user per connection, products that only this run sells).
//
// Requests go over keep-alive connections (Node's fetch pools them per origin). A checkout is an
// error unless every request in it answers as it should; one refused for want of stock (409
// INSUFFICIENT_STOCK, at the cart or at the order) is counted as refused: it is the right answer
// once the stock is gone. The invariant: for every product, on hand + ordered (not cancelled) =
// the initial stock, and nothing below zero.

import { readFileSync } from 'node:fs';

const [mode, connectionsArg, secondsArg] = process.argv.slice(2);
const connections = Number(connectionsArg);
const seconds = Number(secondsArg);
if (!['rest', 'router'].includes(mode) || !(connections > 0) || !(seconds > 0)) {
  console.error('usage: node bench/checkout.mjs <rest|router> <connections> <seconds>');
  process.exit(2);
}
const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`checkout.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

class Failure extends Error {}

async function call(url, { token, body, method = body === undefined ? 'GET' : 'POST' } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    throw new Failure(`${url}: ${response.status}, not JSON`);
  }
  return { status: response.status, json };
}

const ADDRESS = { street: '1 Bench Street', city: 'Berlin', postalCode: '10115', country: 'DE' };
const PLACE_ORDER = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status total } }`;

// One checkout: a product into the cart, then the order. Returns 'placed' or 'refused'.
function checkout(viaRouter) {
  const bench = JSON.parse(readFileSync(env('BENCH_FILE'), 'utf8'));
  let next = 0;
  return async (worker) => {
    const user = bench.users[worker % bench.users.length];
    const product = bench.products[next++ % bench.products.length];
    const added = await call(`${env('CART')}/api/cart`, {
      token: user.token,
      body: { userId: user.id, productId: product.id, quantity: 1 },
    });
    if (added.status === 409 && added.json?.error?.code === 'INSUFFICIENT_STOCK') return 'refused';
    if (added.status !== 200) throw new Failure(`add to cart: ${added.status} ${JSON.stringify(added.json)}`);
    if (viaRouter) {
      const { status, json } = await call(`${env('ROUTER')}/graphql`, {
        token: user.token,
        body: { query: PLACE_ORDER, variables: { input: { shippingAddress: ADDRESS, paymentMethod: 'credit_card' } } },
      });
      if (status === 200 && json?.data?.placeOrder?.id) return 'placed';
      const code = json?.errors?.[0]?.extensions?.code;
      if (code === 'INSUFFICIENT_STOCK') return emptyCart(user, 'refused');
      throw new Failure(`placeOrder: ${status} ${JSON.stringify(json).slice(0, 300)}`);
    }
    const { status, json } = await call(`${env('ORDERS')}/api/orders`, {
      token: user.token,
      body: { userId: user.id, shippingAddress: ADDRESS, paymentMethod: 'credit_card' },
    });
    if (status === 201) return 'placed';
    if (status === 409 && json?.error?.code === 'INSUFFICIENT_STOCK') return emptyCart(user, 'refused');
    throw new Failure(`POST /api/orders: ${status} ${JSON.stringify(json).slice(0, 300)}`);
  };
}

async function emptyCart(user, outcome) {
  const { status } = await call(`${env('CART')}/api/cart/${user.id}`, { token: user.token, method: 'DELETE' });
  if (status !== 200 && status !== 204) throw new Failure(`empty cart: ${status}`);
  return outcome;
}

// After a checkout run: on hand + ordered (not cancelled) = initial, for every product.
async function stockInvariant() {
  const bench = JSON.parse(readFileSync(env('BENCH_FILE'), 'utf8'));
  const ordered = new Map();
  for (const user of bench.users) {
    for (let offset = 0; ; offset += 100) {
      const { status, json } = await call(`${env('ORDERS')}/api/orders/user/${user.id}?limit=100&offset=${offset}`, {
        token: user.token,
      });
      if (status !== 200) throw new Failure(`orders of ${user.id}: ${status}`);
      for (const order of json) {
        if (order.status === 'cancelled') continue;
        for (const item of order.items) ordered.set(item.productId, (ordered.get(item.productId) ?? 0) + item.quantity);
      }
      if (json.length < 100) break;
    }
  }
  let oversold = 0;
  let lost = 0;
  let sold = 0;
  for (const product of bench.products) {
    const { status, json } = await call(`${env('PRODUCTS')}/api/products/${product.id}`);
    if (status !== 200) throw new Failure(`product ${product.id}: ${status}`);
    const out = ordered.get(product.id) ?? 0;
    sold += out;
    oversold += Math.max(0, out - product.stock) + Math.max(0, -json.stock);
    lost += Math.abs(product.stock - json.stock - out);
  }
  return { sold, oversold, lost };
}

const work = checkout(mode === 'router');

const latencies = [];
const outcomes = { placed: 0, refused: 0, errors: 0 };
let firstError;
const deadline = performance.now() + seconds * 1000;
async function worker(index) {
  while (performance.now() < deadline) {
    const started = performance.now();
    try {
      const outcome = await work(index);
      latencies.push(performance.now() - started);
      outcomes[outcome] += 1;
    } catch (error) {
      outcomes.errors += 1;
      firstError ??= error instanceof Failure ? error.message : String(error);
    }
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const percentile = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN);
const result = {
  mode,
  connections,
  seconds: Number(elapsed.toFixed(2)),
  completed: latencies.length,
  per_second: Number((latencies.length / elapsed).toFixed(1)),
  p50_ms: Number(percentile(0.5).toFixed(2)),
  p99_ms: Number(percentile(0.99).toFixed(2)),
  ...outcomes,
};
if (firstError) result.first_error = firstError;
Object.assign(result, await stockInvariant());
console.log(JSON.stringify(result));
