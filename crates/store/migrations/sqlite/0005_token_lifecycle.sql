-- Token lifecycle: an optional expiry, when a token was last used (written
-- at most once a minute per server), and when it was revoked. A revoked
-- token is kept, so `bearing token list` still shows it.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;
