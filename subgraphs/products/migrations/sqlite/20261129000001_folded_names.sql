-- Search, category filter and name sort compare these columns, folded by the service with one
-- Unicode rule (see `domain::fold`) on every backend: the databases' own lower() disagree on
-- non-ASCII text (SQLite folds ASCII only). Rows from before this migration are folded at start-up.
ALTER TABLE products ADD COLUMN name_folded TEXT;
ALTER TABLE products ADD COLUMN category_folded TEXT;
CREATE INDEX products_name_folded_idx ON products (name_folded, id);
CREATE INDEX products_category_folded_idx ON products (category_folded);
