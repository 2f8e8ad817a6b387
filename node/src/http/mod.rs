//! HTTP: routes grouped by resource, thin handlers, one error type.
//!
//! Pages under `/`, public API under `/api/v1`, node-to-node under `/federation/v1`.

pub mod applicants;
pub mod applications;
pub mod audit;
pub mod certificates;
pub mod documents;
pub mod error;
pub mod federation;
pub mod limits;
pub mod materials;
pub mod navigate;
pub mod node;
pub mod pages;
pub mod progress;
pub mod proof;
pub mod register;
pub mod staff;
pub mod transparency;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Instrument;

pub use error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(node::healthz))
        .route("/", web::get().to(pages::home))
        .route("/apply", web::post().to(pages::apply))
        .route("/progress", web::get().to(pages::progress_lookup))
        .route("/progress", web::post().to(pages::progress))
        .route(materials::PAGE_UPLOAD_PATH, web::post().to(pages::upload_material))
        .route("/verify", web::get().to(pages::verify))
        .route("/verify", web::post().to(pages::verify_upload))
        .route("/certificate", web::get().to(pages::certificate))
        .route("/notice", web::get().to(pages::notice_lookup))
        .route("/notice", web::post().to(pages::notice))
        .route("/static/site.css", web::get().to(pages::stylesheet))
        .route("/navigate", web::get().to(navigate::navigate))
        .route("/sso/login", web::get().to(applicants::sso_login))
        .route("/sso/callback", web::get().to(applicants::sso_callback))
        .service(
            web::scope("/api/v1")
                // First: the public verification is the busiest route, and each route with a
                // `{…}` segment tried before the one that matches costs a regex search (nine were,
                // when it stood with the other certificate routes). No route here overlaps it, so
                // the order changes nothing else.
                .route("/certificates/{id}/verify", web::get().to(certificates::verify_certificate))
                .route("/node", web::get().to(node::node_info))
                .route("/applications", web::post().to(applications::submit_application))
                .route("/applications", web::get().to(applications::due_list))
                .route("/applications/{business_no}", web::get().to(applications::get_application))
                .route("/applications/{business_no}/actions", web::post().to(applications::act_on_application))
                // The applicant's proof travels in a POST body (`proof`); the GETs are for staff.
                .route("/applications/{business_no}/materials", web::get().to(materials::list_materials))
                .route("/applications/{business_no}/materials", web::post().to(materials::list_materials))
                .route(
                    "/applications/{business_no}/materials/{material_id}",
                    web::post().to(materials::upload_material),
                )
                .route(
                    "/applications/{business_no}/materials/{material_id}/files/{file_id}",
                    web::get().to(materials::download_material),
                )
                .route(
                    "/applications/{business_no}/materials/{material_id}/files/{file_id}",
                    web::post().to(materials::download_material),
                )
                .route("/tickets/{ticket}", web::get().to(applications::get_ticket))
                .route("/register/units/{unit_code}", web::get().to(register::unit_page))
                .route("/register/holdings", web::post().to(register::holdings))
                .route("/register/search", web::get().to(register::search))
                .route("/register/export/{business_no}", web::get().to(register::export))
                .route("/register/daily-log", web::get().to(register::daily_log))
                .route("/register/no-property-proof", web::post().to(register::no_property_proof))
                .route("/materials", web::get().to(register::materials))
                .route("/rules", web::get().to(register::list_rules))
                .route("/rules/{id}", web::put().to(register::put_rule))
                .route("/rules/{id}", web::delete().to(register::reset_rule))
                .route("/applicants/sms-code", web::post().to(applicants::sms_code))
                .route("/applicants", web::post().to(applicants::sign_up))
                .route("/applicants/login", web::post().to(applicants::login))
                .route("/applicants/me", web::get().to(applicants::me))
                .route("/staff/login", web::post().to(staff::login))
                .route("/staff/totp", web::post().to(staff::totp_begin))
                .route("/staff/totp", web::delete().to(staff::totp_disable))
                .route("/staff/totp/confirm", web::post().to(staff::totp_confirm))
                .route("/audit", web::get().to(audit::query_audit))
                .route("/progress/{business_no}", web::get().to(progress::progress))
                .route("/progress/{business_no}", web::post().to(progress::progress))
                .route("/progress/{business_no}/notice", web::get().to(progress::notice_of_stage))
                .route("/progress/{business_no}/notice", web::post().to(progress::notice_of_stage))
                .route("/certificates/verify-package", web::post().to(certificates::verify_package))
                .route("/certificates/{id}/signed-data", web::get().to(certificates::signed_data))
                .route("/certificates/{id}/signature.der", web::get().to(certificates::signature))
                .route("/certificates/{id}/issuer-key.pem", web::get().to(certificates::issuer_key))
                .route("/certificates/{id}/package", web::get().to(certificates::package))
                .route("/certificates/{id}/package.zip", web::get().to(documents::package_zip))
                .route("/certificates/{id}/certificate.pdf", web::get().to(documents::pdf_document))
                .route("/certificates/{id}/certificate.ofd", web::get().to(documents::ofd_document))
                .route("/transparency/head", web::get().to(transparency::tree_head))
                .route("/transparency/consistency", web::get().to(transparency::consistency))
                .route("/transparency/children", web::get().to(transparency::children)),
        )
        .service(
            web::scope("/federation/v1")
                .route("/envelopes", web::post().to(federation::post_envelope))
                .route("/applications", web::post().to(federation::post_application)),
        )
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(schemas::error::ErrorCode::NotFound))
        }));
}

