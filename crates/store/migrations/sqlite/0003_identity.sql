-- Identity and limits: scoped, expiring API keys; users; rotating refresh
-- tokens; the audit log; monthly usage counters; server-wide secrets.

ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '["*"]';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    preferences   TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    last_login_at INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_org ON users(org_id, created_at);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     TEXT,
    ip         TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, created_at);

-- Usage of unlimited plans is counted from the calls themselves.
CREATE INDEX calls_org_created ON calls(org_id, created_at);

-- Calls created per month, kept exact in the creating transaction for
-- plans with a monthly quota.
CREATE TABLE usage_months (
    org_id TEXT NOT NULL,
    month  TEXT NOT NULL,
    calls  INTEGER NOT NULL,
    PRIMARY KEY (org_id, month)
) WITHOUT ROWID;

CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
