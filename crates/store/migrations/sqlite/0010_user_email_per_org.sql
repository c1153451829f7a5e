-- An e-mail is unique within an organisation, no longer across all of
-- them: creating a user never tells whether the address is used elsewhere.
-- SQLite cannot drop a column constraint, so the table is rebuilt.

CREATE TABLE users_new (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    email         TEXT NOT NULL,
    name          TEXT,
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    preferences   TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    last_login_at INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (org_id, email)
);
INSERT INTO users_new (id, org_id, email, name, role, status, preferences, password_hash, failed_logins, locked_until, last_login_at, created_at, updated_at)
    SELECT id, org_id, email, name, role, status, preferences, password_hash, failed_logins, locked_until, last_login_at, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_org ON users(org_id, created_at);
-- Logins without an organisation take the e-mail's oldest account.
CREATE INDEX users_email ON users(email, created_at, id);
