//! Gap-free counters inside the caller's transaction: event sequences per origin, business
//! numbers per office and day, certificate numbers per office and year. A number is taken only
//! when the transaction commits, so a rolled-back attempt leaves no gap.

use diesel::prelude::*;

use super::AnyConnection;
use super::prepared::Prepared;
use super::schema::counters::dsl as c;

/// Take the next value (starting at 1) of counter `name` of `division`.
pub fn next(conn: &mut AnyConnection, division: &str, name: &str) -> QueryResult<i64> {
    loop {
        let updated: Option<i64> = Prepared(
            diesel::update(c::counters.filter(c::division.eq(division)).filter(c::name.eq(name)))
                .set(c::value.eq(c::value + 1))
                .returning(c::value),
        )
        .get_result(conn)
        .optional()?;
        if let Some(v) = updated {
            return Ok(v);
        }
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(c::counters)
                .values((c::division.eq(division), c::name.eq(name), c::value.eq(1i64)))
                .execute(conn)
        });
        match inserted {
            Ok(_) => return Ok(1),
            // Someone else created it first: take the next value from theirs.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Current value without taking one (0 when never used).
pub fn current(conn: &mut AnyConnection, division: &str, name: &str) -> QueryResult<i64> {
    Ok(c::counters
        .filter(c::division.eq(division))
        .filter(c::name.eq(name))
        .select(c::value)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
