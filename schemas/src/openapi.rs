//! The OpenAPI document, generated from the wire types. `schemas/openapi.json` is the committed
//! copy; `tests::committed_openapi_is_current` fails when it is stale (regenerate with
//! `BDC_UPDATE_OPENAPI=1 cargo test -p bdc-schemas openapi`).
//!
//! The functions below carry no code: they only describe the routes for the document.
#![allow(dead_code)]

use utoipa::OpenApi;

use crate::api::*;
use crate::envelope::*;
use crate::error::{ErrorBody, ErrorCode};
use crate::register::*;
use crate::registration::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bdc-node",
        description = "互联网+不动产登记 node: public API (/api/v1) and node-to-node protocol (/federation/v1). Every refusal is {\"error\": code, \"message\": 中文说明}.",
        version = "1"
    ),
    paths(
        healthz,
        node_info,
        submit_application,
        get_ticket,
        staff_login,
        get_application,
        act_on_application,
        progress_by_proof,
        get_progress,
        notice_by_proof,
        get_notice,
        due_list,
        verify_certificate,
        certificate_signed_data,
        certificate_signature,
        certificate_issuer_key,
        certificate_verify_package,
        staff_totp_begin,
        staff_totp_confirm,
        staff_totp_disable,
        transparency_head,
        transparency_consistency,
        transparency_children,
        certificate_package,
        applicant_sms_code,
        applicant_sign_up,
        applicant_login,
        applicant_me,
        certificate_package_zip,
        certificate_pdf,
        certificate_ofd,
        audit_query,
        register_unit,
        register_holdings,
        register_search,
        register_export,
        register_daily_log,
        no_property_proof,
        materials,
        application_materials_by_proof,
        application_materials,
        upload_material,
        download_material_by_proof,
        download_material,
        list_rules,
        put_rule,
        reset_rule,
        navigate,
        post_envelope,
        post_application_envelope
    ),
    components(schemas(
        ErrorBody,
        ErrorCode,
        Mode,
        NavigationMode,
        NodeInfo,
        PeerInfo,
        ApplicantInput,
        SubmitApplication,
        ApplicationAnswer,
        OfficeReceipt,
        QueuedReceipt,
        NavigateAnswer,
        TicketView,
        ActionRequest,
        LoginRequest,
        LoginAnswer,
        TotpEnrolment,
        TotpCode,
        PartyView,
        ApplicationView,
        ApplicantProof,
        ProgressView,
        SmsCodeRequest,
        SmsCodeSent,
        SignUpRequest,
        ApplicantLogin,
        ApplicantSession,
        ApplicantView,
        CertificateLink,
        ProgressStep,
        CertificateContent,
        CertificateStatus,
        CertificateVerification,
        TransparencyProof,
        SignedTreeHeadView,
        ConsistencyProofView,
        LogCheckStatus,
        ChildLogView,
        CertificatePackage,
        RegistrationKind,
        Stage,
        Action,
        PartyRole,
        Envelope,
        EnvelopeBody,
        OriginBatch,
        Event,
        EventBody,
        ProgressEvent,
        CertificateRecord,
        CertificateStatusEvent,
        Enrolment,
        ForwardedApplication,
        DeliveryReceipt,
        ApplicationReceipt,
        RegistrationDetails,
        MortgageAction,
        Jurisdiction,
        EntryStatus,
        RestrictionKind,
        RightView,
        RestrictionView,
        UnitRegisterView,
        RuleStage,
        Severity,
        RuleView,
        RuleConfig,
        RuleOutcome,
        HoldingsRequest,
        HoldingsView,
        Material,
        MaterialsView,
        MaterialFileView,
        MaterialItemView,
        MissingMaterial,
        ApplicationMaterialsView,
        NoPropertyRequest,
        NoPropertyContent,
        SignedDocument,
        NoticeKind,
        Notice,
        DueItem
    ))
)]
pub struct ApiDoc;

/// The document as pretty JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "the node can serve")))]
fn healthz() {}

#[utoipa::path(get, path = "/api/v1/node", responses((status = 200, body = NodeInfo)))]
fn node_info() {}

#[utoipa::path(post, path = "/api/v1/applications", request_body = SubmitApplication,
    responses(
        (status = 200, body = ApplicationAnswer, description = "received by the office (received), link navigation (navigate)"),
        (status = 202, body = ApplicationAnswer, description = "queued at an upper node"),
        (status = 303, description = "a browser form post under link navigation is redirected to navigate_to"),
        (status = 400, body = ErrorBody)))]
