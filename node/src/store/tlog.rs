//! The node's transparency log: one leaf per certificate and per status change it holds, in the
//! order it stored them. Leaves live in the database; the tree is kept in memory (see
//! `state::TransparencyLog`) and caught up from here.

use diesel::prelude::*;
use federation::crypto::sm3_hex;
use federation::merkle::{Hash, leaf_hash};

use crate::db::schema::tlog;
use crate::db::{AnyConnection, counters};

/// The counter that numbers leaves (per node, not per office).
const COUNTER: (&str, &str) = ("node", "tlog");

/// The leaf bytes for an issued certificate: its id, the SM3 of its signed content and its
/// signature. Anyone holding the certificate recomputes it.
pub fn certificate_entry(id: &str, content: &str, signature: &str) -> String {
    format!("bdc-tlog-v1|certificate|{id}|{}|{signature}", sm3_hex(content.as_bytes()))
}

pub fn status_entry(id: &str, status: &str, reason: &str) -> String {
    format!("bdc-tlog-v1|status|{id}|{status}|{reason}")
}

/// Append a leaf inside the caller's transaction; returns its index.
pub fn append(conn: &mut AnyConnection, certificate_id: &str, entry: &str) -> QueryResult<i64> {
    let idx = counters::next(conn, COUNTER.0, COUNTER.1)? - 1;
    diesel::insert_into(tlog::table)
        .values((
            tlog::idx.eq(idx),
            tlog::leaf_hash.eq(hex::encode(leaf_hash(entry.as_bytes()))),
            tlog::certificate_id.eq(certificate_id),
            tlog::entry.eq(entry),
            tlog::at.eq(super::now()),
        ))
        .execute(conn)?;
    Ok(idx)
}

/// Leaf hashes from `from` on, in order (committed rows only: a gap ends the list).
pub fn leaves_from(conn: &mut AnyConnection, from: i64) -> QueryResult<Vec<Hash>> {
    let rows: Vec<(i64, String)> = tlog::table
        .filter(tlog::idx.ge(from))
        .order(tlog::idx.asc())
        .select((tlog::idx, tlog::leaf_hash))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (idx, h)) in rows.into_iter().enumerate() {
        let mut hash = [0u8; 32];
        if idx != from + i as i64 || hex::decode_to_slice(&h, &mut hash).is_err() {
            break;
        }
        out.push(hash);
    }
    Ok(out)
}
