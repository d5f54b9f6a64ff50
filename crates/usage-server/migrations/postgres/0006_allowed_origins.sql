-- The origins a key counts toward its licence from, one pattern a line
-- (`https://acme.com`, `https://*.acme.com`); NULL: any origin. Events with the
-- key from other public origins are stored under key_id -1 - id (see
-- `Account::NotAllowed`).
ALTER TABLE api_keys ADD COLUMN allowed_origins TEXT;
