//! Applications (办件) of the offices hosted here: submission, staff actions and views.
//! Each change is one transaction: the row, its progress event and the outbox entry commit
//! together. A staff action is `decide` (reads only: what the action will write, or why it is
//! refused) then `apply` (writes); on SQLite the node decides outside the one writer and the
//! writer applies with `act_decided`, which decides again if what was read has changed.

use chrono::{DateTime, Timelike, Utc};
use diesel::prelude::*;
use federation::crypto::SigningKey;
use schemas::api::{ActionRequest, ApplicationView, OfficeReceipt, PartyView, SubmitApplication};
use schemas::envelope::{CertificateStatusEvent, EventBody, ProgressEvent};
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, CertificateId, DivisionCode, NodeId, UnitCode};
use schemas::register::{RegistrationDetails, RuleOutcome, RuleStage};
use schemas::registration::{Action, RegistrationKind, Stage};

use crate::db::prepared::Prepared;
use crate::db::schema::applications;
use crate::db::{AnyConnection, DbError, counters};
use crate::domain::certificate_fields::printed;
use crate::domain::parties::Party;
use crate::domain::register::{Request, plan as plan_record};
use crate::domain::rules;
use crate::domain::workflow::transition;
use crate::personal::{Personal, Sealer, mask_id, mask_name, mask_phone};
use crate::settings::OfficeSettings;
use crate::store::certificates::{self, IssueInput};
use crate::store::events::{Emitter, emit};
use crate::store::register;
use crate::store::rules as store_rules;
use crate::with_inner;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = applications)]
pub struct ApplicationRow {
    pub id: i64,
    pub division: String,
    pub business_no: String,
    pub unit_code: String,
    pub kind: String,
    pub state: String,
    pub parties: String,
    pub location: String,
    pub entry_node: String,
    pub ticket: Option<String>,
    pub due_date: Option<chrono::NaiveDate>,
    pub certificate_id: Option<String>,
    pub version: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// JSON of `RegistrationDetails` (no personal data).
    pub details: String,
    /// JSON list of `RuleOutcome`: every rule run on this application.
    pub rule_trace: String,
}

/// A refusal from the application store, with its wire code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Db(DbError::Query(e))
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> AppError {
    AppError::Refused { code, message: message.into() }
}

/// The office and node context of a change.
pub struct OfficeCtx<'a> {
    pub me: &'a NodeId,
    pub parent: Option<&'a NodeId>,
    pub key: &'a SigningKey,
    pub sealer: &'a Sealer,
    pub office: &'a OfficeSettings,
}

impl OfficeCtx<'_> {
    fn emitter(&self) -> Emitter<'_> {
        Emitter { me: self.me, parent: self.parent, sealer: self.sealer }
    }
}

fn progress(
    row: &ApplicationRow,
    stage: Stage,
    notes: Vec<String>,
    proofs: Vec<String>,
) -> Result<EventBody, AppError> {
    Ok(EventBody::Progress(ProgressEvent {
        business_no: BusinessNo::parse(&row.business_no).map_err(|e| AppError::Internal(e.to_string()))?,
        unit_code: UnitCode::parse(&row.unit_code).map_err(|e| AppError::Internal(e.to_string()))?,
        kind: RegistrationKind::parse(&row.kind).ok_or_else(|| AppError::Internal("kind".into()))?,
        stage,
        due_date: row.due_date,
        notes,
        applicant_proofs: proofs,
    }))
}

/// An application already received under this ticket (a retried forward).
pub fn by_ticket(conn: &mut AnyConnection, ticket: &str) -> QueryResult<Option<ApplicationRow>> {
    applications::table
        .filter(applications::ticket.eq(ticket))
        .select(ApplicationRow::as_select())
        .first(conn)
        .optional()
}

pub fn get(conn: &mut AnyConnection, business_no: &str) -> QueryResult<Option<ApplicationRow>> {
    // On the backend's own connection (as every hot statement, see `db::with_inner`).
    with_inner!(conn, |c| applications::table
        .filter(applications::business_no.eq(business_no))
        .select(ApplicationRow::as_select())
        .first(c)
        .optional())
}

