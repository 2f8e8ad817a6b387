//! Staff login and the bearer session check.

use actix_web::{HttpRequest, HttpResponse, web};
use federation::crypto::sm3_hex;
use schemas::api::{LoginAnswer, LoginRequest};
use schemas::error::ErrorCode;
use schemas::ids::DivisionCode;

use super::error::parse_json;
use super::{ApiError, audit_event, blocking, request_id};
use crate::state::AppState;
use crate::store;
use crate::store::audit;
use crate::store::staff::{Login, Session};

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
    if login.totp.as_ref().is_some_and(|c| c.len() > 16) {
        return Err(ApiError::new(ErrorCode::SecondFactorInvalid));
    }
    let (db, sealer, slow) = (state.db.clone(), state.sealer.clone(), state.low_priority.clone());
    let outcome = blocking(move || {
        let checked =
            store::staff::check_password(&db, &sealer, &slow, &login.username, &login.password, login.totp.as_deref())?;
        match checked {
            Login::Ok(id, division, role) => {
                let (token, expires_at) =
                    db.write(|conn| store::staff::open_session(conn, id, &division).map_err(ApiError::from))?;
                Ok(Ok((LoginAnswer { token, expires_at, office: DivisionCode::parse(&division)? }, id, role)))
            }
            Login::BadCredentials => Ok(Err(ErrorCode::BadCredentials)),
            Login::Locked => Ok(Err(ErrorCode::AccountLocked)),
            Login::SecondFactorRequired => Ok(Err(ErrorCode::SecondFactorRequired)),
            Login::BadSecondFactor => Ok(Err(ErrorCode::SecondFactorInvalid)),
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

/// `POST /api/v1/staff/totp`: start enrolling a second factor for the signed-in staff member.
pub async fn totp_begin(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let (db, sealer, id) = (state.db.clone(), state.sealer.clone(), staff.staff_id);
    let (username, secret) =
        blocking(move || Ok(db.write(|c| store::staff::totp_begin(c, &sealer, id).map_err(crate::db::DbError::from))?))
            .await?;
    let entry = audit::Entry::new(
        staff.office.as_str(),
        &staff.actor(),
        audit::Kind::Security,
        "totp_enrol",
        &request_id(&req),
    );
    audit_event(&state, entry).await;
    Ok(HttpResponse::Ok().json(schemas::api::TotpEnrolment {
        secret: crate::domain::totp::secret_base32(&secret),
        otpauth_uri: crate::domain::totp::otpauth_uri(&username, &secret),
    }))
}

/// `POST /api/v1/staff/totp/confirm` (a code from the new secret: the second factor is on) and
/// `DELETE /api/v1/staff/totp` (a code from the active secret: it is off).
async fn totp_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    slot: store::staff::TotpSlot,
) -> Result<HttpResponse, ApiError> {
    let staff = require_staff(&req, &state).await?;
    let code: schemas::api::TotpCode = parse_json(&body)?;
    let (db, sealer, id) = (state.db.clone(), state.sealer.clone(), staff.staff_id);
    let passed = blocking(move || {
        Ok(db.write(|c| {
            store::staff::totp_finish(c, &sealer, id, slot, code.code.get(..16).unwrap_or(&code.code))
                .map_err(crate::db::DbError::from)
        })?)
    })
    .await?;
    let action = match slot {
        store::staff::TotpSlot::Pending => "totp_enable",
        store::staff::TotpSlot::Active => "totp_disable",
    };
    let entry =
        audit::Entry::new(staff.office.as_str(), &staff.actor(), audit::Kind::Security, action, &request_id(&req));
    if !passed {
        audit_event(&state, entry.refused(&ErrorCode::SecondFactorInvalid.as_str())).await;
        return Err(ApiError::with_message(ErrorCode::InvalidField, "动态口令错误或已使用（或没有待确认的动态口令）"));
    }
    audit_event(&state, entry).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({"second_factor": slot == store::staff::TotpSlot::Pending})))
}

pub async fn totp_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    totp_finish(req, state, body, store::staff::TotpSlot::Pending).await
}

pub async fn totp_disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    totp_finish(req, state, body, store::staff::TotpSlot::Active).await
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
            let hash = sm3_hex(token.as_bytes());
            match state.sessions.get(&hash, store::now()) {
                Some(s) => Some(s),
                None => {
                    let db = state.db.clone();
                    let h = hash.clone();
                    let found = blocking(move || {
                        let mut conn = db.conn()?;
                        Ok(store::staff::session(&mut conn, &h)?)
                    })
                    .await?;
                    if let Some(s) = &found {
                        state.sessions.put(hash, s.clone());
                    }
                    found
                }
            }
        }
        None => None,
    };
    let Some(Session { staff_id, division, role, .. }) = found else {
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
