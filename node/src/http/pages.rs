//! The “一窗办事” portal pages (askama templates, no script): apply, follow progress and upload
//! 申请材料 there, verify a certificate. Forms post with a CSRF token (double submit: cookie +
//! hidden field). Pages work on a phone and a PC; personal data is shown masked or not at all.
//!
//! Personal data never travels in a URL (browser history, access logs, proxies, `Referer`): the
//! progress proof (business number, name, ID number) is posted by forms — the lookup, and the
//! progress page's refresh, notice and upload buttons, which carry it in hidden fields — and
//! every page that shows personal data or carries the proof is sent with
//! `Cache-Control: no-store` (`Referrer-Policy: no-referrer` is on every answer, see
//! `request_context`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use rand::RngCore;
use schemas::api::{ApplicantInput, ApplicationAnswer, Mode, ProgressView, SubmitApplication};
use schemas::ids::{BusinessNo, IdType, UnitCode};
use schemas::register::{ApplicationMaterialsView, Jurisdiction, MaterialFileView, RegistrationDetails};
use schemas::registration::{PartyRole, RegistrationKind};
use serde::Deserialize;

use super::ApiError;
use super::limits::{Class, client_ip};
use super::materials;
use crate::domain::material_files;
use crate::navigation::place_application;
use crate::state::AppState;

const CSRF_COOKIE: &str = "bdc_csrf";

struct Frame {
    node_title: String,
    node_level: String,
    node_id: String,
}

fn frame(state: &AppState) -> Frame {
    let divisions = schemas::divisions::Divisions::builtin();
    let place = divisions.full_name(&state.settings.division).unwrap_or_default();
    let (title, level) = match state.settings.mode {
        Mode::National => ("全国不动产登记信息平台".to_owned(), "国家级节点"),
        Mode::Province => (format!("{place}不动产登记平台"), "省级节点"),
        Mode::County => {
            let office = state.settings.offices.first().map(|o| o.name.clone()).unwrap_or(place);
            (office, "市县级节点")
        }
    };
    Frame { node_title: title, node_level: level.to_owned(), node_id: state.me.to_string() }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    node_title: String,
    node_level: String,
    node_id: String,
    csrf: String,
    /// The progress form's business number (empty on the home page).
    lookup_no: String,
    unit_code: String,
    kind: String,
    kinds: Vec<(&'static str, &'static str)>,
    jurisdictions: Vec<(String, &'static str)>,
    navigated: Option<String>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    node_title: String,
    node_level: String,
    node_id: String,
    heading: String,
    rows: Vec<(String, String)>,
    error: Option<String>,
}

/// `GET /progress` and `GET /notice`: the progress lookup form alone.
#[derive(Template)]
#[template(path = "lookup.html")]
struct Lookup {
    node_title: String,
    node_level: String,
    node_id: String,
    csrf: String,
    lookup_no: String,
    /// Why the request was refused (message, machine code).
    error: Option<(String, String)>,
    hint: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "redirect.html")]
struct Redirect {
    node_title: String,
    node_level: String,
    node_id: String,
    office: String,
    target: String,
}

#[derive(Template)]
#[template(path = "progress.html")]
struct Progress {
    node_title: String,
    node_level: String,
    node_id: String,
    business_no: String,
    state: String,
    due: Option<String>,
    steps: Vec<(String, String, String)>,
    certificates: Vec<String>,
    answered_by: String,
    /// The stage has a written notice: the page offers a button that posts the proof to
    /// `/notice`.
    has_notice: bool,
    /// The hidden fields of every form on the page (refresh, notice, uploads). The page does
    /// not reload itself: a reload could not prove the applicant again without these fields,
    /// and they must not go into a URL.
    proof: ProofFields,
    /// What the upload just posted from this page did.
    flash: Option<Flash>,
    /// The checklist and files, when this node hosts the application's office.
    materials: Option<MaterialsSection>,
    /// The office to upload at, when the stage takes materials but this node does not host it.
    materials_elsewhere: Option<String>,
}

/// The outcome of an upload, shown at the top of the progress page.
struct Flash {
    ok: bool,
    text: String,
    /// The machine code of a refusal.
    code: String,
}

/// The hidden fields of the progress page's forms: the CSRF token and the progress proof.
struct ProofFields {
    csrf: String,
    business_no: String,
    name: String,
    id_number: String,
}

