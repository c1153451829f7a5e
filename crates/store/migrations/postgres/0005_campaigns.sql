-- Campaigns and the dialer: templates, contact lists, the do-not-call list,
-- campaigns, each campaign's contacts and attempts, and the per-organisation
-- dial-rate row. Instants are TIMESTAMPTZ except the dialer's millisecond counters.

CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    industry    TEXT,
    steps       JSONB NOT NULL,
    variables   JSONB NOT NULL,
    usage_count BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX templates_org ON templates(org_id, id);

CREATE TABLE contact_lists (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX contact_lists_org ON contact_lists(org_id, id);

CREATE TABLE contact_list_members (
    list_id    TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    added_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (list_id, contact_id)
);

CREATE TABLE dnc (
    org_id     TEXT NOT NULL,
    phone      TEXT NOT NULL,
    reason     TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, phone)
);

CREATE TABLE campaigns (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT,
    status           TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    schedule         JSONB NOT NULL,
    settings         JSONB NOT NULL,
    variables        JSONB,
    contact_list_ids JSONB NOT NULL,
    total_contacts   BIGINT NOT NULL,
    -- The distinct calling zones of its contacts, so a dialer pass need not scan them.
    zones            JSONB NOT NULL DEFAULT '[]',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    last_run_at      TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ
);
CREATE INDEX campaigns_org ON campaigns(org_id, id);
CREATE INDEX campaigns_status ON campaigns(status, id);

-- state: 0 waiting for an attempt, 1 a call is live, 2 done.
CREATE TABLE campaign_contacts (
    campaign_id     TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    org_id          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    zone            TEXT NOT NULL,
    state           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_call_id    TEXT,
    last_status     TEXT,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_contacts_due ON campaign_contacts(campaign_id, state, zone, next_attempt_at, contact_id);

-- One row per (contact, attempt), written with the attempt's call: a
-- contact is never dialled twice for the same attempt.
CREATE TABLE campaign_attempts (
    campaign_id TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    call_id     TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    dialed_at   BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, contact_id, attempt)
);

-- New calls in the current second of the dialer's clock, per organisation.
CREATE TABLE dialer_rate (
    org_id TEXT PRIMARY KEY,
    second BIGINT NOT NULL,
    count  INTEGER NOT NULL
);
