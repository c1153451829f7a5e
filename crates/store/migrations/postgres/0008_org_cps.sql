-- An organisation's own cap on new dialer calls per second (NULL: the
-- server's `dialer_cps` alone).
ALTER TABLE orgs ADD COLUMN calls_per_second INTEGER;
