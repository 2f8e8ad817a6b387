//! Events: every stage change, certificate and enrolment gets a gap-free sequence per origin
//! office, is stored here and, when the node has a parent, queued in the outbox in the same
//! transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use schemas::envelope::{Event, EventBody};
use schemas::ids::{DivisionCode, NodeId};

use crate::db::schema::{events, outbox};
use crate::db::{AnyConnection, counters};
use crate::personal::Sealer;
use crate::with_inner;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub division: String,
    pub seq: i64,
    pub kind: String,
    pub business_no: Option<String>,
    pub occurred_at: chrono::NaiveDateTime,
    pub body: String,
    pub received_from: String,
    pub stored_at: chrono::NaiveDateTime,
}

pub fn kind_name(body: &EventBody) -> &'static str {
    match body {
        EventBody::Progress(_) => "progress",
        EventBody::Certificate(_) => "certificate",
        EventBody::CertificateStatus(_) => "certificate_status",
        EventBody::Enrolment(_) => "enrolment",
    }
}

pub fn business_no_of(body: &EventBody) -> Option<String> {
    match body {
        EventBody::Progress(p) => Some(p.business_no.to_string()),
        EventBody::Certificate(c) => Some(c.business_no.to_string()),
        EventBody::CertificateStatus(_) | EventBody::Enrolment(_) => None,
    }
}

/// Where an event happened and who should hear of it.
pub struct Emitter<'a> {
    pub me: &'a NodeId,
    pub parent: Option<&'a NodeId>,
    /// Event bodies can hold what a certificate shows: they are sealed at rest.
    pub sealer: &'a Sealer,
}

/// Associated data of a sealed event body.
pub fn event_context(division: &str, seq: i64) -> String {
    format!("event:{division}:{seq}")
}

/// Associated data of a sealed outbox payload.
pub fn outbox_context(kind: &str) -> String {
    format!("outbox:{kind}")
}

/// Create an event of a local office: next sequence, stored, queued for the parent.
pub fn emit(
    conn: &mut AnyConnection,
    emitter: &Emitter<'_>,
    origin: &DivisionCode,
    body: EventBody,
    at: DateTime<Utc>,
) -> QueryResult<Event> {
    let seq = counters::next(conn, origin.as_str(), "event_seq")?;
    let event = Event { origin: origin.clone(), seq: seq as u64, occurred_at: at, body };
    let text = serde_json::to_string(&event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let body = emitter.sealer.seal_str(&text, &event_context(origin.as_str(), seq));
    let (kind, business_no, stored_at) = (kind_name(&event.body), business_no_of(&event.body), super::now());
    // Both inserts on the backend's own connection (a hot path, see `db::with_inner`).
    with_inner!(conn, |c| diesel::insert_into(events::table)
        .values((
            events::division.eq(origin.as_str()),
            events::seq.eq(seq),
            events::kind.eq(kind),
            events::business_no.eq(&business_no),
            events::occurred_at.eq(at.naive_utc()),
            events::body.eq(&body),
            events::received_from.eq(emitter.me.as_str()),
            events::stored_at.eq(stored_at),
        ))
        .execute(c))?;
    if let Some(parent) = emitter.parent {
        // The outbox row names the event (origin = its division, sequence = its payload) rather
        // than holding a second sealed copy: the delivery worker reads the body from `events`,
        // outside SQLite's one writer (see `store::outbox::EVENT_REF`).
        let payload = seq.to_string();
        with_inner!(conn, |c| diesel::insert_into(outbox::table)
            .values((
                outbox::peer.eq(parent.as_str()),
                outbox::division.eq(origin.as_str()),
                outbox::kind.eq(super::outbox::EVENT_REF),
                outbox::payload.eq(&payload),
                outbox::created_at.eq(stored_at),
            ))
            .execute(c))?;
    }
    Ok(event)
}

/// All events about one business number, in sequence order.
pub fn for_business(conn: &mut AnyConnection, sealer: &Sealer, business_no: &str) -> QueryResult<Vec<Event>> {
    // Only the office a business number belongs to speaks about it.
    let office = business_no.get(..6).unwrap_or_default();
    let rows: Vec<(String, i64, String)> = events::table
        .filter(events::business_no.eq(business_no))
        .filter(events::division.eq(office))
        .order((events::division.asc(), events::seq.asc()))
        .select((events::division, events::seq, events::body))
        .load(conn)?;
    Ok(rows
        .iter()
        .filter_map(|(d, seq, b)| sealer.open_str(b, &event_context(d, *seq)).ok())
        .filter_map(|b| serde_json::from_str(&b).ok())
        .collect())
}

/// How many events of an origin this node holds, and the highest sequence.
pub fn origin_summary(conn: &mut AnyConnection, origin: &str) -> QueryResult<(i64, Option<i64>)> {
    use diesel::dsl::{count_star, max};
    events::table.filter(events::division.eq(origin)).select((count_star(), max(events::seq))).first(conn)
}
