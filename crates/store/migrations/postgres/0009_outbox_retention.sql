-- Pruning the outbox skips events a delivery still waits on.
CREATE INDEX webhook_deliveries_due_event ON webhook_deliveries(event_id) WHERE status IN ('pending', 'failed');
