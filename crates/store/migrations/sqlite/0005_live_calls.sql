-- Calls still live, for the plans' concurrent-call cap: a partial index,
-- so calls logged already ended (most of them) never enter it.
CREATE INDEX calls_live ON calls(org_id, created_at) WHERE status IN ('queued','initiated','ringing','in_progress');
