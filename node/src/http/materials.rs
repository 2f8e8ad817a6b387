//! 申请材料 of an online application: the checklist with what was uploaded, uploads and downloads.
//! The applicant proves who they are as for progress (business number, an applicant's name and
//! ID number), in a POST body or the upload's form fields, never in the query string; staff of
//! the office use their session (GET; a clerk to upload or download). Files are
//! sealed with the data key; every upload and download is audited (item, file id, format, size —
//! never a name or number).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use federation::crypto::sm3_hex;
use futures::StreamExt;
use schemas::api::ProgressView;
use schemas::error::ErrorCode;
use schemas::ids::BusinessNo;
use schemas::register::{ApplicationMaterialsView, MaterialFileView, MaterialItemView, MissingMaterial};
use schemas::registration::{RegistrationKind, Stage};

use super::limits::{Class, client_ip};
use super::proof::{Proof, refuse_in_url};
use super::staff::{StaffSession, optional_staff, role_label};
use super::{ApiError, audit_refusal, blocking, request_id};
use crate::domain::material_files::{self, FileFormat, MAX_FILES_PER_ITEM, Refusal};
use crate::domain::materials;
use crate::state::AppState;
use crate::store;
use crate::store::applications::ApplicationRow;
use crate::store::audit;
use crate::store::materials::{FileRow, NewFile};

/// Who asks about an application's materials.
enum Who {
    Staff(StaffSession),
    Applicant,
}

impl Who {
    fn actor(&self) -> String {
        match self {
            Who::Staff(s) => s.actor(),
            Who::Applicant => "applicant".into(),
        }
    }
    fn audit_kind(&self) -> audit::Kind {
        match self {
            Who::Staff(_) => audit::Kind::Staff,
            Who::Applicant => audit::Kind::Applicant,
        }
    }
    fn uploaded_by(&self) -> &'static str {
        match self {
            Who::Staff(_) => "staff",
            Who::Applicant => "applicant",
        }
    }
}

/// The progress page's upload route (`pages::upload_material`), which posts the same form.
pub const PAGE_UPLOAD_PATH: &str = "/progress/materials";

/// A larger body limit for the upload routes (the API's and the progress page's) than for the
/// rest: the largest file the checklist takes plus room for the form around it.
pub fn body_limit(method: &Method, path: &str) -> Option<usize> {
    let upload = method == Method::POST
        && (path == PAGE_UPLOAD_PATH
            || path
                .strip_prefix("/api/v1/applications/")
                .and_then(|rest| rest.split_once("/materials/"))
                .is_some_and(|(no, item)| !no.contains('/') && !item.is_empty() && !item.contains('/')));
    upload.then(|| materials::largest_file_bytes() + 256 * 1024)
}

/// The application hosted here and who asks: staff of its office (with `role` when given) or
/// someone naming one of its applicants. A wrong name or ID number, an unknown number and
/// another office's application look the same (404). The caller has taken its rate-limit token.
async fn authorise(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    business_no: &BusinessNo,
    proof: Proof,
    role: Option<&str>,
) -> Result<(Who, ApplicationRow), ApiError> {
    let staff = optional_staff(req, state).await?;
    let credentials = proof.credentials();
    let who = match staff {
        Some(s) if s.office == business_no.division() => {
            if let Some(role) = role
                && s.role != role
            {
                return Err(ApiError::with_message(
                    ErrorCode::Forbidden,
                    format!("此操作需要「{}」角色", role_label(role)),
                ));
            }
            Who::Staff(s)
        }
        _ if credentials.is_some() => {
            super::progress::lookup(state, business_no.clone(), credentials, false).await?;
            Who::Applicant
        }
        // Staff of another office: nothing of this one exists for them.
        Some(_) => return Err(ApiError::new(ErrorCode::NotFound)),
        None => {
            return Err(ApiError::with_message(
                ErrorCode::InvalidField,
                "须在请求体（或上传表单字段）中提供申请人姓名和证件号码，或以本登记机构工作人员身份登录",
            ));
        }
    };
    Ok((who, hosted_row(state, business_no).await?))
}

