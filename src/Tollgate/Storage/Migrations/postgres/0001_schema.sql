-- The PostgreSQL schema: the same tables as SQLite's migrations 1-6, plus what several instances share
-- (credit holds, per-key spend counters, the instance heartbeat, the data-protection key ring).
-- Times are Unix milliseconds (UTC, bigint); money is integer nano-dollars (1e-9 USD, bigint).

CREATE TABLE accounts (
    id                TEXT    NOT NULL PRIMARY KEY,
    email             TEXT    NOT NULL,
    email_normalized  TEXT    NOT NULL UNIQUE,
    display_name      TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    password_hash     TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    disabled          BOOLEAN NOT NULL DEFAULT FALSE,
    security_stamp    TEXT    NOT NULL DEFAULT '',   -- changes end every session
    time_zone         TEXT    NOT NULL DEFAULT 'UTC', -- IANA id: day boundaries of charts
    playground_key_id TEXT                           -- the key the dashboard playground bills to
);
CREATE INDEX ix_accounts_created ON accounts (created_at, id);

CREATE TABLE api_keys (
    id                   TEXT    NOT NULL PRIMARY KEY,
    account_id           TEXT    NOT NULL REFERENCES accounts (id),
    name                 TEXT    NOT NULL,
    label                TEXT    NOT NULL,
    secret_hash          TEXT    NOT NULL UNIQUE,   -- SHA-256 of the whole key, hex
    previous_secret_hash TEXT,                      -- the rotated-out secret, during its grace period
    previous_valid_until BIGINT,
    scopes               TEXT    NOT NULL,          -- space-separated scope names
    models               TEXT,                      -- JSON array of ids/patterns; NULL = every model
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    limit_nanos          BIGINT,
    limit_reset          TEXT CHECK (limit_reset IN ('daily', 'weekly', 'monthly')),
    rate_limit_rpm       INTEGER,
    created_at           BIGINT  NOT NULL,
    last_used_at         BIGINT,
    expires_at           BIGINT,
    deleted_at           BIGINT,                    -- kept so usage records still name their key
    version              BIGINT  NOT NULL DEFAULT 1 -- raised by every change: caches compare it
);
CREATE INDEX ix_api_keys_account ON api_keys (account_id, created_at);
CREATE INDEX ix_api_keys_previous_secret ON api_keys (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL;

-- Credits: an append-only ledger; balances is a running sum of it kept in the same transactions.
CREATE TABLE ledger (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('grant', 'charge', 'refund', 'adjustment')),
    amount_nanos BIGINT  NOT NULL,                 -- signed: grants positive, charges negative
    reference    TEXT,                             -- generation id of a charge; request id of a grant
    key_id       TEXT,
    actor        TEXT    NOT NULL,                 -- 'gateway', 'cli', 'signup', 'sweeper' or the granting account's id
    note         TEXT,
    created_at   BIGINT  NOT NULL
);
-- A generation is charged at most once, whatever happens (settlement is idempotent by generation id).
CREATE UNIQUE INDEX ux_ledger_charge_reference ON ledger (reference) WHERE kind = 'charge';
CREATE INDEX ix_ledger_account ON ledger (account_id, id);
CREATE INDEX ix_ledger_outside ON ledger (account_id, id) WHERE kind <> 'charge';

-- held_nanos: the sum of the account's open holds (credit_holds). Nothing is admitted past the balance.
CREATE TABLE balances (
    account_id    TEXT   NOT NULL PRIMARY KEY REFERENCES accounts (id),
    balance_nanos BIGINT NOT NULL,                 -- = SUM(ledger.amount_nanos) of the account
    credits_nanos BIGINT NOT NULL,                 -- grants, refunds and adjustments: total_credits
    usage_nanos   BIGINT NOT NULL,                 -- charges, as a positive number: total_usage
    held_nanos    BIGINT NOT NULL DEFAULT 0 CHECK (held_nanos >= 0),
    updated_at    BIGINT NOT NULL,
    CONSTRAINT ck_balances_covers_holds CHECK (balance_nanos - held_nanos >= 0 OR held_nanos = 0)
);

