-- Conversation intelligence: each call's stored analysis (claimed with a
-- lease, so nodes never analyse one call twice), the analysis worker's
-- place in the outbox, each organisation's intelligence settings and its
-- own intents.

-- state: idle (placeholder), running (claimed by owner until lease_until),
-- done (result holds the analysis). fingerprint identifies the transcript
-- the analysis was made of.
CREATE TABLE call_analyses (
    call_id     TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    fingerprint TEXT,
    owner       TEXT,
    lease_until INTEGER,
    status      TEXT,
    result      TEXT,
    analysed_at INTEGER,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX call_analyses_running ON call_analyses(state, lease_until);

CREATE TABLE analysis_cursor (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE org_intelligence (
    org_id     TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE intents (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    examples   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX intents_org_name ON intents(org_id, name);
