-- Changes that can refuse a cached key (delete, disable, rotate, PATCH, an account disabled), in order. An instance
-- hears of each at once (NOTIFY tollgate_key_changes) and also reads this table twice a second, evicts, and records
-- the last change it applied in instances.seen_change: whoever made the change waits until every live instance has.
CREATE TABLE key_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope      TEXT   NOT NULL CHECK (scope IN ('key', 'account')),
    target_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE instances ADD COLUMN seen_change BIGINT NOT NULL DEFAULT 0;
