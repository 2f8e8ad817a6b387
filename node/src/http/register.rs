//! The register for staff (不动产登记簿查询, guideline 二.1.7) and the office's review rules.
//! Every read of a unit's page or of a person's holdings is audited; personal fields are masked.

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::envelope::EventBody;
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, CertificateNumber, UnitCode, check_id_document};
use schemas::register::{
    HoldingsRequest, HoldingsView, MaterialsView, NoPropertyContent, NoPropertyRequest, RegistrationDetails,
    RuleConfig, RuleView, SignedDocument,
};
use schemas::registration::{RegistrationKind, Stage};

use super::error::parse_json;
use super::staff::{require_role, require_staff};
use super::{ApiError, audit_event, blocking, request_id};
use crate::domain::huijiao;
use crate::domain::parties::Party;
use crate::domain::rules;
use crate::personal::{Personal, mask_id};
use crate::state::AppState;
use crate::store;
use crate::store::audit;

/// `GET /api/v1/register/units/{unit_code}`: the unit's page (current and history) in the staff
/// member's own office.
pub async fn unit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let unit = UnitCode::parse(&path.into_inner())?;
    let (db, sealer, office, u) = (state.db.clone(), state.sealer.clone(), staff.office.clone(), unit.clone());
    let view = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::register::unit_view(&mut conn, &sealer, &office, &u)?)
    })
    .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Staff,
        "register_view",
        &request_id(&req),
    )
    .detail(format!("unit={unit}"));
    audit_event(&state, entry).await;
    match view {
        Some(v) => Ok(HttpResponse::Ok().json(v)),
        None => Err(ApiError::with_message(ErrorCode::NotFound, "本机构登记簿中没有该不动产单元的记载")),
    }
}

/// `POST /api/v1/register/holdings`: the units on which a person is a current right holder in
/// this office's register (the id number travels in the body, never in a URL or a log line).
pub async fn holdings(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let q: HoldingsRequest = parse_json(&body)?;
    let id_number = check_id_document(q.id_type, &q.id_number)
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidIdDocument, e.message_zh()))?;
    let (db, sealer, office) = (state.db.clone(), state.sealer.clone(), staff.office.clone());
    let units = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::register::holdings(&mut conn, &sealer, &office, q.id_type, &id_number)?)
    })
    .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Staff,
        "holdings_query",
        &request_id(&req),
    )
    .detail(format!("found={}", units.len()));
    audit_event(&state, entry).await;
    let units = units.iter().map(|u| UnitCode::parse(u)).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(HoldingsView { office: staff.office, units }))
}

fn view(r: &rules::Rule) -> RuleView {
    RuleView {
        id: r.id.clone(),
        stage: r.stage,
        kinds: r.kinds.clone(),
        severity: r.severity,
        message: r.message.clone(),
        check: r.check.as_str().to_owned(),
        enabled: r.enabled,
        position: r.position,
        builtin: r.builtin,
    }
}

/// `GET /api/v1/rules`: the rules the staff member's office runs, in order.
pub async fn list_rules(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let (db, office) = (state.db.clone(), staff.office.clone());
    let list = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::rules::effective(&mut conn, office.as_str())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(list.iter().map(view).collect::<Vec<_>>()))
}

fn rule_id(path: web::Path<String>) -> Result<String, ApiError> {
    let id = path.into_inner();
    if (3..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        Ok(id)
    } else {
        Err(ApiError::with_message(ErrorCode::InvalidField, "规则标识应为3至64位小写字母、数字或连字符"))
    }
}

/// `PUT /api/v1/rules/{id}` (系统管理员): set a built-in rule's switch, severity, order and
/// message, or add the office's own rule. Takes effect for the next action, without a restart.
pub async fn put_rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let staff = require_role(&req, &state, "sysadmin").await?;
    let id = rule_id(path)?;
    let config: RuleConfig = parse_json(&body)?;
    rules::validate_config(&id, &config).map_err(|m| ApiError::with_message(ErrorCode::InvalidField, m))?;
    let (db, office, actor, rid) = (state.db.clone(), staff.office.clone(), staff.actor(), request_id(&req));
    let (id2, detail) = (id.clone(), serde_json::to_string(&config).unwrap_or_default());
    let list = blocking(move || {
        db.write(|conn| {
            store::rules::put(conn, office.as_str(), &id2, &config, &actor)?;
            audit::append(
                conn,
                &audit::Entry::new(office.as_str(), &actor, audit::Kind::Security, "rule_set", &rid)
                    .detail(format!("{id2} {detail}")),
            )?;
            Ok::<_, ApiError>(store::rules::effective(conn, office.as_str())?)
        })
    })
    .await?;
    let rule = list.iter().find(|r| r.id == id).map(view);
    Ok(HttpResponse::Ok().json(rule))
}

