-- Addresses an account logged in from (IPv6 by /64): a known address is spared the login
-- throttle's rules meant for strangers, across restarts and replicas.
CREATE TABLE login_addresses (
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address       TEXT NOT NULL CHECK (length(address) <= 64),
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (user_id, address)
);