/// An office's applications that are still being worked and have a due date, earliest first.
/// Applications of kinds that issue no document are done at 登簿 and are left out from there.
pub fn open_with_due(conn: &mut AnyConnection, division: &str) -> QueryResult<Vec<ApplicationRow>> {
    let open = [Stage::Accepted, Stage::Reviewed, Stage::Recorded, Stage::Certified].map(Stage::as_str);
    let rows: Vec<ApplicationRow> = applications::table
        .filter(applications::division.eq(division))
        .filter(applications::state.eq_any(open))
        .filter(applications::due_date.is_not_null())
        .order(applications::due_date.asc())
        .select(ApplicationRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            r.state != Stage::Recorded.as_str()
                || match (RegistrationKind::parse(&r.kind), serde_json::from_str::<RegistrationDetails>(&r.details)) {
                    (Some(kind), Ok(details)) => crate::domain::register::issues_document(kind, &details),
                    _ => true,
                }
        })
        .collect())
}

pub fn receipt(row: &ApplicationRow, me: &NodeId) -> Result<OfficeReceipt, AppError> {
    Ok(OfficeReceipt {
        business_no: BusinessNo::parse(&row.business_no).map_err(|e| AppError::Internal(e.to_string()))?,
        state: Stage::parse(&row.state).ok_or_else(|| AppError::Internal("state".into()))?,
        office: DivisionCode::parse(&row.division).map_err(|e| AppError::Internal(e.to_string()))?,
        office_node: me.clone(),
        received_at: row.created_at.and_utc(),
    })
}

/// 申请: store the application with sealed parties and emit `submitted`. `proofs` are the
/// parties' applicant proofs (`domain::parties::applicant_proofs`), computed by the caller before
/// the transaction: they are deliberately slow to compute and must not hold the writer.
#[allow(clippy::too_many_arguments)]
pub fn submit(
    conn: &mut AnyConnection,
    ctx: &OfficeCtx<'_>,
    request: &SubmitApplication,
    parties: Vec<Party>,
    proofs: Vec<String>,
    entry_node: &NodeId,
    ticket: Option<&str>,
    at: DateTime<Utc>,
) -> Result<ApplicationRow, AppError> {
    if let Some(t) = ticket
        && let Some(existing) = by_ticket(conn, t)?
    {
        return Ok(existing);
    }
    let office = &ctx.office.division;
    let today = at.date_naive();
    let seq = counters::next(conn, office.as_str(), &format!("business_no:{}", today.format("%Y%m%d")))?;
    let business_no = BusinessNo::new(office, today, seq as u64).map_err(|e| AppError::Internal(e.to_string()))?;
    let sealed = ctx.sealer.seal(&Personal::new(parties), business_no.as_str());
    let location = request.location.clone().unwrap_or_default();
    let now = at.naive_utc();
    let row: ApplicationRow = diesel::insert_into(applications::table)
        .values((
            applications::division.eq(office.as_str()),
            applications::business_no.eq(business_no.as_str()),
            applications::unit_code.eq(request.unit_code.as_str()),
            applications::kind.eq(request.kind.as_str()),
            applications::state.eq(Stage::Submitted.as_str()),
            applications::parties.eq(&sealed),
            applications::location.eq(&location),
            applications::entry_node.eq(entry_node.as_str()),
            applications::ticket.eq(ticket),
            applications::details.eq(serde_json::to_string(&request.details.clone().unwrap_or_default())
                .map_err(|e| AppError::Internal(e.to_string()))?),
            applications::version.eq(1i64),
            applications::created_at.eq(now),
            applications::updated_at.eq(now),
        ))
        .returning(applications::all_columns)
        .get_result(conn)?;
    let body = progress(&row, Stage::Submitted, vec![], proofs)?;
    emit(conn, &ctx.emitter(), office, body, at)?;
    Ok(row)
}

/// What a staff action did: the stage it left and the application as it now is.
#[derive(Debug)]
pub struct Acted {
    pub from: Stage,
    pub row: ApplicationRow,
}

/// What a staff action will write, worked out by `decide` from reads alone: the application as
/// read, the stage it moves to and, where the action needs them, the register plan and the
/// certificate's printed fields. `apply` writes it.
#[derive(Debug)]
pub struct Decision {
    row: ApplicationRow,
    from: Stage,
    to: Stage,
    kind: RegistrationKind,
    notes: Vec<String>,
    trace: String,
    due_date: Option<chrono::NaiveDate>,
    plan: Option<crate::domain::register::Plan>,
    to_print: Option<crate::domain::certificate_fields::Printed>,
    /// The unit's page the rules, plan or printed fields were worked out from (None: not read).
    page: Option<register::PageMark>,
}

