//! What a parent knows of its children's transparency logs: the last head accepted as consistent
//! and the verdict of the last check (see `domain::log_watch`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use federation::merkle::{SignedTreeHead, TreeHead};
use schemas::api::LogCheckStatus;

use crate::db::AnyConnection;
use crate::db::schema::child_logs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = child_logs)]
pub struct ChildLogRow {
    pub peer: String,
    pub division: String,
    pub status: String,
    pub size: Option<i64>,
    pub root: Option<String>,
    pub head_timestamp: Option<i64>,
    pub key_id: Option<String>,
    pub signature: Option<String>,
    pub problem: Option<String>,
    pub checked_at: NaiveDateTime,
}

impl ChildLogRow {
    /// The accepted head, if any.
    pub fn accepted(&self) -> Option<SignedTreeHead> {
        let (size, root, timestamp, key_id, signature) =
            (self.size?, self.root.clone()?, self.head_timestamp?, self.key_id.clone()?, self.signature.clone()?);
        Some(SignedTreeHead {
            head: TreeHead { log_id: self.peer.clone(), size: u64::try_from(size).ok()?, root, timestamp },
            key_id,
            signature,
        })
    }

    pub fn status(&self) -> LogCheckStatus {
        match self.status.as_str() {
            "consistent" => LogCheckStatus::Consistent,
            "inconsistent" => LogCheckStatus::Inconsistent,
            _ => LogCheckStatus::Unreachable,
        }
    }
}

pub fn status_str(status: LogCheckStatus) -> &'static str {
    match status {
        LogCheckStatus::Consistent => "consistent",
        LogCheckStatus::Inconsistent => "inconsistent",
        LogCheckStatus::Unreachable => "unreachable",
    }
}

pub fn get(conn: &mut AnyConnection, peer: &str) -> QueryResult<Option<ChildLogRow>> {
    child_logs::table.find(peer).select(ChildLogRow::as_select()).get_result(conn).optional()
}

pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<ChildLogRow>> {
    child_logs::table.order(child_logs::peer.asc()).select(ChildLogRow::as_select()).load(conn)
}

/// Store the verdict of one check. `accepted` replaces the accepted head when given; otherwise
/// the earlier one stays (an inconsistent or unreachable child keeps its last good head).
pub fn record(
    conn: &mut AnyConnection,
    peer: &str,
    division: &str,
    status: LogCheckStatus,
    accepted: Option<&SignedTreeHead>,
    problem: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let previous = get(conn, peer)?;
    let head = accepted.cloned().or_else(|| previous.as_ref().and_then(ChildLogRow::accepted));
    let size = head.as_ref().and_then(|h| i64::try_from(h.head.size).ok());
    let values = (
        child_logs::division.eq(division),
        child_logs::status.eq(status_str(status)),
        child_logs::size.eq(size),
        child_logs::root.eq(head.as_ref().map(|h| h.head.root.clone())),
        child_logs::head_timestamp.eq(head.as_ref().map(|h| h.head.timestamp)),
        child_logs::key_id.eq(head.as_ref().map(|h| h.key_id.clone())),
        child_logs::signature.eq(head.as_ref().map(|h| h.signature.clone())),
        child_logs::problem.eq(problem),
        child_logs::checked_at.eq(at),
    );
    if previous.is_some() {
        diesel::update(child_logs::table.find(peer)).set(values).execute(conn)?;
    } else {
        diesel::insert_into(child_logs::table).values((child_logs::peer.eq(peer), values)).execute(conn)?;
    }
    Ok(())
}
