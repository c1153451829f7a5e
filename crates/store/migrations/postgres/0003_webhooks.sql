-- Webhooks: subscriptions, one delivery per (subscription, event), the
-- attempt log, and the dispatch cursor over the outbox.

CREATE TABLE webhooks (
    id                         TEXT PRIMARY KEY,
    org_id                     TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     JSONB NOT NULL,          -- array of types, '*' or 'category.*'
    description                TEXT,
    enabled                    BOOLEAN NOT NULL,
    scheme                     TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    failing_since              TIMESTAMPTZ,
    disabled_reason            TEXT,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL,
    -- The delivery lease: one worker (on any node) serves a subscription at a time.
    lease_owner                TEXT,
    lease_until                TIMESTAMPTZ,
    -- When a worker last finished serving it: the least recently served goes first.
    last_served_at             TIMESTAMPTZ NOT NULL DEFAULT 'epoch'
);
CREATE INDEX webhooks_org ON webhooks(org_id, id);
CREATE INDEX webhooks_org_enabled ON webhooks(org_id) WHERE enabled;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    seq              BIGINT NOT NULL,                   -- the event's outbox position
    status           TEXT NOT NULL,                     -- pending | failed | succeeded | dead
    attempts         INTEGER NOT NULL,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    last_status_code INTEGER,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
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
    succeeded     BOOLEAN NOT NULL,
    status_code   INTEGER,
    latency_ms    BIGINT NOT NULL,
    response_body TEXT,
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts(webhook_id, id);

-- The outbox position up to which events have been fanned out; its row is
-- locked by the fan-out transaction, so nodes take turns. Starts at the
-- current head: events older than every subscription go nowhere.
CREATE TABLE webhook_dispatch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    cursor BIGINT NOT NULL
);
INSERT INTO webhook_dispatch (id, cursor) SELECT 1, COALESCE(MAX(seq), 0) FROM outbox;
