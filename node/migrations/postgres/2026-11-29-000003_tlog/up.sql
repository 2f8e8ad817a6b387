-- Transparency log (透明日志): every certificate and status change this node issued or received,
-- as leaves of an append-only SM3 Merkle tree (RFC 9162 style). Leaf i is row idx = i.
CREATE TABLE tlog (
    idx BIGINT PRIMARY KEY,
    leaf_hash TEXT NOT NULL,
    certificate_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX tlog_certificate ON tlog (certificate_id);
