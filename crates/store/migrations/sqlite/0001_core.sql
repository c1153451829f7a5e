-- Core schema: organisations, API keys, calls and their timeline, contacts,
-- the domain-event outbox and idempotency records.
-- Instants are INTEGER milliseconds since the Unix epoch (UTC); free JSON is TEXT.

CREATE TABLE orgs (
    id               TEXT PRIMARY KEY,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    default_region   TEXT,
    time_zone        TEXT NOT NULL,
    phone_strictness TEXT NOT NULL,
    plan             TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_org ON api_keys(org_id, created_at);

CREATE TABLE calls (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL,
    status               TEXT NOT NULL,
    direction            TEXT NOT NULL,
    from_number          TEXT,
    to_number            TEXT,
    contact_id           TEXT,
    customer_name        TEXT,
    customer_phone       TEXT,
    customer_external_id TEXT,
    customer_context     TEXT,
    call_type            TEXT,
    agent_id             TEXT,
    agent_name           TEXT,
    campaign_id          TEXT,
    template_id          TEXT,
    variables            TEXT,
    metadata             TEXT,
    scheduled_at         INTEGER,
    initiated_at         INTEGER,
    ringing_at           INTEGER,
    answered_at          INTEGER,
    ended_at             INTEGER,
    duration             INTEGER,
    outcome              TEXT,
    notes                TEXT,
    recording_url        TEXT,
    transcript           TEXT,
    sentiment            TEXT,
    topics               TEXT,
    summary              TEXT,
    collected_data       TEXT,
    cost                 REAL,
    external_id          TEXT,
    occurred_at          INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE UNIQUE INDEX calls_external ON calls(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX calls_org_time ON calls(org_id, occurred_at, id);
CREATE INDEX calls_org_contact ON calls(org_id, contact_id, occurred_at) WHERE contact_id IS NOT NULL;
CREATE INDEX calls_org_campaign ON calls(org_id, campaign_id, occurred_at) WHERE campaign_id IS NOT NULL;
CREATE INDEX calls_org_customer ON calls(org_id, customer_external_id, occurred_at) WHERE customer_external_id IS NOT NULL;

CREATE TABLE call_timeline (
    id      INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    at      INTEGER NOT NULL,
    data    TEXT
);
CREATE INDEX call_timeline_call ON call_timeline(call_id, id);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    name          TEXT,
    phone         TEXT NOT NULL,
    email         TEXT,
    company       TEXT,
    tags          TEXT NOT NULL,
    custom_fields TEXT,
    external_id   TEXT,
    time_zone     TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_org ON contacts(org_id, id);
CREATE INDEX contacts_phone ON contacts(org_id, phone);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_org ON outbox(org_id, seq);

CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) WITHOUT ROWID;
