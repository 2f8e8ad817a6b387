-- The staff second factor (动态口令, RFC 6238): the secret sealed with the data key (context
-- `staff:totp:{id}`), a secret awaiting its first code, and the last step accepted (no replay).
ALTER TABLE staff ADD COLUMN totp_secret TEXT;
ALTER TABLE staff ADD COLUMN totp_pending TEXT;
ALTER TABLE staff ADD COLUMN totp_last_step BIGINT;
