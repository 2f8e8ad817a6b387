//! The portal pages in a real headless Chromium (Debian's chromium + chromedriver), driven over
//! the W3C WebDriver protocol: apply at the nation, upload a 申请材料 on the office's progress
//! page, follow the progress (posted forms: the name and ID number never reach a URL), open a
//! written notice from the progress page, verify the certificate, arrive at a county by link
//! navigation — on a phone-sized window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver must be installed (apt-get install chromium chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=390,844",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let r: Value = http.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_owned();
        Self { child, base, session, http, _profile: profile }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        r["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None).await.as_str().unwrap().to_owned()
    }

    /// Finds an element, waiting up to ten seconds for it: a click that submits a form returns
    /// before the next page has loaded on a slow machine.
    async fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let v =
                self.cmd(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return id.to_owned();
            }
            if start.elapsed() > Duration::from_secs(10) {
                let page = self.script("return document.body ? document.body.innerText : ''").await;
                panic!("no element {css} at {}: {v}\npage: {page}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/clear"), Some(json!({}))).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": text}))).await;
    }

    /// Chooses a file in an `<input type="file">` (WebDriver types its path into the input).
    async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let e = self.find(css).await;
        let r = self
            .cmd(
                reqwest::Method::POST,
                &format!("/element/{e}/value"),
                Some(json!({"text": path.display().to_string()})),
            )
            .await;
        assert!(r.is_null(), "choosing {}: {r}", path.display());
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn value(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/property/value"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", Some(json!({"script": js, "args": []}))).await
    }

    async fn quit(self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apply_follow_and_verify_in_a_browser() {
    let fed = Federation::start().await;
    let browser = Driver::start().await;

    // Apply at the national portal, on a phone-sized screen.
    browser.go(&format!("{}/", fed.url(NATION))).await;
    assert!(browser.text("header h1").await.contains("全国不动产登记信息平台"));
    assert_eq!(browser.script("return document.documentElement.scrollWidth <= window.innerWidth").await, json!(true));
    browser.fill("#unit_code", XUANWU_UNIT).await;
    browser.click("#kind option[value=first]").await;
    browser.fill("#location", "南京市玄武区北京东路41号").await;
    browser.fill("#name", "张三").await;
    browser.fill("#id_number", "110101199003074477").await;
    browser.click("#submit").await;
    assert_eq!(browser.text("#heading").await, "申请已提交");
    let values: Vec<Value> = browser
        .script("return Array.from(document.querySelectorAll('.value')).map(e => e.textContent)")
        .await
        .as_array()
        .unwrap()
        .clone();
    let business_no = values[0].as_str().unwrap().to_owned();
    assert!(business_no.starts_with("320102"), "{values:?}");

    // At the office's portal the progress page lists the 申请材料; a PDF chosen in the file
    // chooser is uploaded through its form (no script) and then listed by the API.
    let dir = tempfile::tempdir().unwrap();
    let pdf_path = dir.path().join("application.pdf");
    let pdf = b"%PDF-1.4\n% uploaded from the progress page in a browser\n%%EOF\n".to_vec();
    std::fs::write(&pdf_path, &pdf).unwrap();
    browser.go(&format!("{}/", fed.url(XUANWU))).await;
    browser.fill("#q_business_no", &business_no).await;
    browser.fill("#q_name", "张三").await;
    browser.fill("#q_id_number", "110101199003074477").await;
    browser.click("#query").await;
    assert!(browser.text("#materials").await.contains("不动产登记申请书"));
    assert_eq!(browser.url().await, format!("{}/progress", fed.url(XUANWU)), "the proof stays out of the URL");
    assert_eq!(browser.script("return document.documentElement.scrollWidth <= window.innerWidth").await, json!(true));
    browser.choose_file("#file-application_form", &pdf_path).await;
    browser.click("#upload-application_form").await;
    assert!(browser.text("#upload-ok").await.contains("已上传「不动产登记申请书」的文件（pdf，"));
    assert!(browser.url().await.ends_with("/progress/materials"), "the proof stays out of the URL");
    assert!(browser.text("#material-application_form").await.contains("申请人上传"));
    let (status, _, body) = fed
        .fetch_raw(
            XUANWU,
            &format!("/api/v1/applications/{business_no}/materials"),
            Some(("张三", "110101199003074477")),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let files = list["materials"][0]["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1, "{list}");
    assert_eq!(files[0]["sm3"].as_str(), Some(federation::crypto::sm3_hex(&pdf).as_str()), "{list}");

    // The county works it through to 发证.
    let cert = fed.run_to_issued(&business_no).await["certificate_id"].as_str().unwrap().to_owned();

    // Follow the progress at the nation.
    let start = Instant::now();
    loop {
        browser.go(&format!("{}/", fed.url(NATION))).await;
        browser.fill("#q_business_no", &business_no).await;
        browser.fill("#q_name", "张三").await;
        browser.fill("#q_id_number", "110101199003074477").await;
        browser.click("#query").await;
        if browser
            .script("return document.getElementById('state') ? document.getElementById('state').textContent : ''")
            .await
            == json!("已发证")
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "progress never reached the nation");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(browser.text("#steps").await.contains("已受理"));
    assert_eq!(browser.url().await, format!("{}/progress", fed.url(NATION)));
    // No personal data shown: the ID number is only in the hidden fields of the page's forms.
    let html = browser.script("return document.body.innerText").await.as_str().unwrap().to_owned();
    assert!(!html.contains("110101199003074477"), "{html}");
    // 「刷新进度」 posts the hidden proof again; the page does not reload itself.
    assert_eq!(browser.script("return document.querySelectorAll('meta[http-equiv=refresh]').length").await, json!(0));
    browser.script("document.getElementById('state').id = 'old-state'; return true").await;
    browser.click("#refresh").await;
    assert_eq!(browser.text("#state").await, "已发证");
    assert_eq!(browser.url().await, format!("{}/progress", fed.url(NATION)));

    // Verify the certificate from the link on the progress page.
    browser.click("a[href^='/verify']").await;
    assert_eq!(browser.text("#result").await, "有效");
    assert_eq!(browser.script("return document.querySelectorAll('#qr svg').length").await, json!(1));
    assert!(browser.text("#number").await.starts_with("苏("));
    assert!(browser.url().await.contains(&cert.replace('.', "%2E")) || browser.url().await.contains(&cert));

    // An old-style link naming the applicant in its query shows no progress: it is refused, and
    // the form comes back with the business number alone.
    browser
        .go(&format!(
            "{}/progress?business_no={business_no}&name=%E5%BC%A0%E4%B8%89&id_number=110101199003074477",
            fed.url(PROVINCE)
        ))
        .await;
    assert!(browser.text("#error").await.contains("个人信息不能放在网址中"));
    assert_eq!(browser.text("#error-code").await, "personal_data_in_url");
    assert_eq!(browser.script("return document.getElementById('state') === null").await, json!(true));
    assert_eq!(browser.value("#q_business_no").await, business_no);
    assert_eq!(browser.value("#q_id_number").await, "");
    // A wrong name finds nothing.
    browser.fill("#q_name", "李四").await;
    browser.fill("#q_id_number", "110101199003074477").await;
    browser.script("document.getElementById('error').id = 'old-error'; return true").await;
    browser.click("#query").await;
    assert!(browser.text("#error").await.contains("未找到"));

    // The written notice of an accepted application, opened by the progress page's button.
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    assert_eq!(status, 200, "{receipt}");
    let accepted = receipt["business_no"].as_str().unwrap().to_owned();
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, _) = fed.act(XUANWU, &clerk, &accepted, json!({"action": "accept"})).await;
    assert_eq!(status, 200);
    browser.go(&format!("{}/progress?business_no={accepted}", fed.url(XUANWU))).await;
    assert_eq!(browser.value("#q_business_no").await, accepted);
    browser.fill("#q_name", "张三").await;
    browser.fill("#q_id_number", "110101199003074477").await;
    browser.click("#query").await;
    assert_eq!(browser.text("#state").await, "已受理");
    browser.click("#notice-button").await;
    assert_eq!(browser.text("#notice-title").await, "不动产登记受理通知书");
    assert_eq!(browser.text("#notice-no").await, accepted);
    assert_eq!(browser.url().await, format!("{}/notice", fed.url(XUANWU)));

    // Link navigation: apply at the nation for 秦淮区 and land on the county's portal, prefilled.
    browser.go(&format!("{}/", fed.url(NATION))).await;
    browser.fill("#unit_code", QINHUAI_UNIT).await;
    browser.fill("#name", "王五").await;
    browser.fill("#id_number", "110101199003074477").await;
    browser.click("#submit").await;
    let start = Instant::now();
    while !browser.url().await.starts_with(&format!("{}/navigate?token=", fed.url(QINHUAI))) {
        assert!(start.elapsed() < Duration::from_secs(10), "not navigated: {}", browser.url().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(browser.text("#navigated").await.contains("无需再次登录"));
    assert_eq!(browser.value("#unit_code").await, QINHUAI_UNIT);
    assert!(browser.text("header h1").await.contains("秦淮区"));
    // Reloading the link (a replayed token) is refused.
    browser.script("location.reload(); return true").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = browser.script("return document.body.textContent").await.as_str().unwrap_or_default().to_owned();
    assert!(body.contains("token_replayed"), "{body}");

    // A form post from elsewhere (no CSRF cookie) is refused.
    let r = reqwest::Client::new()
        .post(format!("{}/apply", fed.url(NATION)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&unit_code={XUANWU_UNIT}&kind=first&name=%E5%BC%A0%E4%B8%89&id_type=id_card&id_number=110101199003074477",
            "0".repeat(32)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("CSRF"));

    browser.quit().await;
    fed.shutdown().await;
}
