//! Applicant accounts, their SMS codes and sessions. Phone, name and ID number are sealed with the
//! data key and found by blind index; an SMS code is kept only as a hash, used once, and dies
//! after [`MAX_CODE_ATTEMPTS`] wrong tries; passwords are argon2id; sessions are stored as the SM3
//! hash of the bearer token.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use federation::crypto::sm3_hex;
use rand::RngCore;
use schemas::error::ErrorCode;

use crate::db::AnyConnection;
use crate::db::schema::{applicant_sessions, applicants, sms_codes};
use crate::domain::applicant::{AccountKind, LOCK_MINUTES, MAX_CODE_ATTEMPTS, MAX_FAILED_LOGINS, Purpose};
use crate::personal::Sealer;

/// Applicant sessions last longer than staff ones (an applicant fills in forms at home).
pub const SESSION_MINUTES: i64 = 120;

/// The blind index of a phone number.
pub fn phone_index(sealer: &Sealer, phone: &str) -> String {
    sealer.blind_index("phone", phone)
}

fn code_hash(phone_index: &str, purpose: Purpose, code: &str) -> String {
    sm3_hex(format!("{phone_index}|{}|{code}", purpose.as_str()).as_bytes())
}

/// Keep a new code for the phone (replacing any earlier one), unless one was sent less than
/// `resend_secs` ago.
pub fn put_code(
    conn: &mut AnyConnection,
    phone_index: &str,
    purpose: Purpose,
    code: &str,
    now: NaiveDateTime,
    ttl_secs: i64,
    resend_secs: i64,
) -> Result<(), ErrorCode> {
    let last: Option<NaiveDateTime> = sms_codes::table
        .filter(sms_codes::phone_index.eq(phone_index))
        .filter(sms_codes::purpose.eq(purpose.as_str()))
        .select(sms_codes::sent_at)
        .first(conn)
        .optional()
        .map_err(|_| ErrorCode::Internal)?;
    if last.is_some_and(|t| now < t + Duration::seconds(resend_secs)) {
        return Err(ErrorCode::SmsTooSoon);
    }
    let target =
        sms_codes::table.filter(sms_codes::phone_index.eq(phone_index)).filter(sms_codes::purpose.eq(purpose.as_str()));
    diesel::delete(target).execute(conn).map_err(|_| ErrorCode::Internal)?;
    diesel::insert_into(sms_codes::table)
        .values((
            sms_codes::phone_index.eq(phone_index),
            sms_codes::purpose.eq(purpose.as_str()),
            sms_codes::code_hash.eq(code_hash(phone_index, purpose, code)),
            sms_codes::attempts.eq(0),
            sms_codes::sent_at.eq(now),
            sms_codes::expires_at.eq(now + Duration::seconds(ttl_secs)),
        ))
        .execute(conn)
        .map_err(|_| ErrorCode::Internal)?;
    Ok(())
}

/// Forget the code for a phone (when the gateway could not send it).
pub fn drop_code(conn: &mut AnyConnection, phone_index: &str, purpose: Purpose) -> QueryResult<usize> {
    diesel::delete(
        sms_codes::table.filter(sms_codes::phone_index.eq(phone_index)).filter(sms_codes::purpose.eq(purpose.as_str())),
    )
    .execute(conn)
}

/// Use a code: true once for the right, unexpired code; a wrong try counts, and the code dies
/// after [`MAX_CODE_ATTEMPTS`] of them.
pub fn take_code(
    conn: &mut AnyConnection,
    phone_index: &str,
    purpose: Purpose,
    code: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = || {
        sms_codes::table.filter(sms_codes::phone_index.eq(phone_index)).filter(sms_codes::purpose.eq(purpose.as_str()))
    };
    // Each step is one conditional statement, so two requests at once cannot both redeem a code,
    // nor count one wrong try between them (PostgreSQL locks the row for the statement).
    let redeemed = diesel::delete(
        target()
            .filter(sms_codes::code_hash.eq(code_hash(phone_index, purpose, code.trim())))
            .filter(sms_codes::attempts.lt(MAX_CODE_ATTEMPTS))
            .filter(sms_codes::expires_at.gt(now)),
    )
    .execute(conn)?;
    if redeemed == 1 {
        return Ok(true);
    }
    diesel::update(target()).set(sms_codes::attempts.eq(sms_codes::attempts + 1)).execute(conn)?;
    Ok(false)
}

/// A new account, as checked at the edge.
pub struct NewApplicant<'a> {
    pub phone: &'a str,
    pub kind: AccountKind,
    pub name: &'a str,
    pub id_number: &'a str,
    pub password_hash: &'a str,
}

fn context(id_index: &str, field: &str) -> String {
    format!("applicant:{field}:{id_index}")
}

