-- The dashboard's account side: sessions that end (security stamp), disabled accounts, a reporting time
-- zone, invitations, sign-in lockouts and the audit log of admin actions.
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN security_stamp TEXT NOT NULL DEFAULT '';   -- changes end every session
ALTER TABLE accounts ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';      -- IANA id: day boundaries of charts
ALTER TABLE accounts ADD COLUMN playground_key_id TEXT;                    -- the key the dashboard playground bills to
UPDATE accounts SET security_stamp = lower(hex(randomblob(16)));
CREATE INDEX ix_accounts_created ON accounts (created_at, id);

-- An invitation link: only the SHA-256 of its token is kept. A first-run owner link is an invite with role 'owner'.
CREATE TABLE invites (
    id          TEXT    NOT NULL PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    email       TEXT,                                  -- when set, only this address may use it
    role        TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_by  TEXT,                                  -- NULL: the server itself (first run)
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     TEXT
);
CREATE INDEX ix_invites_created ON invites (created_at, id);

-- Failed sign-ins per e-mail address, whether or not an account has it, so a lockout says nothing about existence.
CREATE TABLE sign_in_failures (
    email_normalized TEXT    NOT NULL PRIMARY KEY,
    failures         INTEGER NOT NULL,
    window_start     INTEGER NOT NULL,
    locked_until     INTEGER
);

-- What owners and admins did: grants, role changes, accounts disabled, keys deleted by an admin.
CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_account_id  TEXT,                            -- NULL: the command line
    action            TEXT    NOT NULL,
    target_account_id TEXT,
    subject           TEXT,                            -- what was acted on: a key id, an invite id...
    detail            TEXT,
    created_at        INTEGER NOT NULL
);
CREATE INDEX ix_audit_log_target ON audit_log (target_account_id, id);
