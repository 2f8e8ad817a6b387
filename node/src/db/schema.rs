//! Diesel table definitions (one schema for SQLite and PostgreSQL).

diesel::table! {
    applications (id) {
        id -> BigInt,
        division -> Text,
        business_no -> Text,
        unit_code -> Text,
        kind -> Text,
        state -> Text,
        parties -> Text,
        location -> Text,
        entry_node -> Text,
        ticket -> Nullable<Text>,
        due_date -> Nullable<Date>,
        certificate_id -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        details -> Text,
        rule_trace -> Text,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        division -> Text,
        seq -> BigInt,
        kind -> Text,
        business_no -> Nullable<Text>,
        occurred_at -> Timestamp,
        body -> Text,
        received_from -> Text,
        stored_at -> Timestamp,
    }
}

diesel::table! {
    watermarks (division) {
        division -> Text,
        contiguous -> BigInt,
        highest -> BigInt,
    }
}

diesel::table! {
    counters (division, name) {
        division -> Text,
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        peer -> Text,
        division -> Text,
        kind -> Text,
        payload -> Text,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    seen_envelopes (id) {
        id -> Text,
        sender -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    known_keys (key_id) {
        key_id -> Text,
        node_id -> Text,
        division -> Text,
        public_key_pem -> Text,
        learned_from -> Text,
        learned_at -> Timestamp,
    }
}

diesel::table! {
    certificates (id) {
        id -> Text,
        division -> Text,
        number -> Text,
        business_no -> Text,
        issuer_node -> Text,
        key_id -> Text,
        content -> Text,
        signature -> Text,
        status -> Text,
        status_reason -> Text,
        issued_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    tickets (ticket) {
        ticket -> Text,
        division -> Text,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        answer -> Nullable<Text>,
    }
}

diesel::table! {
    used_tokens (jti) {
        jti -> Text,
        division -> Text,
        used_at -> Timestamp,
    }
}

diesel::table! {
    staff (id) {
        id -> BigInt,
        division -> Text,
        username -> Text,
        password_hash -> Text,
        display_name -> Text,
        created_at -> Timestamp,
        role -> Text,
        failed_logins -> BigInt,
        locked_until -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_pending -> Nullable<Text>,
        totp_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        staff_id -> BigInt,
        division -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    applicants (id) {
        id -> BigInt,
        phone_index -> Text,
        phone -> Text,
        kind -> Text,
        name -> Text,
        id_type -> Text,
        id_index -> Text,
        id_number -> Text,
        password_hash -> Text,
        real_name -> Text,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    applicant_sessions (token_hash) {
        token_hash -> Text,
        applicant_id -> BigInt,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sms_codes (phone_index, purpose) {
        phone_index -> Text,
        purpose -> Text,
        code_hash -> Text,
        attempts -> Integer,
        sent_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    applicants,
    applicant_sessions,
    sms_codes,
    applications,
    events,
    watermarks,
    counters,
    outbox,
    seen_envelopes,
    known_keys,
    certificates,
    tickets,
    used_tokens,
    staff,
    sessions,
    register_rights,
    register_restrictions,
    register_holders,
    office_rules,
);

diesel::joinable!(register_holders -> register_rights (right_id));

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        division -> Text,
        at -> Timestamp,
        actor -> Text,
        kind -> Text,
        action -> Text,
        business_no -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
        request_id -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_checkpoints (seq) {
        seq -> BigInt,
        hash -> Text,
        key_id -> Text,
        signature -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    tlog (idx) {
        idx -> BigInt,
        leaf_hash -> Text,
        certificate_id -> Text,
        entry -> Text,
        at -> Timestamp,
    }
}

// A verification reads a certificate and its log leaf in one statement
// (`store::certificates::get_for_verification`).
diesel::allow_tables_to_appear_in_same_query!(certificates, tlog);

diesel::table! {
    register_rights (id) {
        id -> BigInt,
        division -> Text,
        unit_code -> Text,
        right_type -> Integer,
        holders -> Text,
        co_ownership -> Text,
        location -> Text,
        area -> Nullable<Text>,
        purpose -> Nullable<Text>,
        status -> Text,
        business_no -> Text,
        ended_by -> Nullable<Text>,
        certificate_id -> Nullable<Text>,
        recorded_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        nature -> Nullable<Integer>,
        term -> Nullable<Text>,
    }
}

diesel::table! {
    register_restrictions (id) {
        id -> BigInt,
        division -> Text,
        unit_code -> Text,
        kind -> Text,
        position -> BigInt,
        holders -> Text,
        amount -> Nullable<Text>,
        maximum -> Bool,
        authority -> Nullable<Text>,
        status -> Text,
        business_no -> Text,
        ended_by -> Nullable<Text>,
        certificate_id -> Nullable<Text>,
        recorded_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    register_holders (holder_key, right_id) {
        right_id -> BigInt,
        division -> Text,
        holder_key -> Text,
    }
}

diesel::table! {
    office_rules (division, rule_id) {
        division -> Text,
        rule_id -> Text,
        config -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    calendar_days (day) {
        day -> Date,
        working -> Bool,
        name -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    child_logs (peer) {
        peer -> Text,
        division -> Text,
        status -> Text,
        size -> Nullable<BigInt>,
        root -> Nullable<Text>,
        head_timestamp -> Nullable<BigInt>,
        key_id -> Nullable<Text>,
        signature -> Nullable<Text>,
        problem -> Nullable<Text>,
        checked_at -> Timestamp,
    }
}

diesel::table! {
    application_materials (id) {
        id -> BigInt,
        division -> Text,
        business_no -> Text,
        material_id -> Text,
        format -> Text,
        size_bytes -> BigInt,
        sm3 -> Text,
        content -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}