/// Create an account; `AccountExists` when the phone or the document is already registered.
pub fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    a: &NewApplicant<'_>,
    now: NaiveDateTime,
) -> Result<i64, ErrorCode> {
    let phone_index = phone_index(sealer, a.phone);
    let id_type = a.kind.id_type().code().to_string();
    let id_index = sealer.blind_index(&id_type, a.id_number);
    let taken: i64 = applicants::table
        .filter(applicants::phone_index.eq(&phone_index).or(applicants::id_index.eq(&id_index)))
        .count()
        .get_result(conn)
        .map_err(|_| ErrorCode::Internal)?;
    if taken > 0 {
        return Err(ErrorCode::AccountExists);
    }
    diesel::insert_into(applicants::table)
        .values((
            applicants::phone_index.eq(&phone_index),
            applicants::phone.eq(sealer.seal_str(a.phone, &context(&id_index, "phone"))),
            applicants::kind.eq(a.kind.as_str()),
            applicants::name.eq(sealer.seal_str(a.name, &context(&id_index, "name"))),
            applicants::id_type.eq(&id_type),
            applicants::id_index.eq(&id_index),
            applicants::id_number.eq(sealer.seal_str(a.id_number, &context(&id_index, "id"))),
            applicants::password_hash.eq(a.password_hash),
            // 实名状态: the phone is proven by the SMS code; the name and number are as declared
            // until checked against the identity source (统一身份认证 or a counter check).
            applicants::real_name.eq("declared"),
            applicants::failed_logins.eq(0),
            applicants::created_at.eq(now),
        ))
        .returning(applicants::id)
        .get_result(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                ErrorCode::AccountExists
            }
            _ => ErrorCode::Internal,
        })
}

/// Sign in a person the unified identity platform vouches for: their account (found by ID
/// number) marked 实名 `verified`, or a new one without a password (they sign in through the
/// platform). `AccountExists` when the platform's phone belongs to another account.
pub fn sign_in_verified(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    who: &crate::identity::Identity,
    now: NaiveDateTime,
) -> Result<i64, ErrorCode> {
    let id_type = AccountKind::Person.id_type().code().to_string();
    let id_index = sealer.blind_index(&id_type, &who.id_number);
    let existing: Option<i64> = applicants::table
        .filter(applicants::id_index.eq(&id_index))
        .select(applicants::id)
        .first(conn)
        .optional()
        .map_err(|_| ErrorCode::Internal)?;
    if let Some(id) = existing {
        // An account made by phone sign-up only declared this ID number. Unless its phone and
        // name are the ones the platform knows, someone else may have declared it: the platform's
        // person takes the account over — phone and name from the platform, no password, every
        // session ended — rather than inheriting a stranger's credentials.
        let same = profile(conn, sealer, id)
            .map_err(|_| ErrorCode::Internal)?
            .is_some_and(|p| p.real_name == "verified" || (p.phone == who.phone && p.name == who.name));
        let target = applicants::table.filter(applicants::id.eq(id));
        if same {
            diesel::update(target)
                .set(applicants::real_name.eq("verified"))
                .execute(conn)
                .map_err(|_| ErrorCode::Internal)?;
        } else {
            let phone_index = phone_index(sealer, &who.phone);
            diesel::update(target)
                .set((
                    applicants::phone_index.eq(&phone_index),
                    applicants::phone.eq(sealer.seal_str(&who.phone, &context(&id_index, "phone"))),
                    applicants::name.eq(sealer.seal_str(&who.name, &context(&id_index, "name"))),
                    applicants::password_hash.eq("!"),
                    applicants::real_name.eq("verified"),
                ))
                .execute(conn)
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                        ErrorCode::AccountExists
                    }
                    _ => ErrorCode::Internal,
                })?;
            diesel::delete(applicant_sessions::table.filter(applicant_sessions::applicant_id.eq(id)))
                .execute(conn)
                .map_err(|_| ErrorCode::Internal)?;
        }
        return Ok(id);
    }
    // No password: "!" is not an argon2 hash, so phone-and-password sign-in can never succeed.
    let new = NewApplicant {
        phone: &who.phone,
        kind: AccountKind::Person,
        name: &who.name,
        id_number: &who.id_number,
        password_hash: "!",
    };
    let id = create(conn, sealer, &new, now)?;
    diesel::update(applicants::table.filter(applicants::id.eq(id)))
        .set(applicants::real_name.eq("verified"))
        .execute(conn)
        .map_err(|_| ErrorCode::Internal)?;
    Ok(id)
}

/// How a sign-in went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Ok(i64),
    BadCredentials,
    Locked,
}

