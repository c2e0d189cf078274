-- One cart per user; its version grows with every change, so a checkout knows whether the cart
-- changed after it was read (then only what was ordered is taken out of it).
CREATE TABLE carts (
    user_id    BLOB PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 0),
    updated_at TEXT NOT NULL
);

-- The orders taken out of each cart after their checkout: each is taken out once, however late
-- a retried request arrives.
CREATE TABLE taken_orders (
    user_id  BLOB NOT NULL,
    order_id BLOB NOT NULL,
    PRIMARY KEY (user_id, order_id)
);

CREATE TABLE cart_items (
    user_id    BLOB NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id BLOB NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
