//! E-certificates: issued here (signed with the office's node key) or rolled up from below.

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;
use federation::crypto::{SigningKey, b64};
use schemas::api::{CertificateContent, CertificateStatus};
use schemas::divisions::Divisions;
use schemas::envelope::CertificateRecord;
use schemas::ids::{
    BusinessNo, CertificateId, CertificateKind, CertificateNumber, DivisionCode, NodeId, PROPERTY_CERTIFICATE_TYPE,
    REGISTRATION_PROOF_TYPE, UnitCode,
};
use schemas::registration::RegistrationKind;

use crate::db::schema::certificates;
use crate::db::{AnyConnection, counters};
use crate::domain::certificate_access::access_code;
use crate::domain::certificate_fields::Printed;
use crate::personal::Sealer;
use crate::with_inner;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificates)]
pub struct CertificateRow {
    pub id: String,
    pub division: String,
    pub number: String,
    pub business_no: String,
    pub issuer_node: String,
    pub key_id: String,
    pub content: String,
    pub signature: String,
    pub status: String,
    pub status_reason: String,
    pub issued_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub fn status_name(s: CertificateStatus) -> &'static str {
    match s {
        CertificateStatus::Valid => "valid",
        CertificateStatus::Superseded => "superseded",
        CertificateStatus::Void => "void",
    }
}

pub fn parse_status(s: &str) -> CertificateStatus {
    match s {
        "superseded" => CertificateStatus::Superseded,
        "void" => CertificateStatus::Void,
        _ => CertificateStatus::Valid,
    }
}

pub fn content_context(id: &str) -> String {
    format!("certificate:{id}")
}

/// Store a certificate; its content (which shows the holders) is sealed at rest.
pub fn insert_record(conn: &mut AnyConnection, sealer: &Sealer, c: &CertificateRecord) -> QueryResult<usize> {
    let sealed = sealer.seal_str(&c.content, &content_context(c.id.as_str()));
    let inserted = insert_sealed(conn, c, &sealed)?;
    if inserted == 1 {
        super::tlog::append(
            conn,
            c.id.as_str(),
            &super::tlog::certificate_entry(c.id.as_str(), &c.content, &c.signature),
        )?;
    }
    Ok(inserted)
}

fn insert_sealed(conn: &mut AnyConnection, c: &CertificateRecord, sealed: &str) -> QueryResult<usize> {
    with_inner!(conn, |x| diesel::insert_into(certificates::table)
        .values((
            certificates::id.eq(c.id.as_str()),
            certificates::division.eq(c.issuer.as_str()),
            certificates::number.eq(&c.number),
            certificates::business_no.eq(c.business_no.as_str()),
            certificates::issuer_node.eq(c.issuer_node.as_str()),
            certificates::key_id.eq(&c.key_id),
            certificates::content.eq(sealed),
            certificates::signature.eq(&c.signature),
            certificates::status.eq("valid"),
            certificates::status_reason.eq(""),
            certificates::issued_at.eq(c.issued_at.naive_utc()),
            certificates::updated_at.eq(super::now()),
        ))
        .on_conflict_do_nothing()
        .execute(x))
}

pub fn set_status(conn: &mut AnyConnection, id: &str, status: CertificateStatus, reason: &str) -> QueryResult<usize> {
    super::tlog::append(conn, id, &super::tlog::status_entry(id, status_name(status), reason))?;
    diesel::update(certificates::table.filter(certificates::id.eq(id)))
        .set((
            certificates::status.eq(status_name(status)),
            certificates::status_reason.eq(reason),
            certificates::updated_at.eq(super::now()),
        ))
        .execute(conn)
}

/// A certificate with its content opened.
pub fn get(conn: &mut AnyConnection, sealer: &Sealer, id: &str) -> QueryResult<Option<CertificateRow>> {
    let row: Option<CertificateRow> = certificates::table
        .filter(certificates::id.eq(id))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|mut r| {
        r.content = sealer
            .open_str(&r.content, &content_context(&r.id))
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        Ok(r)
    })
    .transpose()
}

/// What a verification answer reads from the database.
pub struct ForVerification {
    /// The certificate, its content opened (as [`get`] gives it).
    pub row: CertificateRow,
    /// Index and entry of the leaf that recorded the certificate's issue in the transparency log
    /// (its first leaf; later ones record status changes).
    pub leaf: Option<(i64, String)>,
    /// Leaves committed to the log: one past the highest index.
    pub log_end: i64,
}

/// The certificate, its issue leaf and the log's length, in one statement (so from one snapshot).
///
/// This is the read of every public verification, so it is shaped for cost: one statement instead
/// of three (each SQLite statement takes and drops the WAL read lock with `fcntl` calls), and run
/// on the backend's own connection rather than through the `AnyConnection` enum, whose wrapper
/// writes the whole SQL text out again on every execution (for the cache check and for the binds)
/// instead of finding the prepared statement by the query's type.
pub fn get_for_verification(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    id: &str,
) -> QueryResult<Option<ForVerification>> {
    use crate::db::schema::tlog;
    type Found = (CertificateRow, Option<i64>, Option<String>, Option<i64>);
    // Built inside each arm: the row's `as_select()` is typed by the backend.
    let found: Option<Found> = with_inner!(conn, |c| {
        // The first leaf by MIN(idx) rather than ORDER BY idx LIMIT 1: same row, but SQLite
        // sorts the matches of `ORDER BY` in a temporary b-tree, which costs more than the lookup.
        let first = diesel::alias!(tlog as first_leaf);
        let first_idx = first
            .filter(first.field(tlog::certificate_id).eq(id))
            .select(diesel::dsl::min(first.field(tlog::idx)))
            .single_value();
        certificates::table
            .filter(certificates::id.eq(id))
            .select((
                CertificateRow::as_select(),
                first_idx,
                tlog::table.filter(tlog::idx.nullable().eq(first_idx)).select(tlog::entry).single_value(),
                tlog::table.select(diesel::dsl::max(tlog::idx)).single_value(),
            ))
            .first::<Found>(c)
            .optional()
    })?;
    let Some((mut row, idx, entry, max_idx)) = found else { return Ok(None) };
    row.content = sealer
        .open_str(&row.content, &content_context(&row.id))
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    Ok(Some(ForVerification { row, leaf: idx.zip(entry), log_end: max_idx.map_or(0, |m| m + 1) }))
}

