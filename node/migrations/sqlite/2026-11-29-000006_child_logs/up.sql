-- A parent's watch over its children's transparency logs: per child, the last signed tree head
-- accepted as consistent with every earlier one, and what the last check found.
CREATE TABLE child_logs (
    peer TEXT PRIMARY KEY,
    division TEXT NOT NULL,
    status TEXT NOT NULL,
    size BIGINT,
    root TEXT,
    head_timestamp BIGINT,
    key_id TEXT,
    signature TEXT,
    problem TEXT,
    checked_at TIMESTAMP NOT NULL
);