/// `DELETE /api/v1/rules/{id}` (系统管理员): back to the built-in default, or remove an own rule.
pub async fn reset_rule(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_role(&req, &state, "sysadmin").await?;
    let id = rule_id(path)?;
    let (db, office, actor, rid) = (state.db.clone(), staff.office.clone(), staff.actor(), request_id(&req));
    let removed = blocking(move || {
        db.write(|conn| {
            let n = store::rules::reset(conn, office.as_str(), &id)?;
            if n > 0 {
                audit::append(
                    conn,
                    &audit::Entry::new(office.as_str(), &actor, audit::Kind::Security, "rule_reset", &rid).detail(id),
                )?;
            }
            Ok::<_, ApiError>(n)
        })
    })
    .await?;
    if removed == 0 {
        return Err(ApiError::with_message(ErrorCode::NotFound, "本机构没有该规则的设置"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    certificate_number: Option<String>,
    location: Option<String>,
}

/// `GET /api/v1/register/search?certificate_number=…` or `?location=…`: the pages of the units a
/// certificate number (either bracket form) or a 坐落 fragment finds in the staff member's office
/// (at most 20), each with its restrictions.
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<SearchQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let bad = || {
        ApiError::with_message(
            ErrorCode::InvalidField,
            "请提供 certificate_number（证书号）或 location（坐落，2至100字）之一",
        )
    };
    let q = query.map_err(|_| bad())?.into_inner();
    enum By {
        Certificate(String),
        Location(String),
    }
    let by = match (q.certificate_number, q.location) {
        (Some(n), None) => By::Certificate(CertificateNumber::parse(n.trim())?.to_string()),
        (None, Some(l)) => {
            let l = l.trim().to_owned();
            if !(2..=100).contains(&l.chars().count()) || l.chars().any(char::is_control) {
                return Err(bad());
            }
            By::Location(l)
        }
        _ => return Err(bad()),
    };
    let detail = match &by {
        By::Certificate(n) => format!("certificate_number={n}"),
        By::Location(_) => "location".to_owned(),
    };
    let (db, sealer, office) = (state.db.clone(), state.sealer.clone(), staff.office.clone());
    let pages = blocking(move || {
        let mut conn = db.conn()?;
        let units = match by {
            By::Certificate(number) => {
                let ids = store::certificates::ids_by_number(&mut conn, office.as_str(), &number)?;
                let mut units = vec![];
                for id in ids {
                    units.extend(store::register::units_by_certificate(&mut conn, &office, &id)?);
                }
                units
            }
            By::Location(text) => store::register::units_by_location(&mut conn, &office, &text, 20)?,
        };
        let mut pages = vec![];
        for u in units {
            let unit = UnitCode::parse(&u)?;
            if let Some(p) = store::register::unit_view(&mut conn, &sealer, &office, &unit)? {
                pages.push(p);
            }
        }
        Ok(pages)
    })
    .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Staff,
        "register_search",
        &request_id(&req),
    )
    .detail(format!("{detail} found={}", pages.len()));
    audit_event(&state, entry).await;
    Ok(HttpResponse::Ok().json(pages))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/register/export/{business_no}?format=json|xml`: one recorded business in the
/// national 汇交 table naming, for a county that also feeds an existing national platform. It
/// carries names and id numbers in clear (the platform needs them): clerks and system
/// administrators of the office only, and every export is audited.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<ExportQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    if staff.role != "clerk" && staff.role != "sysadmin" {
        return Err(ApiError::with_message(ErrorCode::Forbidden, "汇交导出需要「登记人员」或「系统管理员」角色"));
    }
    let xml = match query.map(|q| q.into_inner().format) {
        Ok(None) => false,
        Ok(Some(f)) if f == "json" => false,
        Ok(Some(f)) if f == "xml" => true,
        _ => return Err(ApiError::with_message(ErrorCode::InvalidField, "format 应为 json 或 xml")),
    };
    let business_no = BusinessNo::parse(&path.into_inner())?;
    if business_no.division() != staff.office {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let office_name = super::progress::office_name(&state, &staff.office);
    let (db, sealer, bn) = (state.db.clone(), state.sealer.clone(), business_no.clone());
    let (head, tables) = blocking(move || {
        let mut conn = db.conn()?;
        let row =
            store::applications::get(&mut conn, bn.as_str())?.ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
        let stage = Stage::parse(&row.state).ok_or_else(|| ApiError::internal("state"))?;
        if !matches!(stage, Stage::Recorded | Stage::Certified | Stage::Issued) {
            return Err(ApiError::with_message(ErrorCode::InvalidTransition, "尚未登簿的业务不汇交"));
        }
        let kind = RegistrationKind::parse(&row.kind).ok_or_else(|| ApiError::internal("kind"))?;
        let details: RegistrationDetails =
            serde_json::from_str(&row.details).map_err(|e| ApiError::internal(e.to_string()))?;
        let parties: Personal<Vec<Party>> =
            sealer.open(&row.parties, &row.business_no).map_err(|e| ApiError::internal(e.to_string()))?;
        let steps: Vec<(Stage, chrono::DateTime<chrono::Utc>)> =
            store::events::for_business(&mut conn, &sealer, bn.as_str())?
                .into_iter()
                .filter_map(|e| match e.body {
                    EventBody::Progress(p) => Some((p.stage, e.occurred_at)),
                    _ => None,
                })
                .collect();
        let recorded = store::register::recorded_by(&mut conn, &sealer, bn.as_str())?;
        let business = huijiao::Business {
            office: &row.division,
            office_name: &office_name,
            business_no: &row.business_no,
            unit_code: &row.unit_code,
            kind,
            details: &details,
            parties: parties.expose(),
            steps: &steps,
            right: recorded.right,
            restriction: recorded.restriction,
            cancelled_at: if kind == RegistrationKind::Cancellation { recorded.ended_at } else { None },
        };
        let head = vec![
            ("YWH", row.business_no.clone()),
            ("XZQDM", row.division.clone()),
            ("DJLX", kind.code().to_string()),
            ("BDCDYH", row.unit_code.clone()),
            ("CREATEDATE", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()),
        ];
        Ok((head, huijiao::tables(&business)))
    })
    .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Staff,
        "huijiao_export",
        &request_id(&req),
    )
    .business(business_no.as_str())
    .detail(if xml { "xml" } else { "json" });
    audit_event(&state, entry).await;
    if xml {
        Ok(HttpResponse::Ok().content_type("application/xml; charset=utf-8").body(huijiao::to_xml(&head, &tables)))
    } else {
        Ok(HttpResponse::Ok().json(huijiao::to_json(&head, &tables)))
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayQuery {
    date: String,
}

/// `GET /api/v1/register/daily-log?date=YYYY-MM-DD`: 登簿日志, the businesses the office recorded
/// on a day (Beijing time), for the daily reconciliation with the national platform.
pub async fn daily_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<DayQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let day = query
        .ok()
        .and_then(|q| chrono::NaiveDate::parse_from_str(&q.date, "%Y-%m-%d").ok())
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "date 应为 YYYY-MM-DD"))?;
    let (db, office) = (state.db.clone(), staff.office.clone());
    let entries = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::register::recorded_on(&mut conn, &office, day)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": staff.office,
        "date": day,
        "count": entries.len(),
        "entries": entries.iter().map(|(b, u)| serde_json::json!({"business_no": b, "unit_code": u})).collect::<Vec<_>>(),
    })))
}

/// `POST /api/v1/register/no-property-proof` (登记人员): a signed 无房证明 for a person with no
/// current right in the office's register; refused (409) when the register shows one.
pub async fn no_property_proof(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let staff = require_role(&req, &state, "clerk").await?;
    let q: NoPropertyRequest = parse_json(&body)?;
    let name = q.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "姓名（名称）为空、过长或含控制字符"));
    }
    let id_number = check_id_document(q.id_type, &q.id_number)
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidIdDocument, e.message_zh()))?;
    let (db, sealer, office, id_type, id2) =
        (state.db.clone(), state.sealer.clone(), staff.office.clone(), q.id_type, id_number.clone());
    let units = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::register::holdings(&mut conn, &sealer, &office, id_type, &id2)?)
    })
    .await?;
    let rid = request_id(&req);
    if !units.is_empty() {
        let entry =
            audit::Entry::new(staff.office.as_str(), &staff.actor(), audit::Kind::Staff, "no_property_proof", &rid)
                .refused("register_conflict");
        audit_event(&state, entry).await;
        return Err(ApiError::with_message(
            ErrorCode::RegisterConflict,
            format!("本机构登记簿记载该人为{}处不动产的现势权利人，不能出具无房证明", units.len()),
        ));
    }
    let office_name = super::progress::office_name(&state, &staff.office);
    let content = NoPropertyContent {
        title: "不动产登记信息查询结果证明（无房证明）".into(),
        serial: ulid::Ulid::new().to_string(),
        statement: format!("经查询{office_name}不动产登记簿，截至出具时，未记载该人为现势不动产权利人。"),
        office: staff.office.clone(),
        office_name,
        subject_name: name,
        subject_id_type: q.id_type,
        subject_id_masked: mask_id(&id_number),
        as_of: chrono::Utc::now(),
        issuer_node: state.me.clone(),
        key_id: state.key.key_id(),
    };
    let text = serde_json::to_string(&content).map_err(|e| ApiError::internal(e.to_string()))?;
    let signature = federation::crypto::b64(&state.key.sign(text.as_bytes()));
    let entry = audit::Entry::new(staff.office.as_str(), &staff.actor(), audit::Kind::Staff, "no_property_proof", &rid)
        .detail(format!("serial={}", content.serial));
    audit_event(&state, entry).await;
    Ok(HttpResponse::Ok().json(SignedDocument { content: text, signature, key_id: content.key_id }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindQuery {
    kind: String,
}

/// `GET /api/v1/materials?kind=…` (public): the materials a kind needs, listed at once, so that an
/// applicant brings everything the first time.
pub async fn materials(query: Result<web::Query<KindQuery>, actix_web::Error>) -> Result<HttpResponse, ApiError> {
    let kind = query.ok().and_then(|q| RegistrationKind::parse(&q.kind)).ok_or_else(|| {
        ApiError::with_message(ErrorCode::InvalidField, "kind 应为登记类型之一（如 first、transfer、mortgage）")
    })?;
    Ok(HttpResponse::Ok().json(MaterialsView { kind, materials: crate::domain::materials::for_kind(kind) }))
}