/// 申请材料 on the progress page.
struct MaterialsSection {
    /// Upload forms are shown (submitted or awaiting 补正).
    open: bool,
    items: Vec<MaterialLine>,
    /// Names of the required items that hold no file.
    missing: Vec<String>,
    max_files: u32,
}

struct MaterialLine {
    id: String,
    name: String,
    required: bool,
    /// `pdf、ofd、jpg、png`
    formats: String,
    /// The file input's `accept` hint (the server tells the format by content).
    accept: String,
    max_size_mb: u32,
    files: Vec<FileLine>,
    /// The item holds as many files as it may.
    full: bool,
}

struct FileLine {
    format: String,
    size: String,
    at: String,
    by: &'static str,
}

#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage {
    node_title: String,
    node_level: String,
    node_id: String,
    notice: schemas::api::Notice,
    decided_on: String,
    due: Option<String>,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verify {
    node_title: String,
    node_level: String,
    node_id: String,
    valid: bool,
    reason: String,
    number: String,
    id: String,
    business_no: String,
    issuer: String,
    issued_at: String,
    key_id: String,
    answered_by: String,
    /// SVG of a QR code leading to this verification page (generated here, no user text inside).
    qr_svg: String,
    /// The 查验码, when one was given and is right: the page then links the documents.
    code: String,
    /// A 查验码 was given and is wrong.
    code_wrong: bool,
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    node_title: String,
    node_level: String,
    node_id: String,
    sheet: crate::documents::Sheet,
    code: String,
    qr_svg: String,
}

/// A QR code (SVG) for a URL.
fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(160, 160).build(),
        Err(_) => String::new(),
    }
}

fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(html),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError().content_type("text/plain; charset=utf-8").body("系统内部错误")
        }
    }
}

/// Keeps an answer out of every cache: it shows personal data or carries the progress proof in
/// hidden fields. (`Referrer-Policy: no-referrer` is already set on every answer by
/// `request_context`.)
fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    res
}

fn message(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    rows: Vec<(String, String)>,
    error: Option<String>,
) -> HttpResponse {
    let f = frame(state);
    render(
        status,
        &Message {
            node_title: f.node_title,
            node_level: f.node_level,
            node_id: f.node_id,
            heading: heading.into(),
            rows,
            error,
        },
    )
}

fn error_page(state: &AppState, e: &ApiError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(e);
    message(state, status, "无法办理", vec![("错误代码".into(), e.code.as_str())], Some(e.message.clone()))
}

/// The kinds one applicant can apply for alone on the portal (条例 Art. 14 single-party cases).
/// 转移, 抵押 and 预告 need both parties (共同申请) and 查封/解封 come from a court: they arrive
/// through the API (windows, banks, developers, courts), not this form.
const PORTAL_KINDS: &[RegistrationKind] = &[
    RegistrationKind::First,
    RegistrationKind::Change,
    RegistrationKind::Correction,
    RegistrationKind::Cancellation,
    RegistrationKind::Objection,
];

fn kinds() -> Vec<(&'static str, &'static str)> {
    PORTAL_KINDS.iter().map(|k| (k.as_str(), k.label_zh())).collect()
}

/// The 国家级登记事项 the apply form offers, in its wording; the value sent is the wire name.
const PORTAL_JURISDICTIONS: &[(Jurisdiction, &str)] = &[
    (Jurisdiction::StateCouncilSeaIsland, "国务院批准的项目用海、用岛"),
    (Jurisdiction::KeyStateForest, "国务院确定的重点国有林区"),
];

/// `state_council_sea_island`, as the JSON API spells it.
fn wire_name(j: Jurisdiction) -> String {
    serde_json::to_value(j).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn jurisdictions() -> Vec<(String, &'static str)> {
    PORTAL_JURISDICTIONS.iter().map(|(j, label)| (wire_name(*j), *label)).collect()
}

fn new_csrf() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The CSRF token of the browser's cookie, when it has a well-formed one.
fn csrf_from_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() == 32)
}

/// The token for a page's forms: the browser's own, or a new one (then set as its cookie).
fn csrf_token(req: &HttpRequest) -> String {
    csrf_from_cookie(req).unwrap_or_else(new_csrf)
}

fn csrf_refused() -> ApiError {
    ApiError::with_message(
        schemas::error::ErrorCode::Forbidden,
        "页面已过期或来源不明（CSRF 校验失败），请刷新后重新提交",
    )
}

