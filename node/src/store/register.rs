//! The register's tables: loading a unit's page, writing the plan of a 登簿, linking the issued
//! certificate, lapsing objections and advance notices, and the staff views. Every function runs
//! inside the caller's transaction; holders are sealed at rest and found by blind index.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use schemas::api::{CertificateStatus, PartyView};
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, CertificateId, DivisionCode, IdType, UnitCode};
use schemas::register::{EntryStatus, RestrictionKind, RestrictionView, RightView, UnitRegisterView};
use schemas::registration::PartyRole;

use super::applications::AppError;
use crate::db::AnyConnection;
use crate::db::prepared::Prepared;
use crate::db::schema::{certificates, register_holders, register_restrictions, register_rights};
use crate::domain::codes::Term;
use crate::domain::huijiao::{RecordedRestriction, RecordedRight};
use crate::domain::register::{CurrentRestriction, CurrentRight, Holder, Plan, Retire, UnitPage};
use crate::personal::{Personal, Sealer, mask_id, mask_name};
use crate::with_inner;

const CURRENT: &str = "current";
const HISTORY: &str = "history";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = register_rights)]
struct RightRow {
    id: i64,
    unit_code: String,
    right_type: i32,
    holders: String,
    co_ownership: String,
    location: String,
    area: Option<String>,
    purpose: Option<String>,
    status: String,
    business_no: String,
    ended_by: Option<String>,
    certificate_id: Option<String>,
    recorded_at: chrono::NaiveDateTime,
    ended_at: Option<chrono::NaiveDateTime>,
    nature: Option<i32>,
    term: Option<String>,
}

impl RightRow {
    fn nature(&self) -> Option<u16> {
        self.nature.and_then(|n| u16::try_from(n).ok())
    }

    fn term(&self) -> Option<Term> {
        self.term.as_deref().and_then(Term::from_stored)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = register_restrictions)]