fn submit_application() {}

#[utoipa::path(get, path = "/api/v1/tickets/{ticket}", params(("ticket" = String, Path,)),
    responses((status = 200, body = TicketView), (status = 404, body = ErrorBody)))]
fn get_ticket() {}

#[utoipa::path(post, path = "/api/v1/staff/login", request_body = LoginRequest,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody)))]
fn staff_login() {}

#[utoipa::path(get, path = "/api/v1/applications/{business_no}",
    params(("business_no" = String, Path,), ("purpose" = Option<String>, Query, description = "a stated purpose (2–100 characters) asks a clerk's audited full view: names, id numbers and phones unmasked")),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
fn get_application() {}

#[utoipa::path(post, path = "/api/v1/applications/{business_no}/actions", params(("business_no" = String, Path,)),
    request_body = ActionRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 409, body = ErrorBody)))]
fn act_on_application() {}

#[utoipa::path(post, path = "/api/v1/progress/{business_no}", params(("business_no" = String, Path,)),
    request_body(content = ApplicantProof, description = "an applicant's name and ID number, as in the application"),
    responses((status = 200, body = ProgressView),
              (status = 400, body = ErrorBody, description = "invalid_request, invalid_field (no proof); personal_data_in_url: the query string names an applicant (name or id_number), refused before any lookup"),
              (status = 404, body = ErrorBody, description = "unknown, or the name and ID number do not match (the same answer)")))]
fn progress_by_proof() {}

#[utoipa::path(get, path = "/api/v1/progress/{business_no}", params(("business_no" = String, Path,)),
    security(("bearer" = [])),
    responses((status = 200, body = ProgressView, description = "for staff of the office; the public posts its proof (POST)"),
              (status = 400, body = ErrorBody, description = "invalid_field: no session of the office; personal_data_in_url: the query string names an applicant (name or id_number)"),
              (status = 404, body = ErrorBody)))]
fn get_progress() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/verify", params(("id" = String, Path,)),
    responses((status = 200, body = CertificateVerification), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
fn verify_certificate() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/signed-data", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, content_type = "application/json", description = "the exact signed bytes"), (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_signed_data() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/signature.der", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, content_type = "application/octet-stream", description = "DER SM2 signature"), (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_signature() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/issuer-key.pem", params(("id" = String, Path,)),
    responses((status = 200, content_type = "application/x-pem-file", description = "issuer SPKI PEM")))]
fn certificate_issuer_key() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/package", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, body = CertificatePackage, description = "download for offline verification"), (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_package() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/package.zip", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, content_type = "application/zip", description = "certificate.pdf, certificate.ofd, certificate.json (the signed package), signed-data.json, signature.der, issuer-key.pem, README.txt"),
              (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_package_zip() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/certificate.pdf", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, content_type = "application/pdf", description = "the certificate, one A4 page with a QR code to the verification page"),
              (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_pdf() {}

#[utoipa::path(get, path = "/api/v1/certificates/{id}/certificate.ofd", params(("id" = String, Path,), ("code" = String, Query, description = "查验码 (access code): given with the progress of the business and on the certificate's QR code")),
    responses((status = 200, content_type = "application/ofd", description = "the certificate as OFD (GB/T 33190)"),
              (status = 403, body = ErrorBody, description = "access_code_invalid")))]
fn certificate_ofd() {}

#[utoipa::path(post, path = "/api/v1/certificates/verify-package", request_body = CertificatePackage,
    responses((status = 200, body = CertificateVerification, description = "the uploaded package's certificate, verified by this node"),
              (status = 400, body = ErrorBody, description = "not a certificate package"),
              (status = 404, body = ErrorBody, description = "signature valid, but this node has no record of the certificate"),
              (status = 422, body = ErrorBody, description = "package_invalid: changed content, wrong or unknown key")))]
fn certificate_verify_package() {}

#[utoipa::path(post, path = "/api/v1/staff/totp", security(("bearer" = [])),
    responses((status = 200, body = TotpEnrolment, description = "a new second-factor secret, active once confirmed"), (status = 401, body = ErrorBody)))]
fn staff_totp_begin() {}

