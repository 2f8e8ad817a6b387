ALTER TABLE staff DROP COLUMN totp_last_step;
ALTER TABLE staff DROP COLUMN totp_pending;
ALTER TABLE staff DROP COLUMN totp_secret;