-- One row per admitted request not yet settled or released: what it may cost, until when it may run.
-- An instance that dies leaves its holds; the sweeper settles an expired one at its amount and flags it.
CREATE TABLE credit_holds (
    id           TEXT   NOT NULL PRIMARY KEY,      -- the reservation id
    account_id   TEXT   NOT NULL,
    key_id       TEXT   NOT NULL,
    amount_nanos BIGINT NOT NULL CHECK (amount_nanos >= 0),
    instance_id  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX ix_credit_holds_expiry ON credit_holds (expires_at);
CREATE INDEX ix_credit_holds_account ON credit_holds (account_id);

-- A key's spend in its current periods and what it holds, on one row, so a limit is checked with the row lock held.
-- *_period is the period's first UTC day (days since 1970-01-01); a counter of an older period counts as 0.
CREATE TABLE key_spend (
    key_id        TEXT   NOT NULL PRIMARY KEY,
    total_nanos   BIGINT NOT NULL DEFAULT 0,
    day_period    BIGINT NOT NULL DEFAULT 0,
    day_nanos     BIGINT NOT NULL DEFAULT 0,
    week_period   BIGINT NOT NULL DEFAULT 0,
    week_nanos    BIGINT NOT NULL DEFAULT 0,
    month_period  BIGINT NOT NULL DEFAULT 0,
    month_nanos   BIGINT NOT NULL DEFAULT 0,
    held_nanos    BIGINT NOT NULL DEFAULT 0 CHECK (held_nanos >= 0)
);

-- Holds that expired with their instance gone, settled at the hold amount: to reconcile by hand.
CREATE TABLE expired_holds (
    id           TEXT   NOT NULL PRIMARY KEY,
    account_id   TEXT   NOT NULL,
    key_id       TEXT   NOT NULL,
    amount_nanos BIGINT NOT NULL,
    instance_id  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    settled_at   BIGINT NOT NULL,
    reconciled   BOOLEAN NOT NULL DEFAULT FALSE
);

-- One record per call, failed ones included; partitioned by month of created_at (the server adds partitions ahead).
CREATE TABLE usage_records (
    generation_id        TEXT    NOT NULL,
    account_id           TEXT    NOT NULL,
    key_id               TEXT    NOT NULL,
    model                TEXT    NOT NULL,
    provider             TEXT,
    upstream_model       TEXT,
    prompt_tokens        INTEGER NOT NULL,
    completion_tokens    INTEGER NOT NULL,
    cached_tokens        INTEGER NOT NULL,
    reasoning_tokens     INTEGER NOT NULL DEFAULT 0,
    cost_nanos           BIGINT  NOT NULL,
    unpriced             BOOLEAN NOT NULL DEFAULT FALSE,
    estimated            BOOLEAN NOT NULL,
    streamed             BOOLEAN NOT NULL,
    cancelled            BOOLEAN NOT NULL,
    finish_reason        TEXT,
    native_finish_reason TEXT,
    status               INTEGER NOT NULL,
    latency_ms           BIGINT  NOT NULL,
    first_token_ms       BIGINT,
    http_referer         TEXT,
    app_title            TEXT,
    task_id              TEXT,
    created_at           BIGINT  NOT NULL,
    PRIMARY KEY (generation_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT;
CREATE INDEX ix_usage_records_account_time ON usage_records (account_id, created_at, generation_id);
CREATE INDEX ix_usage_records_key_time ON usage_records (account_id, key_id, created_at, generation_id);
CREATE INDEX ix_usage_records_model_time ON usage_records (account_id, model, created_at, generation_id);
CREATE INDEX ix_usage_records_app_time ON usage_records (account_id, app_title, created_at, generation_id);
-- /generation looks a call up by id alone.
CREATE INDEX ix_usage_records_generation ON usage_records (generation_id);

CREATE TABLE usage_daily (
    account_id        TEXT   NOT NULL,
    day               BIGINT NOT NULL,             -- days since 1970-01-01 (UTC)
    key_id            TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_nanos        BIGINT NOT NULL,
    unpriced_requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, key_id, model)
);
CREATE INDEX ix_usage_daily_key ON usage_daily (key_id, day);

-- 15-minute rollups: bucket = floor(created_at / 900000).
CREATE TABLE usage_rollup_model (
    account_id        TEXT   NOT NULL,
    bucket            BIGINT NOT NULL,
    model             TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_nanos        BIGINT NOT NULL,
    unpriced_requests BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, model)
);

CREATE TABLE usage_rollup_key (
    account_id        TEXT   NOT NULL,
    bucket            BIGINT NOT NULL,
    key_id            TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_nanos        BIGINT NOT NULL,
    unpriced_requests BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, key_id)
);

-- app = the X-Title header as recorded; '' for calls without one.
CREATE TABLE usage_rollup_app (
    account_id        TEXT   NOT NULL,
    bucket            BIGINT NOT NULL,
    app               TEXT   NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_nanos        BIGINT NOT NULL,
    unpriced_requests BIGINT NOT NULL,
    PRIMARY KEY (account_id, bucket, app)
);

CREATE TABLE invites (
    id          TEXT   NOT NULL PRIMARY KEY,
    token_hash  TEXT   NOT NULL UNIQUE,
    email       TEXT,
    role        TEXT   NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_by  TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_by     TEXT
);
CREATE INDEX ix_invites_created ON invites (created_at, id);

CREATE TABLE sign_in_failures (
    email_normalized TEXT    NOT NULL PRIMARY KEY,
    failures         INTEGER NOT NULL,
    window_start     BIGINT  NOT NULL,
    locked_until     BIGINT
);

CREATE TABLE audit_log (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_account_id  TEXT,
    action            TEXT   NOT NULL,
    target_account_id TEXT,
    subject           TEXT,
    detail            TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX ix_audit_log_target ON audit_log (target_account_id, id);

-- Live instances: each writes its row every few seconds (rate limits without Redis divide by the live count).
CREATE TABLE instances (
    id         TEXT   NOT NULL PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);

-- The ASP.NET Core data-protection key ring, shared so that a cookie from one instance is read by every other.
CREATE TABLE data_protection_keys (
    name TEXT NOT NULL PRIMARY KEY,
    xml  TEXT NOT NULL
);
