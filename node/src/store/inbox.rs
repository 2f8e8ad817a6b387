//! Storing what a child sent, after `federation::inbox` verified it: one transaction that
//! records the envelope id (replay), keeps each event once by (origin, sequence), projects
//! certificates and learned keys, and queues the batches for the parent (store and forward).

use diesel::prelude::*;
use federation::inbox::OpenedBatch;
use federation::peers::KnownKey;
use schemas::envelope::EventBody;
use schemas::ids::NodeId;

use crate::db::schema::{events, known_keys, outbox, seen_envelopes, watermarks};
use crate::db::{AnyConnection, DbError};
use crate::personal::Sealer;
use crate::with_inner;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub accepted: u32,
    pub duplicates: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("envelope already received")]
    Replayed,
    /// An origin reused a sequence number for a different event (e.g. restored from a backup).
    #[error("origin {origin} sent a different event under sequence {seq}")]
    SequenceConflict { origin: String, seq: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for InboxError {
    fn from(e: diesel::result::Error) -> Self {
        InboxError::Db(DbError::Query(e))
    }
}

/// Record an envelope id; `Replayed` when it was seen before.
pub fn remember_envelope(conn: &mut AnyConnection, id: &str, sender: &str) -> Result<(), InboxError> {
    let inserted = with_inner!(conn, |c| diesel::insert_into(seen_envelopes::table)
        .values((
            seen_envelopes::id.eq(id),
            seen_envelopes::sender.eq(sender),
            seen_envelopes::received_at.eq(super::now()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 0 { Err(InboxError::Replayed) } else { Ok(()) }
}

pub fn store_batches(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    sender: &NodeId,
    parent: Option<&NodeId>,
    batches: &[OpenedBatch],
    learned: &[KnownKey],
) -> Result<Stored, InboxError> {
    let mut stored = Stored::default();
    for key in learned {
        let pem = key.key.to_spki_pem().map_err(|e| DbError::Migrate(e.to_string()))?;
        with_inner!(conn, |c| diesel::insert_into(known_keys::table)
            .values((
                known_keys::key_id.eq(key.key.key_id()),
                known_keys::node_id.eq(key.node_id.as_str()),
                known_keys::division.eq(key.division.as_str()),
                known_keys::public_key_pem.eq(&pem),
                known_keys::learned_from.eq(sender.as_str()),
                known_keys::learned_at.eq(super::now()),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    for opened in batches {
        let mut new_in_batch = 0u32;
        let mut max_seq = 0i64;
        for event in &opened.events {
            let body =
                serde_json::to_string(event).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            let seq = event.seq as i64;
            max_seq = max_seq.max(seq);
            let inserted = with_inner!(conn, |c| diesel::insert_into(events::table)
                .values((
                    events::division.eq(event.origin.as_str()),
                    events::seq.eq(seq),
                    events::kind.eq(super::events::kind_name(&event.body)),
                    events::business_no.eq(super::events::business_no_of(&event.body)),
                    events::occurred_at.eq(event.occurred_at.naive_utc()),
                    events::body.eq(sealer.seal_str(&body, &super::events::event_context(event.origin.as_str(), seq))),
                    events::received_from.eq(sender.as_str()),
                    events::stored_at.eq(super::now()),
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
            if inserted == 0 {
                // A true duplicate carries the same event; anything else must not be lost silently.
                let held: String = events::table
                    .filter(events::division.eq(event.origin.as_str()))
                    .filter(events::seq.eq(seq))
                    .select(events::body)
                    .first(conn)?;
                let context = super::events::event_context(event.origin.as_str(), seq);
                let same = sealer
                    .open_str(&held, &context)
                    .ok()
                    .and_then(|t| serde_json::from_str::<schemas::envelope::Event>(&t).ok())
                    .is_some_and(|held| &held == event);
                if !same {
                    return Err(InboxError::SequenceConflict { origin: event.origin.to_string(), seq });
                }
                stored.duplicates += 1;
                continue;
            }
            new_in_batch += 1;
            project(conn, sealer, &event.body)?;
        }
        stored.accepted += new_in_batch;
        if new_in_batch > 0 {
            advance_watermark(conn, opened.batch.origin.as_str(), max_seq)?;
            if let Some(parent) = parent {
                let text = serde_json::to_string(&opened.batch)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                diesel::insert_into(outbox::table)
                    .values((
                        outbox::peer.eq(parent.as_str()),
                        outbox::division.eq(opened.batch.origin.as_str()),
                        outbox::kind.eq("forward"),
                        outbox::payload.eq(sealer.seal_str(&text, &super::events::outbox_context("forward"))),
                        outbox::created_at.eq(super::now()),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(stored)
}

/// Keep the read models that depend on events current.
fn project(conn: &mut AnyConnection, sealer: &Sealer, body: &EventBody) -> Result<(), InboxError> {
    match body {
        EventBody::Certificate(cert) => {
            super::certificates::insert_record(conn, sealer, cert)?;
        }
        EventBody::CertificateStatus(s) => {
            super::certificates::set_status(conn, s.id.as_str(), s.status, &s.reason)?;
        }
        EventBody::Progress(_) | EventBody::Enrolment(_) => {}
    }
    Ok(())
}

/// Track the highest contiguous sequence per origin, so gaps can be seen and asked for.
fn advance_watermark(conn: &mut AnyConnection, origin: &str, max_seq: i64) -> Result<(), InboxError> {
    let current: Option<(i64, i64)> = watermarks::table
        .filter(watermarks::division.eq(origin))
        .select((watermarks::contiguous, watermarks::highest))
        .first(conn)
        .optional()?;
    let (mut contiguous, highest) = current.unwrap_or((0, 0));
    let highest = highest.max(max_seq);
    let next: Vec<i64> = events::table
        .filter(events::division.eq(origin))
        .filter(events::seq.gt(contiguous))
        .filter(events::seq.le(highest))
        .order(events::seq.asc())
        .select(events::seq)
        .load(conn)?;
    for s in next {
        if s == contiguous + 1 {
            contiguous = s;
        } else {
            break;
        }
    }
    if current.is_some() {
        diesel::update(watermarks::table.filter(watermarks::division.eq(origin)))
            .set((watermarks::contiguous.eq(contiguous), watermarks::highest.eq(highest)))
            .execute(conn)?;
    } else {
        diesel::insert_into(watermarks::table)
            .values((
                watermarks::division.eq(origin),
                watermarks::contiguous.eq(contiguous),
                watermarks::highest.eq(highest),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// (contiguous, highest) sequence received from an origin.
pub fn watermark(conn: &mut AnyConnection, origin: &str) -> QueryResult<(i64, i64)> {
    Ok(watermarks::table
        .filter(watermarks::division.eq(origin))
        .select((watermarks::contiguous, watermarks::highest))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0)))
}

/// Keys learned from enrolments.
pub fn known_key(conn: &mut AnyConnection, key_id: &str) -> QueryResult<Option<(String, String, String)>> {
    known_keys::table
        .filter(known_keys::key_id.eq(key_id))
        .select((known_keys::node_id, known_keys::division, known_keys::public_key_pem))
        .first(conn)
        .optional()
}

/// Record a configured child's key; true when it is new (and must be enrolled upward).
pub fn record_child_key(conn: &mut AnyConnection, key: &KnownKey) -> Result<bool, InboxError> {
    let pem = key.key.to_spki_pem().map_err(|e| DbError::Migrate(e.to_string()))?;
    let n = with_inner!(conn, |c| diesel::insert_into(known_keys::table)
        .values((
            known_keys::key_id.eq(key.key.key_id()),
            known_keys::node_id.eq(key.node_id.as_str()),
            known_keys::division.eq(key.division.as_str()),
            known_keys::public_key_pem.eq(&pem),
            known_keys::learned_from.eq("config"),
            known_keys::learned_at.eq(super::now()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// The node an enrolment bound to an office (exact division), if any.
pub fn owner_of(conn: &mut AnyConnection, office: &str) -> QueryResult<Option<String>> {
    known_keys::table.filter(known_keys::division.eq(office)).select(known_keys::node_id).first(conn).optional()
}
