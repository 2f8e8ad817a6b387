//! Staff accounts of an office (argon2 password hashes) and bearer sessions (only the SM3 hash of
//! a token is stored).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use federation::crypto::sm3_hex;
use rand::RngCore;

use crate::db::AnyConnection;
use crate::db::schema::{sessions, staff};

pub const SESSION_MINUTES: i64 = 30;

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Create or replace an account.
pub fn upsert(
    conn: &mut AnyConnection,
    division: &str,
    username: &str,
    password: &str,
    display_name: &str,
) -> Result<(), String> {
    let hash = hash_password(password)?;
    let existing: Option<i64> = staff::table
        .filter(staff::username.eq(username))
        .select(staff::id)
        .first(conn)
        .optional()
        .map_err(|e| e.to_string())?;
    match existing {
        Some(id) => diesel::update(staff::table.filter(staff::id.eq(id)))
            .set((staff::password_hash.eq(&hash), staff::division.eq(division), staff::display_name.eq(display_name)))
            .execute(conn),
        None => diesel::insert_into(staff::table)
            .values((
                staff::division.eq(division),
                staff::username.eq(username),
                staff::password_hash.eq(&hash),
                staff::display_name.eq(display_name),
                staff::created_at.eq(super::now()),
            ))
            .execute(conn),
    }
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// The staff member's id and office when the password matches.
pub fn check_password(conn: &mut AnyConnection, username: &str, password: &str) -> QueryResult<Option<(i64, String)>> {
    let row: Option<(i64, String, String)> = staff::table
        .filter(staff::username.eq(username))
        .select((staff::id, staff::division, staff::password_hash))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, division, hash)| {
        let parsed = PasswordHash::new(&hash).ok()?;
        Argon2::default().verify_password(password.as_bytes(), &parsed).ok()?;
        Some((id, division))
    }))
}

/// Open a session; returns the bearer token and its expiry.
pub fn open_session(
    conn: &mut AnyConnection,
    staff_id: i64,
    division: &str,
) -> QueryResult<(String, chrono::DateTime<Utc>)> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let expires = Utc::now() + Duration::minutes(SESSION_MINUTES);
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(sm3_hex(token.as_bytes())),
            sessions::staff_id.eq(staff_id),
            sessions::division.eq(division),
            sessions::expires_at.eq(expires.naive_utc()),
        ))
        .execute(conn)?;
    Ok((token, expires))
}

/// The office of a live session.
pub fn session(conn: &mut AnyConnection, token: &str) -> QueryResult<Option<(i64, String)>> {
    let row: Option<(i64, String, chrono::NaiveDateTime)> = sessions::table
        .filter(sessions::token_hash.eq(sm3_hex(token.as_bytes())))
        .select((sessions::staff_id, sessions::division, sessions::expires_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, d, exp)| (exp > super::now()).then_some((id, d))))
}
