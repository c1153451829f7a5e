-- Campaigns and the dialer: templates, contact lists, the do-not-call list,
-- campaigns, each campaign's contacts and attempts, and the per-organisation
-- dial-rate row. Instants are INTEGER milliseconds since the Unix epoch.

CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    industry    TEXT,
    steps       TEXT NOT NULL,
    variables   TEXT NOT NULL,
    usage_count INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX templates_org ON templates(org_id, id);

CREATE TABLE contact_lists (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX contact_lists_org ON contact_lists(org_id, id);

CREATE TABLE contact_list_members (
    list_id    TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;

CREATE TABLE dnc (
    org_id     TEXT NOT NULL,
    phone      TEXT NOT NULL,
    reason     TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, phone)
) WITHOUT ROWID;

CREATE TABLE campaigns (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT,
    status           TEXT NOT NULL,
    template_id      TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    settings         TEXT NOT NULL,
    variables        TEXT,
    contact_list_ids TEXT NOT NULL,
    total_contacts   INTEGER NOT NULL,
    -- The distinct calling zones of its contacts, so a dialer pass need not scan them.
    zones            TEXT NOT NULL DEFAULT '[]',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    last_run_at      INTEGER,
    completed_at     INTEGER
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
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_call_id    TEXT,
    last_status     TEXT,
    PRIMARY KEY (campaign_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX campaign_contacts_due ON campaign_contacts(campaign_id, state, zone, next_attempt_at);

-- One row per (contact, attempt), written with the attempt's call: a
-- contact is never dialled twice for the same attempt.
CREATE TABLE campaign_attempts (
    campaign_id TEXT NOT NULL,
    contact_id  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    call_id     TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    dialed_at   INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, contact_id, attempt)
) WITHOUT ROWID;

-- New calls in the current second of the dialer's clock, per organisation.
CREATE TABLE dialer_rate (
    org_id TEXT PRIMARY KEY,
    second INTEGER NOT NULL,
    count  INTEGER NOT NULL
);
