-- Outbox sequence numbers are assigned after commit, by a sequencer, rather
-- than taken from a sequence at insert: writers insert with `seq` NULL and no
-- lock, and the sequencer numbers committed rows in `pos` (insertion) order.
-- Rows written before this migration keep their numbers.

ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox ALTER COLUMN seq DROP DEFAULT;
ALTER TABLE outbox ALTER COLUMN seq DROP NOT NULL;
DROP SEQUENCE outbox_seq_seq;

-- Existing rows get positions too; their order no longer matters, as they
-- are numbered already.
ALTER TABLE outbox ADD COLUMN pos BIGSERIAL PRIMARY KEY;

CREATE UNIQUE INDEX outbox_seq ON outbox(seq) WHERE seq IS NOT NULL;
CREATE INDEX outbox_unsequenced ON outbox(pos) WHERE seq IS NULL;