/// Certificates an office issued under a number (one, unless a number was reissued as a new
/// version of the same certificate).
pub fn ids_by_number(conn: &mut AnyConnection, division: &str, number: &str) -> QueryResult<Vec<String>> {
    certificates::table
        .filter(certificates::division.eq(division))
        .filter(certificates::number.eq(number))
        .select(certificates::id)
        .load(conn)
}

/// The certificates of a business, oldest first, with their 查验码.
pub fn links_for_business(conn: &mut AnyConnection, business_no: &str) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = certificates::table
        .filter(certificates::business_no.eq(business_no))
        .order(certificates::issued_at.asc())
        .select((certificates::id, certificates::signature))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, signature)| (id, access_code(&signature))).collect())
}

/// What the office knows when it issues.
pub struct IssueInput<'a> {
    pub office: &'a DivisionCode,
    pub office_name: &'a str,
    pub issuer_node: &'a NodeId,
    pub key: &'a SigningKey,
    pub sealer: &'a Sealer,
    pub business_no: &'a BusinessNo,
    pub unit_code: &'a UnitCode,
    pub kind: RegistrationKind,
    /// What the certificate prints, from the register (`domain::certificate_fields`).
    pub printed: Printed,
    pub at: DateTime<Utc>,
}

/// 登记类型 as printed: the kind's name, and for a 登记证明 of a mortgage the 抵押 form.
fn registration_kind_printed(kind: RegistrationKind, matter: Option<&str>) -> String {
    match (kind, matter) {
        (RegistrationKind::Mortgage, Some(m)) => format!("{m}登记"),
        _ => kind.label_zh().to_owned(),
    }
}

/// 发证: number the certificate (per office and year, gap-free), build its content, sign it,
/// store it. Runs inside the caller's transaction.
pub fn issue(conn: &mut AnyConnection, input: IssueInput<'_>) -> Result<CertificateRecord, String> {
    let year = input.at.year();
    let property = input.kind.issues_property_certificate();
    let (kind, type_code, title, counter) = if property {
        (CertificateKind::PropertyRight, PROPERTY_CERTIFICATE_TYPE, "不动产权证书", format!("cert_no:{year}:right"))
    } else {
        (CertificateKind::RegistrationProof, REGISTRATION_PROOF_TYPE, "不动产登记证明", format!("cert_no:{year}:proof"))
    };
    let (abbr, place) = if input.office.is_nation() {
        // The national office: STANDARDS gives no national form; ours is
        // 国(2026)自然资源部不动产权第0000001号 (see `domain::national`).
        (
            crate::domain::national::NATIONAL_CERTIFICATE_ABBR,
            crate::domain::national::NATIONAL_CERTIFICATE_PLACE.to_owned(),
        )
    } else {
        let divisions = Divisions::builtin();
        let abbr = divisions
            .province_abbr(input.office)
            .ok_or_else(|| format!("no province abbreviation for {}", input.office))?;
        let place = divisions
            .city_name_for_certificate(input.office)
            .ok_or_else(|| format!("no place name for {}", input.office))?;
        (abbr.chars().next().ok_or_else(|| "empty province abbreviation".to_owned())?, place)
    };
    let seq = counters::next(conn, input.office.as_str(), &counter).map_err(|e| e.to_string())?;
    let number = CertificateNumber::new(abbr, year as u16, &place, kind, seq as u32).map_err(|e| e.to_string())?;
    let serial_no = counters::next(conn, input.office.as_str(), "certificate_serial").map_err(|e| e.to_string())?;
    let serial = format!("{year}{serial_no:08}");
    let id = CertificateId::new(type_code, input.office.as_str(), &serial, 1).map_err(|e| e.to_string())?;
    let p = input.printed;
    let content = CertificateContent {
        title: title.to_owned(),
        type_code: type_code.to_owned(),
        id: id.clone(),
        number: number.to_string(),
        business_no: input.business_no.clone(),
        holders: p.holders,
        co_ownership: p.co_ownership,
        location: p.location,
        unit_code: input.unit_code.clone(),
        registration_kind: registration_kind_printed(input.kind, p.matter.as_deref()),
        issuer_name: input.office_name.to_owned(),
        issuer_division: input.office.clone(),
        issued_on: input.at.date_naive(),
        holder_id_type: p.holder_id_type,
        right_type: p.right_type,
        nature: p.nature,
        purpose: p.purpose,
        area: p.area,
        term: p.term,
        other: p.other,
        notes: vec![format!("业务号：{}", input.business_no)],
        matter: p.matter,
        obligors: p.obligors,
        valid_until: p.valid_until,
    };
    let text = serde_json::to_string(&content).map_err(|e| e.to_string())?;
    let record = CertificateRecord {
        id,
        number: number.to_string(),
        business_no: input.business_no.clone(),
        issuer: input.office.clone(),
        issuer_node: input.issuer_node.clone(),
        key_id: input.key.key_id(),
        signature: b64(&input.key.sign(text.as_bytes())),
        content: text,
        issued_at: input.at,
    };
    insert_record(conn, input.sealer, &record).map_err(|e| e.to_string())?;
    Ok(record)
}
