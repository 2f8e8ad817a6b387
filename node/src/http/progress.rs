//! Progress of a business number, at any level (guideline 二.1.4): the public asks with the
//! business number plus an applicant's name and ID number in a POST body; staff of the office
//! with their session (GET). A query string naming an applicant is refused (`proof`).

use actix_web::{HttpRequest, HttpResponse, web};
use schemas::api::{CertificateLink, ProgressStep, ProgressView};
use schemas::divisions::Divisions;
use schemas::envelope::EventBody;
use schemas::error::ErrorCode;
use schemas::ids::{BusinessNo, CertificateId, DivisionCode};

use super::proof::Proof;
use super::staff::optional_staff;
use super::{ApiError, blocking};
use crate::domain::notices;
use crate::domain::parties::matches_proof;
use crate::state::AppState;
use crate::store;

/// `GET /api/v1/progress/{business_no}` (staff of the office, with their session) and `POST` with
/// JSON `{"name", "id_number"}` (someone naming an applicant): the progress.
pub async fn progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proof = Proof::of_request(&req, &body)?;
    let view = authorised(&req, &state, path.into_inner(), proof).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET`/`POST /api/v1/progress/{business_no}/notice` (as [`progress`]): the written notice of
/// the current stage.
pub async fn notice_of_stage(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proof = Proof::of_request(&req, &body)?;
    notice(&req, &state, path.into_inner(), proof).await
}

async fn notice(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    business_no: String,
    proof: Proof,
) -> Result<HttpResponse, ApiError> {
    let view = authorised(req, state, business_no, proof).await?;
    let notice = notices::notice(&view, &office_name(state, &view.office))
        .ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "该办件当前环节没有书面告知"))?;
    Ok(HttpResponse::Ok().json(notice))
}

/// The office's name as printed on its notices: its own setting where it is hosted here, else
/// the division's name.
pub fn office_name(state: &AppState, office: &DivisionCode) -> String {
    state.office(office).map(|o| o.name.clone()).unwrap_or_else(|| {
        let place = Divisions::builtin().full_name(office).unwrap_or_else(|| office.to_string());
        format!("{place}不动产登记机构")
    })
}

/// The progress, for staff of the office (session) or for someone naming an applicant.
async fn authorised(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    business_no: String,
    proof: Proof,
) -> Result<ProgressView, ApiError> {
    state.limiter.check(super::limits::client_ip(req), super::limits::Class::PublicQuery)?;
    let business_no = BusinessNo::parse(&business_no)?;
    let staff = optional_staff(req, state).await?;
    let staff_ok = staff.is_some_and(|s| s.office == business_no.division());
    let credentials = proof.credentials();
    if !staff_ok && credentials.is_none() {
        return Err(ApiError::with_message(
            ErrorCode::InvalidField,
            "查询进度须提供业务号，并以 POST 在请求体中提供申请人姓名和证件号码",
        ));
    }
    lookup(state, business_no, credentials, staff_ok).await
}

/// Progress of a business number for someone who named an applicant (or staff of the office).
/// A wrong name or ID number and an unknown number look the same.
pub async fn lookup(
    state: &web::Data<AppState>,
    business_no: BusinessNo,
    credentials: Option<(String, String)>,
    staff_ok: bool,
) -> Result<ProgressView, ApiError> {
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let not_found = || ApiError::with_message(ErrorCode::NotFound, "未找到与业务号、姓名和证件号码相符的办件");
    let number = business_no.clone();
    let (progress, links) = blocking(move || {
        let mut conn = db.conn()?;
        let events = store::events::for_business(&mut conn, &sealer, number.as_str())?;
        let links = store::certificates::links_for_business(&mut conn, number.as_str())?;
        let mut progress: Vec<(u64, chrono::DateTime<chrono::Utc>, schemas::envelope::ProgressEvent)> = events
            .into_iter()
            .filter_map(|e| match e.body {
                EventBody::Progress(p) => Some((e.seq, e.occurred_at, p)),
                _ => None,
            })
            .collect();
        progress.sort_by_key(|(seq, _, _)| *seq);
        Ok((progress, links))
    })
    .await?;
    if progress.is_empty() {
        return Err(not_found());
    }
    if !staff_ok {
        let proofs: Vec<String> = progress.iter().flat_map(|(_, _, p)| p.applicant_proofs.clone()).collect();
        let (name, id) = credentials.ok_or_else(not_found)?;
        // A millisecond of CPU per proof, by design: below the writer in priority (see
        // `low_priority`); the reads above stay on the ordinary threads.
        let matched = state
            .low_priority
            .run(move || matches_proof(&proofs, &name, &id))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if !matched {
            return Err(not_found());
        }
    }
    let (_, _, last) = progress.last().ok_or_else(not_found)?;
    Ok(ProgressView {
        business_no: business_no.clone(),
        office: business_no.division(),
        kind: last.kind,
        state: last.stage,
        due_date: progress.iter().rev().find_map(|(_, _, p)| p.due_date),
        steps: progress
            .iter()
            .map(|(seq, at, p)| ProgressStep { seq: *seq, stage: p.stage, at: *at, notes: p.notes.clone() })
            .collect(),
        certificate_ids: links.iter().filter_map(|(c, _)| CertificateId::parse(c).ok()).collect(),
        certificates: links
            .into_iter()
            .filter_map(|(c, code)| Some(CertificateLink { id: CertificateId::parse(&c).ok()?, access_code: code }))
            .collect(),
        answered_by: state.me.clone(),
    })
}
