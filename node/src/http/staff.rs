//! Staff login and the bearer session check.

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::api::{LoginAnswer, LoginRequest};
use schemas::error::ErrorCode;
use schemas::ids::DivisionCode;

use super::error::parse_json;
use super::{ApiError, audit_event, blocking, request_id};
use crate::state::AppState;
use crate::store;
use crate::store::audit;
use crate::store::staff::Login;

/// A signed-in staff member, their office (tenant) and role.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub staff_id: i64,
    pub office: DivisionCode,
    pub role: String,
}

impl StaffSession {
    pub fn actor(&self) -> String {
        format!("staff:{}", self.staff_id)
    }
}

pub async fn login(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    state.limiter.check(super::limits::client_ip(&req), super::limits::Class::Login)?;
    let login: LoginRequest = parse_json(&body)?;
    let rid = request_id(&req);
    let username = login.username.chars().take(64).collect::<String>();
    if login.username.len() > 64 || login.password.len() > 256 {
        return Err(ApiError::new(ErrorCode::BadCredentials));
    }
    let db = state.db.clone();
    let outcome = blocking(move || {
        let checked = store::staff::check_password(&db, &login.username, &login.password)?;
        match checked {
            Login::Ok(id, division, role) => {
                let (token, expires_at) =
                    db.write(|conn| store::staff::open_session(conn, id, &division).map_err(ApiError::from))?;
                Ok(Ok((LoginAnswer { token, expires_at, office: DivisionCode::parse(&division)? }, id, role)))
            }
            Login::BadCredentials => Ok(Err(ErrorCode::BadCredentials)),
            Login::Locked => Ok(Err(ErrorCode::AccountLocked)),
        }
    })
    .await?;
    let division = state.settings.division.to_string();
    match outcome {
        Ok((answer, id, role)) => {
            let entry =
                audit::Entry::new(answer.office.as_str(), &format!("staff:{id}"), audit::Kind::Security, "login", &rid)
                    .detail(format!("role={role}"));
            audit_event(&state, entry).await;
            tracing::info!(office = %answer.office, "staff signed in");
            Ok(HttpResponse::Ok().json(answer))
        }
        Err(code) => {
            let entry = audit::Entry::new(&division, &format!("user:{username}"), audit::Kind::Security, "login", &rid)
                .refused(&code.as_str());
            audit_event(&state, entry).await;
            Err(ApiError::new(code))
        }
    }
}

/// The session named by `Authorization: Bearer …`, if any and live.
pub async fn optional_staff(req: &HttpRequest, state: &web::Data<AppState>) -> Result<Option<StaffSession>, ApiError> {
    let Some(value) = req.headers().get("authorization") else { return Ok(None) };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned);
    let found = match token {
        Some(token) => {
            let db = state.db.clone();
            blocking(move || {
                let mut conn = db.conn()?;
                Ok(store::staff::session(&mut conn, &token)?)
            })
            .await?
        }
        None => None,
    };
    let Some((staff_id, division, role)) = found else {
        let entry = audit::Entry::new(
            state.settings.division.as_str(),
            "anonymous",
            audit::Kind::Security,
            "session",
            &request_id(req),
        )
        .refused("unauthorized");
        audit_event(state, entry).await;
        return Err(ApiError::new(ErrorCode::Unauthorized));
    };
    Ok(Some(StaffSession { staff_id, office: DivisionCode::parse(&division)?, role }))
}

pub async fn require_staff(req: &HttpRequest, state: &web::Data<AppState>) -> Result<StaffSession, ApiError> {
    optional_staff(req, state).await?.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))
}

/// A session whose role is `role` (duties are separated: a clerk cannot read the audit log, an
/// auditor cannot register).
pub async fn require_role(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    role: &str,
) -> Result<StaffSession, ApiError> {
    let staff = require_staff(req, state).await?;
    if staff.role != role {
        let entry = audit::Entry::new(
            staff.office.as_str(),
            &staff.actor(),
            audit::Kind::Security,
            "role_check",
            &request_id(req),
        )
        .refused(&format!("forbidden: needs {role}"));
        audit_event(state, entry).await;
        return Err(ApiError::with_message(ErrorCode::Forbidden, format!("此操作需要「{}」角色", role_label(role))));
    }
    Ok(staff)
}

pub fn role_label(role: &str) -> &'static str {
    match role {
        "clerk" => "登记人员",
        "auditor" => "审计员",
        "sysadmin" => "系统管理员",
        "secadmin" => "安全管理员",
        _ => "未知角色",
    }
}
