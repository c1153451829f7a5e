-- Age indexes for pruning the webhook log: attempts by time, and finished
-- deliveries (the only ones ever pruned) by when they finished.
CREATE INDEX webhook_attempts_age ON webhook_attempts(created_at);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(updated_at) WHERE status IN ('succeeded', 'dead');