fn csrf_cookie(state: &AppState, value: &str) -> Cookie<'static> {
    Cookie::build(CSRF_COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .finish()
}

/// The home page, optionally prefilled (link navigation lands here).
pub fn home_page(
    req: &HttpRequest,
    state: &AppState,
    unit_code: &str,
    kind: &str,
    navigated: Option<String>,
) -> HttpResponse {
    let csrf = csrf_token(req);
    let f = frame(state);
    let page = Home {
        node_title: f.node_title,
        node_level: f.node_level,
        node_id: f.node_id,
        csrf: csrf.clone(),
        lookup_no: String::new(),
        unit_code: unit_code.to_owned(),
        kind: kind.to_owned(),
        kinds: kinds(),
        jurisdictions: jurisdictions(),
        navigated,
    };
    let mut res = render(StatusCode::OK, &page);
    let _ = res.add_cookie(&csrf_cookie(state, &csrf));
    res
}

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    home_page(&req, &state, "", "first", None)
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(include_str!("../../static/site.css"))
}

#[derive(Debug, Deserialize)]
pub struct ApplyForm {
    csrf: String,
    unit_code: String,
    kind: String,
    location: Option<String>,
    name: String,
    id_type: String,
    id_number: String,
    phone: Option<String>,
    /// 国家级登记事项: empty, or a `details.jurisdiction` wire name.
    jurisdiction: Option<String>,
}

fn form_to_application(form: &ApplyForm) -> Result<SubmitApplication, ApiError> {
    use schemas::error::ErrorCode;
    let unit_code = UnitCode::parse(form.unit_code.trim())?;
    let kind = RegistrationKind::parse(&form.kind)
        .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "登记类型无效"))?;
    if !PORTAL_KINDS.contains(&kind) {
        return Err(ApiError::with_message(
            ErrorCode::InvalidField,
            format!("{}须双方共同申请或由人民法院嘱托，请到登记窗口或通过专用通道办理", kind.label_zh()),
        ));
    }
    let id_type: IdType = serde_json::from_value(serde_json::Value::String(form.id_type.clone()))
        .map_err(|_| ApiError::with_message(ErrorCode::InvalidField, "证件种类无效"))?;
    let phone = form.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
    let location = form.location.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
    // The claim is checked where every application is (`place_application`), as for the API.
    let jurisdiction = match form.jurisdiction.as_deref().map(str::trim).filter(|j| !j.is_empty()) {
        None => None,
        Some(wanted) => Some(
            PORTAL_JURISDICTIONS
                .iter()
                .map(|(j, _)| *j)
                .find(|j| wire_name(*j) == wanted)
                .ok_or_else(|| ApiError::with_message(ErrorCode::InvalidField, "国家级登记事项无效"))?,
        ),
    };
    Ok(SubmitApplication {
        unit_code,
        kind,
        applicants: vec![ApplicantInput {
            name: form.name.clone(),
            id_type,
            id_number: form.id_number.trim().to_owned(),
            phone,
            role: PartyRole::RightHolder,
            share: None,
        }],
        division: None,
        location,
        details: jurisdiction.map(|j| RegistrationDetails { jurisdiction: Some(j), ..RegistrationDetails::default() }),
    })
}

