//! `/healthz` and `/api/v1/node`.

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use schemas::api::{NodeInfo, PeerInfo};

use super::{ApiError, blocking};
use crate::state::AppState;

pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    blocking(move || {
        if let Some(why) = db.writes_stopped() {
            return Err(ApiError::internal(format!("writes stopped: {why}")));
        }
        let mut conn = db.conn()?;
        diesel::sql_query("SELECT 1").execute(&mut conn)?;
        Ok(())
    })
    .await
    .map_err(|e| {
        ApiError::with_message(schemas::error::ErrorCode::Internal, "数据库不可用").caused_by(e.to_string())
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok", "node_id": state.me })))
}

pub async fn node_info(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let peer_info = |p: &federation::peers::Peer| PeerInfo {
        node_id: p.node_id.clone(),
        division: p.division.clone(),
        url: p.url.clone(),
        navigation: p.navigation,
    };
    let mut children: Vec<PeerInfo> = state.directory.children().map(peer_info).collect();
    children.sort_by(|a, b| a.division.cmp(&b.division));
    let info = NodeInfo {
        node_id: state.me.clone(),
        mode: state.settings.mode,
        division: state.settings.division.clone(),
        offices: state.settings.offices.iter().map(|o| o.division.clone()).collect(),
        parent: state.directory.parent().map(peer_info),
        children,
        key_id: state.key.key_id(),
        public_key_pem: state.key.public_key().to_spki_pem().map_err(|e| ApiError::internal(e.to_string()))?,
    };
    Ok(HttpResponse::Ok().json(info))
}
