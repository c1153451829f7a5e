-- The conversation runtime: calls asked for outside campaigns wait in
-- dial_requests until the dialer places them; every utterance of a call is
-- a transcript segment; a call's place in its script is its conversation.

-- Single and scheduled calls to place. state 0 = waiting (due at due_at),
-- 1 = claimed by a dialer pass (placed or being placed).
CREATE TABLE dial_requests (
    call_id         TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    zone            TEXT NOT NULL,
    due_at          INTEGER NOT NULL,
    options         TEXT,
    override_window INTEGER NOT NULL DEFAULT 0,
    state           INTEGER NOT NULL DEFAULT 0,
    claimed_at      INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX dial_requests_due ON dial_requests(state, due_at);
CREATE INDEX dial_requests_org ON dial_requests(org_id, state, due_at);

CREATE TABLE transcript_segments (
    call_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    org_id     TEXT NOT NULL,
    speaker    TEXT NOT NULL,
    text       TEXT NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL,
    confidence REAL,
    is_final   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;

CREATE TABLE conversations (
    call_id    TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