/// A staff action on an application of `staff_office`: `decide` and `apply` on one connection.
/// Serialised per application by the version check: two concurrent actions cannot both apply.
pub fn act(
    conn: &mut AnyConnection,
    ctx: &OfficeCtx<'_>,
    business_no: &str,
    request: &ActionRequest,
    at: DateTime<Utc>,
) -> Result<Acted, AppError> {
    let decision = decide(conn, ctx, business_no, request, at)?;
    apply(conn, ctx, decision, at)
}

/// Apply a decision worked out before the transaction (`decide` on a reading connection, outside
/// SQLite's one writer) when what it read is still so: the application's version and the unit's
/// page. Otherwise the action is decided again inside the transaction, from what is there now —
/// the same answer as `act` would give.
pub fn act_decided(
    conn: &mut AnyConnection,
    ctx: &OfficeCtx<'_>,
    decision: Decision,
    request: &ActionRequest,
    at: DateTime<Utc>,
) -> Result<Acted, AppError> {
    if still_current(conn, &decision)? {
        apply(conn, ctx, decision, at)
    } else {
        let business_no = decision.row.business_no;
        act(conn, ctx, &business_no, request, at)
    }
}

/// Whether the application and the unit's page are as `decision` read them. On PostgreSQL the
/// application's row is locked until commit, so a concurrent action waits and then sees the new
/// version.
fn still_current(conn: &mut AnyConnection, decision: &Decision) -> QueryResult<bool> {
    let id = decision.row.id;
    let version: Option<i64> = match conn {
        AnyConnection::Postgresql(c) => applications::table
            .filter(applications::id.eq(id))
            .select(applications::version)
            .for_update()
            .first(c)
            .optional()?,
        AnyConnection::Sqlite(c) => {
            applications::table.filter(applications::id.eq(id)).select(applications::version).first(c).optional()?
        }
    };
    if version != Some(decision.row.version) {
        return Ok(false);
    }
    match &decision.page {
        Some(mark) => Ok(register::PageMark::current(conn, &decision.row.unit_code)? == *mark),
        None => Ok(true),
    }
}

/// Work out what a staff action will write, reading only: the transition, the rules of its stage,
/// the register plan (登簿) and the printed fields (发证). Refusals come from here.
pub fn decide(
    conn: &mut AnyConnection,
    ctx: &OfficeCtx<'_>,
    business_no: &str,
    request: &ActionRequest,
    at: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let row = get(conn, business_no)?
        .filter(|r| r.division == ctx.office.division.as_str())
        .ok_or_else(|| refused(ErrorCode::NotFound, "未找到该业务号的办件"))?;
    let from = Stage::parse(&row.state).ok_or_else(|| AppError::Internal("state".into()))?;
    let clean = |v: &[String]| -> Result<Vec<String>, AppError> {
        v.iter()
            .map(|s| {
                let s = s.trim();
                if s.is_empty() || s.chars().count() > 500 || s.chars().any(char::is_control) {
                    Err(refused(ErrorCode::InvalidField, "理由和补正材料每项应为1至500字且不含控制字符"))
                } else {
                    Ok(s.to_owned())
                }
            })
            .collect()
    };
    let reasons = clean(&request.reasons)?;
    let missing = clean(&request.missing)?;
    let to = transition(from, request.action, &reasons, &missing)
        .map_err(|e| refused(ErrorCode::InvalidTransition, e.message_zh()))?;
    let kind = RegistrationKind::parse(&row.kind).ok_or_else(|| AppError::Internal("kind".into()))?;
    let details: RegistrationDetails =
        serde_json::from_str(&row.details).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut trace: Vec<RuleOutcome> = serde_json::from_str(&row.rule_trace).unwrap_or_default();
    let (mut plan, mut to_print, mut mark) = (None, None, None);
    if matches!(request.action, Action::Certify | Action::Issue)
        && !crate::domain::register::issues_document(kind, &details)
    {
        return Err(refused(ErrorCode::InvalidTransition, format!("{}登簿即办结，不发放证书或证明", kind.label_zh())));
    }
    let stage = match request.action {
        Action::Accept => Some(RuleStage::Accept),
        Action::Review => Some(RuleStage::Review),
        Action::Record => Some(RuleStage::Record),
        Action::Issue => Some(RuleStage::Issue),
        _ => None,
    };
    if let Some(stage) = stage {
        let parties: Personal<Vec<Party>> =
            ctx.sealer.open(&row.parties, &row.business_no).map_err(|e| AppError::Internal(e.to_string()))?;
        let page = register::load_page(conn, ctx.sealer, &row.unit_code)?;
        let req = Request { kind, details: &details, parties: parties.expose(), location: &row.location, at };
        let office_rules = store_rules::effective(conn, ctx.office.division.as_str())?;
        // Only the acceptance rules look at uploaded materials.
        let uploaded = if stage == RuleStage::Accept {
            super::materials::items_with_files(conn, &row.division, &row.business_no)?
        } else {
            vec![]
        };
        let rule_ctx = rules::Context {
            request: &req,
            page: &page,
            business_no: Some(&row.business_no),
            uploaded_materials: &uploaded,
        };
        let evaluation = rules::evaluate(&office_rules, stage, &rule_ctx, at);
        let blocking = evaluation.blocking();
        if !blocking.is_empty() {
            let reasons: Vec<String> = blocking.iter().map(|o| format!("{}（规则 {}）", o.message, o.rule)).collect();
            return Err(refused(ErrorCode::RuleBlocked, format!("未通过规则审查：{}", reasons.join("；"))));
        }
        trace.extend(evaluation.outcomes);
        if request.action == Action::Record {
            plan = Some(plan_record(&page, &req).map_err(|e| refused(ErrorCode::RegisterConflict, e.to_string()))?);
        }
        if request.action == Action::Issue {
            to_print = Some(printed(kind, &page, &row.business_no).ok_or_else(|| {
                refused(ErrorCode::RegisterConflict, "本业务登簿的记载已不是现势（已被后续登记变更），不能再发证")
            })?);
        }
        mark = Some(register::PageMark::of(&page));
    }
    let due_date = if request.action == Action::Accept {
        let today = at.date_naive();
        Some(super::calendar::load(conn, today)?.add_working_days(today, ctx.office.time_limit(kind)))
    } else {
        row.due_date
    };
    let mut notes = reasons;
    notes.extend(missing.into_iter().map(|m| format!("{}{m}", crate::domain::notices::MISSING_PREFIX)));
    let trace = serde_json::to_string(&trace).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Decision { row, from, to, kind, notes, trace, due_date, plan, to_print, page: mark })
}

