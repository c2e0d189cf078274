CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Emails are unique whatever their case (emails are also lower-cased before they are stored,
-- because SQLite's lower() folds ASCII only).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
