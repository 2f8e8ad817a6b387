//! The portal never puts an applicant's name or ID number in a URL (browser history, access logs,
//! proxies, `Referer`): progress and notices are posted forms with the CSRF double submit; a GET
//! naming an applicant is refused and shows no progress; pages that show personal data or carry
//! the proof are kept out of caches and send no referrer. Runs on PostgreSQL too when TEST_PG_URL
//! is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const NAME: &str = "张三";
const ID: &str = "110101199003074477";
const ME: (&str, &str) = (NAME, ID);

/// What every portal answer must hold to: no URL carrying the proof, no self-reload, and the ID
/// number (when the page has it at all) only in the value of an `id_number` hidden field.
fn assert_no_proof_in_urls(what: &str, html: &str) {
    for bad in ["id_number=", "id_number%3D", "?name=", "&name=", "&amp;name=", "http-equiv=\"refresh\""] {
        assert!(!html.contains(bad), "{what}: {bad} in the page:\n{html}");
    }
    let hidden = html.matches(&format!("type=\"hidden\" name=\"id_number\" value=\"{ID}\"")).count();
    assert_eq!(html.matches(ID).count(), hidden, "{what}: the ID number outside a hidden field:\n{html}");
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
fn assert_private(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(header(headers, "cache-control"), Some("no-store"), "{what}");
    assert_eq!(header(headers, "referrer-policy"), Some("no-referrer"), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn progress_and_notices_are_posted_never_asked_for_in_a_url() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, view) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 200, "{view}");
    let csrf = fed.portal_csrf(XUANWU).await;

    // The home page's lookup form posts, with the CSRF token.
    let (status, _, home) = fed.page(XUANWU, "/", Some(&csrf)).await;
    assert_eq!(status, 200);
    assert!(home.contains("<form method=\"post\" action=\"/progress\" id=\"progress\">"), "{home}");
    assert!(!home.contains("method=\"get\" action=\"/progress\""), "{home}");
    assert_no_proof_in_urls("home", &home);

    // GET /progress is the lookup form alone, the business number prefilled when given.
    let (status, headers, page) = fed.page(XUANWU, "/progress", None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/progress\"") && page.contains("name=\"csrf\""), "{page}");
    assert!(!page.contains("id=\"steps\""));
    assert_private("the lookup form", &headers);
    let (status, _, page) = fed.page(XUANWU, &format!("/progress?business_no={no}"), Some(&csrf)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("name=\"business_no\" required maxlength=\"30\" value=\"{no}\"")), "{page}");
    assert!(page.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "the browser's own token: {page}");
    assert!(!page.contains("id=\"steps\"") && !page.contains("id=\"error\""), "{page}");
    let (status, _, page) = fed.page(XUANWU, "/notice", Some(&csrf)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"hint\"") && page.contains("action=\"/progress\""), "{page}");

    // A GET naming the applicant — even rightly, with the cookie — never shows progress or a
    // notice: 400 personal_data_in_url, the form again, nothing echoed.
    let query = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap();
    let gets = [
        format!("/progress?{}", query(&[("business_no", &no), ("name", NAME), ("id_number", ID)])),
        format!("/progress?{}", query(&[("business_no", &no), ("id_number", ID)])),
        format!("/progress?{}", query(&[("id_number", ID)])),
        format!("/progress?{}", query(&[("business_no", &no), ("name", NAME)])),
        format!("/progress?{}", query(&[("business_no", &no), ("name", ""), ("id_number", "")])),
        format!("/notice?{}", query(&[("business_no", &no), ("name", NAME), ("id_number", ID)])),
        format!("/notice?{}", query(&[("id_number", ID)])),
    ];
    for path in &gets {
        for cookie in [Some(csrf.as_str()), None] {
            let (status, headers, page) = fed.page(XUANWU, path, cookie).await;
            assert_eq!(status, 400, "{path}: {page}");
            assert!(page.contains("personal_data_in_url") && page.contains("个人信息不能放在网址中"), "{path}: {page}");
            assert!(!page.contains("id=\"steps\"") && !page.contains("id=\"notice-title\""), "{path}: {page}");
            assert!(!page.contains(ID) && !page.contains(NAME), "{path}: echoed: {page}");
            assert!(page.contains("<form method=\"post\" action=\"/progress\""), "{path}: {page}");
            assert_private(path, &headers);
            assert_no_proof_in_urls(path, &page);
        }
    }
    let (_, _, page) = fed.page(XUANWU, &gets[0], None).await;
    assert!(page.contains(&format!("value=\"{no}\"")), "the business number alone is kept: {page}");
    // The proof in the query of a POST is not read either: only the form's fields count.
    let (status, _, page) = fed.post_page(XUANWU, &gets[0], Some(&csrf), &[("csrf", &csrf)]).await;
    assert_eq!(status, 400, "{page}");
    assert!(!page.contains("id=\"steps\""), "{page}");

    // The posted lookup: the progress page, private, with the notice and refresh as POST forms
    // carrying the proof in hidden fields.
    let (status, headers, page) = fed.applicant_page(XUANWU, "/progress", &no, ME, &csrf).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"steps\"") && page.contains("已受理"), "{page}");
    assert_private("the progress page", &headers);
    assert_no_proof_in_urls("the progress page", &page);
    assert!(!page.contains("href=\"/notice"), "{page}");
    let form =
        page.split("<form method=\"post\" action=\"/notice\" id=\"notice-form\">").nth(1).expect("a notice form");
    let form = form.split("</form>").next().unwrap();
    for field in [
        format!("name=\"csrf\" value=\"{csrf}\""),
        format!("name=\"business_no\" value=\"{no}\""),
        format!("name=\"name\" value=\"{NAME}\""),
        format!("name=\"id_number\" value=\"{ID}\""),
    ] {
        assert!(form.contains(&field), "{field} not in the notice form: {form}");
    }
    assert!(page.contains("<form method=\"post\" action=\"/progress\" id=\"refresh-form\">"), "{page}");
    let (status, headers, notice) = fed.applicant_page(XUANWU, "/notice", &no, ME, &csrf).await;
    assert_eq!(status, 200, "{notice}");
    assert!(notice.contains("id=\"notice-title\"") && notice.contains("受理通知书"), "{notice}");
    assert_private("the notice", &headers);
    assert_no_proof_in_urls("the notice", &notice);

    // A wrong CSRF token, none, or no cookie: refused, nothing shown.
    let other = "f".repeat(32);
    for path in ["/progress", "/notice"] {
        let cases: [(Option<&str>, Option<&str>, &str); 5] = [
            (Some(&csrf), Some(&other), "a token that is not the cookie's"),
            (Some(&other), Some(&csrf), "a cookie that is not the token's"),
            (Some(&csrf), None, "no token"),
            (None, Some(&csrf), "no cookie"),
            (Some("short"), Some("short"), "a malformed token"),
        ];
        for (cookie, token, why) in cases {
            let mut fields = vec![("business_no", no.as_str()), ("name", NAME), ("id_number", ID)];
            fields.extend(token.map(|t| ("csrf", t)));
            let (status, _, page) = fed.post_page(XUANWU, path, cookie, &fields).await;
            assert_eq!(status, 403, "{path}, {why}: {page}");
            assert!(page.contains("CSRF"), "{path}, {why}: {page}");
            assert!(!page.contains("id=\"steps\"") && !page.contains("id=\"notice-title\""), "{path}, {why}");
            assert!(!page.contains(ID), "{path}, {why}");
        }
    }
    // A wrong ID number finds nothing, as at the API.
    let (status, _, page) = fed.applicant_page(XUANWU, "/progress", &no, (NAME, "11010519491231002X"), &csrf).await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("未找到与业务号、姓名和证件号码相符的办件"), "{page}");
    let (status, _, _) = fed.applicant_page(XUANWU, "/notice", &no, (NAME, "11010519491231002X"), &csrf).await;
    assert_eq!(status, 404);

    // The same at the nation, from the progress that rolled up.
    let page = eventually("the progress at the nation", Duration::from_secs(15), || async {
        let (status, _, page) = fed.applicant_page(NATION, "/progress", &no, ME, &csrf).await;
        (status == 200 && page.contains("已受理")).then_some(page)
    })
    .await;
    assert_no_proof_in_urls("the progress page at the nation", &page);
    assert!(page.contains("id=\"notice-form\""), "{page}");
    let (status, headers, notice) = fed.applicant_page(NATION, "/notice", &no, ME, &csrf).await;
    assert_eq!(status, 200, "{notice}");
    assert_private("the notice at the nation", &headers);
    let (status, _, page) = fed.page(NATION, &gets[0], Some(&csrf)).await;
    assert_eq!(status, 400, "{page}");

    // The printable certificate shows its holders: private too.
    let mut issued = json!(null);
    for action in ["review", "record", "certify", "issue"] {
        let (status, body) = fed.act(XUANWU, &clerk, &no, json!({"action": action})).await;
        assert_eq!(status, 200, "{action}: {body}");
        issued = body;
    }
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    let code = fed.access_code(XUANWU, &no).await;
    let (status, headers, page) = fed.page(XUANWU, &format!("/certificate?id={cert}&code={code}"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_private("the printable certificate", &headers);
    fed.shutdown().await;
}
