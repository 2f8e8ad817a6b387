//! Staff accounts of an office (argon2 password hashes) and bearer sessions (only the SM3 hash of
//! a token is stored).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use federation::crypto::sm3_hex;
use rand::RngCore;

use crate::db::AnyConnection;
use crate::db::schema::{sessions, staff};
pub use crate::session_cache::Session;

/// Idle sessions end after this long.
pub const SESSION_MINUTES: i64 = 30;

/// Separated duties (三权分立): `clerk` does registration work, `auditor` reads the audit log,
/// `sysadmin` manages accounts, `secadmin` keys and security settings.
pub const ROLES: &[&str] = &["clerk", "auditor", "sysadmin", "secadmin"];

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
    role: &str,
) -> Result<(), String> {
    if !ROLES.contains(&role) {
        return Err(format!("unknown role {role}; one of {}", ROLES.join(", ")));
    }
    let hash = hash_password(password)?;
    let existing: Option<i64> = staff::table
        .filter(staff::username.eq(username))
        .select(staff::id)
        .first(conn)
        .optional()
        .map_err(|e| e.to_string())?;
    match existing {
        Some(id) => diesel::update(staff::table.filter(staff::id.eq(id)))
            .set((
                staff::password_hash.eq(&hash),
                staff::division.eq(division),
                staff::display_name.eq(display_name),
                staff::role.eq(role),
                staff::failed_logins.eq(0i64),
                staff::locked_until.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(conn),
        None => diesel::insert_into(staff::table)
            .values((
                staff::division.eq(division),
                staff::username.eq(username),
                staff::password_hash.eq(&hash),
                staff::display_name.eq(display_name),
                staff::created_at.eq(super::now()),
                staff::role.eq(role),
            ))
            .execute(conn),
    }
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Failed logins before an account is locked, and for how long.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;

/// The outcome of a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// (staff id, office, role)
    Ok(i64, String, String),
    BadCredentials,
    Locked,
    /// Password right, but the account has a second factor and no code was given.
    SecondFactorRequired,
    /// Password right, code wrong or already used (counts as a failed login).
    BadSecondFactor,
}

/// Associated data of a sealed TOTP secret.
pub fn totp_context(staff_id: i64) -> String {
    format!("staff:totp:{staff_id}")
}

/// Check a password: read the account, run argon2 without holding any write lock, then record
/// the outcome in a short write (failures count; [`MAX_FAILED_LOGINS`] lock the account).
/// An unknown user and a wrong password cost the same and look the same.
///
/// An account with a second factor also needs `totp`, a current code not used before; a wrong
/// code counts as a failed login like a wrong password.
pub fn check_password(
    db: &crate::db::Db,
    sealer: &crate::personal::Sealer,
    slow: &crate::low_priority::LowPriority,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> Result<Login, crate::db::DbError> {
    type Row = (i64, String, String, String, Option<chrono::NaiveDateTime>, Option<String>, Option<i64>);
    let row: Option<Row> = {
        let mut conn = db.conn()?;
        staff::table
            .filter(staff::username.eq(username))
            .select((
                staff::id,
                staff::division,
                staff::password_hash,
                staff::role,
                staff::locked_until,
                staff::totp_secret,
                staff::totp_last_step,
            ))
            .first(&mut conn)
            .optional()?
    };
    // argon2 on the low-priority threads (see `low_priority`); this thread waits.
    let secret = password.to_owned();
    let stored = row.as_ref().map(|r| r.2.clone());
    let good = slow
        .run_blocking(move || crate::domain::passwords::verify_evenly(stored.as_deref(), &secret))
        .map_err(|e| crate::db::DbError::Pool(e.to_string()))?;
    let Some((id, division, _, role, locked_until, totp_secret, last_step)) = row else {
        return Ok(Login::BadCredentials);
    };
    // The second factor, for an account that has one: None = not needed, Some(step) = passed.
    let second: Result<Option<i64>, Login> = match (&totp_secret, good) {
        (Some(sealed), true) => {
            let secret: crate::personal::Personal<Vec<u8>> =
                sealer.open(sealed, &totp_context(id)).map_err(|e| crate::db::DbError::Pool(e.to_string()))?;
            match totp {
                None => Err(Login::SecondFactorRequired),
                Some(code) => crate::domain::totp::matching_step(
                    secret.expose(),
                    code,
                    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default(),
                    last_step,
                )
                .map(Some)
                .ok_or(Login::BadSecondFactor),
            }
        }
        _ => Ok(None),
    };
    db.write(|conn| {
        let now = super::now();
        // The lock as it stands now (another login may have set it since the read above).
        let locked_now: Option<chrono::NaiveDateTime> =
            staff::table.filter(staff::id.eq(id)).select(staff::locked_until).first(conn)?;
        if locked_until.or(locked_now).is_some_and(|t| t > now) {
            return Ok(Login::Locked);
        }
        if good && second == Err(Login::SecondFactorRequired) {
            return Ok(Login::SecondFactorRequired);
        }
        // A code is spent by moving the last step forward, on the condition that nobody moved it
        // to this step or beyond since it was read: of two concurrent logins with one code, one
        // wins.
        let spent = match (good, &second) {
            (true, Ok(Some(step))) => spend_step(conn, id, *step)?,
            (true, Ok(None)) => true,
            _ => false,
        };
        if spent {
            diesel::update(staff::table.filter(staff::id.eq(id)))
                .set((staff::failed_logins.eq(0i64), staff::locked_until.eq(None::<chrono::NaiveDateTime>)))
                .execute(conn)?;
            return Ok(Login::Ok(id, division, role));
        }
        let failure = if good { Login::BadSecondFactor } else { Login::BadCredentials };
        // Count in one statement, so concurrent failures each count (PostgreSQL locks the row).
        diesel::update(staff::table.filter(staff::id.eq(id)))
            .set(staff::failed_logins.eq(staff::failed_logins + 1i64))
            .execute(conn)?;
        let failed: i64 = staff::table.filter(staff::id.eq(id)).select(staff::failed_logins).first(conn)?;
        if failed >= MAX_FAILED_LOGINS {
            diesel::update(staff::table.filter(staff::id.eq(id)))
                .set((
                    staff::failed_logins.eq(0i64),
                    staff::locked_until.eq(Some(now + Duration::minutes(LOCKOUT_MINUTES))),
                ))
                .execute(conn)?;
            return Ok(Login::Locked);
        }
        Ok(failure)
    })
}

/// Start enrolling a second factor: a fresh secret kept as pending until a code from it is shown.
pub fn totp_begin(
    conn: &mut AnyConnection,
    sealer: &crate::personal::Sealer,
    staff_id: i64,
) -> QueryResult<(String, Vec<u8>)> {
    let secret = crate::domain::totp::new_secret();
    let sealed = sealer.seal(&crate::personal::Personal::new(secret.clone()), &totp_context(staff_id));
    diesel::update(staff::table.filter(staff::id.eq(staff_id)))
        .set(staff::totp_pending.eq(Some(sealed)))
        .execute(conn)?;
    let username = staff::table.filter(staff::id.eq(staff_id)).select(staff::username).first(conn)?;
    Ok((username, secret))
}

/// Which secret a second-factor operation checks a code against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpSlot {
    /// The pending secret (confirming an enrolment).
    Pending,
    /// The active secret (turning the second factor off).
    Active,
}

/// Check a code against the pending or active secret; on success confirm the enrolment (the
/// pending secret becomes active) or turn the second factor off. Returns whether the code passed.
pub fn totp_finish(
    conn: &mut AnyConnection,
    sealer: &crate::personal::Sealer,
    staff_id: i64,
    slot: TotpSlot,
    code: &str,
) -> QueryResult<bool> {
    let (active, pending, last): (Option<String>, Option<String>, Option<i64>) = staff::table
        .filter(staff::id.eq(staff_id))
        .select((staff::totp_secret, staff::totp_pending, staff::totp_last_step))
        .first(conn)?;
    let sealed = match slot {
        TotpSlot::Pending => pending,
        TotpSlot::Active => active,
    };
    let Some(sealed) = sealed else { return Ok(false) };
    let Ok(secret) = sealer.open::<Vec<u8>>(&sealed, &totp_context(staff_id)) else { return Ok(false) };
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    let Some(step) = crate::domain::totp::matching_step(secret.expose(), code, now, last) else { return Ok(false) };
    if !spend_step(conn, staff_id, step)? {
        return Ok(false);
    }
    let target = staff::table.filter(staff::id.eq(staff_id));
    match slot {
        TotpSlot::Pending => diesel::update(target)
            .set((staff::totp_secret.eq(Some(sealed)), staff::totp_pending.eq(None::<String>)))
            .execute(conn)?,
        TotpSlot::Active => diesel::update(target)
            .set((staff::totp_secret.eq(None::<String>), staff::totp_pending.eq(None::<String>)))
            .execute(conn)?,
    };
    Ok(true)
}

/// Record `step` as the last accepted one, if no code of this step or a later one was accepted
/// meanwhile (a conditional update, so it holds between concurrent transactions on PostgreSQL
/// too). Returns whether the code was spent here.
fn spend_step(conn: &mut AnyConnection, staff_id: i64, step: i64) -> QueryResult<bool> {
    let updated = diesel::update(
        staff::table
            .filter(staff::id.eq(staff_id))
            .filter(staff::totp_last_step.is_null().or(staff::totp_last_step.lt(step))),
    )
    .set(staff::totp_last_step.eq(Some(step)))
    .execute(conn)?;
    Ok(updated == 1)
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

/// (staff id, office, role) of a live session.
pub fn session(conn: &mut AnyConnection, token_hash: &str) -> QueryResult<Option<Session>> {
    let row: Option<(i64, String, chrono::NaiveDateTime, String)> = sessions::table
        .inner_join(staff::table.on(staff::id.eq(sessions::staff_id)))
        .filter(sessions::token_hash.eq(token_hash))
        .select((sessions::staff_id, sessions::division, sessions::expires_at, staff::role))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(staff_id, division, expires_at, role)| {
        (expires_at > super::now()).then_some(Session { staff_id, division, role, expires_at })
    }))
}
