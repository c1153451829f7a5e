-- Webhooks: subscriptions, one delivery per (subscription, event), the
-- attempt log, and the dispatch cursor over the outbox.
-- Instants are INTEGER milliseconds since the Unix epoch (UTC).

CREATE TABLE webhooks (
    id                         TEXT PRIMARY KEY,
    org_id                     TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,           -- JSON array of types, '*' or 'category.*'
    description                TEXT,
    enabled                    INTEGER NOT NULL,
    scheme                     TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at INTEGER,
    failing_since              INTEGER,
    disabled_reason            TEXT,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    -- The delivery lease: one worker (on any node) serves a subscription at a time.
    lease_owner                TEXT,
    lease_until                INTEGER,
    -- When a worker last finished serving it: the least recently served goes first.
    last_served_at             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhooks_org ON webhooks(org_id, id);
CREATE INDEX webhooks_org_enabled ON webhooks(org_id) WHERE enabled = 1;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    seq              INTEGER NOT NULL,                  -- the event's outbox position
    status           TEXT NOT NULL,                     -- pending | failed | succeeded | dead
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    last_status_code INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(webhook_id, next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, seq) WHERE status IN ('pending', 'failed');

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    webhook_id    TEXT NOT NULL,
    delivery_id   TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    succeeded     INTEGER NOT NULL,
    status_code   INTEGER,
    latency_ms    INTEGER NOT NULL,
    response_body TEXT,
    error         TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts(webhook_id, id);

-- The outbox position up to which events have been fanned out. Starts at
-- the current head: events older than every subscription go nowhere.
CREATE TABLE webhook_dispatch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL
);
INSERT INTO webhook_dispatch (id, cursor) SELECT 1, COALESCE(MAX(seq), 0) FROM outbox;
