//! The node's transparency log in public: its signed tree head, consistency proofs between two of
//! its sizes (what a parent checks), and what this node found of its children's logs.

use actix_web::{HttpResponse, web};
use schemas::api::ConsistencyProofView;
use schemas::error::ErrorCode;
use serde::Deserialize;

use super::{ApiError, blocking};
use crate::state::AppState;

/// The node's current signed tree head.
pub async fn tree_head(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.clone();
    let (sth, _) = blocking(move || s.tree_head().map_err(ApiError::internal)).await?;
    Ok(HttpResponse::Ok().json(crate::state::sth_view(&sth)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

/// `GET /api/v1/transparency/consistency?from=&to=`.
pub async fn consistency(
    state: web::Data<AppState>,
    query: Result<web::Query<ConsistencyQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let Ok(web::Query(ConsistencyQuery { from, to })) = query else {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "from 与 to 应为日志条数（非负整数）"));
    };
    let s = state.clone();
    let proof = blocking(move || s.consistency(from, to).map_err(ApiError::internal))
        .await?
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "应满足 from ≤ to ≤ 本节点日志当前条数"))?;
    Ok(HttpResponse::Ok().json(ConsistencyProofView {
        log_id: state.me.to_string(),
        from,
        to,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

/// `GET /api/v1/transparency/children`: each child's log as this node last checked it.
pub async fn children(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = state.clone();
    let view = blocking(move || crate::log_watch::children_view(&s).map_err(ApiError::internal)).await?;
    Ok(HttpResponse::Ok().json(view))
}