#[utoipa::path(post, path = "/api/v1/staff/totp/confirm", security(("bearer" = [])), request_body = TotpCode,
    responses((status = 200, description = "the second factor is on"), (status = 400, body = ErrorBody, description = "wrong or used code")))]
fn staff_totp_confirm() {}

#[utoipa::path(delete, path = "/api/v1/staff/totp", security(("bearer" = [])), request_body = TotpCode,
    responses((status = 200, description = "the second factor is off"), (status = 400, body = ErrorBody, description = "wrong or used code")))]
fn staff_totp_disable() {}

#[utoipa::path(get, path = "/api/v1/transparency/head",
    responses((status = 200, body = SignedTreeHeadView, description = "the node's current signed tree head")))]
fn transparency_head() {}

#[utoipa::path(get, path = "/api/v1/transparency/consistency",
    params(("from" = u64, Query, description = "older log size"), ("to" = u64, Query, description = "newer log size, at most the current size")),
    responses((status = 200, body = ConsistencyProofView, description = "RFC 9162 consistency proof"), (status = 400, body = ErrorBody)))]
fn transparency_consistency() {}

#[utoipa::path(get, path = "/api/v1/transparency/children",
    responses((status = 200, body = Vec<ChildLogView>, description = "each child's log as this node last checked it")))]
fn transparency_children() {}

#[utoipa::path(get, path = "/api/v1/audit", security(("bearer" = [])),
    params(("from" = Option<String>, Query,), ("to" = Option<String>, Query,), ("actor" = Option<String>, Query,),
           ("kind" = Option<String>, Query,), ("business_no" = Option<String>, Query,), ("format" = Option<String>, Query, description = "json or csv")),
    responses((status = 200, description = "audit records of the auditor's office"), (status = 403, body = ErrorBody)))]
fn audit_query() {}

#[utoipa::path(get, path = "/navigate", params(("token" = String, Query,)),
    responses((status = 200, description = "the office portal, prefilled"), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
fn navigate() {}

#[utoipa::path(post, path = "/federation/v1/envelopes", request_body = Envelope,
    responses((status = 200, body = DeliveryReceipt, description = "signed in x-bdc-* headers"),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
fn post_envelope() {}

#[utoipa::path(post, path = "/federation/v1/applications", request_body = Envelope,
    responses((status = 200, body = ApplicationReceipt, description = "signed in x-bdc-* headers"),
              (status = 401, body = ErrorBody)))]
fn post_application_envelope() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_openapi_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let generated = openapi_json();
        if std::env::var_os("BDC_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("write openapi.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/openapi.json is stale: run BDC_UPDATE_OPENAPI=1 cargo test -p bdc-schemas openapi"
        );
        assert!(generated.contains("/federation/v1/envelopes"));
        assert!(generated.contains("replayed_envelope"));
    }
}

#[utoipa::path(get, path = "/api/v1/register/units/{unit_code}", params(("unit_code" = String, Path,)),
    security(("bearer" = [])),
    responses((status = 200, body = UnitRegisterView, description = "the unit's page in the staff member's office: current right, restrictions, history (personal fields masked; the read is audited)"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
fn register_unit() {}

#[utoipa::path(post, path = "/api/v1/register/holdings", request_body = HoldingsRequest, security(("bearer" = [])),
    responses((status = 200, body = HoldingsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
fn register_holdings() {}

#[utoipa::path(get, path = "/api/v1/rules", security(("bearer" = [])),
    responses((status = 200, body = [RuleView], description = "the rules the office runs, in order"), (status = 401, body = ErrorBody)))]
fn list_rules() {}

#[utoipa::path(put, path = "/api/v1/rules/{id}", params(("id" = String, Path,)), request_body = RuleConfig,
    security(("bearer" = [])),
    responses((status = 200, body = RuleView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "needs the sysadmin role")))]
fn put_rule() {}

#[utoipa::path(delete, path = "/api/v1/rules/{id}", params(("id" = String, Path,)), security(("bearer" = [])),
    responses((status = 204, description = "back to the built-in default, or the office's own rule removed"), (status = 404, body = ErrorBody)))]
fn reset_rule() {}