/// Write a decision: the register plan, the certificate, the application's new stage and the
/// events, inside the caller's transaction. The application's row is written only if its
/// version is still the one decided on.
pub fn apply(conn: &mut AnyConnection, ctx: &OfficeCtx<'_>, d: Decision, at: DateTime<Utc>) -> Result<Acted, AppError> {
    let Decision { mut row, from, to, kind, notes, trace, due_date, plan, to_print, page: _ } = d;
    let mut retired = vec![];
    if let Some(plan) = &plan {
        retired = register::apply(conn, ctx.sealer, &ctx.office.division, &row.unit_code, &row.business_no, plan, at)?
            .retired;
    }
    let mut cert_record = None;
    if let Some(printed) = to_print {
        let record = certificates::issue(
            conn,
            IssueInput {
                office: &ctx.office.division,
                office_name: &ctx.office.name,
                issuer_node: ctx.me,
                key: ctx.key,
                sealer: ctx.sealer,
                business_no: &BusinessNo::parse(&row.business_no).map_err(|e| AppError::Internal(e.to_string()))?,
                unit_code: &UnitCode::parse(&row.unit_code).map_err(|e| AppError::Internal(e.to_string()))?,
                kind,
                printed,
                at,
            },
        )
        .map_err(AppError::Internal)?;
        register::link_certificate(conn, &row.business_no, record.id.as_str())?;
        row.certificate_id = Some(record.id.to_string());
        cert_record = Some(record);
    }
    // Microseconds, as PostgreSQL keeps them: the row returned is the row stored.
    let now = at.naive_utc();
    let now = now.with_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now);
    // On the backend's own connection (a hot path, see `db::with_inner`); the row as written is
    // known here, so nothing is read back.
    let written = with_inner!(conn, |c| Prepared(
        diesel::update(
            applications::table.filter(applications::id.eq(row.id)).filter(applications::version.eq(row.version)),
        )
        .set((
            applications::state.eq(to.as_str()),
            applications::due_date.eq(due_date),
            applications::certificate_id.eq(&row.certificate_id),
            applications::version.eq(row.version + 1),
            applications::updated_at.eq(now),
            applications::rule_trace.eq(&trace),
        ))
        .returning(applications::id),
    )
    .count::<_, i64>(c))?;
    if written != 1 {
        return Err(refused(ErrorCode::Conflict, "办件已被他人同时处理，请刷新后重试"));
    }
    row.state = to.as_str().to_owned();
    row.due_date = due_date;
    row.version += 1;
    row.updated_at = now;
    row.rule_trace = trace;
    let body = progress(&row, to, notes, vec![])?;
    let office = ctx.office.division.clone();
    emit(conn, &ctx.emitter(), &office, body, at)?;
    if let Some(record) = cert_record {
        emit(conn, &ctx.emitter(), &office, EventBody::Certificate(record), at)?;
    }
    for (id, status, reason) in retired {
        let id = CertificateId::parse(&id).map_err(|e| AppError::Internal(e.to_string()))?;
        emit(
            conn,
            &ctx.emitter(),
            &office,
            EventBody::CertificateStatus(CertificateStatusEvent { id, status, reason }),
            at,
        )?;
    }
    Ok(Acted { from, row })
}

