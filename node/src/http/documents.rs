//! A certificate's documents, for whoever shows its 查验码: the PDF, the OFD file, the zip
//! package (documents + signed data + signature + issuer key) and the printable page. Every node
//! that holds the certificate serves them — the issuing office, its province, the nation.

use std::io::{Cursor, Write};

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::api::CertificateContent;
use schemas::error::ErrorCode;

use super::ApiError;
use super::certificates::{CodeQuery, load_with_code, package_of};
use crate::documents::{Sheet, ofd, pdf, sheet};
use crate::state::AppState;
use crate::store::certificates::{CertificateRow, parse_status};

/// The signed content of a stored certificate and its sheet as this node prints it now.
fn sheet_of(state: &AppState, row: &CertificateRow, code: &str) -> Result<(CertificateContent, Sheet), ApiError> {
    let content: CertificateContent = serde_json::from_str(&row.content)
        .map_err(|e| ApiError::internal(format!("stored certificate content: {e}")))?;
    let sheet = sheet(&content, parse_status(&row.status), &row.status_reason, &state.public_url, code);
    Ok((content, sheet))
}

/// A document that cannot be made (the sheet does not fit a page): 422, the printable page still
/// serves.
fn too_long(why: String) -> ApiError {
    ApiError::with_message(ErrorCode::DocumentTooLong, why)
}

fn attachment(content_type: &str, name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("content-disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("cache-control", "no-store"))
        .body(body)
}

async fn row_and_sheet(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    id: String,
    code: Option<&str>,
) -> Result<(CertificateRow, CertificateContent, Sheet), ApiError> {
    let row = load_with_code(req, state, id, code).await?;
    let code = code.unwrap_or_default().trim().to_ascii_uppercase();
    let (content, sheet) = sheet_of(state, &row, &code)?;
    Ok((row, content, sheet))
}

/// `GET /api/v1/certificates/{id}/certificate.pdf?code=`
pub async fn pdf_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, content, sheet) = row_and_sheet(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    let bytes = pdf::render(&sheet, content.issued_on).map_err(too_long)?;
    Ok(attachment("application/pdf", "certificate.pdf", bytes))
}

/// `GET /api/v1/certificates/{id}/certificate.ofd?code=`
pub async fn ofd_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, content, sheet) = row_and_sheet(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    let bytes = ofd::render(&sheet, content.issued_on, &content.issuer_name).map_err(too_long)?;
    Ok(attachment("application/ofd", "certificate.ofd", bytes))
}

const README: &str = "电子证照包 / Electronic certificate package\n\
\n\
certificate.pdf      证照（PDF）\n\
certificate.ofd      证照（OFD，GB/T 33190）\n\
certificate.json     签名证照包：bdc-node verify-cert certificate.json，或在任一节点的核验页上传本 zip\n\
signed-data.json     签名原文（颁发机构以 SM2 签名的字节）\n\
signature.der        SM2 签名（DER）\n\
issuer-key.pem       颁发机构公钥（SPKI PEM）\n\
\n\
用 OpenSSL 3 独立验证签名 / verify with OpenSSL 3:\n\
  openssl dgst -sm3 -verify issuer-key.pem -signature signature.der -sigopt distid:1234567812345678 signed-data.json\n\
\n\
签名覆盖 signed-data.json；PDF 与 OFD 是其版式呈现。证照的现势状态（有效、已替代、已作废）以扫描二维码或核验页的实时答复为准。\n\
The signature covers signed-data.json; the PDF and OFD files render it. Whether the certificate is still valid is\n\
answered live by the verification page the QR code leads to.\n";

/// `GET /api/v1/certificates/{id}/package.zip?code=`: the documents, the signed data, the
/// signature and the issuer's key in one file.
pub async fn package_zip(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (row, content, sheet) = row_and_sheet(&req, &state, path.into_inner(), query.code.as_deref()).await?;
    let package = package_of(&state, &row)?;
    let der = federation::crypto::unb64(&row.signature).map_err(|e| ApiError::internal(e.to_string()))?;
    let entries: Vec<(&str, Vec<u8>)> = vec![
        ("README.txt", README.as_bytes().to_vec()),
        ("certificate.pdf", pdf::render(&sheet, content.issued_on).map_err(too_long)?),
        ("certificate.ofd", ofd::render(&sheet, content.issued_on, &content.issuer_name).map_err(too_long)?),
        (
            crate::domain::certificate_package::PACKAGE_ENTRY,
            serde_json::to_vec_pretty(&package).map_err(|e| ApiError::internal(e.to_string()))?,
        ),
        ("signed-data.json", row.content.clone().into_bytes()),
        ("signature.der", der),
        ("issuer-key.pem", package.issuer_public_key_pem.clone().into_bytes()),
    ];
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in entries {
        zip.start_file(name, options).map_err(|e| ApiError::internal(e.to_string()))?;
        zip.write_all(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let bytes = zip.finish().map_err(|e| ApiError::internal(e.to_string()))?.into_inner();
    Ok(attachment("application/zip", "certificate-package.zip", bytes))
}

/// The printable page (`GET /certificate?id=&code=`): the sheet as HTML in the official order.
pub async fn printable_sheet(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    id: Option<String>,
    code: Option<String>,
) -> Result<(Sheet, String), ApiError> {
    let id = id
        .filter(|i| !i.trim().is_empty() && i.len() <= 200)
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidCertificateId, "请填写电子证照标识"))?;
    let (_, _, sheet) = row_and_sheet(req, state, id.trim().to_owned(), code.as_deref()).await?;
    let code = code.unwrap_or_default().trim().to_ascii_uppercase();
    Ok((sheet, code))
}
