//! Applications: submit (any level), the staff view and staff actions (the office), tickets.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use schemas::api::{ActionRequest, ApplicationAnswer, DueItem, SubmitApplication, TicketView};
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, DivisionCode};
use schemas::registration::{RegistrationKind, Stage};

use super::error::parse_json;
use super::staff::{require_role, require_staff};
use super::{ApiError, blocking, request_id};
use crate::db::Backend;
use crate::navigation::place_application;
use crate::state::AppState;
use crate::store;
use crate::store::applications::Disclosure;
use crate::store::audit;

pub async fn submit_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        return Err(ApiError::with_message(ErrorCode::InvalidRequest, "请以 JSON 提交申请"));
    }
    state.limiter.check(super::limits::client_ip(&req), super::limits::Class::Submit)?;
    let request: SubmitApplication = parse_json(&body)?;
    let me = state.me.clone();
    let (answer, status) = place_application(&state, request, me, None, &request_id(&req)).await?;
    let wants_html = req.headers().get("accept").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    if let (ApplicationAnswer::Navigate(nav), true) = (&answer, wants_html) {
        return Ok(HttpResponse::SeeOther().insert_header(("location", nav.navigate_to.clone())).json(&answer));
    }
    let code = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    Ok(HttpResponse::build(code).json(answer))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    due: String,
}

/// `GET /api/v1/applications?due=overdue|soon`: the staff member's office's applications past
/// their statutory limit, or within three working days of it.
pub async fn due_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Result<web::Query<DueQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let overdue = match query.as_ref().map(|q| q.due.as_str()) {
        Ok("overdue") => true,
        Ok("soon") => false,
        _ => {
            return Err(ApiError::with_message(
                ErrorCode::InvalidField,
                "due 应为 overdue（已超期）或 soon（3个工作日内到期）",
            ));
        }
    };
    let (db, office) = (state.db.clone(), staff.office.clone());
    let items = blocking(move || {
        let mut conn = db.conn()?;
        let today = Utc::now().date_naive();
        let calendar = store::calendar::load(&mut conn, today)?;
        let rows = store::applications::open_with_due(&mut conn, office.as_str())?;
        let mut items = vec![];
        for r in rows {
            let Some(due) = r.due_date else { continue };
            let left = calendar.working_days_between(today, due);
            let wanted = if overdue { due < today } else { due >= today && left <= 3 };
            if wanted {
                items.push(DueItem {
                    business_no: BusinessNo::parse(&r.business_no)?,
                    kind: RegistrationKind::parse(&r.kind).ok_or_else(|| ApiError::internal("kind"))?,
                    state: Stage::parse(&r.state).ok_or_else(|| ApiError::internal("state"))?,
                    due_date: due,
                    working_days_left: left,
                });
            }
        }
        Ok(items)
    })
    .await?;
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// A stated purpose asks for the full view (names, id numbers and phones unmasked).
    purpose: Option<String>,
}