pub async fn apply(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<web::Form<ApplyForm>, actix_web::Error>,
) -> HttpResponse {
    use schemas::error::ErrorCode;
    let Ok(form) = form else {
        return error_page(&state, &ApiError::with_message(ErrorCode::InvalidRequest, "表单内容不完整"));
    };
    if csrf_from_cookie(&req).as_deref() != Some(form.csrf.as_str()) {
        return error_page(&state, &csrf_refused());
    }
    if let Err(e) = state.limiter.check(client_ip(&req), Class::Submit) {
        return error_page(&state, &e);
    }
    let application = match form_to_application(&form) {
        Ok(a) => a,
        Err(e) => return error_page(&state, &e),
    };
    let me = state.me.clone();
    match place_application(&state, application, me, None, &super::request_id(&req)).await {
        // A page rather than a 303: a form's redirect to another origin is outside `form-action`.
        Ok((ApplicationAnswer::Navigate(nav), _)) => {
            let f = frame(&state);
            let office = schemas::divisions::Divisions::builtin()
                .full_name(&nav.office)
                .unwrap_or_else(|| nav.office.to_string());
            render(
                StatusCode::OK,
                &Redirect {
                    node_title: f.node_title,
                    node_level: f.node_level,
                    node_id: f.node_id,
                    office,
                    target: nav.navigate_to,
                },
            )
        }
        Ok((ApplicationAnswer::Received(r), _)) => message(
            &state,
            StatusCode::OK,
            "申请已提交",
            vec![
                ("业务号".into(), r.business_no.to_string()),
                ("当前环节".into(), r.state.label_zh().into()),
                ("登记机构".into(), r.office.to_string()),
                (
                    "说明".into(),
                    "请凭业务号、申请人姓名和证件号码查询办理进度；受理、不予受理或补正通知将随进度推送。".into(),
                ),
            ],
            None,
        ),
        Ok((ApplicationAnswer::Queued(q), _)) => message(
            &state,
            StatusCode::ACCEPTED,
            "申请已受理排队",
            vec![
                ("受理凭证号".into(), q.ticket),
                ("登记机构".into(), q.office.to_string()),
                ("说明".into(), "登记机构暂时无法连接，申请已安全保存，恢复后将自动送达。".into()),
            ],
            None,
        ),
        Err(e) => error_page(&state, &e),
    }
}

/// The portal's progress and notice forms (`POST /progress`, `POST /notice`,
/// `application/x-www-form-urlencoded`): the CSRF token and the progress proof.
#[derive(Debug, Deserialize)]
pub struct ProofForm {
    csrf: Option<String>,
    business_no: Option<String>,
    name: Option<String>,
    id_number: Option<String>,
}

/// The checked fields of a posted progress or notice form: the apply form's CSRF double submit
/// (without the cookie the form is not read), the public-query rate limit, then the proof.
fn posted_proof(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: Result<web::Form<ProofForm>, actix_web::Error>,
) -> Result<(BusinessNo, String, String), ApiError> {
    use schemas::error::ErrorCode;
    let cookie = csrf_from_cookie(req).ok_or_else(csrf_refused)?;
    let form = form.map_err(|_| ApiError::with_message(ErrorCode::InvalidRequest, "表单内容不完整"))?.into_inner();
    if form.csrf.as_deref() != Some(cookie.as_str()) {
        return Err(csrf_refused());
    }
    state.limiter.check(client_ip(req), Class::PublicQuery)?;
    proof_fields(form.business_no, form.name, form.id_number)
}

/// The business number, name and ID number an applicant proves themselves with.
fn proof_fields(
    business_no: Option<String>,
    name: Option<String>,
    id_number: Option<String>,
) -> Result<(BusinessNo, String, String), ApiError> {
    use schemas::error::ErrorCode;
    let (Some(no), Some(name), Some(id)) = (business_no, name, id_number) else {
        return Err(ApiError::with_message(ErrorCode::InvalidField, "请填写业务号、申请人姓名和证件号码"));
    };
    let business_no = BusinessNo::parse(no.trim())?;
    if name.len() > 300 || id.len() > 64 {
        return Err(ApiError::new(ErrorCode::InvalidField));
    }
    Ok((business_no, name, id))
}

/// What the lookup form says when reached as `GET /notice`.
const NOTICE_HINT: &str = "书面告知须先查询办理进度，再在进度页面点击「查看、打印书面告知」。";

/// `GET /progress[?business_no=…]`: the lookup form alone, the business number prefilled when a
/// valid one is given.
pub async fn progress_lookup(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    lookup_page(&req, &state, None)
}

/// `GET /notice[?business_no=…]`: a notice is posted from the progress page; a GET gets the
/// lookup form with a hint saying so.
pub async fn notice_lookup(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    lookup_page(&req, &state, Some(NOTICE_HINT))
}