#[utoipa::path(post, path = "/api/v1/progress/{business_no}/notice", params(("business_no" = String, Path,)),
    request_body(content = ApplicantProof, description = "an applicant's name and ID number, as in the application"),
    responses((status = 200, body = Notice, description = "受理通知书, 不予受理告知书, 补正材料告知书 or 不予登记告知书 of the current stage"),
        (status = 400, body = ErrorBody, description = "invalid_request, invalid_field; personal_data_in_url: the query string names an applicant"),
        (status = 404, body = ErrorBody, description = "unknown, not matching, or no notice at this stage")))]
fn notice_by_proof() {}

#[utoipa::path(get, path = "/api/v1/progress/{business_no}/notice", params(("business_no" = String, Path,)),
    security(("bearer" = [])),
    responses((status = 200, body = Notice, description = "for staff of the office; the public posts its proof (POST)"),
        (status = 400, body = ErrorBody, description = "invalid_field: no session of the office; personal_data_in_url: the query string names an applicant"),
        (status = 404, body = ErrorBody, description = "no notice at this stage")))]
fn get_notice() {}

#[utoipa::path(get, path = "/api/v1/applications", params(("due" = String, Query, description = "overdue or soon")),
    security(("bearer" = [])),
    responses((status = 200, body = [DueItem], description = "the office's open applications past, or within 3 working days of, their statutory limit"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
fn due_list() {}

#[utoipa::path(get, path = "/api/v1/register/search",
    params(("certificate_number" = Option<String>, Query, description = "证书号, e.g. 苏(2026)南京市不动产权第0000001号 (（） accepted)"),
        ("location" = Option<String>, Query, description = "a fragment of 坐落, 2–100 characters")),
    security(("bearer" = [])),
    responses((status = 200, body = [UnitRegisterView], description = "the pages found in the staff member's office (at most 20); the search is audited"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
fn register_search() {}

#[utoipa::path(get, path = "/api/v1/register/export/{business_no}",
    params(("business_no" = String, Path,), ("format" = Option<String>, Query, description = "json (default) or xml")),
    security(("bearer" = [])),
    responses((status = 200, description = "the recorded business in the national 汇交 table naming: {head, data: {DJT_DJ_SL: [...], QLT_FW_FDCQ_YZ: [...], ZTT_GY_QLR: [...], ...}} or the same as <Message><Head/><Data>...</Data></Message>"),
        (status = 403, body = ErrorBody, description = "clerks and system administrators only"),
        (status = 409, body = ErrorBody, description = "not recorded (登簿) yet")))]
fn register_export() {}

#[utoipa::path(get, path = "/api/v1/register/daily-log", params(("date" = String, Query, description = "YYYY-MM-DD, Beijing time")),
    security(("bearer" = [])),
    responses((status = 200, description = "登簿日志: {office, date, count, entries: [{business_no, unit_code}]}"), (status = 400, body = ErrorBody)))]
fn register_daily_log() {}

#[utoipa::path(post, path = "/api/v1/register/no-property-proof", request_body = NoPropertyRequest, security(("bearer" = [])),
    responses((status = 200, body = SignedDocument, description = "content is the JSON text of NoPropertyContent, signed by the office node (key in GET /api/v1/node)"),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "the register shows a current right of this person")))]
fn no_property_proof() {}

#[utoipa::path(get, path = "/api/v1/materials", params(("kind" = String, Query, description = "a registration kind, e.g. transfer")),
    responses((status = 200, body = MaterialsView, description = "申请材料清单: which materials are required, in which formats, up to which size"),
        (status = 400, body = ErrorBody)))]
fn materials() {}

#[utoipa::path(post, path = "/api/v1/applicants/sms-code", request_body = SmsCodeRequest,
    responses((status = 202, body = SmsCodeSent, description = "handed to the SMS gateway"),
              (status = 400, body = ErrorBody, description = "invalid_phone, invalid_field"),
              (status = 429, body = ErrorBody, description = "sms_too_soon, rate_limited"),
              (status = 503, body = ErrorBody, description = "sms_unavailable: the gateway failed; ask again")))]
fn applicant_sms_code() {}

#[utoipa::path(post, path = "/api/v1/applicants", request_body = SignUpRequest,
    responses((status = 201, body = ApplicantView, description = "the new account, masked"),
              (status = 400, body = ErrorBody, description = "sms_code_invalid, weak_password, invalid_id_number, invalid_credit_code, invalid_phone"),
              (status = 409, body = ErrorBody, description = "account_exists")))]
fn applicant_sign_up() {}

