//! Certificate verification and the three downloads a third party needs to check a certificate
//! with OpenSSL: the signed bytes, the DER signature and the issuer's public key.

use actix_web::{HttpResponse, web};
use federation::crypto::unb64;
use schemas::api::{CertificateContent, CertificateStatus, CertificateVerification};
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, CertificateId, DivisionCode};

use super::{ApiError, blocking};
use crate::state::AppState;
use crate::store;
use crate::store::certificates::{CertificateRow, parse_status};

fn not_here() -> ApiError {
    ApiError::with_message(ErrorCode::NotFound, "本节点没有该电子证照的记录")
}

/// The stored certificate (blocking).
fn load_row(state: &AppState, id: &CertificateId) -> Result<CertificateRow, ApiError> {
    let mut conn = state.db.conn()?;
    store::certificates::get(&mut conn, &state.sealer, id.as_str())?.ok_or_else(not_here)
}

async fn load(state: &web::Data<AppState>, id: String) -> Result<CertificateRow, ApiError> {
    let id = CertificateId::parse(&id)?;
    let state = state.clone();
    blocking(move || load_row(&state, &id)).await
}

/// `?code=`: the certificate's 查验码 (`domain::certificate_access`).
#[derive(Debug, serde::Deserialize)]
pub struct CodeQuery {
    pub code: Option<String>,
}

/// The stored certificate, for someone who shows its 查验码; rate-limited like every public query.
pub async fn load_with_code(
    req: &actix_web::HttpRequest,
    state: &web::Data<AppState>,
    id: String,
    code: Option<&str>,
) -> Result<CertificateRow, ApiError> {
    state.limiter.check(super::limits::client_ip(req), super::limits::Class::PublicQuery)?;
    let row = load(state, id).await?;
    if !code.is_some_and(|c| crate::domain::certificate_access::matches(c, &row.signature)) {
        return Err(ApiError::new(ErrorCode::AccessCodeInvalid));
    }
    Ok(row)
}

/// Check a stored certificate: the issuer's key is known, the signature is over these exact
/// bytes, and the content names this identifier.
pub fn check(state: &AppState, row: &CertificateRow) -> (bool, String) {
    let Some((_, division, key)) = state.find_key(&row.key_id) else {
        return (false, "签发机构的公钥未知，无法验证签名".into());
    };
    let issuer_ok = DivisionCode::parse(&row.division).is_ok_and(|issuer| division.contains(&issuer));
    if !issuer_ok {
        return (false, "签名密钥不属于签发机构".into());
    }
    let Ok(der) = unb64(&row.signature) else {
        return (false, "签名格式错误".into());
    };
    if key.verify(row.content.as_bytes(), &der).is_err() {
        return (false, "签名验证失败：证照内容被篡改或签名无效".into());
    }
    match serde_json::from_str::<CertificateContent>(&row.content) {
        Ok(c) if c.id.as_str() == row.id && c.number == row.number => (true, String::new()),
        _ => (false, "签名内容与证照标识不符".into()),
    }
}

pub async fn verify_certificate(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(super::limits::client_ip(&req), super::limits::Class::PublicQuery)?;
    Ok(HttpResponse::Ok().json(verification(&state, path.into_inner()).await?))
}

/// `POST /api/v1/certificates/verify-package`: verify an uploaded package file.
pub async fn verify_package(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(super::limits::client_ip(&req), super::limits::Class::PublicQuery)?;
    Ok(HttpResponse::Ok().json(package_verification(&state, &body).await?))
}

/// Verify a package file: its own signature first (so that a changed file is named as such),
/// then that the key is one this node knows for the issuer and that the content is what the
/// issuing office recorded; the answer is then the node's verification of that certificate.
pub async fn package_verification(
    state: &web::Data<AppState>,
    file: &[u8],
) -> Result<CertificateVerification, ApiError> {
    use crate::domain::certificate_package::{check as check_package, package_key};
    let invalid = |why: String| ApiError::with_message(ErrorCode::PackageInvalid, format!("电子证照文件无效：{why}"));
    let package = crate::domain::certificate_package::from_file(file)
        .map_err(|why| ApiError::with_message(ErrorCode::InvalidRequest, why))?;
    let key = package_key(&package).map_err(invalid)?;
    let content = check_package(&package, &key).map_err(invalid)?;
    let trusted =
        state.find_key(&package.key_id).is_some_and(|(_, division, _)| division.contains(&content.issuer_division));
    if !trusted {
        return Err(invalid("签名密钥不是本节点所知的该签发机构的密钥".into()));
    }
    let id = package.id.clone();
    let state2 = state.clone();
    let recorded = blocking(move || load_row(&state2, &id)).await.map_err(|e| {
        if e.code == ErrorCode::NotFound {
            ApiError::with_message(ErrorCode::NotFound, "文件签名有效，但本节点没有该证照的记录，无法确认其现势状态")
        } else {
            e
        }
    })?;
    if recorded.content != package.content {
        return Err(invalid("文件内容与登记机构的记录不一致".into()));
    }
    if recorded.signature != package.signature {
        return Err(invalid("文件中的签名与登记机构记录的签名不一致".into()));
    }
    verification(state, package.id.to_string()).await
}

