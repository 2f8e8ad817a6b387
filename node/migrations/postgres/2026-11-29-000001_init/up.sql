-- Every row that belongs to an office carries its division code (`division`).

-- 办件: applications received by an office hosted on this node.
CREATE TABLE applications (
    id BIGSERIAL PRIMARY KEY,
    division TEXT NOT NULL,
    business_no TEXT NOT NULL UNIQUE,
    unit_code TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    -- personal data: sealed by node::personal (never plaintext in later versions)
    parties TEXT NOT NULL,
    location TEXT NOT NULL,
    entry_node TEXT NOT NULL,
    -- set when an upper node forwarded it: a retried delivery finds the same application
    ticket TEXT UNIQUE,
    due_date DATE,
    certificate_id TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX applications_division_state ON applications (division, state);
CREATE INDEX applications_unit ON applications (unit_code);

-- Events of every origin this node holds: its own offices' and those received from below.
-- (division, seq) is the event identity; de-duplication relies on the unique key.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    division TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    business_no TEXT,
    occurred_at TIMESTAMP NOT NULL,
    body TEXT NOT NULL,
    received_from TEXT NOT NULL,
    stored_at TIMESTAMP NOT NULL,
    UNIQUE (division, seq)
);
CREATE INDEX events_business_no ON events (business_no);

-- Highest contiguous sequence received per origin (gap detection).
CREATE TABLE watermarks (
    division TEXT PRIMARY KEY,
    contiguous BIGINT NOT NULL,
    highest BIGINT NOT NULL
);

-- Gap-free counters: event sequences, business numbers per day, certificate numbers per year.
CREATE TABLE counters (
    division TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (division, name)
);

-- Transactional outbox: one row per message for one peer, delivered in id order.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    peer TEXT NOT NULL,
    division TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX outbox_pending ON outbox (peer, delivered_at, id);

-- Envelope ids already received (replay protection).
CREATE TABLE seen_envelopes (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);

-- Keys of nodes below the direct children, learned from signed enrolment records.
CREATE TABLE known_keys (
    key_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    division TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    learned_from TEXT NOT NULL,
    learned_at TIMESTAMP NOT NULL
);

-- E-certificates issued here or rolled up from below.
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    division TEXT NOT NULL,
    number TEXT NOT NULL,
    business_no TEXT NOT NULL,
    issuer_node TEXT NOT NULL,
    key_id TEXT NOT NULL,
    content TEXT NOT NULL,
    signature TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX certificates_business_no ON certificates (business_no);

-- Applications an upper node queued for an unreachable office, and what the office answered.
CREATE TABLE tickets (
    ticket TEXT PRIMARY KEY,
    division TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    answer TEXT
);

-- Link-navigation tokens already used (single use).
CREATE TABLE used_tokens (
    jti TEXT PRIMARY KEY,
    division TEXT NOT NULL,
    used_at TIMESTAMP NOT NULL
);

-- Staff accounts of an office and their sessions.
CREATE TABLE staff (
    id BIGSERIAL PRIMARY KEY,
    division TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL,
    division TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
