-- One cart per user; its version grows with every change, so a checkout knows whether the cart
-- changed after it was read (then only what was ordered is taken out of it). `last_order` is the
-- last order taken out, so a retried settlement takes it out once.
CREATE TABLE carts (
    user_id    BLOB PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 0),
    updated_at TEXT NOT NULL,
    last_order BLOB
);

CREATE TABLE cart_items (
    user_id    BLOB NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id BLOB NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
