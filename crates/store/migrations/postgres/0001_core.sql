-- Core schema: organisations, API keys, calls and their timeline, contacts,
-- the domain-event outbox and idempotency records.

CREATE TABLE orgs (
    id               TEXT PRIMARY KEY,
    slug             TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    default_region   TEXT,
    time_zone        TEXT NOT NULL,
    phone_strictness TEXT NOT NULL,
    plan             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
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
    customer_context     JSONB,
    call_type            TEXT,
    agent_id             TEXT,
    agent_name           TEXT,
    campaign_id          TEXT,
    template_id          TEXT,
    variables            JSONB,
    metadata             JSONB,
    scheduled_at         TIMESTAMPTZ,
    initiated_at         TIMESTAMPTZ,
    ringing_at           TIMESTAMPTZ,
    answered_at          TIMESTAMPTZ,
    ended_at             TIMESTAMPTZ,
    duration             BIGINT,
    outcome              TEXT,
    notes                TEXT,
    recording_url        TEXT,
    transcript           TEXT,
    sentiment            TEXT,
    topics               JSONB,
    summary              TEXT,
    collected_data       JSONB,
    cost                 DOUBLE PRECISION,
    external_id          TEXT,
    occurred_at          TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX calls_external ON calls(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX calls_org_time ON calls(org_id, occurred_at, id);
CREATE INDEX calls_org_contact ON calls(org_id, contact_id, occurred_at) WHERE contact_id IS NOT NULL;
CREATE INDEX calls_org_campaign ON calls(org_id, campaign_id, occurred_at) WHERE campaign_id IS NOT NULL;
CREATE INDEX calls_org_customer ON calls(org_id, customer_external_id, occurred_at) WHERE customer_external_id IS NOT NULL;

CREATE TABLE call_timeline (
    id      BIGSERIAL PRIMARY KEY,
    call_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    data    JSONB
);
CREATE INDEX call_timeline_call ON call_timeline(call_id, id);

CREATE TABLE contacts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    name          TEXT,
    phone         TEXT NOT NULL,
    email         TEXT,
    company       TEXT,
    tags          JSONB NOT NULL,
    custom_fields JSONB,
    external_id   TEXT,
    time_zone     TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts(org_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX contacts_org ON contacts(org_id, id);
CREATE INDEX contacts_phone ON contacts(org_id, phone);
CREATE INDEX contacts_tags ON contacts USING GIN (tags);

CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    data       JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbox_org ON outbox(org_id, seq);

CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, key)
);
