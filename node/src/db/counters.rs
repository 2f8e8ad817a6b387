//! Gap-free counters inside the caller's transaction: event sequences per origin, business
//! numbers per office and day, certificate numbers per office and year. A number is taken only
//! when the transaction commits, so a rolled-back attempt leaves no gap.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::AnyConnection;
use super::prepared::Prepared;
use super::schema::counters::dsl as c;

/// Take the next value (starting at 1) of counter `name` of `division`.
pub fn next(conn: &mut AnyConnection, division: &str, name: &str) -> QueryResult<i64> {
    loop {
        if let Some(v) = bump(conn, division, name)? {
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

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// Add one to an existing counter and return the new value (None: no such counter yet).
///
/// SQL written out, one fixed text per backend, kept prepared: a registration takes about ten
/// numbers inside SQLite's one writer, and the query builder's UPDATE had its whole SQL text
/// built again on every run (diesel caches an UPDATE only by its text).
fn bump(conn: &mut AnyConnection, division: &str, name: &str) -> QueryResult<Option<i64>> {
    let sql = match conn {
        AnyConnection::Sqlite(_) => {
            "UPDATE counters SET value = value + 1 WHERE division = ? AND name = ? RETURNING value"
        }
        AnyConnection::Postgresql(_) => {
            "UPDATE counters SET value = value + 1 WHERE division = $1 AND name = $2 RETURNING value"
        }
    };
    let value: Option<Value> =
        crate::with_inner!(conn, |c| Prepared(diesel::sql_query(sql).bind::<Text, _>(division).bind::<Text, _>(name))
            .get_result(c)
            .optional())?;
    Ok(value.map(|v| v.value))
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
