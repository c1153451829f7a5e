-- The conversation runtime: calls asked for outside campaigns wait in
-- dial_requests until the dialer places them; every utterance of a call is
-- a transcript segment; a call's place in its script is its conversation.

-- Single and scheduled calls to place. state 0 = waiting (due at due_at, ms),
-- 1 = claimed by a dialer pass (placed or being placed).
CREATE TABLE dial_requests (
    call_id         TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    zone            TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    options         JSONB,
    override_window BOOLEAN NOT NULL DEFAULT FALSE,
    state           INTEGER NOT NULL DEFAULT 0,
    claimed_at      BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX dial_requests_due ON dial_requests(state, due_at);
CREATE INDEX dial_requests_org ON dial_requests(org_id, state, due_at);

CREATE TABLE transcript_segments (
    call_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    org_id     TEXT NOT NULL,
    speaker    TEXT NOT NULL,
    text       TEXT NOT NULL,
    start_ms   BIGINT NOT NULL,
    end_ms     BIGINT NOT NULL,
    confidence REAL,
    is_final   BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE conversations (
    call_id    TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    state      JSONB NOT NULL,
    updated_at BIGINT NOT NULL
);
