-- Agents, departments and queues. An agent is a user with the `agent`
-- role; this row holds their profile and status once they have one (a user
-- without a row is an offline agent with an empty profile).
CREATE TABLE agents (
    user_id              TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL,
    skills               TEXT NOT NULL DEFAULT '{}',
    languages            TEXT NOT NULL DEFAULT '[]',
    department           TEXT,
    max_concurrent_calls INTEGER NOT NULL DEFAULT 1,
    -- calls held or offered now, kept by the router's conditional UPDATEs
    active_calls         INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'offline',
    break_reason         TEXT,
    status_since         INTEGER NOT NULL,
    -- milliseconds spent in each earlier status: {"available": 120000, ...}
    status_ms            TEXT NOT NULL DEFAULT '{}',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX agents_org_status ON agents(org_id, status);

CREATE TABLE departments (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX departments_name ON departments(org_id, name);

-- hours: {"time_zone", "days", "open", "close"} or NULL (always open);
-- overflow_type: queue | voicemail | number, with its target.
CREATE TABLE queues (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    name            TEXT NOT NULL,
    department_id   TEXT,
    skills          TEXT NOT NULL DEFAULT '{}',
    priority        INTEGER NOT NULL,
    max_wait_secs   INTEGER NOT NULL,
    hours           TEXT,
    overflow_type   TEXT,
    overflow_target TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX queues_name ON queues(org_id, name);
CREATE INDEX queues_department ON queues(org_id, department_id);

-- Calls waiting in queues: waiting → offered (to agent_id, until
-- offer_expires_at) → connected → done; abandoned when the call ends
-- before it is connected.
CREATE TABLE queue_calls (
    call_id          TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    queue_id         TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    state            TEXT NOT NULL,
    agent_id         TEXT,
    enqueued_at      INTEGER NOT NULL,
    offered_at       INTEGER,
    offer_expires_at INTEGER,
    connected_at     INTEGER,
    ended_at         INTEGER,
    missed           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_calls_state ON queue_calls(org_id, state, priority, enqueued_at);
CREATE INDEX queue_calls_queue ON queue_calls(queue_id, state);
