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
    lease_until BIGINT,
    status      TEXT,
    result      JSONB,
    analysed_at BIGINT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX call_analyses_running ON call_analyses(state, lease_until);

CREATE TABLE analysis_cursor (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

CREATE TABLE org_intelligence (
    org_id     TEXT PRIMARY KEY,
    settings   JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE intents (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    examples   JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX intents_org_name ON intents(org_id, name);