/// The lookup form for a GET. A query naming an applicant (`name` or `id_number`, whatever its
/// value, as the old GET form and links copied from it sent) is refused with 400
/// `personal_data_in_url`, showing the form again with at most the business number filled in:
/// - never a progress page or a notice: answering would keep such URLs working, and so keep ID
///   numbers in browser history, access logs, proxies and `Referer` headers;
/// - a refusal rather than the form silently dropping the fields: the person (or whoever built
///   the link — a bookmark, another site, a script) learns why nothing was looked up and that
///   the proof belongs in the form, and the 400 shows in monitoring, which records paths and
///   statuses but never query strings;
/// - the name and ID number are not echoed back into the page.
fn lookup_page(req: &HttpRequest, state: &AppState, hint: Option<&'static str>) -> HttpResponse {
    use schemas::error::ErrorCode;
    let (business_no, refusal) = match serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string()) {
        Ok(pairs) => {
            let no = pairs
                .iter()
                .find(|(k, _)| k == "business_no")
                .and_then(|(_, v)| BusinessNo::parse(v.trim()).ok())
                .map(|b| b.to_string());
            let refusal = pairs
                .iter()
                .any(|(k, _)| super::proof::PROOF_KEYS.contains(&k.as_str()))
                .then(|| ApiError::new(ErrorCode::PersonalDataInUrl));
            (no, refusal)
        }
        Err(_) => (None, Some(ApiError::with_message(ErrorCode::InvalidRequest, "网址中的参数无法解析"))),
    };
    let status = refusal.as_ref().map_or(StatusCode::OK, actix_web::ResponseError::status_code);
    let csrf = csrf_token(req);
    let f = frame(state);
    let page = Lookup {
        node_title: f.node_title,
        node_level: f.node_level,
        node_id: f.node_id,
        csrf: csrf.clone(),
        lookup_no: business_no.unwrap_or_default(),
        error: refusal.map(|e| (e.message, e.code.as_str())),
        hint,
    };
    // Not cached: the page carries this browser's CSRF token, and its URL may hold what it refuses.
    let mut res = no_store(render(status, &page));
    let _ = res.add_cookie(&csrf_cookie(state, &csrf));
    res
}

/// `POST /progress` (form: `csrf`, `business_no`, `name`, `id_number`): the progress page for an
/// applicant who proves themselves; posted by the lookup form and by the progress page's
/// 「刷新进度」 button.
pub async fn progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<web::Form<ProofForm>, actix_web::Error>,
) -> HttpResponse {
    let (business_no, name, id) = match posted_proof(&req, &state, form) {
        Ok(f) => f,
        Err(e) => return error_page(&state, &e),
    };
    match super::progress::lookup(&state, business_no, Some((name.clone(), id.clone())), false).await {
        Ok(view) => progress_page(&req, &state, view, &name, &id, None).await,
        Err(e) => error_page(&state, &e),
    }
}

/// `POST /progress/materials` (multipart/form-data: `csrf`, `business_no`, `name`, `id_number`,
/// `material_id`, `file`): the progress page's upload of one file to a checklist item. The CSRF
/// check is the apply form's; the applicant is proved again from the form's hidden fields (never
/// from the URL); the upload is the API's own (`materials::attach`). The answer is the progress
/// page saying what was stored, or why nothing was (with the refusal's status).
#[tracing::instrument(skip_all)]
pub async fn upload_material(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    // Without the cookie the form is not even read; reading it costs up to the largest file.
    let Some(cookie) = csrf_from_cookie(&req) else {
        return error_page(&state, &csrf_refused());
    };
    if let Err(e) = state.limiter.check(client_ip(&req), Class::Submit) {
        return error_page(&state, &e);
    }
    let upload = match materials::read_form(form).await {
        Ok(u) => u,
        Err(e) => return error_page(&state, &e),
    };
    if upload.csrf.as_deref() != Some(cookie.as_str()) {
        return error_page(&state, &csrf_refused());
    }
    let (business_no, name, id) = match proof_fields(upload.business_no, upload.proof.name, upload.proof.id_number) {
        Ok(f) => f,
        Err(e) => return error_page(&state, &e),
    };
    // The progress proof, as for the progress page: a wrong name or ID number stores nothing.
    let view = match super::progress::lookup(&state, business_no, Some((name.clone(), id.clone())), false).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, &e),
    };
    let material_id = upload.material_id.unwrap_or_default();
    let outcome = materials::attach_for_applicant(&req, &state, &view, &material_id, upload.file).await;
    progress_page(&req, &state, view, &name, &id, Some(outcome)).await
}