/// The application's row, when its office is hosted here.
async fn hosted_row(state: &web::Data<AppState>, business_no: &BusinessNo) -> Result<ApplicationRow, ApiError> {
    if state.office(&business_no.division()).is_none() {
        return Err(ApiError::with_message(ErrorCode::NotFound, "申请材料由受理该办件的登记机构保存，请到该机构办理"));
    }
    let (db, no) = (state.db.clone(), business_no.clone());
    blocking(move || {
        let mut conn = db.conn()?;
        Ok(store::applications::get(&mut conn, no.as_str())?)
    })
    .await?
    .filter(|r| r.division == business_no.division().as_str())
    .ok_or_else(|| ApiError::new(ErrorCode::NotFound))
}

fn kind_and_stage(row: &ApplicationRow) -> Result<(RegistrationKind, Stage), ApiError> {
    Ok((
        RegistrationKind::parse(&row.kind).ok_or_else(|| ApiError::internal("kind"))?,
        Stage::parse(&row.state).ok_or_else(|| ApiError::internal("state"))?,
    ))
}

fn file_view(f: &FileRow) -> MaterialFileView {
    MaterialFileView {
        id: f.id,
        material_id: f.material_id.clone(),
        format: f.format.clone(),
        size_bytes: u64::try_from(f.size_bytes).unwrap_or(0),
        sm3: f.sm3.clone(),
        uploaded_at: f.uploaded_at.and_utc(),
        uploaded_by: f.uploaded_by.clone(),
    }
}

/// The checklist of the application's kind merged with its files.
fn materials_view(row: &ApplicationRow, files: &[FileRow]) -> Result<ApplicationMaterialsView, ApiError> {
    let (kind, stage) = kind_and_stage(row)?;
    let checklist = materials::for_kind(kind);
    let with_files: Vec<String> = files.iter().map(|f| f.material_id.clone()).collect();
    Ok(ApplicationMaterialsView {
        business_no: BusinessNo::parse(&row.business_no)?,
        kind,
        state: stage,
        open_for_upload: material_files::may_attach(stage),
        max_files_per_item: MAX_FILES_PER_ITEM as u32,
        missing_required: material_files::missing_required(&checklist, &with_files)
            .into_iter()
            .map(|m| MissingMaterial { id: m.id.clone(), name: m.name.clone() })
            .collect(),
        materials: checklist
            .iter()
            .map(|m| MaterialItemView {
                id: m.id.clone(),
                name: m.name.clone(),
                required: m.required,
                formats: m.formats.clone(),
                max_size_mb: m.max_size_mb,
                files: files.iter().filter(|f| f.material_id == m.id).map(file_view).collect(),
            })
            .collect(),
    })
}

/// `GET /api/v1/applications/{business_no}/materials` (a clerk of the office, with a session)
/// and `POST` with JSON `{"name", "id_number"}` (an applicant): the checklist with the files.
pub async fn list_materials(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proof = Proof::of_request(&req, &body)?;
    list(&req, &state, &path.into_inner(), proof).await
}

async fn list(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    business_no: &str,
    proof: Proof,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(req), Class::PublicQuery)?;
    let business_no = BusinessNo::parse(business_no)?;
    let (_, row) = authorise(req, state, &business_no, proof, None).await?;
    Ok(HttpResponse::Ok().json(load_view(state, row).await?))
}

/// The checklist merged with the files of an application.
async fn load_view(state: &web::Data<AppState>, row: ApplicationRow) -> Result<ApplicationMaterialsView, ApiError> {
    let db = state.db.clone();
    blocking(move || {
        let mut conn = db.conn()?;
        let files = store::materials::list(&mut conn, &row.division, &row.business_no)?;
        materials_view(&row, &files)
    })
    .await
}

