-- Identity and limits: scoped, expiring API keys; users; rotating refresh
-- tokens; the audit log; monthly usage counters; server-wide secrets.

ALTER TABLE api_keys ADD COLUMN scopes JSONB NOT NULL DEFAULT '["*"]';
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMPTZ;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    preferences   JSONB NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    last_login_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_org ON users(org_id, created_at);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    detail     JSONB,
    ip         TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, created_at);

-- Usage of unlimited plans is counted from the calls themselves.
CREATE INDEX calls_org_created ON calls(org_id, created_at);

-- Calls created per month, kept exact in the creating transaction for
-- plans with a monthly quota.
CREATE TABLE usage_months (
    org_id TEXT NOT NULL,
    month  TEXT NOT NULL,
    calls  BIGINT NOT NULL,
    PRIMARY KEY (org_id, month)
);

CREATE TABLE server_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
