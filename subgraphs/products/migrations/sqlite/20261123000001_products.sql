CREATE TABLE products (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT NOT NULL DEFAULT '',
    price_minor INTEGER NOT NULL CHECK (price_minor > 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    -- Stock never goes negative, whatever the code above does.
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    category    TEXT,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX products_category_idx ON products (lower(category));
CREATE INDEX products_name_idx ON products (lower(name), id);

-- Stock held for an order; one row per order id makes reserve and release idempotent.
CREATE TABLE stock_reservations (
    order_id    BLOB PRIMARY KEY NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at  TEXT NOT NULL,
    released_at TEXT
);

CREATE TABLE stock_reservation_items (
    order_id         BLOB NOT NULL REFERENCES stock_reservations (order_id) ON DELETE CASCADE,
    product_id       BLOB NOT NULL REFERENCES products (id),
    product_name     TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor > 0),
    currency         TEXT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