struct RestrictionRow {
    id: i64,
    division: String,
    unit_code: String,
    kind: String,
    position: i64,
    holders: String,
    amount: Option<String>,
    maximum: bool,
    authority: Option<String>,
    status: String,
    business_no: String,
    ended_by: Option<String>,
    certificate_id: Option<String>,
    recorded_at: chrono::NaiveDateTime,
    expires_at: Option<chrono::NaiveDateTime>,
    ended_at: Option<chrono::NaiveDateTime>,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

fn conflict(message: impl Into<String>) -> AppError {
    AppError::Refused { code: ErrorCode::RegisterConflict, message: message.into() }
}

/// Sealing context: binds the holders to the entry's unit and recording application.
pub fn context(table: &str, unit_code: &str, business_no: &str) -> String {
    format!("register:{table}:{unit_code}:{business_no}")
}

fn open_holders(
    sealer: &Sealer,
    table: &str,
    unit: &str,
    business_no: &str,
    sealed: &str,
) -> Result<Vec<Holder>, AppError> {
    let holders: Personal<Vec<Holder>> = sealer.open(sealed, &context(table, unit, business_no)).map_err(internal)?;
    Ok(holders.expose().clone())
}

/// A unit's current page.
pub fn load_page(conn: &mut AnyConnection, sealer: &Sealer, unit_code: &str) -> Result<UnitPage, AppError> {
    // Both reads on the backend's own connection (a hot path, see `db::with_inner`).
    let right: Option<RightRow> = with_inner!(conn, |c| register_rights::table
        .filter(register_rights::unit_code.eq(unit_code))
        .filter(register_rights::status.eq(CURRENT))
        .select(RightRow::as_select())
        .first(c)
        .optional())?;
    let right = right
        .map(|r| -> Result<CurrentRight, AppError> {
            Ok(CurrentRight {
                id: r.id,
                right_type: u16::try_from(r.right_type).map_err(internal)?,
                holders: open_holders(sealer, "right", &r.unit_code, &r.business_no, &r.holders)?,
                nature: r.nature(),
                term: r.term(),
                location: r.location,
                area: r.area,
                purpose: r.purpose,
                business_no: r.business_no,
                certificate_id: r.certificate_id,
            })
        })
        .transpose()?;
    let rows: Vec<RestrictionRow> = with_inner!(conn, |c| register_restrictions::table
        .filter(register_restrictions::unit_code.eq(unit_code))
        .filter(register_restrictions::status.eq(CURRENT))
        .order(register_restrictions::id.asc())
        .select(RestrictionRow::as_select())
        .load(c))?;
    let restrictions = rows
        .into_iter()
        .map(|r| -> Result<CurrentRestriction, AppError> {
            Ok(CurrentRestriction {
                id: r.id,
                kind: RestrictionKind::parse(&r.kind).ok_or_else(|| internal("restriction kind"))?,
                position: r.position,
                holders: open_holders(sealer, "restriction", &r.unit_code, &r.business_no, &r.holders)?,
                amount: r.amount,
                maximum: r.maximum,
                authority: r.authority,
                business_no: r.business_no,
                certificate_id: r.certificate_id,
                expires_at: r.expires_at.map(|t| t.and_utc()),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(UnitPage { right, restrictions })
}

/// What tells whether a unit's current page is still the one read, without opening it: each
/// current entry (restriction or not, id, 顺位, linked certificate). Entries are never edited in
/// place except in those fields (and in ending, which takes them off the page), so any change to
/// the page changes its mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMark(Vec<(bool, i64, i64, Option<String>)>);

impl PageMark {
    pub fn of(page: &UnitPage) -> Self {
        let mut entries: Vec<_> = page
            .right
            .iter()
            .map(|r| (false, r.id, 0, r.certificate_id.clone()))
            .chain(page.restrictions.iter().map(|r| (true, r.id, r.position, r.certificate_id.clone())))
            .collect();
        entries.sort();
        PageMark(entries)
    }

    /// The mark of the unit's page as it is now (inside the caller's transaction).
    pub fn current(conn: &mut AnyConnection, unit_code: &str) -> QueryResult<Self> {
        let rights: Vec<(i64, Option<String>)> = with_inner!(conn, |c| register_rights::table
            .filter(register_rights::unit_code.eq(unit_code))
            .filter(register_rights::status.eq(CURRENT))
            .select((register_rights::id, register_rights::certificate_id))
            .load(c))?;
        let restrictions: Vec<(i64, i64, Option<String>)> = with_inner!(conn, |c| register_restrictions::table
            .filter(register_restrictions::unit_code.eq(unit_code))
            .filter(register_restrictions::status.eq(CURRENT))
            .select((register_restrictions::id, register_restrictions::position, register_restrictions::certificate_id))
            .load(c))?;
        let mut entries: Vec<_> = rights
            .into_iter()
            .map(|(id, cert)| (false, id, 0, cert))
            .chain(restrictions.into_iter().map(|(id, position, cert)| (true, id, position, cert)))
            .collect();
        entries.sort();
        Ok(PageMark(entries))
    }
}

/// Where the plan was written.
pub struct Applied {
    /// Certificates that stopped being valid: (id, new status, reason).
    pub retired: Vec<(String, CertificateStatus, String)>,
}

/// Write a 登簿's plan. An entry that is no longer current (another 登簿 got there first) makes
/// the whole transaction fail: nothing is half-recorded.
pub fn apply(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    office: &DivisionCode,
    unit_code: &str,
    business_no: &str,
    plan: &Plan,
    at: DateTime<Utc>,
) -> Result<Applied, AppError> {
    let now = at.naive_utc();
    if let Some(id) = plan.end_right {
        let n = diesel::update(
            register_rights::table.filter(register_rights::id.eq(id)).filter(register_rights::status.eq(CURRENT)),
        )
        .set((
            register_rights::status.eq(HISTORY),
            register_rights::ended_by.eq(business_no),
            register_rights::ended_at.eq(now),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(conflict("登记簿已被其他业务变更，请重新审核"));
        }
    }
    for id in &plan.end_restrictions {
        let n = diesel::update(
            register_restrictions::table
                .filter(register_restrictions::id.eq(id))
                .filter(register_restrictions::status.eq(CURRENT)),
        )
        .set((
            register_restrictions::status.eq(HISTORY),
            register_restrictions::ended_by.eq(business_no),
            register_restrictions::ended_at.eq(now),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(conflict("登记簿已被其他业务变更，请重新审核"));
        }
    }
    for (id, position) in &plan.moves {
        diesel::update(register_restrictions::table.filter(register_restrictions::id.eq(id)))
            .set(register_restrictions::position.eq(position))
            .execute(conn)?;
    }
    if let Some(r) = &plan.new_right {
        let sealed = sealer.seal(&Personal::new(r.holders.clone()), &context("right", unit_code, business_no));
        let inserted = diesel::insert_into(register_rights::table)
            .values((
                register_rights::division.eq(office.as_str()),
                register_rights::unit_code.eq(unit_code),
                register_rights::right_type.eq(i32::from(r.right_type)),
                register_rights::holders.eq(&sealed),
                register_rights::co_ownership.eq(r.co_ownership),
                register_rights::location.eq(&r.location),
                register_rights::area.eq(&r.area),
                register_rights::purpose.eq(&r.purpose),
                register_rights::nature.eq(r.nature.map(i32::from)),
                register_rights::term.eq(r.term.map(Term::to_stored)),
                register_rights::status.eq(CURRENT),
                register_rights::business_no.eq(business_no),
                register_rights::recorded_at.eq(now),
            ))
            .returning(register_rights::id)
            .get_result::<i64>(conn);
        let id = match inserted {
            Ok(id) => id,
            // The unique index on current rights: another 登簿 recorded a right meanwhile.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                return Err(conflict("该不动产单元已有现势权利（其他业务刚刚登簿），请重新审核"));
            }
            Err(e) => return Err(e.into()),
        };
        for h in &r.holders {
            diesel::insert_into(register_holders::table)
                .values((
                    register_holders::right_id.eq(id),
                    register_holders::division.eq(office.as_str()),
                    register_holders::holder_key.eq(sealer.blind_index(&h.id_type.code().to_string(), &h.id_number)),
                ))
                .execute(conn)?;
        }
    }
    if let Some(r) = &plan.new_restriction {
        let sealed = sealer.seal(&Personal::new(r.holders.clone()), &context("restriction", unit_code, business_no));
        diesel::insert_into(register_restrictions::table)
            .values((
                register_restrictions::division.eq(office.as_str()),
                register_restrictions::unit_code.eq(unit_code),
                register_restrictions::kind.eq(r.kind.as_str()),
                register_restrictions::position.eq(r.position),
                register_restrictions::holders.eq(&sealed),
                register_restrictions::amount.eq(&r.amount),
                register_restrictions::maximum.eq(r.maximum),
                register_restrictions::authority.eq(&r.authority),
                register_restrictions::status.eq(CURRENT),
                register_restrictions::business_no.eq(business_no),
                register_restrictions::recorded_at.eq(now),
                register_restrictions::expires_at.eq(r.expires_at.map(|t| t.naive_utc())),
            ))
            .execute(conn)?;
    }
    let mut retired = vec![];
    for (id, how, reason) in &plan.retire {
        let status = match how {
            Retire::Superseded => CertificateStatus::Superseded,
            Retire::Void => CertificateStatus::Void,
        };
        super::certificates::set_status(conn, id, status, reason)?;
        retired.push((id.clone(), status, reason.clone()));
    }
    Ok(Applied { retired })
}

/// Note the certificate issued for the entry `business_no` recorded.
pub fn link_certificate(conn: &mut AnyConnection, business_no: &str, certificate_id: &str) -> QueryResult<usize> {
    // Kept prepared (see `db::prepared`), on the backend's own connection (see `db::with_inner`).
    let n = with_inner!(conn, |c| Prepared(
        diesel::update(
            register_rights::table
                .filter(register_rights::business_no.eq(business_no))
                .filter(register_rights::status.eq(CURRENT)),
        )
        .set(register_rights::certificate_id.eq(certificate_id))
        .returning(register_rights::id),
    )
    .count::<_, i64>(c))?;
    let m = with_inner!(conn, |c| Prepared(
        diesel::update(
            register_restrictions::table
                .filter(register_restrictions::business_no.eq(business_no))
                .filter(register_restrictions::status.eq(CURRENT)),
        )
        .set(register_restrictions::certificate_id.eq(certificate_id))
        .returning(register_restrictions::id),
    )
    .count::<_, i64>(c))?;
    Ok(n + m)
}

/// A restriction that lapsed by law.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lapsed {
    pub id: i64,
    pub division: String,
    pub unit_code: String,
    pub kind: RestrictionKind,
    pub business_no: String,
    pub certificate_id: Option<String>,
    /// Why, as written on the voided certificate.
    pub reason: &'static str,
}

/// 民法典 Arts. 220/221: objections and advance notices whose time ran out by `now` become
/// history (ended by "lapsed"); their 登记证明 become void.
pub fn lapse(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<Vec<Lapsed>, AppError> {
    let due: Vec<RestrictionRow> = register_restrictions::table
        .filter(register_restrictions::status.eq(CURRENT))
        .filter(register_restrictions::expires_at.le(now.naive_utc()))
        .select(RestrictionRow::as_select())
        .load(conn)?;
    let mut lapsed = vec![];
    for r in due {
        let kind = RestrictionKind::parse(&r.kind).ok_or_else(|| internal("restriction kind"))?;
        diesel::update(
            register_restrictions::table
                .filter(register_restrictions::id.eq(r.id))
                .filter(register_restrictions::status.eq(CURRENT)),
        )
        .set((
            register_restrictions::status.eq(HISTORY),
            register_restrictions::ended_by.eq("lapsed"),
            register_restrictions::ended_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
        let reason = match kind {
            RestrictionKind::Objection => "异议登记已失效（民法典第二百二十条）",
            _ => "预告登记已失效（民法典第二百二十一条）",
        };
        if let Some(c) = &r.certificate_id {
            super::certificates::set_status(conn, c, CertificateStatus::Void, reason)?;
        }
        lapsed.push(Lapsed {
            id: r.id,
            division: r.division,
            unit_code: r.unit_code,
            kind,
            business_no: r.business_no,
            certificate_id: r.certificate_id,
            reason,
        });
    }
    Ok(lapsed)
}

fn party_views(holders: &[Holder]) -> Vec<PartyView> {
    holders
        .iter()
        .map(|h| PartyView {
            name: mask_name(&h.name),
            id_type: h.id_type,
            id_number: mask_id(&h.id_number),
            phone: None,
            role: PartyRole::RightHolder,
        })
        .collect()
}

fn right_view(sealer: &Sealer, r: RightRow) -> Result<RightView, AppError> {
    let holders = open_holders(sealer, "right", &r.unit_code, &r.business_no, &r.holders)?;
    Ok(RightView {
        id: r.id,
        status: if r.status == CURRENT { EntryStatus::Current } else { EntryStatus::History },
        right_type: u16::try_from(r.right_type).map_err(internal)?,
        shares: holders.iter().filter_map(|h| h.share.clone()).collect(),
        holders: party_views(&holders),
        nature: r.nature(),
        term: r.term().map(Term::to_printed),
        co_ownership: r.co_ownership,
        location: r.location,
        area: r.area,
        purpose: r.purpose,
        business_no: BusinessNo::parse(&r.business_no).map_err(internal)?,
        ended_by: r.ended_by,
        certificate_id: r.certificate_id.as_deref().and_then(|c| CertificateId::parse(c).ok()),
        recorded_at: r.recorded_at.and_utc(),
        ended_at: r.ended_at.map(|t| t.and_utc()),
    })
}

fn restriction_view(sealer: &Sealer, r: RestrictionRow) -> Result<RestrictionView, AppError> {
    let holders = open_holders(sealer, "restriction", &r.unit_code, &r.business_no, &r.holders)?;
    Ok(RestrictionView {
        id: r.id,
        kind: RestrictionKind::parse(&r.kind).ok_or_else(|| internal("restriction kind"))?,
        status: if r.status == CURRENT { EntryStatus::Current } else { EntryStatus::History },
        position: r.position,
        holders: party_views(&holders),
        amount: r.amount,
        maximum: r.maximum,
        authority: r.authority,
        business_no: BusinessNo::parse(&r.business_no).map_err(internal)?,
        ended_by: r.ended_by,
        recorded_at: r.recorded_at.and_utc(),
        expires_at: r.expires_at.map(|t| t.and_utc()),
        ended_at: r.ended_at.map(|t| t.and_utc()),
    })
}

/// A unit's whole page (current and history), for staff of `office`. None when the office's
/// register has no entry for the unit.
pub fn unit_view(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    office: &DivisionCode,
    unit_code: &UnitCode,
) -> Result<Option<UnitRegisterView>, AppError> {
    let rights: Vec<RightRow> = register_rights::table
        .filter(register_rights::unit_code.eq(unit_code.as_str()))
        .filter(register_rights::division.eq(office.as_str()))
        .order(register_rights::id.desc())
        .select(RightRow::as_select())
        .load(conn)?;
    let restrictions: Vec<RestrictionRow> = register_restrictions::table
        .filter(register_restrictions::unit_code.eq(unit_code.as_str()))
        .filter(register_restrictions::division.eq(office.as_str()))
        .order(register_restrictions::id.desc())
        .select(RestrictionRow::as_select())
        .load(conn)?;
    if rights.is_empty() && restrictions.is_empty() {
        return Ok(None);
    }
    let mut current = None;
    let mut history = vec![];
    for r in rights {
        let v = right_view(sealer, r)?;
        if v.status == EntryStatus::Current { current = Some(v) } else { history.push(v) }
    }
    let (mut now, mut ended) = (vec![], vec![]);
    for r in restrictions {
        let v = restriction_view(sealer, r)?;
        if v.status == EntryStatus::Current { now.push(v) } else { ended.push(v) }
    }
    now.sort_by_key(|r| (r.kind.as_str(), r.position, r.id));
    let has = |k: RestrictionKind| now.iter().any(|r| r.kind == k);
    Ok(Some(UnitRegisterView {
        unit_code: unit_code.clone(),
        office: office.clone(),
        mortgaged: has(RestrictionKind::Mortgage),
        seized: has(RestrictionKind::Seizure),
        objection: has(RestrictionKind::Objection),
        advance_notice: has(RestrictionKind::AdvanceNotice),
        current,
        restrictions: now,
        history,
        ended_restrictions: ended,
    }))
}

/// Units on which a person (by id document) is a current right holder in `office`'s register.
pub fn holdings(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    office: &DivisionCode,
    id_type: IdType,
    id_number: &str,
) -> QueryResult<Vec<String>> {
    let key = sealer.blind_index(&id_type.code().to_string(), id_number);
    register_holders::table
        .inner_join(register_rights::table.on(register_rights::id.eq(register_holders::right_id)))
        .filter(register_holders::holder_key.eq(key))
        .filter(register_holders::division.eq(office.as_str()))
        .filter(register_rights::status.eq(CURRENT))
        .select(register_rights::unit_code)
        .order(register_rights::unit_code.asc())
        .load(conn)
}

/// Units of `office` whose register names a certificate (as 证书 of a right, or 证明 of a
/// restriction), current or history.
pub fn units_by_certificate(
    conn: &mut AnyConnection,
    office: &DivisionCode,
    certificate_id: &str,
) -> QueryResult<Vec<String>> {
    let mut units: Vec<String> = register_rights::table
        .filter(register_rights::division.eq(office.as_str()))
        .filter(register_rights::certificate_id.eq(certificate_id))
        .select(register_rights::unit_code)
        .load(conn)?;
    units.extend(
        register_restrictions::table
            .filter(register_restrictions::division.eq(office.as_str()))
            .filter(register_restrictions::certificate_id.eq(certificate_id))
            .select(register_restrictions::unit_code)
            .load::<String>(conn)?,
    );
    units.sort();
    units.dedup();
    Ok(units)
}

/// Units of `office` whose current right's 坐落 contains `text` (at most `limit`).
pub fn units_by_location(
    conn: &mut AnyConnection,
    office: &DivisionCode,
    text: &str,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    register_rights::table
        .filter(register_rights::division.eq(office.as_str()))
        .filter(register_rights::status.eq(CURRENT))
        .filter(register_rights::location.like(format!("%{escaped}%")).escape('\\'))
        .order(register_rights::unit_code.asc())
        .select(register_rights::unit_code)
        .limit(limit)
        .load(conn)
}

/// What a business did to the register.
pub struct Recorded {
    pub right: Option<RecordedRight>,
    pub restriction: Option<RecordedRestriction>,
    /// When it ended a right (注销, or the old right of a 转移/变更).
    pub ended_at: Option<DateTime<Utc>>,
}

/// The entries a business recorded (any status), holders opened, with their certificate numbers;
/// and when it ended a right.
pub fn recorded_by(conn: &mut AnyConnection, sealer: &Sealer, business_no: &str) -> Result<Recorded, AppError> {
    let number = |conn: &mut AnyConnection, id: &Option<String>| -> QueryResult<Option<String>> {
        match id {
            Some(id) => {
                certificates::table.filter(certificates::id.eq(id)).select(certificates::number).first(conn).optional()
            }
            None => Ok(None),
        }
    };
    let right: Option<RightRow> = register_rights::table
        .filter(register_rights::business_no.eq(business_no))
        .select(RightRow::as_select())
        .first(conn)
        .optional()?;
    let right = match right {
        Some(r) => Some(RecordedRight {
            nature: r.nature(),
            term: r.term(),
            holders: open_holders(sealer, "right", &r.unit_code, &r.business_no, &r.holders)?,
            certificate_number: number(conn, &r.certificate_id)?,
            unit_code: r.unit_code,
            right_type: u16::try_from(r.right_type).map_err(internal)?,
            co_ownership: r.co_ownership,
            location: r.location,
            area: r.area,
            purpose: r.purpose,
            current: r.status == CURRENT,
            recorded_at: r.recorded_at.and_utc(),
        }),
        None => None,
    };
    let restriction: Option<RestrictionRow> = register_restrictions::table
        .filter(register_restrictions::business_no.eq(business_no))
        .select(RestrictionRow::as_select())
        .first(conn)
        .optional()?;
    let restriction = match restriction {
        Some(r) => Some(RecordedRestriction {
            holders: open_holders(sealer, "restriction", &r.unit_code, &r.business_no, &r.holders)?,
            certificate_number: number(conn, &r.certificate_id)?,
            kind: RestrictionKind::parse(&r.kind).ok_or_else(|| internal("restriction kind"))?,
            unit_code: r.unit_code,
            position: r.position,
            amount: r.amount,
            maximum: r.maximum,
            authority: r.authority,
            current: r.status == CURRENT,
            recorded_at: r.recorded_at.and_utc(),
        }),
        None => None,
    };
    let ended: Option<Option<chrono::NaiveDateTime>> = register_rights::table
        .filter(register_rights::ended_by.eq(business_no))
        .select(register_rights::ended_at)
        .first(conn)
        .optional()?;
    Ok(Recorded { right, restriction, ended_at: ended.flatten().map(|t| t.and_utc()) })
}

/// 登簿日志: the business numbers an office recorded on a day (UTC+8 calendar day), in order.
pub fn recorded_on(
    conn: &mut AnyConnection,
    office: &DivisionCode,
    day: chrono::NaiveDate,
) -> QueryResult<Vec<(String, String)>> {
    // The register's day is Beijing time; timestamps are stored in UTC.
    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::Duration::hours(8);
    let end = start + chrono::Duration::days(1);
    let mut out: Vec<(String, String, chrono::NaiveDateTime)> = register_rights::table
        .filter(register_rights::division.eq(office.as_str()))
        .filter(register_rights::recorded_at.ge(start))
        .filter(register_rights::recorded_at.lt(end))
        .select((register_rights::business_no, register_rights::unit_code, register_rights::recorded_at))
        .load(conn)?;
    out.extend(
        register_restrictions::table
            .filter(register_restrictions::division.eq(office.as_str()))
            .filter(register_restrictions::recorded_at.ge(start))
            .filter(register_restrictions::recorded_at.lt(end))
            .select((
                register_restrictions::business_no,
                register_restrictions::unit_code,
                register_restrictions::recorded_at,
            ))
            .load::<(String, String, chrono::NaiveDateTime)>(conn)?,
    );
    out.extend(
        register_rights::table
            .filter(register_rights::division.eq(office.as_str()))
            .filter(register_rights::ended_at.ge(start))
            .filter(register_rights::ended_at.lt(end))
            .filter(register_rights::ended_by.is_not_null())
            .select((
                register_rights::ended_by.assume_not_null(),
                register_rights::unit_code,
                register_rights::ended_at.assume_not_null(),
            ))
            .load::<(String, String, chrono::NaiveDateTime)>(conn)?,
    );
    out.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    let mut seen = std::collections::BTreeSet::new();
    Ok(out.into_iter().filter(|(b, _, _)| b != "lapsed" && seen.insert(b.clone())).map(|(b, u, _)| (b, u)).collect())
}
