-- The register (不动产登记簿, 条例 Art. 8): one page per unit. Entries are never deleted or
-- rewritten: an entry leaves the current register (现势) by becoming history (历史), naming the
-- application that ended it (条例 Art. 13: kept permanently).

-- 权利: ownership and use rights (QLLX). At most one current right per unit.
CREATE TABLE register_rights (
    id BIGSERIAL PRIMARY KEY,
    division TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    right_type INTEGER NOT NULL,
    -- personal data: holders (names, id documents, shares), sealed by node::personal
    holders TEXT NOT NULL,
    co_ownership TEXT NOT NULL,
    location TEXT NOT NULL,
    area TEXT,
    purpose TEXT,
    status TEXT NOT NULL,
    business_no TEXT NOT NULL,
    ended_by TEXT,
    certificate_id TEXT,
    recorded_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE UNIQUE INDEX register_rights_one_current ON register_rights (unit_code) WHERE status = 'current';
CREATE INDEX register_rights_unit ON register_rights (unit_code, status);
CREATE INDEX register_rights_business ON register_rights (business_no);

-- 权利限制/提示: 抵押 (mortgage), 查封 (seizure, position 0 effective, 1.. 轮候), 异议, 预告.
CREATE TABLE register_restrictions (
    id BIGSERIAL PRIMARY KEY,
    division TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    position BIGINT NOT NULL,
    -- personal data: 抵押权人 / 异议人 / 预告权利人, sealed
    holders TEXT NOT NULL,
    amount TEXT,
    maximum BOOLEAN NOT NULL,
    authority TEXT,
    status TEXT NOT NULL,
    business_no TEXT NOT NULL,
    ended_by TEXT,
    certificate_id TEXT,
    recorded_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    ended_at TIMESTAMP
);
CREATE INDEX register_restrictions_unit ON register_restrictions (unit_code, status);
CREATE INDEX register_restrictions_business ON register_restrictions (business_no);
CREATE INDEX register_restrictions_expiry ON register_restrictions (status, expires_at);

-- Blind index of current and past holders (HMAC-SM3 of the id document), for "my properties".
CREATE TABLE register_holders (
    right_id BIGINT NOT NULL,
    division TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    PRIMARY KEY (holder_key, right_id)
);

-- An office's settings for its review rules (built-in overrides and its own rules).
CREATE TABLE office_rules (
    division TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (division, rule_id)
);

-- What the application asks the register to record, and the rule trace of its review.
ALTER TABLE applications ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN rule_trace TEXT NOT NULL DEFAULT '[]';
