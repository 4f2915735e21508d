-- Credits: an append-only ledger; balances is a running sum of it kept in the same transactions.
CREATE TABLE ledger (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'adjustment')),
    amount_nanos INTEGER NOT NULL,                 -- signed: grants positive, charges negative
    reference    TEXT,                             -- generation id of a charge; request id of a grant
    key_id       TEXT,
    actor        TEXT    NOT NULL,                 -- 'gateway', 'cli', 'signup' or the granting account's id
    note         TEXT,
    created_at   INTEGER NOT NULL
);
-- A generation is charged at most once, whatever happens.
CREATE UNIQUE INDEX ux_ledger_charge_reference ON ledger (reference) WHERE kind = 'charge';
CREATE INDEX ix_ledger_account ON ledger (account_id, id);

CREATE TABLE balances (
    account_id    TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id),
    balance_nanos INTEGER NOT NULL,                -- = SUM(ledger.amount_nanos) of the account
    credits_nanos INTEGER NOT NULL,                -- grants, refunds and adjustments: total_credits
    usage_nanos   INTEGER NOT NULL,                -- charges, as a positive number: total_usage
    updated_at    INTEGER NOT NULL
);

-- One record per chat-completion call, failed ones included.
CREATE TABLE usage_records (
    generation_id        TEXT    NOT NULL PRIMARY KEY,
    account_id           TEXT    NOT NULL,
    key_id               TEXT    NOT NULL,
    model                TEXT    NOT NULL,
    provider             TEXT,
    upstream_model       TEXT,
    prompt_tokens        INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    cached_tokens        INTEGER NOT NULL,
    cost_nanos           INTEGER NOT NULL,
    estimated            INTEGER NOT NULL,
    streamed             INTEGER NOT NULL,
    cancelled            INTEGER NOT NULL,
    finish_reason        TEXT,
    native_finish_reason TEXT,
    status               INTEGER NOT NULL,
    latency_ms           INTEGER NOT NULL,
    first_token_ms       INTEGER,
    http_referer         TEXT,
    app_title            TEXT,
    task_id              TEXT,
    created_at           INTEGER NOT NULL
);
CREATE INDEX ix_usage_records_account_time ON usage_records (account_id, created_at);
CREATE INDEX ix_usage_records_key_time ON usage_records (key_id, created_at);

-- Daily rollups (UTC days), written with each record, so charts and per-key spend never scan the records.
CREATE TABLE usage_daily (
    account_id        TEXT    NOT NULL,
    day               INTEGER NOT NULL,            -- days since 1970-01-01 (UTC)
    key_id            TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_nanos        INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, key_id, model)
);
CREATE INDEX ix_usage_daily_key ON usage_daily (key_id, day);