/// The request id of the current request (from `x-request-id` or a new ULID).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A span per request carrying its id; the id is echoed in the answer. Paths and methods are
/// logged, query strings are not (they may hold a name and ID number).
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(schemas::envelope::HEADER_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    // Refuse an oversized body before reading it (the payload limit also stops chunked ones).
    let max = req.app_data::<web::Data<crate::state::AppState>>().map(|s| {
        // Material uploads take files up to the checklist's largest size (and read them in a
        // bounded loop); everything else keeps the configured limit.
        materials::body_limit(req.method(), req.path())
            .map_or(s.settings.http.max_body_bytes, |m| m.max(s.settings.http.max_body_bytes))
    });
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if let (Some(max), Some(len)) = (max, declared)
        && len > max
    {
        let (http_req, _) = req.into_parts();
        let res = actix_web::ResponseError::error_response(&ApiError::new(schemas::error::ErrorCode::PayloadTooLarge));
        return Ok(ServiceResponse::new(http_req, res).map_into_right_body());
    }
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = std::time::Instant::now();
    async move {
        let mut res = next.call(req).await?;
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HeaderName::from_static(schemas::envelope::HEADER_REQUEST_ID), v);
        }
        let headers = res.headers_mut();
        headers.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
        headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
        headers.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
        headers.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
            ),
        );
        tracing::info!(status = res.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "served");
        Ok(res.map_into_left_body())
    }
    .instrument(span)
    .await
}

pub fn request_id(req: &actix_web::HttpRequest) -> String {
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_else(|| ulid::Ulid::new().to_string())
}

/// Run blocking work (database, signatures) off the async threads.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await.map_err(|e| ApiError::internal(e.to_string()))?
}

/// Append an audit record on its own (for refusals and security events, which have no
/// transaction of their own). A failure to audit is logged loudly; the answer stands.
pub async fn audit_event(state: &web::Data<crate::state::AppState>, entry: crate::store::audit::Entry) {
    let db = state.db.clone();
    let action = entry.action.clone();
    let result = web::block(move || {
        db.write_owned(move |c| crate::store::audit::append(c, &entry).map_err(crate::db::DbError::from))
    })
    .await;
    if !matches!(result, Ok(Ok(_))) {
        tracing::error!(action, "could not write an audit record");
    }
}

/// Audit a refusal of `action` by `actor` when `result` is an error.
pub async fn audit_refusal<T>(
    state: &web::Data<crate::state::AppState>,
    actor: &str,
    action: &str,
    business_no: Option<&schemas::ids::BusinessNo>,
    request_id: &str,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(e) = &result {
        // Refusals about an application belong to its office; the rest to the node.
        let division =
            business_no.map(|b| b.division().to_string()).unwrap_or_else(|| state.settings.division.to_string());
        let mut entry =
            crate::store::audit::Entry::new(&division, actor, crate::store::audit::Kind::Security, action, request_id)
                .refused(&e.code.as_str());
        if let Some(b) = business_no {
            entry = entry.business(b.as_str());
        }
        audit_event(state, entry).await;
    }
    result
}