/// The progress page for an applicant who passed the progress proof with `name` and `id`, with
/// the outcome of an upload just posted from it.
async fn progress_page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    view: ProgressView,
    name: &str,
    id: &str,
    outcome: Option<Result<MaterialFileView, ApiError>>,
) -> HttpResponse {
    let (name, id) = (name.trim(), id.trim());
    let checklist = match materials::checklist(state, &view).await {
        Ok(c) => c,
        Err(e) => return error_page(state, &e),
    };
    let csrf = csrf_token(req);
    let status = match &outcome {
        Some(Err(e)) => actix_web::ResponseError::status_code(e),
        _ => StatusCode::OK,
    };
    let flash = outcome.map(|o| match o {
        Ok(file) => Flash {
            ok: true,
            text: format!(
                "已上传「{}」的文件（{}，{}），见下方申请材料清单。",
                checklist
                    .as_ref()
                    .and_then(|c| c.materials.iter().find(|m| m.id == file.material_id))
                    .map_or(file.material_id.as_str(), |m| m.name.as_str()),
                file.format,
                human_size(file.size_bytes)
            ),
            code: String::new(),
        },
        Err(e) => Flash { ok: false, text: e.message, code: e.code.as_str() },
    });
    let materials_elsewhere = (checklist.is_none() && material_files::may_attach(view.state))
        .then(|| super::progress::office_name(state, &view.office));
    let materials = checklist.map(materials_section);
    let has_notice = crate::domain::notices::notice(&view, "").is_some();
    let proof = ProofFields {
        csrf: csrf.clone(),
        business_no: view.business_no.to_string(),
        name: name.to_owned(),
        id_number: id.to_owned(),
    };
    let f = frame(state);
    // The page carries the proof in hidden fields: kept out of caches.
    let mut res = no_store(render(
        status,
        &Progress {
            has_notice,
            proof,
            flash,
            materials,
            materials_elsewhere,
            node_title: f.node_title,
            node_level: f.node_level,
            node_id: f.node_id,
            business_no: view.business_no.to_string(),
            state: view.state.label_zh().into(),
            due: view.due_date.map(|d| d.to_string()),
            steps: progress_steps(&view),
            certificates: view.certificate_ids.iter().map(|c| c.to_string()).collect(),
            answered_by: view.answered_by.to_string(),
        },
    ));
    let _ = res.add_cookie(&csrf_cookie(state, &csrf));
    res
}

fn progress_steps(view: &ProgressView) -> Vec<(String, String, String)> {
    view.steps
        .iter()
        .map(|s| (s.stage.label_zh().to_owned(), s.at.format("%Y-%m-%d %H:%M:%S").to_string(), s.notes.join("；")))
        .collect()
}

fn materials_section(view: ApplicationMaterialsView) -> MaterialsSection {
    let max_files = view.max_files_per_item;
    MaterialsSection {
        open: view.open_for_upload,
        missing: view.missing_required.into_iter().map(|m| m.name).collect(),
        max_files,
        items: view
            .materials
            .into_iter()
            .map(|m| MaterialLine {
                full: m.files.len() >= max_files as usize,
                formats: m.formats.join("、"),
                accept: m.formats.iter().map(|f| accept_hint(f)).collect::<Vec<_>>().join(","),
                files: m
                    .files
                    .iter()
                    .map(|f| FileLine {
                        format: f.format.clone(),
                        size: human_size(f.size_bytes),
                        at: f.uploaded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        by: if f.uploaded_by == "staff" { "登记机构工作人员" } else { "申请人" },
                    })
                    .collect(),
                id: m.id,
                name: m.name,
                required: m.required,
                max_size_mb: m.max_size_mb,
            })
            .collect(),
    }
}

/// The file chooser's hint for a format (names and types; the server reads the content).
fn accept_hint(format: &str) -> String {
    match format {
        "jpg" => ".jpg,.jpeg,image/jpeg".into(),
        other => match material_files::FileFormat::parse(other) {
            Some(f) => format!(".{other},{}", f.content_type()),
            None => format!(".{other}"),
        },
    }
}

/// `1.5 MB`, `12.0 KB`, `300 字节`.
fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    if bytes < KB {
        format!("{bytes} 字节")
    } else if bytes < KB * KB {
        format!("{:.1} KB", bytes as f64 / KB as f64)
    } else {
        format!("{:.1} MB", bytes as f64 / (KB * KB) as f64)
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    id: Option<String>,
    code: Option<String>,
}

