-- Tamper-evident audit log (guideline 五; 等保 安全审计): append-only, each record chained with SM3
-- to the one before; checkpoints sign the head with the node's SM2 key.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    division TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    business_no TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_business_no ON audit_log (business_no);

-- The chain's head (one row), locked while appending so appends are serialised.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);

-- Duties are separated (三权分立): clerk (registration work), auditor (reads the audit log),
-- sysadmin (accounts), secadmin (keys and security settings).
ALTER TABLE staff ADD COLUMN role TEXT NOT NULL DEFAULT 'clerk';
-- Lockout after repeated failed logins (等保 登录失败处理).
ALTER TABLE staff ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN locked_until TIMESTAMP;
