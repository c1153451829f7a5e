-- Every filter of the call list has an index in list order: the filter
-- column, then (occurred_at, id), so that any page — first, next (a keyset
-- seek on `(occurred_at, id) < (?, ?)`) or filtered — is one seek and a
-- walk of `limit` entries, with no sort.
DROP INDEX IF EXISTS calls_org_contact;
DROP INDEX IF EXISTS calls_org_campaign;
DROP INDEX IF EXISTS calls_org_customer;
CREATE INDEX calls_org_contact ON calls(org_id, contact_id, occurred_at, id) WHERE contact_id IS NOT NULL;
CREATE INDEX calls_org_campaign ON calls(org_id, campaign_id, occurred_at, id) WHERE campaign_id IS NOT NULL;
CREATE INDEX calls_org_customer ON calls(org_id, customer_external_id, occurred_at, id) WHERE customer_external_id IS NOT NULL;
CREATE INDEX calls_org_agent ON calls(org_id, agent_id, occurred_at, id) WHERE agent_id IS NOT NULL;
CREATE INDEX calls_org_call_type ON calls(org_id, call_type, occurred_at, id) WHERE call_type IS NOT NULL;
CREATE INDEX calls_org_status ON calls(org_id, status, occurred_at, id);
CREATE INDEX calls_org_direction ON calls(org_id, direction, occurred_at, id);