/// `/certificate?id=…&code=…`: the printable certificate, for whoever shows its 查验码.
pub async fn certificate(req: HttpRequest, state: web::Data<AppState>, query: web::Query<VerifyForm>) -> HttpResponse {
    let q = query.into_inner();
    match super::documents::printable_sheet(&req, &state, q.id, q.code).await {
        Ok((sheet, code)) => {
            let f = frame(&state);
            // The certificate's content (holders, ID numbers) is personal data.
            no_store(render(
                StatusCode::OK,
                &CertificatePage {
                    node_title: f.node_title,
                    node_level: f.node_level,
                    node_id: f.node_id,
                    qr_svg: qr_svg(&sheet.verify_url),
                    sheet,
                    code,
                },
            ))
        }
        Err(e) => error_page(&state, &e),
    }
}

pub async fn verify(req: HttpRequest, state: web::Data<AppState>, query: web::Query<VerifyForm>) -> HttpResponse {
    use schemas::error::ErrorCode;
    if let Err(e) = state.limiter.check(super::limits::client_ip(&req), super::limits::Class::PublicQuery) {
        return error_page(&state, &e);
    }
    let q = query.into_inner();
    let Some(id) = q.id.filter(|i| !i.trim().is_empty() && i.len() <= 200) else {
        return error_page(&state, &ApiError::with_message(ErrorCode::InvalidCertificateId, "请填写电子证照标识"));
    };
    let id = id.trim().to_owned();
    let answer = super::certificates::verification(&state, id.clone()).await;
    // A 查验码 is checked only when given (one more read); a wrong one just hides the links.
    let code = match q.code.filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(
            super::certificates::load_with_code(&req, &state, id, Some(&c))
                .await
                .ok()
                .map(|_| c.trim().to_ascii_uppercase()),
        ),
        None => None,
    };
    verify_page(&state, answer, code)
}

/// Most bytes of an uploaded package (a real one is a few KiB).
const MAX_PACKAGE_BYTES: usize = 256 * 1024;

/// `POST /verify` (multipart/form-data, field `package`): verify an uploaded package file. It
/// changes nothing, so it needs no CSRF token.
pub async fn verify_upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    mut form: actix_multipart::Multipart,
) -> HttpResponse {
    use futures::StreamExt;
    use schemas::error::ErrorCode;
    if let Err(e) = state.limiter.check(super::limits::client_ip(&req), super::limits::Class::PublicQuery) {
        return error_page(&state, &e);
    }
    let mut file: Option<Vec<u8>> = None;
    while let Some(field) = form.next().await {
        let Ok(mut field) = field else {
            return error_page(&state, &ApiError::with_message(ErrorCode::InvalidRequest, "上传的表单无法解析"));
        };
        let wanted = field.name() == Some("package");
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let Ok(chunk) = chunk else {
                return error_page(&state, &ApiError::with_message(ErrorCode::InvalidRequest, "上传中断"));
            };
            if bytes.len() + chunk.len() > MAX_PACKAGE_BYTES {
                return error_page(
                    &state,
                    &ApiError::with_message(ErrorCode::PayloadTooLarge, "文件过大：证照包应小于 256 KiB"),
                );
            }
            bytes.extend_from_slice(&chunk);
        }
        if wanted {
            file = Some(bytes);
        }
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return error_page(&state, &ApiError::with_message(ErrorCode::InvalidRequest, "请选择要核验的证照包文件"));
    };
    let answer = super::certificates::package_verification(&state, &file).await;
    // Whoever holds a genuine package holds the signature, and so the 查验码.
    let code = answer.is_ok().then(|| {
        crate::domain::certificate_package::from_file(&file)
            .ok()
            .map(|p| crate::domain::certificate_access::access_code(&p.signature))
    });
    verify_page(&state, answer, code)
}

/// The verification page for an answer, or the error page saying why there is none.
/// The verification answer as a page; `code` is `None` when no 查验码 was given, `Some(None)`
/// when a wrong one was, `Some(Some(code))` when the right one was.
fn verify_page(
    state: &web::Data<AppState>,
    answer: Result<schemas::api::CertificateVerification, ApiError>,
    code: Option<Option<String>>,
) -> HttpResponse {
    match answer {
        Ok(v) => {
            let f = frame(state);
            render(
                StatusCode::OK,
                &Verify {
                    node_title: f.node_title,
                    node_level: f.node_level,
                    node_id: f.node_id,
                    valid: v.valid,
                    reason: v.reason,
                    number: v.number,
                    id: v.id.to_string(),
                    business_no: v.business_no.to_string(),
                    issuer: schemas::divisions::Divisions::builtin()
                        .full_name(&v.issuer)
                        .unwrap_or_else(|| v.issuer.to_string()),
                    issued_at: v.issued_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    qr_svg: qr_svg(&format!("{}/verify?id={}", state.public_url, v.id)),
                    code_wrong: matches!(code, Some(None)),
                    code: code.flatten().unwrap_or_default(),
                    key_id: v.key_id,
                    answered_by: v.answered_by.to_string(),
                },
            )
        }
        Err(e) => error_page(state, &e),
    }
}

