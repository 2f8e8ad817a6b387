//! Applications an upper node forwarded or queued, by ticket.

use diesel::prelude::*;
use schemas::api::ApplicationAnswer;

use crate::db::AnyConnection;
use crate::db::schema::tickets;

pub fn create(
    conn: &mut AnyConnection,
    ticket: &str,
    division: &str,
    answer: Option<&ApplicationAnswer>,
) -> QueryResult<()> {
    let text = answer.and_then(|a| serde_json::to_string(a).ok());
    let now = super::now();
    crate::with_inner!(conn, |c| diesel::insert_into(tickets::table)
        .values((
            tickets::ticket.eq(ticket),
            tickets::division.eq(division),
            tickets::created_at.eq(now),
            tickets::delivered_at.eq(text.as_ref().map(|_| now)),
            tickets::answer.eq(&text),
        ))
        .on_conflict_do_nothing()
        .execute(c))
    .map(|_| ())
}

/// (division, delivered, answer JSON)
pub fn get(conn: &mut AnyConnection, ticket: &str) -> QueryResult<Option<(String, bool, Option<String>)>> {
    let row: Option<(String, Option<chrono::NaiveDateTime>, Option<String>)> = tickets::table
        .filter(tickets::ticket.eq(ticket))
        .select((tickets::division, tickets::delivered_at, tickets::answer))
        .first(conn)
        .optional()?;
    Ok(row.map(|(d, at, answer)| (d, at.is_some(), answer)))
}
