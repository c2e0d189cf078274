-- One cart per user; its version grows with every change, so a checkout empties only the cart
-- it bought (orders clears it "if still at version N").
CREATE TABLE carts (
    user_id    BLOB PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 0),
    updated_at TEXT NOT NULL
);

CREATE TABLE cart_items (
    user_id    BLOB NOT NULL REFERENCES carts (user_id) ON DELETE CASCADE,
    product_id BLOB NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, product_id)
);