/// 秒批: after 受理 of a kind the office marks for it, take the application through 审核, 登簿 and
/// (where the kind issues a document) 缮证 and 发证 at once. Each step runs the same rules as a
/// staff action, in its own savepoint: the first step a rule blocks is left for staff, with
/// everything before it kept. Returns the steps taken.
pub fn auto_approve(
    conn: &mut AnyConnection,
    ctx: &OfficeCtx<'_>,
    business_no: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Action>, AppError> {
    if ctx.office.auto_approve.is_empty() {
        return Ok(vec![]);
    }
    let Some(row) = get(conn, business_no)? else { return Ok(vec![]) };
    let Some(kind) = RegistrationKind::parse(&row.kind) else { return Ok(vec![]) };
    if !ctx.office.auto_approve.contains(&kind) || row.state != Stage::Accepted.as_str() {
        return Ok(vec![]);
    }
    let mut taken = vec![];
    for action in [Action::Review, Action::Record, Action::Certify, Action::Issue] {
        let request = ActionRequest { action, reasons: vec![], missing: vec![] };
        match conn.transaction(|c| act(c, ctx, business_no, &request, at)) {
            Ok(_) => taken.push(action),
            // A blocking rule, or nothing to issue for this kind: staff take it from here.
            Err(AppError::Refused { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(taken)
}

/// Whether a view shows personal fields masked (the default) or in full (an audited full view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    Masked,
    Full,
}

/// The staff view: parties masked.
pub fn view(row: &ApplicationRow, sealer: &Sealer) -> Result<ApplicationView, AppError> {
    view_with(row, sealer, Disclosure::Masked)
}

/// The staff view, with personal fields masked or in full.
pub fn view_with(row: &ApplicationRow, sealer: &Sealer, disclosure: Disclosure) -> Result<ApplicationView, AppError> {
    let parties: Personal<Vec<Party>> =
        sealer.open(&row.parties, &row.business_no).map_err(|e| AppError::Internal(e.to_string()))?;
    let internal = |e: String| AppError::Internal(e);
    Ok(ApplicationView {
        business_no: BusinessNo::parse(&row.business_no).map_err(|e| internal(e.to_string()))?,
        office: DivisionCode::parse(&row.division).map_err(|e| internal(e.to_string()))?,
        unit_code: UnitCode::parse(&row.unit_code).map_err(|e| internal(e.to_string()))?,
        kind: RegistrationKind::parse(&row.kind).ok_or_else(|| internal("kind".into()))?,
        state: Stage::parse(&row.state).ok_or_else(|| internal("state".into()))?,
        parties: parties
            .expose()
            .iter()
            .map(|p| match disclosure {
                Disclosure::Masked => PartyView {
                    name: mask_name(&p.name),
                    id_type: p.id_type,
                    id_number: mask_id(&p.id_number),
                    phone: p.phone.as_deref().map(mask_phone),
                    role: p.role,
                },
                Disclosure::Full => PartyView {
                    name: p.name.clone(),
                    id_type: p.id_type,
                    id_number: p.id_number.clone(),
                    phone: p.phone.clone(),
                    role: p.role,
                },
            })
            .collect(),
        due_date: row.due_date,
        certificate_id: row.certificate_id.as_deref().and_then(|c| CertificateId::parse(c).ok()),
        details: serde_json::from_str(&row.details).map_err(|e| internal(e.to_string()))?,
        rule_trace: serde_json::from_str(&row.rule_trace).map_err(|e| internal(e.to_string()))?,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}