/// `POST /notice` (form: `csrf`, `business_no`, `name`, `id_number`, posted by the progress
/// page's button): the printable written notice of the stage.
pub async fn notice(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Result<web::Form<ProofForm>, actix_web::Error>,
) -> HttpResponse {
    let (business_no, name, id) = match posted_proof(&req, &state, form) {
        Ok(f) => f,
        Err(e) => return error_page(&state, &e),
    };
    let view = match super::progress::lookup(&state, business_no, Some((name, id)), false).await {
        Ok(v) => v,
        Err(e) => return error_page(&state, &e),
    };
    let office_name = super::progress::office_name(&state, &view.office);
    let Some(notice) = crate::domain::notices::notice(&view, &office_name) else {
        return error_page(
            &state,
            &ApiError::with_message(schemas::error::ErrorCode::NotFound, "该办件当前环节没有书面告知"),
        );
    };
    let f = frame(&state);
    // Answers a proof: not cached.
    no_store(render(
        StatusCode::OK,
        &NoticePage {
            node_title: f.node_title,
            node_level: f.node_level,
            node_id: f.node_id,
            decided_on: notice.decided_at.format("%Y年%m月%d日").to_string(),
            due: notice.due_date.map(|d| d.format("%Y年%m月%d日").to_string()),
            notice,
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form(kind: &str) -> ApplyForm {
        ApplyForm {
            csrf: "0".repeat(32),
            unit_code: "320102003001GB00012F00010203".into(),
            kind: kind.into(),
            location: None,
            name: "张三".into(),
            id_type: "id_card".into(),
            id_number: "110101199003074477".into(),
            phone: None,
            jurisdiction: None,
        }
    }

    #[test]
    fn the_portal_takes_only_single_party_kinds() {
        assert_eq!(form_to_application(&form("first")).unwrap().kind, RegistrationKind::First);
        for joint in ["transfer", "mortgage", "advance_notice", "seizure", "release_seizure"] {
            let e = form_to_application(&form(joint)).unwrap_err();
            assert_eq!(e.code, schemas::error::ErrorCode::InvalidField, "{joint}");
            assert!(e.message.contains("共同申请"), "{joint}: {}", e.message);
        }
    }

    #[test]
    fn the_national_claim_maps_into_the_details_the_api_takes() {
        assert_eq!(form_to_application(&form("first")).unwrap().details, None);
        for (wire, want) in [
            ("state_council_sea_island", Jurisdiction::StateCouncilSeaIsland),
            ("key_state_forest", Jurisdiction::KeyStateForest),
        ] {
            let mut f = form("first");
            f.jurisdiction = Some(wire.into());
            let details = form_to_application(&f).unwrap().details.unwrap();
            assert_eq!(details, RegistrationDetails { jurisdiction: Some(want), ..RegistrationDetails::default() });
            // The same as the JSON API's `"details": {"jurisdiction": "…"}`.
            let api: RegistrationDetails = serde_json::from_value(serde_json::json!({"jurisdiction": wire})).unwrap();
            assert_eq!(details, api);
        }
        let mut none = form("first");
        none.jurisdiction = Some(" ".into());
        assert_eq!(form_to_application(&none).unwrap().details, None);
        let mut bad = form("first");
        bad.jurisdiction = Some("provincial_sea".into());
        let e = form_to_application(&bad).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (schemas::error::ErrorCode::InvalidField, "国家级登记事项无效"));
        assert_eq!(jurisdictions().len(), 2);
    }

    #[test]
    fn sizes_and_file_chooser_hints() {
        assert_eq!(human_size(300), "300 字节");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(20 * 1024 * 1024), "20.0 MB");
        assert_eq!(accept_hint("pdf"), ".pdf,application/pdf");
        assert_eq!(accept_hint("jpg"), ".jpg,.jpeg,image/jpeg");
        assert_eq!(accept_hint("ofd"), ".ofd,application/ofd");
    }
}
