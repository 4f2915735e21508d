-- Usage read side for the dashboard: rollups fine enough for any reporting time zone, calls that were
-- billed without prices, and indexes so that every list of calls is an index range scan.

-- A call to a model without prices costs 0 nanos, which means "unknown", not "free": it is marked here (and
-- counted in every rollup) so the dashboard can say "unpriced" instead of $0. Calls recorded before this
-- migration count as priced.
ALTER TABLE usage_records ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN unpriced_requests INTEGER NOT NULL DEFAULT 0;

-- The recent-calls list, newest first, is a keyset over (created_at, generation_id) within one account,
-- optionally within one key, model or app title. Each index ends with the two keyset columns, so a page is one
-- range scan however deep it is, and another account's key id matches nothing at once.
DROP INDEX ix_usage_records_account_time;
DROP INDEX ix_usage_records_key_time;
CREATE INDEX ix_usage_records_account_time ON usage_records (account_id, created_at, generation_id);
CREATE INDEX ix_usage_records_key_time ON usage_records (account_id, key_id, created_at, generation_id);
CREATE INDEX ix_usage_records_model_time ON usage_records (account_id, model, created_at, generation_id);
CREATE INDEX ix_usage_records_app_time ON usage_records (account_id, app_title, created_at, generation_id);

-- 15-minute rollups, written with each record in the same group commit. Every real time zone's offset is a
-- multiple of 15 minutes, so a local day (in any zone, on either side of a DST change) is a whole range of
-- buckets: charts sum at most 96 buckets a day per group, never the records.
-- bucket = floor(created_at / 900000), created_at in Unix milliseconds.
CREATE TABLE usage_rollup_model (
    account_id        TEXT    NOT NULL,
    bucket            INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_nanos        INTEGER NOT NULL,
    unpriced_requests INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, model)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_key (
    account_id        TEXT    NOT NULL,
    bucket            INTEGER NOT NULL,
    key_id            TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_nanos        INTEGER NOT NULL,
    unpriced_requests INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, key_id)
) WITHOUT ROWID;

-- app = the X-Title header as recorded; '' for calls without one (a recorded title is never empty).
CREATE TABLE usage_rollup_app (
    account_id        TEXT    NOT NULL,
    bucket            INTEGER NOT NULL,
    app               TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_nanos        INTEGER NOT NULL,
    unpriced_requests INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket, app)
) WITHOUT ROWID;

-- Back-fill from the records already there.
INSERT INTO usage_rollup_model
SELECT account_id, created_at / 900000, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos), SUM(unpriced)
FROM usage_records GROUP BY account_id, created_at / 900000, model;

INSERT INTO usage_rollup_key
SELECT account_id, created_at / 900000, key_id, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos), SUM(unpriced)
FROM usage_records GROUP BY account_id, created_at / 900000, key_id;

INSERT INTO usage_rollup_app
SELECT account_id, created_at / 900000, COALESCE(app_title, ''), COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos),
       SUM(unpriced)
FROM usage_records GROUP BY account_id, created_at / 900000, COALESCE(app_title, '');
