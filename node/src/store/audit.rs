//! The audit log (审计日志): every staff action, every applicant action that changes data, every
//! inter-node call and every security event. Append-only; each record's hash is
//! SM3(previous hash ‖ the record's canonical bytes), so a changed, deleted or inserted record
//! breaks the chain at that point; the node signs the head periodically (checkpoints), so even
//! someone able to recompute hashes cannot rewrite what a checkpoint covers.
//! Details never hold personal data.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use federation::crypto::{PublicKey, SigningKey, b64, sm3_hex, unb64};
use serde::Serialize;

use crate::db::AnyConnection;
use crate::db::prepared::Prepared;
use crate::db::schema::{audit_checkpoints, audit_head, audit_log};
use crate::with_inner;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of actor acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Staff,
    Applicant,
    Node,
    Security,
    System,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Staff => "staff",
            Kind::Applicant => "applicant",
            Kind::Node => "node",
            Kind::Security => "security",
            Kind::System => "system",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct Entry {
    pub division: String,
    pub actor: String,
    pub kind: Kind,
    pub action: String,
    pub business_no: Option<String>,
    /// `ok`, `refused` or `error`
    pub outcome: String,
    pub detail: String,
    pub request_id: String,
}

impl Entry {
    pub fn new(division: &str, actor: &str, kind: Kind, action: &str, request_id: &str) -> Self {
        Self {
            division: division.to_owned(),
            actor: actor.to_owned(),
            kind,
            action: action.to_owned(),
            business_no: None,
            outcome: "ok".into(),
            detail: String::new(),
            request_id: request_id.to_owned(),
        }
    }
    pub fn business(mut self, no: &str) -> Self {
        self.business_no = Some(no.to_owned());
        self
    }
    pub fn refused(mut self, code: &str) -> Self {
        self.outcome = "refused".into();
        self.detail = code.to_owned();
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct Record {
    pub seq: i64,
    pub division: String,
    pub at: NaiveDateTime,
    pub actor: String,
    pub kind: String,
    pub action: String,
    pub business_no: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The bytes a record's hash covers: an unambiguous JSON array of its fields.
fn canonical(r: &Record) -> Vec<u8> {
    let at = r.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    serde_json::to_vec(&(
        r.seq,
        &r.division,
        at,
        &r.actor,
        &r.kind,
        &r.action,
        &r.business_no,
        &r.outcome,
        &r.detail,
        &r.request_id,
    ))
    .unwrap_or_default()
}

pub fn record_hash(r: &Record) -> String {
    let mut bytes = r.prev_hash.as_bytes().to_vec();
    bytes.extend(canonical(r));
    sm3_hex(&bytes)
}

/// Append inside the caller's transaction (the change and its record commit together).
pub fn append(conn: &mut AnyConnection, e: &Entry) -> QueryResult<i64> {
    if crate::protections::off() {
        return Ok(0);
    }
    // Lock the head: appends are serialised (PostgreSQL row lock; SQLite has one writer).
    let (seq, prev): (i64, String) = match conn {
        AnyConnection::Postgresql(c) => audit_head::table
            .filter(audit_head::id.eq(1))
            .select((audit_head::seq, audit_head::hash))
            .for_update()
            .first(c)?,
        AnyConnection::Sqlite(c) => {
            audit_head::table.filter(audit_head::id.eq(1)).select((audit_head::seq, audit_head::hash)).first(c)?
        }
    };
    let now = super::now();
    // Microseconds: what both backends keep, so the hash recomputes after a round trip.
    let at = now.with_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now);
    let mut record = Record {
        seq: seq + 1,
        division: e.division.clone(),
        at,
        actor: e.actor.clone(),
        kind: e.kind.as_str().to_owned(),
        action: e.action.clone(),
        business_no: e.business_no.clone(),
        outcome: e.outcome.clone(),
        detail: e.detail.chars().take(500).collect(),
        request_id: e.request_id.chars().take(64).collect(),
        prev_hash: prev,
        hash: String::new(),
    };
    record.hash = record_hash(&record);
    // On the backend's own connection (a hot path, see `db::with_inner`).
    with_inner!(conn, |c| diesel::insert_into(audit_log::table)
        .values((
            audit_log::seq.eq(record.seq),
            audit_log::division.eq(&record.division),
            audit_log::at.eq(record.at),
            audit_log::actor.eq(&record.actor),
            audit_log::kind.eq(&record.kind),
            audit_log::action.eq(&record.action),
            audit_log::business_no.eq(&record.business_no),
            audit_log::outcome.eq(&record.outcome),
            audit_log::detail.eq(&record.detail),
            audit_log::request_id.eq(&record.request_id),
            audit_log::prev_hash.eq(&record.prev_hash),
            audit_log::hash.eq(&record.hash),
        ))
        .execute(c))?;
    // Kept prepared (see `db::prepared`: counted, not executed), on the backend's own connection.
    with_inner!(conn, |c| Prepared(
        diesel::update(audit_head::table.filter(audit_head::id.eq(1)))
            .set((audit_head::seq.eq(record.seq), audit_head::hash.eq(&record.hash)))
            .returning(audit_head::id),
    )
    .count::<_, i32>(c))?;
    Ok(record.seq)
}

fn checkpoint_bytes(seq: i64, hash: &str) -> Vec<u8> {
    format!("bdc-audit-checkpoint-v1|{seq}|{hash}").into_bytes()
}

/// Sign the current head when it moved since the last checkpoint. Returns the signed sequence.
pub fn checkpoint(conn: &mut AnyConnection, key: &SigningKey) -> QueryResult<Option<i64>> {
    let (seq, hash): (i64, String) =
        audit_head::table.filter(audit_head::id.eq(1)).select((audit_head::seq, audit_head::hash)).first(conn)?;
    let last: Option<i64> = audit_checkpoints::table.select(diesel::dsl::max(audit_checkpoints::seq)).first(conn)?;
    if seq == 0 || last == Some(seq) {
        return Ok(None);
    }
    let n = with_inner!(conn, |c| diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::seq.eq(seq),
            audit_checkpoints::hash.eq(&hash),
            audit_checkpoints::key_id.eq(key.key_id()),
            audit_checkpoints::signature.eq(b64(&key.sign(&checkpoint_bytes(seq, &hash)))),
            audit_checkpoints::at.eq(super::now()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok((n == 1).then_some(seq))
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub records: i64,
    pub checkpoints: i64,
    /// Records after the last signed checkpoint.
    pub unsigned_tail: i64,
}

/// Walk the whole chain and every checkpoint.
pub fn verify(conn: &mut AnyConnection, key: &PublicKey) -> QueryResult<Result<Report, Break>> {
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut hashes: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    loop {
        let page: Vec<Record> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq))
            .order(audit_log::seq.asc())
            .limit(2000)
            .select(Record::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for r in page {
            if r.seq != expected_seq {
                return Ok(Err(Break {
                    seq: expected_seq,
                    reason: format!("record {expected_seq} is missing (deleted)"),
                }));
            }
            if r.prev_hash != prev {
                return Ok(Err(Break {
                    seq: r.seq,
                    reason: format!("record {} does not follow record {} (inserted or reordered)", r.seq, r.seq - 1),
                }));
            }
            if record_hash(&r) != r.hash {
                return Ok(Err(Break { seq: r.seq, reason: format!("record {} was altered", r.seq) }));
            }
            prev = r.hash.clone();
            hashes.insert(r.seq, r.hash);
            expected_seq += 1;
        }
    }
    let records = expected_seq - 1;
    let (head_seq, head_hash): (i64, String) =
        audit_head::table.filter(audit_head::id.eq(1)).select((audit_head::seq, audit_head::hash)).first(conn)?;
    if head_seq != records || (records > 0 && head_hash != prev) {
        return Ok(Err(Break {
            seq: records + 1,
            reason: format!(
                "the chain ends at record {records} but its head says {head_seq} (records removed from the end or added)"
            ),
        }));
    }
    let checkpoints: Vec<(i64, String, String, String)> = audit_checkpoints::table
        .order(audit_checkpoints::seq.asc())
        .select((
            audit_checkpoints::seq,
            audit_checkpoints::hash,
            audit_checkpoints::key_id,
            audit_checkpoints::signature,
        ))
        .load(conn)?;
    let mut last_signed = 0;
    for (seq, hash, key_id, signature) in &checkpoints {
        let sig_ok = key_id == &key.key_id()
            && unb64(signature).is_ok_and(|der| key.verify(&checkpoint_bytes(*seq, hash), &der).is_ok());
        if !sig_ok {
            return Ok(Err(Break { seq: *seq, reason: format!("checkpoint at record {seq} has a bad signature") }));
        }
        if hashes.get(seq) != Some(hash) {
            return Ok(Err(Break { seq: *seq, reason: format!("record {seq} differs from the signed checkpoint") }));
        }
        last_signed = *seq;
    }
    Ok(Ok(Report { records, checkpoints: checkpoints.len() as i64, unsigned_tail: records - last_signed }))
}

/// Filter for queries and exports.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub division: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub business_no: Option<String>,
    pub limit: i64,
}

pub fn query(conn: &mut AnyConnection, f: &Filter) -> QueryResult<Vec<Record>> {
    let mut q = audit_log::table.into_boxed();
    if let Some(d) = &f.division {
        q = q.filter(audit_log::division.eq(d.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(audit_log::kind.eq(k.clone()));
    }
    if let Some(b) = &f.business_no {
        q = q.filter(audit_log::business_no.eq(b.clone()));
    }
    q.order(audit_log::seq.asc()).limit(f.limit.clamp(1, 100_000)).select(Record::as_select()).load(conn)
}

/// CSV with a header row; fields quoted.
pub fn to_csv(records: &[Record]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out =
        String::from("seq,at,division,actor,kind,action,business_no,outcome,detail,request_id,prev_hash,hash\n");
    for r in records {
        let fields = [
            r.seq.to_string(),
            r.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            r.division.clone(),
            r.actor.clone(),
            r.kind.clone(),
            r.action.clone(),
            r.business_no.clone().unwrap_or_default(),
            r.outcome.clone(),
            r.detail.clone(),
            r.request_id.clone(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ];
        out.push_str(&fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
