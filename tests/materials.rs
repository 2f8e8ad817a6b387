//! 申请材料 uploads (issue #3, item 2): an applicant attaches files to the checklist items of an
//! online application, proving who they are as for progress; the office's clerk lists and
//! downloads them; formats are told by content; nothing is stored in clear; acceptance names the
//! required items still missing. Runs on PostgreSQL too when TEST_PG_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const ME: (&str, &str) = ("张三", "110101199003074477");
const MARKER: &str = "MATERIAL-PLAINTEXT-MARKER-7f3a";

/// (item, file name, bytes, proof, staff token, status, code) of an upload that must be refused.
type RefusedUpload<'a> = (&'a str, &'a str, Vec<u8>, Option<(&'a str, &'a str)>, Option<&'a str>, u16, &'a str);

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn file_ids(list: &Value, item: &str) -> Vec<i64> {
    let items = list["materials"].as_array().unwrap();
    let it = items.iter().find(|m| m["id"] == item).unwrap();
    it["files"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

fn missing(list: &Value) -> Vec<String> {
    list["missing_required"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applicants_attach_materials_and_the_office_reads_them() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let list_path = format!("/api/v1/applications/{no}/materials");
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let auditor = fed.login(XUANWU, "xuanwu-auditor").await;

    // The checklist of a 首次登记, nothing uploaded: every required item is missing.
    let (status, _, body) = fed.fetch_raw(XUANWU, &list_path, Some(ME), None).await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{list}");
    assert_eq!((list["state"].as_str(), list["open_for_upload"].as_bool()), (Some("submitted"), Some(true)));
    assert_eq!(missing(&list), ["application_form", "identity", "land_title", "planning", "completion", "survey"]);

    // Uploads of each format, by the applicant and by the clerk.
    let pdf = files::pdf(MARKER);
    let (status, up) = fed.upload_material(XUANWU, &no, "application_form", "申请书.pdf", &pdf, Some(ME), None).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!((up["format"].as_str(), up["size_bytes"].as_u64()), (Some("pdf"), Some(pdf.len() as u64)));
    assert_eq!(up["sm3"].as_str(), Some(federation::crypto::sm3_hex(&pdf).as_str()));
    assert_eq!(up["uploaded_by"], "applicant");
    let pdf_id = up["id"].as_i64().unwrap();
    // The name of a file says nothing: a PNG called .pdf is a PNG, a JPEG called .png a JPEG.
    let (status, up) = fed.upload_material(XUANWU, &no, "identity", "front.pdf", &files::png(), Some(ME), None).await;
    assert_eq!((status, up["format"].as_str()), (201, Some("png")), "{up}");
    let (status, up) = fed.upload_material(XUANWU, &no, "identity", "back.png", &files::jpg(), Some(ME), None).await;
    assert_eq!((status, up["format"].as_str()), (201, Some("jpg")), "{up}");
    let (status, up) =
        fed.upload_material(XUANWU, &no, "land_title", "权属.ofd", &files::ofd(), None, Some(clerk.as_str())).await;
    assert_eq!((status, up["format"].as_str(), up["uploaded_by"].as_str()), (201, Some("ofd"), Some("staff")), "{up}");

    let (_, list) = fed.get_as(XUANWU, &clerk, &list_path).await;
    assert_eq!(file_ids(&list, "identity").len(), 2, "both pages are kept: {list}");
    assert_eq!(file_ids(&list, "application_form"), [pdf_id]);
    assert_eq!(missing(&list), ["planning", "completion", "survey"]);
    let form = &list["materials"][0];
    assert_eq!((form["name"].as_str(), form["required"].as_bool()), (Some("不动产登记申请书"), Some(true)));
    assert_eq!(form["files"][0]["sm3"].as_str(), Some(federation::crypto::sm3_hex(&pdf).as_str()));

    // Refusals, each with its code, and nothing stored by any of them.
    let stored = fed.count(XUANWU, "application_materials");
    assert_eq!(stored, 4);
    let wrong = ("张三", "11010519491231002X");
    let cases: Vec<RefusedUpload> = vec![
        // Proof as progress asks it: a wrong ID number looks like an unknown business.
        ("identity", "a.pdf", files::pdf("x"), Some(wrong), None, 404, "not_found"),
        ("identity", "a.pdf", files::pdf("x"), None, None, 400, "invalid_field"),
        // An auditor does no registration work.
        ("identity", "a.pdf", files::pdf("x"), None, Some(auditor.as_str()), 403, "forbidden"),
        // PNG bytes named .pdf for an item taking only PDF and OFD (tax receipts).
        ("tax", "完税凭证.pdf", files::png(), Some(ME), None, 422, "material_format_refused"),
        ("identity", "id.pdf", files::exe(), Some(ME), None, 422, "material_format_refused"),
        ("identity", "id.ofd", files::zip_with(&["word/document.xml"]), Some(ME), None, 422, "material_format_refused"),
        ("identity", "empty.pdf", vec![], Some(ME), None, 400, "material_empty"),
        ("nonsense", "a.pdf", files::pdf("x"), Some(ME), None, 404, "unknown_material"),
    ];
    for (item, name, bytes, proof, token, want_status, want_code) in cases {
        let (status, body) = fed.upload_material(XUANWU, &no, item, name, &bytes, proof, token).await;
        assert_eq!((status, body["error"].as_str()), (want_status, Some(want_code)), "{item} {name}: {body}");
        assert!(!body["message"].as_str().unwrap_or_default().is_empty());
    }
    // One byte over the item's 20 MiB.
    let mut big = files::pdf("big");
    big.resize(20 * 1024 * 1024 + 1, b' ');
    let (status, body) = fed.upload_material(XUANWU, &no, "survey", "big.pdf", &big, Some(ME), None).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("material_too_large")), "{body}");
    assert_eq!(fed.count(XUANWU, "application_materials"), stored, "refusals store nothing");
    // The materials stay with the office: an upper node has none to show.
    let (status, _, _) = fed.fetch_raw(NATION, &list_path, Some(ME), None).await;
    assert_eq!(status, 404);
    let (status, _, _) = fed.fetch_raw(XUANWU, &list_path, Some(wrong), None).await;
    assert_eq!(status, 404);

    // Downloads: identical bytes, right type, for the applicant and the clerk.
    let file_path = format!("/api/v1/applications/{no}/materials/application_form/files/{pdf_id}");
    let (status, content_type, bytes) = fed.fetch_raw(XUANWU, &file_path, Some(ME), None).await;
    assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
    assert_eq!(bytes, pdf);
    let (status, _, bytes) = fed.fetch_raw(XUANWU, &file_path, None, Some(clerk.as_str())).await;
    assert_eq!(status, 200);
    assert_eq!(federation::crypto::sm3_hex(&bytes), federation::crypto::sm3_hex(&pdf));
    let ofd_id = file_ids(&list, "land_title")[0];
    let ofd_path = format!("/api/v1/applications/{no}/materials/land_title/files/{ofd_id}");
    let (status, content_type, bytes) = fed.fetch_raw(XUANWU, &ofd_path, None, Some(clerk.as_str())).await;
    assert_eq!((status, content_type.as_str(), bytes), (200, "application/ofd", files::ofd()));
    for (path, proof, token, want) in [
        (file_path.clone(), Some(wrong), None, 404),
        (file_path.clone(), None, None, 400),
        (file_path.clone(), None, Some(auditor.as_str()), 403),
        // A file is found only under its own item and application.
        (format!("/api/v1/applications/{no}/materials/identity/files/{pdf_id}"), Some(ME), None, 404),
        (format!("/api/v1/applications/{no}/materials/application_form/files/999999"), Some(ME), None, 404),
        (format!("/api/v1/applications/{no}/materials/application_form/files/x"), Some(ME), None, 404),
    ] {
        let (status, _, body) = fed.fetch_raw(XUANWU, &path, proof, token).await;
        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(!contains(&body, MARKER));
    }

    // An item holds at most ten files.
    for n in 1..10 {
        let (status, body) = fed
            .upload_material(XUANWU, &no, "application_form", "p.pdf", &files::pdf(&n.to_string()), Some(ME), None)
            .await;
        assert_eq!(status, 201, "{n}: {body}");
    }
    let (status, body) =
        fed.upload_material(XUANWU, &no, "application_form", "p.pdf", &files::pdf("11"), Some(ME), None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("material_files_full")), "{body}");

    // 补正: the clerk asks for the completion papers; the applicant uploads them while 补正 is
    // asked, and the resubmitted application carries them.
    let (status, view) =
        fed.act(XUANWU, &clerk, &no, json!({"action": "request_correction", "missing": ["房屋已经竣工的材料"]})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("correction_requested")), "{view}");
    let (status, up) =
        fed.upload_material(XUANWU, &no, "completion", "竣工.pdf", &files::pdf("done"), Some(ME), None).await;
    assert_eq!(status, 201, "{up}");
    let (status, _) = fed.act(XUANWU, &clerk, &no, json!({"action": "resubmit"})).await;
    assert_eq!(status, 200);

    // 受理: a warning (not a block) naming the required items still missing.
    let (status, view) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("accepted")), "{view}");
    let trace = view["rule_trace"].as_array().unwrap();
    let warn = trace.iter().find(|t| t["rule"] == "required-materials-uploaded").expect("the rule ran");
    assert_eq!((warn["passed"].as_bool(), warn["severity"].as_str()), (Some(false), Some("warn")), "{warn}");
    let message = warn["message"].as_str().unwrap();
    assert!(message.contains("建设工程符合规划的材料") && message.contains("房地产调查或者测绘报告"), "{message}");
    assert!(!message.contains("房屋已经竣工的材料") && !message.contains("申请人身份证明"), "{message}");

    // After 受理 the file set is part of the record.
    let (status, body) = fed.upload_material(XUANWU, &no, "survey", "s.pdf", &files::pdf("late"), Some(ME), None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("materials_closed")), "{body}");
    let (_, list) = fed.get_as(XUANWU, &clerk, &list_path).await;
    assert_eq!((list["state"].as_str(), list["open_for_upload"].as_bool()), (Some("accepted"), Some(false)));
    assert_eq!(missing(&list), ["planning", "survey"]);
    let (status, _, bytes) = fed.fetch_raw(XUANWU, &file_path, Some(ME), None).await;
    assert_eq!((status, bytes == pdf), (200, true), "still downloadable");

    // Every upload and download is in the audit log, with no personal data in it.
    let (status, records) = fed.get_as(XUANWU, &auditor, &format!("/api/v1/audit?business_no={no}")).await;
    assert_eq!(status, 200, "{records}");
    let records = records.as_array().unwrap();
    let count = |action: &str, outcome: &str| {
        records.iter().filter(|r| r["action"] == action && r["outcome"] == outcome).count()
    };
    assert_eq!(count("material_upload", "ok"), 4 + 9 + 1, "{records:?}");
    assert!(count("material_upload", "refused") >= 4, "format, size, count and stage refusals are audited");
    assert!(count("material_download", "ok") >= 4);
    let text = serde_json::to_string(records).unwrap();
    for secret in ["张三", "110101199003074477", MARKER] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }

    // At rest the files are sealed: the marker inside the PDF is nowhere in the database.
    let on_pg = fed.county_on_pg;
    let pg_url = fed.settings[XUANWU].database.url.clone();
    let county_dir = fed.data_dir(XUANWU);
    let _kept = fed.shutdown_keeping_data().await;
    let mut scanned = 0;
    for entry in std::fs::read_dir(&county_dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(!contains(&bytes, MARKER), "the material in plaintext in {}", entry.path().display());
        scanned += usize::from(entry.path().extension().is_some_and(|e| e == "db"));
    }
    if on_pg {
        let dump = std::process::Command::new("pg_dump").arg(&pg_url).output().expect("pg_dump");
        assert!(dump.status.success(), "{dump:?}");
        assert!(contains(&dump.stdout, "application_materials"));
        assert!(!contains(&dump.stdout, MARKER), "the material in plaintext in PostgreSQL");
    } else {
        assert_eq!(scanned, 1, "the county's SQLite file was scanned");
    }
}

