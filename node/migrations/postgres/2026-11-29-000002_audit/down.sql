ALTER TABLE staff DROP COLUMN locked_until;
ALTER TABLE staff DROP COLUMN failed_logins;
ALTER TABLE staff DROP COLUMN role;
DROP TABLE audit_checkpoints;
DROP TABLE audit_head;
DROP TABLE audit_log;