/// The verification answer for a certificate identifier (API and page).
pub async fn verification(state: &web::Data<AppState>, id: String) -> Result<CertificateVerification, ApiError> {
    let id = CertificateId::parse(&id)?;
    let state2 = state.clone();
    let work = move || {
        // One read for the row, its log leaf and the log's length (see `get_for_verification`).
        let found = {
            let mut conn = state2.db.conn()?;
            store::certificates::get_for_verification(&mut conn, &state2.sealer, id.as_str())?
        };
        let store::certificates::ForVerification { row, leaf, log_end } = found.ok_or_else(not_here)?;
        let (ok, problem) = check(&state2, &row);
        let proof = state2.transparency_proof(leaf, log_end).map_err(ApiError::internal)?;
        Ok((id, row, ok, problem, proof))
    };
    // The work is one SM2 verification (a few hundred microseconds of CPU) and, on SQLite, one
    // statement of indexed reads of a local file: done on the worker thread, it costs less than the hand-off to
    // the blocking pool would (about a third more CPU per verification, measured with
    // examples/verify_bench.rs). On PostgreSQL the reads wait on the network: off the worker.
    let (id, row, signature_valid, problem, transparency) = match state.db.backend() {
        crate::db::Backend::Sqlite => work()?,
        crate::db::Backend::Postgres => blocking(work).await?,
    };
    let status = parse_status(&row.status);
    let valid = signature_valid && status == CertificateStatus::Valid;
    let reason = if !signature_valid {
        problem
    } else {
        match status {
            CertificateStatus::Valid => "签名有效，证照现势有效".into(),
            CertificateStatus::Superseded => format!("证照已被新版本替代：{}", row.status_reason),
            CertificateStatus::Void => format!("证照已作废：{}", row.status_reason),
        }
    };
    Ok(CertificateVerification {
        // The row was found by this identifier (`row.id` is the same text): not parsed again.
        id,
        valid,
        signature_valid,
        status,
        reason,
        number: row.number.clone(),
        business_no: BusinessNo::parse(&row.business_no)?,
        issuer: DivisionCode::parse(&row.division)?,
        key_id: row.key_id.clone(),
        issued_at: row.issued_at.and_utc(),
        status_changed_at: (status != CertificateStatus::Valid).then(|| row.updated_at.and_utc()),
        answered_by: state.me.clone(),
        transparency,
    })
}

pub async fn signed_data(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load_with_code(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    Ok(HttpResponse::Ok().content_type("application/json; charset=utf-8").body(row.content))
}

pub async fn signature(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load_with_code(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    let der = unb64(&row.signature).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").body(der))
}

pub async fn issuer_key(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let (_, _, key) = state
        .find_key(&row.key_id)
        .ok_or_else(|| ApiError::with_message(ErrorCode::UnknownKey, "签发机构的公钥未知"))?;
    let pem = key.to_spki_pem().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("application/x-pem-file").body(pem))
}

/// The package of a certificate: content, signature and the issuer's key, for offline verification.
pub fn package_of(state: &AppState, row: &CertificateRow) -> Result<schemas::api::CertificatePackage, ApiError> {
    let (_, _, key) = state
        .find_key(&row.key_id)
        .ok_or_else(|| ApiError::with_message(ErrorCode::UnknownKey, "签发机构的公钥未知"))?;
    Ok(schemas::api::CertificatePackage {
        v: 1,
        id: CertificateId::parse(&row.id)?,
        content: row.content.clone(),
        signature: row.signature.clone(),
        issuer_public_key_pem: key.to_spki_pem().map_err(|e| ApiError::internal(e.to_string()))?,
        key_id: row.key_id.clone(),
        status: parse_status(&row.status),
    })
}

/// `GET /api/v1/certificates/{id}/package?code=`: the package as JSON.
pub async fn package(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load_with_code(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("content-disposition", "attachment; filename=\"certificate.json\""))
        .json(package_of(&state, &row)?))
}
