CREATE TABLE products (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description TEXT NOT NULL DEFAULT '',
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    -- Stock never goes negative, whatever the code above does.
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    category    TEXT,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX products_category_idx ON products (lower(category));
CREATE INDEX products_name_idx ON products (lower(name), id);

-- Stock held for an order; one row per order id makes reserve and release idempotent.
CREATE TABLE stock_reservations (
    order_id    UUID PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at  TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ
);

CREATE TABLE stock_reservation_items (
    order_id         UUID NOT NULL REFERENCES stock_reservations (order_id) ON DELETE CASCADE,
    product_id       UUID NOT NULL REFERENCES products (id),
    product_name     TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL CHECK (unit_price_minor > 0),
    currency         TEXT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
