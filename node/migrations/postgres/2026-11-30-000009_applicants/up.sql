-- Applicant accounts (申请人账户): natural persons by phone + ID number, enterprises by 统一社会信用代码.
-- Phone, name and ID number are sealed with the data key; lookups go through blind indexes.
CREATE TABLE applicants (
    id BIGSERIAL PRIMARY KEY,
    phone_index TEXT NOT NULL UNIQUE,
    phone TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    id_type TEXT NOT NULL,
    id_index TEXT NOT NULL UNIQUE,
    id_number TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    real_name TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE applicant_sessions (
    token_hash TEXT PRIMARY KEY,
    applicant_id BIGINT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
-- One live SMS code per phone and purpose; only its SM3 hash is kept.
CREATE TABLE sms_codes (
    phone_index TEXT NOT NULL,
    purpose TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (phone_index, purpose)
);
