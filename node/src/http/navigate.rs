//! The landing point of link navigation (链接导航): the upper node's signed token is checked
//! (signature, audience, expiry, single use) and the applicant continues here without signing in
//! again.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel::prelude::*;
use federation::peers::Relation;
use federation::token;
use schemas::error::ErrorCode;
use serde::Deserialize;

use super::{ApiError, blocking};
use crate::db::schema::used_tokens;
use crate::state::AppState;
use crate::with_inner;

#[derive(Debug, Deserialize)]
pub struct NavigateQuery {
    pub token: Option<String>,
}

pub async fn navigate(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NavigateQuery>,
) -> Result<HttpResponse, ApiError> {
    let result = arrive(&req, &state, query.into_inner()).await;
    super::audit_refusal(&state, "applicant", "link_navigation", None, &super::request_id(&req), result).await
}

async fn arrive(
    req: &actix_web::HttpRequest,
    state: &web::Data<AppState>,
    query: NavigateQuery,
) -> Result<HttpResponse, ApiError> {
    let token_text = query
        .token
        .filter(|t| !t.is_empty() && t.len() <= 4096)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid))?;
    let claims = token::peek(&token_text)?;
    let issuer = state
        .directory
        .get(&claims.iss)
        .filter(|p| p.relation == Relation::Parent)
        .ok_or_else(|| ApiError::with_message(ErrorCode::TokenInvalid, "导航令牌不是上级节点签发的"))?;
    let key = issuer.key(&claims.key_id).ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid))?;
    let claims = token::verify(&token_text, key, &state.me, Utc::now())?;
    if state.office(&claims.office).is_none() {
        return Err(ApiError::with_message(ErrorCode::NotThisOffice, "导航令牌所指登记机构不在本节点"));
    }
    let db = state.db.clone();
    let (jti, office) = (claims.jti.clone(), claims.office.to_string());
    let first_use = blocking(move || {
        db.write(|conn| {
            let n = with_inner!(conn, |c| diesel::insert_into(used_tokens::table)
                .values((
                    used_tokens::jti.eq(&jti),
                    used_tokens::division.eq(&office),
                    used_tokens::used_at.eq(crate::store::now())
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
            Ok::<_, ApiError>(n == 1)
        })
    })
    .await?;
    if !first_use {
        return Err(ApiError::new(ErrorCode::TokenReplayed));
    }
    tracing::info!(office = %claims.office, entry_node = %claims.entry_node, "arrived by link navigation");
    let wants_html = req.headers().get("accept").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let note = format!("您由上级节点 {} 导航至本登记机构，无需再次登录；请核对并补全申请信息。", claims.entry_node);
        return Ok(super::pages::home_page(req, state, claims.unit_code.as_str(), claims.kind.as_str(), Some(note)));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "office": claims.office,
        "office_name": state.office(&claims.office).map(|o| o.name.clone()),
        "unit_code": claims.unit_code,
        "kind": claims.kind,
        "entry_node": claims.entry_node,
        "submit_to": format!("{}/api/v1/applications", state.public_url),
    })))
}
