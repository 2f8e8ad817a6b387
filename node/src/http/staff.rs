//! Staff login and the bearer session check.

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::api::{LoginAnswer, LoginRequest};
use schemas::error::ErrorCode;
use schemas::ids::DivisionCode;

use super::error::parse_json;
use super::{ApiError, blocking};
use crate::state::AppState;
use crate::store;

/// A signed-in staff member and their office (tenant).
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub staff_id: i64,
    pub office: DivisionCode,
}

pub async fn login(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let req: LoginRequest = parse_json(&body)?;
    if req.username.len() > 64 || req.password.len() > 256 {
        return Err(ApiError::new(ErrorCode::BadCredentials));
    }
    let db = state.db.clone();
    let answer = blocking(move || {
        let found = {
            let mut conn = db.conn()?;
            store::staff::check_password(&mut conn, &req.username, &req.password)?
        };
        let Some((id, division)) = found else {
            return Err(ApiError::new(ErrorCode::BadCredentials));
        };
        let (token, expires_at) =
            db.write(|conn| store::staff::open_session(conn, id, &division).map_err(ApiError::from))?;
        let office = DivisionCode::parse(&division)?;
        Ok(LoginAnswer { token, expires_at, office })
    })
    .await?;
    tracing::info!(office = %answer.office, "staff signed in");
    Ok(HttpResponse::Ok().json(answer))
}

/// The session named by `Authorization: Bearer …`, if any and live.
pub async fn optional_staff(req: &HttpRequest, state: &web::Data<AppState>) -> Result<Option<StaffSession>, ApiError> {
    let Some(value) = req.headers().get("authorization") else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?
        .to_owned();
    let db = state.db.clone();
    let found = blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::staff::session(&mut conn, &token)?)
    })
    .await?;
    let (staff_id, division) = found.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    Ok(Some(StaffSession { staff_id, office: DivisionCode::parse(&division)? }))
}

pub async fn require_staff(req: &HttpRequest, state: &web::Data<AppState>) -> Result<StaffSession, ApiError> {
    optional_staff(req, state).await?.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))
}
