-- Orders, with the prices of the moment they were placed. `stock` follows the order's stock
-- reservation at products (held, confirmed once the order was stored, released when cancelled,
-- expired when the hold ran out before it was confirmed and the order was cancelled for it);
-- `cart_done` whether the cart it bought was emptied (or needs no emptying). An order whose stock
-- or cart still owes a step is picked up by the reconciler, so a crash never strands one.
CREATE TABLE orders (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_minor     INTEGER NOT NULL CHECK (total_minor >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3),
    street          TEXT NOT NULL,
    city            TEXT NOT NULL,
    postal_code     TEXT NOT NULL,
    country         TEXT NOT NULL,
    payment_method  TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT NOT NULL,
    stock           TEXT NOT NULL CHECK (stock IN ('held', 'confirmed', 'released', 'expired')),
    cart_version    INTEGER NOT NULL,
    cart_done       BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The same key twice from one user is the same order.
CREATE UNIQUE INDEX orders_user_idempotency_key ON orders (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_user_created ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_unsettled ON orders (created_at) WHERE stock = 'held' OR NOT cart_done
    OR (status = 'cancelled' AND stock NOT IN ('released', 'expired'));

CREATE TABLE order_lines (
    order_id         BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    product_id       BLOB NOT NULL,
    name             TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor > 0),
    currency         TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- One checkout per user at a time (a claim that ends with the checkout, or expires when its
-- process died), so two requests cannot both buy the same cart.
CREATE TABLE checkouts (
    user_id         BLOB PRIMARY KEY NOT NULL,
    order_id        BLOB NOT NULL,
    idempotency_key TEXT,
    expires_at      TEXT NOT NULL
);
