//! The audit log for auditors: query by time, actor, kind and business number; JSON or CSV.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use schemas::error::ErrorCode;
use serde::Deserialize;

use super::staff::require_role;
use super::{ApiError, blocking};
use crate::state::AppState;
use crate::store::audit;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub business_no: Option<String>,
    pub limit: Option<i64>,
    /// `json` (default) or `csv`
    pub format: Option<String>,
}

pub async fn query_audit(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<AuditQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_role(&req, &state, "auditor").await?;
    let q =
        query.map_err(|e| ApiError::with_message(ErrorCode::InvalidField, format!("查询条件无效：{e}")))?.into_inner();
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::with_message(ErrorCode::InvalidField, "format 只能是 json 或 csv")),
    };
    let filter = audit::Filter {
        // An auditor sees the records of their own office.
        division: Some(staff.office.to_string()),
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
        actor: q.actor,
        kind: q.kind,
        business_no: q.business_no,
        limit: q.limit.unwrap_or(1000),
    };
    let db = state.db.clone();
    let records = blocking(move || {
        let mut conn = db.conn()?;
        Ok(audit::query(&mut conn, &filter)?)
    })
    .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Staff,
        "read_audit",
        &super::request_id(&req),
    )
    .detail(format!("records={}", records.len()));
    super::audit_event(&state, entry).await;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(("content-disposition", "attachment; filename=\"audit.csv\""))
            .body(audit::to_csv(&records)));
    }
    Ok(HttpResponse::Ok().json(records))
}