/// Check phone and password (argon2 outside any write), then record the outcome in `write`.
pub fn check_password(
    db: &crate::db::Db,
    sealer: &Sealer,
    slow: &crate::low_priority::LowPriority,
    phone: &str,
    password: &str,
    now: NaiveDateTime,
) -> Result<SignIn, crate::db::DbError> {
    let index = phone_index(sealer, phone);
    let row: Option<(i64, String, Option<NaiveDateTime>)> = {
        let mut conn = db.conn()?;
        applicants::table
            .filter(applicants::phone_index.eq(&index))
            .select((applicants::id, applicants::password_hash, applicants::locked_until))
            .first(&mut conn)
            .optional()?
    };
    // The same argon2 work whatever the account: unknown phone, locked, or without a password
    // (made by 统一身份认证), so the time taken tells nothing. It runs on the low-priority
    // threads (see `low_priority`); this thread waits.
    let secret = password.to_owned();
    let usable = row.as_ref().filter(|(_, _, locked_until)| locked_until.is_none_or(|t| t <= now)).map(|r| r.1.clone());
    let good = slow
        .run_blocking(move || crate::domain::passwords::verify_evenly(usable.as_deref(), &secret))
        .map_err(|e| crate::db::DbError::Pool(e.to_string()))?;
    let Some((id, _, _)) = row else {
        return Ok(SignIn::BadCredentials);
    };
    db.write(|conn| {
        let target = || applicants::table.filter(applicants::id.eq(id));
        // Read the lock again inside the write: another request may have set it meanwhile.
        let locked: Option<NaiveDateTime> = target().select(applicants::locked_until).first(conn)?;
        if locked.is_some_and(|t| t > now) {
            return Ok(SignIn::Locked);
        }
        if good {
            diesel::update(target())
                .set((applicants::failed_logins.eq(0), applicants::locked_until.eq(None::<NaiveDateTime>)))
                .execute(conn)?;
            return Ok(SignIn::Ok(id));
        }
        // Count the failure in one statement (concurrent failures each count), then lock once
        // the count reaches the limit; a failure never clears a lock.
        diesel::update(target()).set(applicants::failed_logins.eq(applicants::failed_logins + 1)).execute(conn)?;
        let failed: i32 = target().select(applicants::failed_logins).first(conn)?;
        if failed >= MAX_FAILED_LOGINS {
            diesel::update(target())
                .set((
                    applicants::failed_logins.eq(0),
                    applicants::locked_until.eq(Some(now + Duration::minutes(LOCK_MINUTES))),
                ))
                .execute(conn)?;
            return Ok(SignIn::Locked);
        }
        Ok(SignIn::BadCredentials)
    })
}

/// Open a session; the bearer token.
pub fn open_session(conn: &mut AnyConnection, applicant_id: i64, now: NaiveDateTime) -> QueryResult<String> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    diesel::insert_into(applicant_sessions::table)
        .values((
            applicant_sessions::token_hash.eq(sm3_hex(token.as_bytes())),
            applicant_sessions::applicant_id.eq(applicant_id),
            applicant_sessions::expires_at.eq(now + Duration::minutes(SESSION_MINUTES)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The applicant of a live session.
pub fn session(conn: &mut AnyConnection, token: &str, now: NaiveDateTime) -> QueryResult<Option<i64>> {
    let row: Option<(i64, NaiveDateTime)> = applicant_sessions::table
        .filter(applicant_sessions::token_hash.eq(sm3_hex(token.as_bytes())))
        .select((applicant_sessions::applicant_id, applicant_sessions::expires_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, exp)| (exp > now).then_some(id)))
}

/// An account as stored, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: i64,
    pub phone: String,
    pub kind: String,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub real_name: String,
}

pub fn profile(conn: &mut AnyConnection, sealer: &Sealer, id: i64) -> Result<Option<Profile>, crate::db::DbError> {
    type Row = (String, String, String, String, String, String, String);
    let row: Option<Row> = applicants::table
        .filter(applicants::id.eq(id))
        .select((
            applicants::phone,
            applicants::kind,
            applicants::name,
            applicants::id_type,
            applicants::id_index,
            applicants::id_number,
            applicants::real_name,
        ))
        .first(conn)
        .optional()?;
    let Some((phone, kind, name, id_type, id_index, id_number, real_name)) = row else { return Ok(None) };
    let open = |sealed: &str, field: &str| {
        sealer.open_str(sealed, &context(&id_index, field)).map_err(|e| crate::db::DbError::Pool(e.to_string()))
    };
    Ok(Some(Profile {
        id,
        phone: open(&phone, "phone")?,
        kind,
        name: open(&name, "name")?,
        id_type,
        id_number: open(&id_number, "id")?,
        real_name,
    }))
}