/// The checklist and files for the progress page, whose `ProgressView` shows that the asker
/// passed the progress proof (`progress::lookup` with a name and ID number). `None` when the
/// application's office is not hosted here: its files stay with that office.
pub async fn checklist(
    state: &web::Data<AppState>,
    progress: &ProgressView,
) -> Result<Option<ApplicationMaterialsView>, ApiError> {
    let business_no = &progress.business_no;
    if state.office(&business_no.division()).is_none() {
        return Ok(None);
    }
    let row = hosted_row(state, business_no).await?;
    Ok(Some(load_view(state, row).await?))
}

/// What an upload form carried. The API takes the business number and item from its path and
/// ignores `csrf`, `business_no` and `material_id`; the progress page's form carries them.
pub struct Upload {
    pub file: Option<Vec<u8>>,
    pub proof: Proof,
    pub csrf: Option<String>,
    pub business_no: Option<String>,
    pub material_id: Option<String>,
}

fn form_error(message: &str) -> ApiError {
    ApiError::with_message(ErrorCode::InvalidRequest, message)
}

/// Read the form: `file` (up to the largest size any item takes, plus one byte to tell "too
/// large"), `name`, `id_number`, and the page form's `csrf`, `business_no` and `material_id`
/// (each up to 300 bytes).
pub async fn read_form(mut form: actix_multipart::Multipart) -> Result<Upload, ApiError> {
    let cap = materials::largest_file_bytes();
    let mut upload = Upload { file: None, proof: Proof::default(), csrf: None, business_no: None, material_id: None };
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|_| form_error("上传的表单无法解析（应为 multipart/form-data）"))?;
        let name = field.name().unwrap_or_default().to_owned();
        let limit = if name == "file" { cap + 1 } else { 300 };
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| form_error("上传中断"))?;
            if bytes.len() + chunk.len() > limit {
                if name == "file" {
                    return Err(ApiError::with_message(
                        ErrorCode::MaterialTooLarge,
                        format!("文件不能超过 {} MB", cap / (1024 * 1024)),
                    ));
                }
                return Err(ApiError::with_message(ErrorCode::InvalidField, "姓名、证件号码或其他表单字段过长"));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8(bytes.clone()).map_err(|_| form_error("姓名和证件号码应为 UTF-8 文本"));
        match name.as_str() {
            "file" => upload.file = Some(bytes),
            "name" => upload.proof.name = Some(text()?),
            "id_number" => upload.proof.id_number = Some(text()?),
            "csrf" => upload.csrf = Some(text()?),
            "business_no" => upload.business_no = Some(text()?),
            "material_id" => upload.material_id = Some(text()?),
            _ => {}
        }
    }
    Ok(upload)
}

fn refusal_error(refusal: &Refusal, item: &schemas::register::Material) -> ApiError {
    let code = match refusal {
        Refusal::Empty => ErrorCode::MaterialEmpty,
        Refusal::TooLarge { .. } => ErrorCode::MaterialTooLarge,
        Refusal::Unrecognised | Refusal::NotAccepted { .. } => ErrorCode::MaterialFormatRefused,
        Refusal::TooManyFiles => ErrorCode::MaterialFilesFull,
    };
    ApiError::with_message(code, refusal.message_zh(item))
}

fn closed(stage: Stage) -> ApiError {
    ApiError::with_message(
        ErrorCode::MaterialsClosed,
        format!("办件当前环节为「{}」，只能在受理前或补正期间上传申请材料", stage.label_zh()),
    )
}

