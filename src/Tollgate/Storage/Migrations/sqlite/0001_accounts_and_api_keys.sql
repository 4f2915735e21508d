-- Times are Unix milliseconds (UTC); money is integer nano-dollars (1e-9 USD).
CREATE TABLE accounts (
    id               TEXT    NOT NULL PRIMARY KEY,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL UNIQUE,
    display_name     TEXT    NOT NULL,
    role             TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash    TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id                       TEXT    NOT NULL PRIMARY KEY,
    account_id               TEXT    NOT NULL REFERENCES accounts (id),
    name                     TEXT    NOT NULL,
    label                    TEXT    NOT NULL,
    secret_hash              TEXT    NOT NULL UNIQUE,   -- SHA-256 of the whole key, hex
    previous_secret_hash     TEXT,                      -- the rotated-out secret, during its grace period
    previous_valid_until     INTEGER,
    scopes                   TEXT    NOT NULL,          -- space-separated scope names
    models                   TEXT,                      -- JSON array of ids/patterns; NULL = every model
    disabled                 INTEGER NOT NULL DEFAULT 0,
    limit_nanos              INTEGER,
    limit_reset              TEXT CHECK (limit_reset IN ('daily', 'weekly', 'monthly')),
    rate_limit_rpm           INTEGER,
    created_at               INTEGER NOT NULL,
    last_used_at             INTEGER,
    expires_at               INTEGER,
    deleted_at               INTEGER                    -- kept so usage records still name their key
);

CREATE INDEX ix_api_keys_account ON api_keys (account_id, created_at);
CREATE INDEX ix_api_keys_previous_secret ON api_keys (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL;