/// `GET /api/v1/applications/{business_no}`: the staff view, masked; with `?purpose=…` a clerk of
/// the office gets the full values, and the full view is audited with the stated purpose.
pub async fn get_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<ViewQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let business_no = BusinessNo::parse(&path.into_inner())?;
    let purpose = query
        .map_err(|_| ApiError::with_message(ErrorCode::InvalidField, "只接受 purpose（查看完整信息的事由）参数"))?
        .into_inner()
        .purpose;
    let disclosure = match &purpose {
        None => Disclosure::Masked,
        Some(p) => {
            let p = p.trim();
            if !(2..=100).contains(&p.chars().count()) || p.chars().any(char::is_control) {
                return Err(ApiError::with_message(ErrorCode::InvalidField, "查看完整信息须写明事由（2至100字）"));
            }
            if staff.role != "clerk" {
                return Err(ApiError::with_message(ErrorCode::Forbidden, "只有登记人员可以查看完整的个人信息"));
            }
            Disclosure::Full
        }
    };
    let state2 = state.clone();
    let office = staff.office.clone();
    // A full view is recorded before anything is shown: no audit record, no full view.
    let full_view_entry = purpose.map(|p| {
        audit::Entry::new(staff.office.as_str(), &staff.actor(), audit::Kind::Staff, "full_view", &request_id(&req))
            .business(business_no.as_str())
            .detail(format!("purpose={}", p.trim()))
    });
    let view = blocking(move || {
        let row = {
            let mut conn = state2.db.conn()?;
            store::applications::get(&mut conn, business_no.as_str())?
                // Another office's application does not exist for this staff member.
                .filter(|r| r.division == office.as_str())
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?
        };
        if let Some(entry) = &full_view_entry {
            state2.db.write(|c| audit::append(c, entry).map_err(ApiError::from))?;
        }
        Ok(store::applications::view_with(&row, &state2.sealer, disclosure)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[tracing::instrument(skip_all, fields(business_no = %path.as_str()))]
pub async fn act_on_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let staff = require_role(&req, &state, "clerk").await?;
    let business_no = BusinessNo::parse(&path.into_inner())?;
    let action: ActionRequest = parse_json(&body)?;
    if business_no.division() != staff.office {
        return Err(ApiError::new(ErrorCode::NotFound));
    }
    let state2 = state.clone();
    let office: DivisionCode = staff.office.clone();
    let action_name = action.action.as_str();
    let bn = business_no.clone();
    let actor = format!("staff:{}", staff.staff_id);
    let rid = request_id(&req);
    let (actor2, rid2) = (actor.clone(), rid.clone());
    let result = blocking(move || {
        let st = state2.clone();
        let at = Utc::now();
        // On SQLite, decided on a reading connection, outside the one writer, which applies it if
        // the application and its unit are still as read (`store::applications::act_decided`).
        // PostgreSQL runs transactions side by side: there, deciding inside the transaction
        // saves a transaction's round trips (measured: 50/s decided outside vs 58/s inside).
        let decision = match st.db.backend() {
            Backend::Sqlite => {
                let ctx = st.office_ctx(&office).ok_or_else(|| ApiError::new(ErrorCode::Forbidden))?;
                Some(st.db.read(|c| store::applications::decide(c, &ctx, business_no.as_str(), &action, at))?)
            }
            Backend::Postgres => None,
        };
        // Owned, so that it queues for the writer's turn (see `db::Db::write_owned`).
        let row = state2.db.write_owned(move |conn| {
            let ctx = st.office_ctx(&office).ok_or_else(|| ApiError::new(ErrorCode::Forbidden))?;
            let acted = match decision {
                Some(decision) => store::applications::act_decided(conn, &ctx, decision, &action, at)?,
                None => store::applications::act(conn, &ctx, business_no.as_str(), &action, at)?,
            };
            let mut row = acted.row;
            audit::append(
                conn,
                &audit::Entry::new(&row.division, &actor2, audit::Kind::Staff, action_name, &rid2)
                    .business(&row.business_no)
                    .detail(format!("{} -> {}", acted.from.as_str(), row.state)),
            )?;
            if action.action == schemas::registration::Action::Accept {
                let steps = store::applications::auto_approve(conn, &ctx, business_no.as_str(), Utc::now())?;
                for step in &steps {
                    audit::append(
                        conn,
                        &audit::Entry::new(
                            &row.division,
                            "system:auto-approve",
                            audit::Kind::Staff,
                            step.as_str(),
                            &rid2,
                        )
                        .business(&row.business_no)
                        .detail("秒批"),
                    )?;
                }
                if !steps.is_empty() {
                    row = store::applications::get(conn, business_no.as_str())?
                        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
                }
            }
            Ok::<_, ApiError>(row)
        })?;
        Ok(store::applications::view(&row, &state2.sealer)?)
    })
    .await;
    let view = super::audit_refusal(&state, &actor, action_name, Some(&bn), &rid, result).await?;
    state.wake_parent();
    tracing::info!(state = view.state.as_str(), staff_id = staff.staff_id, "staff action");
    Ok(HttpResponse::Ok().json(view))
}

pub async fn get_ticket(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let ticket = path.into_inner();
    if ulid::Ulid::from_string(&ticket).is_err() {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "受理凭证号格式错误"));
    }
    let db = state.db.clone();
    let t = ticket.clone();
    let row = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::tickets::get(&mut conn, &t)?)
    })
    .await?
    .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    let (division, delivered, raw) = row;
    let answer: Option<ApplicationAnswer> = raw.as_deref().and_then(|a| serde_json::from_str(a).ok());
    let refused = raw
        .as_deref()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
        .and_then(|v| v.get("refused").and_then(|r| r.as_str()).map(str::to_owned));
    Ok(HttpResponse::Ok().json(TicketView {
        ticket,
        office: DivisionCode::parse(&division)?,
        delivered,
        answer,
        refused,
    }))
}