/// `POST /api/v1/applications/{business_no}/materials/{material_id}` (multipart/form-data):
/// attach a file to one checklist item. Earlier files of the item are kept. An applicant's proof
/// is the form fields `name` and `id_number` (a query naming them is refused before the form is
/// read).
#[tracing::instrument(skip_all, fields(business_no = %path.0))]
pub async fn upload_material(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: actix_multipart::Multipart,
) -> Result<HttpResponse, ApiError> {
    refuse_in_url(&req)?;
    // Limited before the form is read: reading it costs up to the largest file.
    state.limiter.check(client_ip(&req), Class::Submit)?;
    let (business_no, material_id) = path.into_inner();
    let business_no = BusinessNo::parse(&business_no)?;
    let upload = read_form(form).await?;
    let view = attach(&req, &state, &business_no, &material_id, upload.proof, upload.file).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Attach a file to one checklist item, for a clerk of the office or an applicant proving who
/// they are: who asks, then the item, the stage and the file, then seal, store and audit (a
/// refusal after authorisation is audited too). The API and the progress page both upload here.
/// The caller has taken its rate-limit token.
pub async fn attach(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    business_no: &BusinessNo,
    material_id: &str,
    proof: Proof,
    file: Option<Vec<u8>>,
) -> Result<MaterialFileView, ApiError> {
    let (who, row) = authorise(req, state, business_no, proof, Some("clerk")).await?;
    store_audited(req, state, &who, row, material_id, file).await
}

/// [`attach`] for the progress page, whose `ProgressView` shows that the applicant passed the
/// progress proof (`progress::lookup` with a name and ID number: one slow hash check, not two).
pub async fn attach_for_applicant(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    progress: &ProgressView,
    material_id: &str,
    file: Option<Vec<u8>>,
) -> Result<MaterialFileView, ApiError> {
    let row = hosted_row(state, &progress.business_no).await?;
    store_audited(req, state, &Who::Applicant, row, material_id, file).await
}

/// Check, seal, store and audit an upload by someone authorised; a refusal is audited too.
async fn store_audited(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    who: &Who,
    row: ApplicationRow,
    material_id: &str,
    file: Option<Vec<u8>>,
) -> Result<MaterialFileView, ApiError> {
    let business_no = BusinessNo::parse(&row.business_no)?;
    let rid = request_id(req);
    let actor = who.actor();
    let result = store_upload(state, who, row, material_id, file, &rid).await;
    let view = audit_refusal(state, &actor, "material_upload", Some(&business_no), &rid, result).await?;
    tracing::info!(material = %view.material_id, file_id = view.id, size = view.size_bytes, "material uploaded");
    Ok(view)
}

async fn store_upload(
    state: &web::Data<AppState>,
    who: &Who,
    row: ApplicationRow,
    material_id: &str,
    file: Option<Vec<u8>>,
    request_id: &str,
) -> Result<MaterialFileView, ApiError> {
    let (kind, stage) = kind_and_stage(&row)?;
    let item = materials::item(kind, material_id).ok_or_else(|| {
        ApiError::with_message(
            ErrorCode::UnknownMaterial,
            format!(
                "{}的申请材料清单中没有此项材料（见 GET /api/v1/materials?kind={}）",
                kind.label_zh(),
                kind.as_str()
            ),
        )
    })?;
    if !material_files::may_attach(stage) {
        return Err(closed(stage));
    }
    let file =
        file.ok_or_else(|| ApiError::with_message(ErrorCode::MaterialEmpty, "请在表单字段 file 中选择要上传的文件"))?;
    let format = material_files::check(&item, &file, 0).map_err(|r| refusal_error(&r, &item))?;
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let (kind_label, uploaded_by, actor, audit_kind) =
        (kind.as_str(), who.uploaded_by(), who.actor(), who.audit_kind());
    let request_id = request_id.to_owned();
    blocking(move || {
        // Hash and seal before taking the writer: both take time on a large file.
        let sm3 = sm3_hex(&file);
        let context = store::materials::context(&row.business_no, &item.id, &sm3);
        let sealed = sealer.seal_file(&file, &context);
        let size = i64::try_from(file.len()).map_err(|_| ApiError::internal("size"))?;
        drop(file);
        let stored = db.write(|conn| {
            // The stage and the count again, inside the write: a 受理 or another upload may have
            // come between.
            let now = store::applications::get(conn, &row.business_no)?
                .and_then(|r| Stage::parse(&r.state))
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
            if !material_files::may_attach(now) {
                return Err(closed(now));
            }
            let held = store::materials::count_for_item(conn, &row.division, &row.business_no, &item.id)?;
            if held >= MAX_FILES_PER_ITEM as i64 {
                return Err(refusal_error(&Refusal::TooManyFiles, &item));
            }
            let stored = store::materials::insert(
                conn,
                &NewFile {
                    division: &row.division,
                    business_no: &row.business_no,
                    material_id: &item.id,
                    format: format.as_str(),
                    size_bytes: size,
                    sm3: &sm3,
                    content: &sealed,
                    uploaded_by,
                    uploaded_at: Utc::now().naive_utc(),
                },
            )?;
            audit::append(
                conn,
                &audit::Entry::new(&row.division, &actor, audit_kind, "material_upload", &request_id)
                    .business(&row.business_no)
                    .detail(format!(
                        "kind={kind_label} material={} file={} format={} size={size} sm3={sm3}",
                        item.id,
                        stored.id,
                        format.as_str()
                    )),
            )?;
            Ok::<_, ApiError>(stored)
        })?;
        Ok(file_view(&stored))
    })
    .await
}

/// `GET /api/v1/applications/{business_no}/materials/{material_id}/files/{file_id}` (a clerk of
/// the office, with a session) and `POST` with JSON `{"name", "id_number"}` (an applicant): the
/// file as uploaded.
pub async fn download_material(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proof = Proof::of_request(&req, &body)?;
    download(&req, &state, path.into_inner(), proof).await
}

/// The file as uploaded. Audited before anything is sent: no audit record, no file.
async fn download(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    (business_no, material_id, file_id): (String, String, String),
    proof: Proof,
) -> Result<HttpResponse, ApiError> {
    state.limiter.check(client_ip(req), Class::PublicQuery)?;
    let business_no = BusinessNo::parse(&business_no)?;
    let file_id: i64 = file_id.parse().map_err(|_| ApiError::with_message(ErrorCode::NotFound, "没有这个文件"))?;
    let (who, row) = authorise(req, state, &business_no, proof, Some("clerk")).await?;
    let (db, sealer) = (state.db.clone(), state.sealer.clone());
    let entry = audit::Entry::new(&row.division, &who.actor(), who.audit_kind(), "material_download", &request_id(req))
        .business(&row.business_no);
    let (stored, bytes) = blocking(move || {
        let found = {
            let mut conn = db.conn()?;
            store::materials::get_with_content(&mut conn, &row.division, &row.business_no, &material_id, file_id)?
        };
        let (stored, sealed) = found.ok_or_else(|| ApiError::with_message(ErrorCode::NotFound, "没有这个文件"))?;
        let context = store::materials::context(&stored.business_no, &stored.material_id, &stored.sm3);
        let bytes = sealer.open_file(&sealed, &context).map_err(|e| ApiError::internal(e.to_string()))?;
        if sm3_hex(&bytes) != stored.sm3 {
            return Err(ApiError::internal("a stored material does not match its SM3"));
        }
        let entry =
            entry.detail(format!("material={} file={} format={}", stored.material_id, stored.id, stored.format));
        db.write(|c| audit::append(c, &entry).map_err(ApiError::from))?;
        Ok((stored, bytes))
    })
    .await?;
    let format = FileFormat::parse(&stored.format).ok_or_else(|| ApiError::internal("stored format"))?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}-{}.{}\"", stored.material_id, stored.id, format.as_str()),
        ))
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-bdc-sm3", stored.sm3.clone()))
        .body(bytes))
}