#[utoipa::path(post, path = "/api/v1/applicants/login", request_body = ApplicantLogin,
    responses((status = 200, body = ApplicantSession), (status = 401, body = ErrorBody, description = "bad_credentials"),
              (status = 403, body = ErrorBody, description = "account_locked")))]
fn applicant_login() {}

#[utoipa::path(get, path = "/api/v1/applicants/me",
    responses((status = 200, body = ApplicantView), (status = 401, body = ErrorBody, description = "unauthorized")))]
fn applicant_me() {}

#[utoipa::path(post, path = "/api/v1/applications/{business_no}/materials", params(("business_no" = String, Path,)),
    request_body(content = ApplicantProof, description = "an applicant's name and ID number, as for progress"),
    responses((status = 200, body = ApplicationMaterialsView, description = "the kind's checklist with the files uploaded for each item, and the required items still missing"),
              (status = 400, body = ErrorBody, description = "invalid_request, invalid_field; personal_data_in_url: the query string names an applicant"),
              (status = 404, body = ErrorBody, description = "unknown here, or the name and ID number do not match (the same answer)")))]
fn application_materials_by_proof() {}

#[utoipa::path(get, path = "/api/v1/applications/{business_no}/materials", params(("business_no" = String, Path,)),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationMaterialsView, description = "for staff of the office; an applicant posts the proof (POST)"),
              (status = 400, body = ErrorBody, description = "invalid_field: no session of the office; personal_data_in_url: the query string names an applicant"),
              (status = 404, body = ErrorBody, description = "unknown here")))]
fn application_materials() {}

#[utoipa::path(post, path = "/api/v1/applications/{business_no}/materials/{material_id}",
    params(("business_no" = String, Path,), ("material_id" = String, Path, description = "an item id of the kind's checklist (GET /api/v1/materials?kind=…)")),
    request_body(content_type = "multipart/form-data", description = "field `file`: the file (its format is told by its content, not its name); fields `name` and `id_number` for an applicant (never query parameters: a query naming an applicant is refused with personal_data_in_url before the form is read); staff of the office (clerk) send their session instead"),
    security((), ("bearer" = [])),
    responses((status = 201, body = MaterialFileView, description = "stored, sealed; earlier files of the item are kept"),
              (status = 400, body = ErrorBody, description = "material_empty, invalid_field, invalid_request, personal_data_in_url"),
              (status = 404, body = ErrorBody, description = "unknown_material (not on the kind's checklist); not_found (unknown here, or the name and ID number do not match)"),
              (status = 409, body = ErrorBody, description = "materials_closed (accepted, refused, withdrawn or done), material_files_full"),
              (status = 413, body = ErrorBody, description = "material_too_large (over the item's max_size_mb MiB), payload_too_large"),
              (status = 422, body = ErrorBody, description = "material_format_refused: not pdf, ofd, jpg or png by content, or not a format the item takes")))]
fn upload_material() {}

#[utoipa::path(post, path = "/api/v1/applications/{business_no}/materials/{material_id}/files/{file_id}",
    params(("business_no" = String, Path,), ("material_id" = String, Path,), ("file_id" = i64, Path,)),
    request_body(content = ApplicantProof, description = "an applicant's name and ID number, as for progress"),
    responses((status = 200, description = "the file as uploaded, with its Content-Type (application/pdf, application/ofd, image/jpeg, image/png); downloads are audited"),
              (status = 400, body = ErrorBody, description = "invalid_request, invalid_field; personal_data_in_url: the query string names an applicant"),
              (status = 404, body = ErrorBody, description = "no such file of this application, or the name and ID number do not match")))]
fn download_material_by_proof() {}

#[utoipa::path(get, path = "/api/v1/applications/{business_no}/materials/{material_id}/files/{file_id}",
    params(("business_no" = String, Path,), ("material_id" = String, Path,), ("file_id" = i64, Path,)),
    security(("bearer" = [])),
    responses((status = 200, description = "the file as uploaded, for a clerk of the office (an applicant posts the proof: POST); audited"),
              (status = 400, body = ErrorBody, description = "invalid_field: no session of the office; personal_data_in_url: the query string names an applicant"),
              (status = 403, body = ErrorBody, description = "forbidden: a staff role other than clerk"),
              (status = 404, body = ErrorBody, description = "no such file of this application")))]
fn download_material() {}
