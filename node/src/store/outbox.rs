//! The outbox as the delivery workers see it.

use diesel::prelude::*;
use federation::delivery::{OutboxItem, OutboxStore};
use schemas::api::ApplicationAnswer;
use schemas::envelope::ForwardedApplication;
use schemas::ids::NodeId;

use crate::db::schema::{events, outbox, tickets};
use crate::db::{AnyConnection, Db};
use crate::personal::{Personal, Sealer};

pub struct DbOutbox {
    pub db: Db,
    /// Queued applications hold personal data: their payload is sealed.
    pub sealer: Sealer,
}

/// The associated data binding a sealed outbox payload to its row's purpose.
pub const APPLICATION_CONTEXT: &str = "outbox:application";

/// An outbox row of this kind names one of this node's own events: `division` is its origin and
/// `payload` its sequence number (plain: a number is no personal data). The event's body is read
/// from `events` when the row is sent. Rows of the older kind `local` hold a sealed copy of the
/// event and are still sent as they are.
pub const EVENT_REF: &str = "event";

impl DbOutbox {
    fn parse_item(
        &self,
        conn: &mut AnyConnection,
        (id, division, kind, payload): &(i64, String, String, String),
    ) -> Result<OutboxItem, String> {
        let id = *id;
        let err = |e: serde_json::Error| format!("outbox row {id}: {e}");
        Ok(match kind.as_str() {
            EVENT_REF => {
                let seq: i64 = payload.parse().map_err(|_| format!("outbox row {id}: bad event reference"))?;
                let body: String = events::table
                    .filter(events::division.eq(division))
                    .filter(events::seq.eq(seq))
                    .select(events::body)
                    .first(conn)
                    .map_err(|e| format!("outbox row {id}: event {division}/{seq}: {e}"))?;
                let text = self
                    .sealer
                    .open_str(&body, &super::events::event_context(division, seq))
                    .map_err(|e| format!("outbox row {id}: {e}"))?;
                OutboxItem::Local { id, event: serde_json::from_str(&text).map_err(err)? }
            }
            "local" | "forward" => {
                let text = self
                    .sealer
                    .open_str(payload, &super::events::outbox_context(kind))
                    .map_err(|e| format!("outbox row {id}: {e}"))?;
                if kind == "local" {
                    OutboxItem::Local { id, event: serde_json::from_str(&text).map_err(err)? }
                } else {
                    OutboxItem::Forward { id, batch: serde_json::from_str(&text).map_err(err)? }
                }
            }
            "application" => {
                let app: Personal<ForwardedApplication> =
                    self.sealer.open(payload, APPLICATION_CONTEXT).map_err(|e| format!("outbox row {id}: {e}"))?;
                OutboxItem::Application { id, application: app.expose().clone() }
            }
            other => return Err(format!("outbox row {id}: unknown kind {other}")),
        })
    }
}

/// Queue an application for a child that could not be reached (inside the caller's transaction).
pub fn queue_application(
    conn: &mut crate::db::AnyConnection,
    sealer: &Sealer,
    peer: &NodeId,
    division: &str,
    application: &ForwardedApplication,
) -> QueryResult<()> {
    let sealed = sealer.seal(&Personal::new(application.clone()), APPLICATION_CONTEXT);
    diesel::insert_into(outbox::table)
        .values((
            outbox::peer.eq(peer.as_str()),
            outbox::division.eq(division),
            outbox::kind.eq("application"),
            outbox::payload.eq(&sealed),
            outbox::created_at.eq(super::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

impl OutboxStore for DbOutbox {
    fn pending(&self, peer: &NodeId, limit: usize) -> Result<Vec<OutboxItem>, String> {
        // Send only what is on disk: a parent must never hold an event this node could lose.
        self.db.wait_durable();
        let mut conn = self.db.conn().map_err(|e| e.to_string())?;
        let rows: Vec<(i64, String, String, String)> = outbox::table
            .filter(outbox::peer.eq(peer.as_str()))
            .filter(outbox::delivered_at.is_null())
            .order(outbox::id.asc())
            .limit(limit as i64)
            .select((outbox::id, outbox::division, outbox::kind, outbox::payload))
            .load(&mut conn)
            .map_err(|e| e.to_string())?;
        rows.iter().map(|row| self.parse_item(&mut conn, row)).collect()
    }

    fn delivered(&self, peer: &NodeId, ids: &[i64]) -> Result<(), String> {
        self.db
            .write(|conn| {
                // The ids are a prefix of the peer's pending rows (one worker per peer), so one
                // range update with a stable statement marks them all.
                let max = ids.iter().copied().max().unwrap_or(0);
                diesel::update(
                    outbox::table
                        .filter(outbox::peer.eq(peer.as_str()))
                        .filter(outbox::delivered_at.is_null())
                        .filter(outbox::id.le(max)),
                )
                .set(outbox::delivered_at.eq(Some(super::now())))
                .execute(conn)
                .map_err(crate::db::DbError::from)
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn application_answered(
        &self,
        _id: i64,
        application: &ForwardedApplication,
        answer: Result<&ApplicationAnswer, &str>,
    ) -> Result<(), String> {
        let Some(ticket) = &application.ticket else {
            return Ok(());
        };
        let text = match answer {
            Ok(a) => serde_json::to_string(a).map_err(|e| e.to_string())?,
            Err(refusal) => {
                tracing::error!(ticket, refusal, "a queued application was refused by the office");
                serde_json::json!({ "refused": refusal }).to_string()
            }
        };
        self.db
            .write(|conn| {
                diesel::update(tickets::table.filter(tickets::ticket.eq(ticket)))
                    .set((tickets::delivered_at.eq(Some(super::now())), tickets::answer.eq(Some(text))))
                    .execute(conn)
                    .map_err(crate::db::DbError::from)
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Undelivered rows per peer (for health and tests).
pub fn backlog(db: &Db, peer: &str) -> Result<i64, crate::db::DbError> {
    let mut conn = db.conn()?;
    Ok(outbox::table
        .filter(outbox::peer.eq(peer))
        .filter(outbox::delivered_at.is_null())
        .count()
        .get_result(&mut conn)?)
}