/// The hidden fields of the progress page's upload form for `item`, as the page fills them.
fn page_fields<'a>(
    csrf: &'a str,
    no: &'a str,
    (name, id): (&'a str, &'a str),
    item: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![("csrf", csrf), ("business_no", no), ("name", name), ("id_number", id), ("material_id", item)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_progress_page_lists_the_checklist_and_takes_uploads() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let list_path = format!("/api/v1/applications/{no}/materials");
    let csrf = fed.portal_csrf(XUANWU).await;

    // The checklist of a 首次登记 on the office's progress page, an upload form per item, each
    // carrying the proof in hidden fields of a POST form (never in a URL), the page kept out of
    // caches and never reloading itself.
    let (status, headers, page) = fed.applicant_page(XUANWU, "/progress", &no, ME, &csrf).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"materials\""), "{page}");
    for name in ["不动产登记申请书", "申请人身份证明", "房地产调查或者测绘报告", "相关税费缴纳凭证"]
    {
        assert!(page.contains(name), "{name} missing: {page}");
    }
    assert!(page.contains("必交") && page.contains("选交"));
    assert!(page.contains("格式：pdf、ofd · 每个文件不超过 20 MB"), "the tax receipt's formats");
    assert!(page.contains("id=\"missing\""), "required items still missing are named");
    assert_eq!(
        page.matches("method=\"post\" action=\"/progress/materials\" enctype=\"multipart/form-data\"").count(),
        7
    );
    // The seven upload forms and the 「刷新进度」 button (no notice while only submitted).
    assert_eq!(page.matches(&format!("name=\"csrf\" value=\"{csrf}\"")).count(), 8);
    assert!(!page.contains("http-equiv=\"refresh\""));
    assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert!(page.contains("尚未上传的必交材料：不动产登记申请书、申请人身份证明、"), "{page}");

    // An upload through the page form: stored as the API stores it, listed by the API.
    let pdf = files::pdf("from the progress page");
    let (status, page) = fed
        .upload_on_progress_page(
            XUANWU,
            Some(&csrf),
            &page_fields(&csrf, &no, ME, "application_form"),
            ("申请书.pdf", &pdf),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"upload-ok\""), "{page}");
    assert!(page.contains("已上传「不动产登记申请书」的文件（pdf，"), "{page}");
    assert!(page.contains("id=\"materials\"") && page.contains("pdf · "), "the page lists the file: {page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "a posted page must not reload itself");
    let (status, _, body) = fed.fetch_raw(XUANWU, &list_path, Some(ME), None).await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{list}");
    let files = list["materials"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{list}");
    assert_eq!(files[0]["sm3"].as_str(), Some(federation::crypto::sm3_hex(&pdf).as_str()));
    assert_eq!((files[0]["uploaded_by"].as_str(), files[0]["format"].as_str()), (Some("applicant"), Some("pdf")));
    assert!(!missing(&list).contains(&"application_form".to_owned()));
    let stored = fed.count(XUANWU, "application_materials");
    assert_eq!(stored, 1);

    // Refusals: nothing stored by any of them.
    let other = "f".repeat(32);
    // A token that is not the cookie's (a form posted from elsewhere), or no cookie at all.
    let (status, page) = fed
        .upload_on_progress_page(XUANWU, Some(&other), &page_fields(&csrf, &no, ME, "identity"), ("id.pdf", &pdf))
        .await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("CSRF"), "{page}");
    let (status, page) =
        fed.upload_on_progress_page(XUANWU, None, &page_fields(&csrf, &no, ME, "identity"), ("id.pdf", &pdf)).await;
    assert_eq!(status, 403, "{page}");
    // A wrong ID number: the progress proof fails, as on the progress page.
    let wrong = ("张三", "11010519491231002X");
    let (status, page) = fed
        .upload_on_progress_page(XUANWU, Some(&csrf), &page_fields(&csrf, &no, wrong, "identity"), ("id.pdf", &pdf))
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("未找到与业务号、姓名和证件号码相符的办件"), "{page}");
    assert!(!page.contains("id=\"materials\""));
    // PNG bytes named .pdf for the tax receipt (PDF or OFD only): the progress page again, with
    // the refusal in Chinese and its code.
    let (status, page) = fed
        .upload_on_progress_page(
            XUANWU,
            Some(&csrf),
            &page_fields(&csrf, &no, ME, "tax"),
            ("完税凭证.pdf", &files::png()),
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"upload-error\""), "{page}");
    assert!(page.contains("文件内容为 png，「相关税费缴纳凭证」只接受 pdf、ofd"), "{page}");
    assert!(page.contains("material_format_refused") && page.contains("id=\"materials\""), "{page}");
    // An item not on the checklist, and an empty file.
    let (status, page) = fed
        .upload_on_progress_page(XUANWU, Some(&csrf), &page_fields(&csrf, &no, ME, "nonsense"), ("a.pdf", &pdf))
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("unknown_material"), "{page}");
    let (status, page) = fed
        .upload_on_progress_page(XUANWU, Some(&csrf), &page_fields(&csrf, &no, ME, "identity"), ("a.pdf", b""))
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("上传的文件为空"), "{page}");
    assert_eq!(fed.count(XUANWU, "application_materials"), stored, "refusals store nothing");
    let (_, _, body) = fed.fetch_raw(XUANWU, &list_path, Some(ME), None).await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert!(file_ids(&list, "identity").is_empty() && file_ids(&list, "tax").is_empty(), "{list}");

    // An upper node has no materials to show: it says where to upload, and offers no form.
    let page = eventually("the progress at the nation", std::time::Duration::from_secs(15), || async {
        let (status, _, page) = fed.applicant_page(NATION, "/progress", &no, ME, &csrf).await;
        (status == 200).then_some(page)
    })
    .await;
    assert!(page.contains("id=\"materials-elsewhere\"") && page.contains("玄武区"), "{page}");
    assert!(!page.contains("/progress/materials") && !page.contains("type=\"file\""), "no upload form: {page}");

    // After 受理 the page lists what was handed in, offers no upload, and refuses one posted anyway.
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, _) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 200);
    let (_, _, page) = fed.applicant_page(XUANWU, "/progress", &no, ME, &csrf).await;
    assert!(page.contains("id=\"materials\"") && page.contains("pdf · "), "{page}");
    assert!(!page.contains("/progress/materials") && !page.contains("type=\"file\""), "no upload form: {page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "no page reloads itself: {page}");
    let (status, page) =
        fed.upload_on_progress_page(XUANWU, Some(&csrf), &page_fields(&csrf, &no, ME, "survey"), ("s.pdf", &pdf)).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("materials_closed") && page.contains("只能在受理前或补正期间上传申请材料"), "{page}");
    assert_eq!(fed.count(XUANWU, "application_materials"), stored);
    fed.shutdown().await;
}
