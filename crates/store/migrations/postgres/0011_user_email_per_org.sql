-- An e-mail is unique within an organisation, no longer across all of
-- them: creating a user never tells whether the address is used elsewhere.

ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key;
ALTER TABLE users ADD CONSTRAINT users_org_email_key UNIQUE (org_id, email);
-- Logins without an organisation take the e-mail's oldest account.
CREATE INDEX users_email ON users(email, created_at, id);
