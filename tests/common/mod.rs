//! Test support: a whole federation (nation, province, 320102 by interface navigation, 320104 by
//! link navigation) on 127.0.0.1, each node with its own temp database, driven over HTTP.
//! When `TEST_PG_URL` is set, county 320102 stores in a fresh PostgreSQL database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bdc_node::demo::federation_settings;
use bdc_node::settings::Settings;
use bdc_node::{Application, RunningNode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "test-password-不动产";

pub fn free_port() -> u16 {
    bdc_node::demo::free_local_port().unwrap()
}

/// A fresh PostgreSQL database on the server of `TEST_PG_URL`, or None when it is not set.
pub fn fresh_pg_database() -> Option<String> {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let url = std::env::var("TEST_PG_URL").ok()?;
    let mut admin = PgConnection::establish(&url).unwrap_or_else(|e| panic!("TEST_PG_URL is set but unreachable: {e}"));
    let name = format!("bdc_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(url);
    Some(format!("{base}/{name}"))
}

pub struct Federation {
    pub dir: tempfile::TempDir,
    pub settings: Vec<Settings>,
    pub nodes: Vec<Option<RunningNode>>,
    pub http: reqwest::Client,
    pub county_on_pg: bool,
}

pub const NATION: usize = 0;
pub const PROVINCE: usize = 1;
pub const XUANWU: usize = 2;
pub const QINHUAI: usize = 3;

impl Federation {
    pub async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }

    /// Start with the settings adjusted first (e.g. TLS).
    pub async fn start_with(adjust: impl FnOnce(&mut Vec<Settings>, &Path)) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        if std::env::var_os("TEST_LOG").is_some() {
            bdc_node::telemetry::init("info", false);
        }
        let dir = tempfile::tempdir().unwrap();
        let ports = [free_port(), free_port(), free_port(), free_port()];
        let mut settings = federation_settings(dir.path(), ports).unwrap().to_vec();
        let mut county_on_pg = false;
        if let Some(url) = fresh_pg_database() {
            settings[XUANWU].database.url = url;
            county_on_pg = true;
        }
        for s in &mut settings {
            s.federation.retry_base_ms = 20;
            s.federation.retry_cap_ms = 300;
            s.federation.forward_timeout_ms = 1500;
            // Tests poll; the limits have their own test.
            s.http.rate_limits = false;
        }
        adjust(&mut settings, dir.path());
        let tls = settings[0].tls.cert_file.is_some();
        let mut nodes = Vec::new();
        for s in &settings {
            nodes.push(Some(Application::build(s.clone()).await.unwrap().spawn()));
        }
        let http = if tls {
            let ca = std::fs::read(settings[0].tls.peer_ca_file.as_ref().unwrap()).unwrap();
            reqwest::Client::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
                .build()
                .unwrap()
        } else {
            reqwest::Client::new()
        };
        let fed = Self { dir, settings, nodes, http, county_on_pg };
        bdc_node::demo::add_staff(fed.node(XUANWU), "320102", "xuanwu-clerk", PASSWORD, "玄武区登记员", "clerk")
            .await
            .unwrap();
        bdc_node::demo::add_staff(fed.node(QINHUAI), "320104", "qinhuai-clerk", PASSWORD, "秦淮区登记员", "clerk")
            .await
            .unwrap();
        bdc_node::demo::add_staff(fed.node(XUANWU), "320102", "xuanwu-auditor", PASSWORD, "玄武区审计员", "auditor")
            .await
            .unwrap();
        bdc_node::demo::add_staff(fed.node(XUANWU), "320102", "xuanwu-admin", PASSWORD, "玄武区系统管理员", "sysadmin")
            .await
            .unwrap();
        fed
    }

    pub fn node(&self, i: usize) -> &RunningNode {
        self.nodes[i].as_ref().expect("node is running")
    }

    pub fn url(&self, i: usize) -> String {
        let scheme = if self.settings[i].tls.cert_file.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port(i))
    }

    pub fn port(&self, i: usize) -> u16 {
        self.settings[i].http.listen.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.settings[i].data_dir.clone()
    }

    pub async fn stop(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.stop().await;
        }
    }

    /// Restart a stopped node on the port it was first given.
    pub async fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none());
        self.nodes[i] = Some(Application::build(self.settings[i].clone()).await.unwrap().spawn());
    }

    pub async fn shutdown(self) {
        drop(self.shutdown_keeping_data().await);
    }

    /// Stop every node and hand back the data directory (to inspect the files).
    pub async fn shutdown_keeping_data(mut self) -> tempfile::TempDir {
        for i in (0..self.nodes.len()).rev() {
            self.stop(i).await;
        }
        self.dir
    }

    pub async fn post(&self, i: usize, path: &str, body: &Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{}", self.url(i), path)).json(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, i: usize, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{}", self.url(i), path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn login(&self, i: usize, username: &str) -> String {
        let (status, body) =
            self.post(i, "/api/v1/staff/login", &json!({"username": username, "password": PASSWORD})).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn act(&self, i: usize, token: &str, business_no: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1/applications/{business_no}/actions", self.url(i)))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Any request with a staff session.
    pub async fn send_as(
        &self,
        i: usize,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.url(i), path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A GET with a staff session.
    pub async fn get_as(&self, i: usize, token: &str, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{}", self.url(i), path)).bearer_auth(token).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The 玄武区 clerk takes an application from 受理 to 发证; the last answer (with the
    /// certificate id).
    pub async fn run_to_issued(&self, business_no: &str) -> Value {
        let token = self.login(XUANWU, "xuanwu-clerk").await;
        let mut last = Value::Null;
        for action in ["accept", "review", "record", "certify", "issue"] {
            let (status, body) = self.act(XUANWU, &token, business_no, json!({"action": action})).await;
            assert_eq!(status, 200, "{action}: {body}");
            last = body;
        }
        last
    }

    /// Progress as the public asks for it: the proof in a POST body.
    pub async fn progress(&self, i: usize, business_no: &str, name: &str, id: &str) -> (u16, Value) {
        self.post(i, &format!("/api/v1/progress/{business_no}"), &json!({"name": name, "id_number": id})).await
    }

    /// The 查验码 of a business's first certificate, as the applicant (张三 of the sample
    /// application) gets it with the progress, from node `i`.
    pub async fn access_code(&self, i: usize, business_no: &str) -> String {
        let (status, view) = self.progress(i, business_no, "张三", "110101199003074477").await;
        assert_eq!(status, 200, "{view}");
        view["certificates"][0]["access_code"].as_str().expect("a certificate with its code").to_owned()
    }

    /// The verification page's file upload (`POST /verify`, multipart), as a browser sends it:
    /// status and page.
    pub async fn upload_package(&self, i: usize, file: &[u8]) -> (u16, String) {
        let boundary = "----bdc-test-boundary-7d1f";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}/verify", self.url(i)))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Attach a file to a checklist item (`POST …/materials/{item}`, multipart as a browser sends
    /// it), as an applicant naming themselves (`proof`) or with a staff session (`token`).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_material(
        &self,
        i: usize,
        business_no: &str,
        material_id: &str,
        file_name: &str,
        file: &[u8],
        proof: Option<(&str, &str)>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![];
        if let Some((name, id)) = proof {
            fields.push(("name", None, name.as_bytes()));
            fields.push(("id_number", None, id.as_bytes()));
        }
        fields.push(("file", Some(file_name), file));
        let (content_type, body) = multipart(&fields);
        let mut req = self
            .http
            .post(format!("{}/api/v1/applications/{business_no}/materials/{material_id}", self.url(i)))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A read as an applicant naming themselves (`proof`: a POST with the JSON body) or else a
    /// GET (with a staff session when `token` is given): status, content type and the raw body.
    pub async fn fetch_raw(
        &self,
        i: usize,
        path: &str,
        proof: Option<(&str, &str)>,
        token: Option<&str>,
    ) -> (u16, String, Vec<u8>) {
        let url = format!("{}{path}", self.url(i));
        let mut req = match proof {
            Some((name, id)) => self.http.post(url).json(&json!({"name": name, "id_number": id})),
            None => self.http.get(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (status, content_type, r.bytes().await.unwrap().to_vec())
    }

    /// A portal CSRF token of node `i`, as a browser gets it: the home page sets it as the
    /// `bdc_csrf` cookie and its forms carry the same value.
    pub async fn portal_csrf(&self, i: usize) -> String {
        let r = self.http.get(format!("{}/", self.url(i))).send().await.unwrap();
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("bdc_csrf="))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .expect("the home page sets the CSRF cookie");
        let page = r.text().await.unwrap();
        assert!(page.contains(&format!("name=\"csrf\" value=\"{cookie}\"")), "the form carries the cookie's token");
        cookie
    }

    /// A portal page: GET `path_and_query` with the CSRF cookie (when given): status, headers
    /// and page.
    pub async fn page(
        &self,
        i: usize,
        path_and_query: &str,
        csrf: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self.http.get(format!("{}{path_and_query}", self.url(i)));
        if let Some(c) = csrf {
            req = req.header("cookie", format!("bdc_csrf={c}"));
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    /// A page an applicant asks for by naming themselves, as the portal's forms post it: the
    /// progress page (`path` = "/progress", from its lookup form) or the printable notice
    /// ("/notice", the progress page's button), with the CSRF cookie and field: status, headers
    /// and page.
    pub async fn applicant_page(
        &self,
        i: usize,
        path: &str,
        business_no: &str,
        (name, id): (&str, &str),
        csrf: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let fields = [("csrf", csrf), ("business_no", business_no), ("name", name), ("id_number", id)];
        self.post_page(i, path, Some(csrf), &fields).await
    }

    /// A portal form post (`application/x-www-form-urlencoded`) with the CSRF cookie (when given):
    /// status, headers and page.
    pub async fn post_page(
        &self,
        i: usize,
        path: &str,
        csrf_cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url(i)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap());
        if let Some(c) = csrf_cookie {
            req = req.header("cookie", format!("bdc_csrf={c}"));
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.text().await.unwrap())
    }

    /// A portal form post (`application/x-www-form-urlencoded`) with the CSRF cookie: status and page.
    pub async fn post_page_form(
        &self,
        i: usize,
        path: &str,
        csrf_cookie: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let (status, _, page) = self.post_page(i, path, Some(csrf_cookie), fields).await;
        (status, page)
    }

    /// The progress page's upload form (`POST /progress/materials`, multipart as a browser sends
    /// it: the hidden fields, then the file) with the CSRF cookie (when given): status and page.
    pub async fn upload_on_progress_page(
        &self,
        i: usize,
        csrf_cookie: Option<&str>,
        fields: &[(&str, &str)],
        file: (&str, &[u8]),
    ) -> (u16, String) {
        let mut parts: Vec<(&str, Option<&str>, &[u8])> =
            fields.iter().map(|(k, v)| (*k, None, v.as_bytes())).collect();
        parts.push(("file", Some(file.0), file.1));
        let (content_type, body) = multipart(&parts);
        let mut req =
            self.http.post(format!("{}/progress/materials", self.url(i))).header("content-type", content_type);
        if let Some(c) = csrf_cookie {
            req = req.header("cookie", format!("bdc_csrf={c}"));
        }
        let r = req.body(body).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Rows in a table of a node's database (to prove that nothing was stored).
    pub fn count(&self, i: usize, table: &str) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let db = &self.node(i).state.db;
        let mut conn = db.conn().unwrap();
        let rows: Vec<N> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).load(&mut *conn).unwrap();
        rows[0].n
    }
}

/// Wait (by polling, with a deadline) until `f` returns Some.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn sample_application(unit_code: &str) -> Value {
    json!({
        "unit_code": unit_code,
        "kind": "first",
        "location": "南京市玄武区北京东路41号3幢203室",
        "details": {"area": "89.50", "purpose": "住宅", "nature": 102, "term_from": "2006-01-01", "term_to": "2076-12-31"},
        "applicants": [
            {"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder", "phone": "13812341234"},
            {"name": "李四", "id_type": "id_card", "id_number": "11010519491231002X", "role": "applicant"}
        ]
    })
}

/// The values of a message page's rows (`<span class="value">…</span>`), in order.
pub fn page_values(html: &str) -> Vec<String> {
    html.split("<span class=\"value\">").skip(1).map(|rest| rest.split("</span>").next().unwrap().to_owned()).collect()
}

/// A multipart/form-data body of (field, file name, bytes): (content type, body).
pub fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----bdc-test-boundary-7d1f";
    let mut body = vec![];
    for (name, file_name, bytes) in fields {
        let disposition = match file_name {
            Some(f) => {
                format!("form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream")
            }
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Small files of each format a checklist takes, told by their first bytes.
pub mod files {
    use std::io::Write;

    pub fn pdf(marker: &str) -> Vec<u8> {
        format!("%PDF-1.4\n% {marker}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
            .into_bytes()
    }
    pub fn png() -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde]);
        b
    }
    pub fn jpg() -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        b.extend_from_slice(b"JFIF\0 scanned page two");
        b.extend_from_slice(&[0xFF, 0xD9]);
        b
    }
    /// A zip whose root holds the named entries (`OFD.xml` makes it an OFD).
    pub fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for n in names {
            w.start_file(*n, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(b"<?xml version=\"1.0\"?><ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\"/>").unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }
    pub fn ofd() -> Vec<u8> {
        zip_with(&["OFD.xml", "Doc_0/Document.xml"])
    }
    /// A Windows executable's header.
    pub fn exe() -> Vec<u8> {
        b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0This program cannot be run in DOS mode.".to_vec()
    }
}

pub const XUANWU_UNIT: &str = "320102003001GB00012F00010203";
/// Another unit of the same 宗地 (a second 首次登记 in one test).
pub const XUANWU_UNIT_2: &str = "320102003001GB00012F00010204";
pub const QINHUAI_UNIT: &str = "320104001002GB00031F00020101";

pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("keys/node.key.pem")
}

/// A federation CA and certificates for every node (SAN: 127.0.0.1, localhost, the node id).
pub struct Pki {
    pub ca_pem: String,
    ca_params: rcgen::CertificateParams,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let ca_pem = params.self_signed(&ca_key).unwrap().pem();
        Self { ca_pem, ca_params: params, ca_key }
    }

    /// (certificate PEM, key PEM) for a node.
    pub fn leaf(&self, node_id: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), node_id.to_owned()]).unwrap();
        params.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.distinguished_name.push(rcgen::DnType::CommonName, node_id);
        let issuer = rcgen::Issuer::from_params(&self.ca_params, &self.ca_key);
        (params.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    }
}

impl Federation {
    /// The same federation with HTTPS on every listener and mutual TLS between nodes.
    pub async fn start_tls(pki: &Pki) -> Self {
        Self::start_with(|settings, dir| {
            let ca = dir.join("federation-ca.crt");
            std::fs::write(&ca, &pki.ca_pem).unwrap();
            for s in settings.iter_mut() {
                let (cert, key) = pki.leaf(s.node_id.as_str());
                let (cf, kf) = (dir.join(format!("{}.crt", s.node_id)), dir.join(format!("{}.key", s.node_id)));
                std::fs::write(&cf, cert).unwrap();
                std::fs::write(&kf, key).unwrap();
                s.tls.cert_file = Some(cf);
                s.tls.key_file = Some(kf);
                s.tls.peer_ca_file = Some(ca.clone());
                s.tls.reload_secs = 1;
                s.http.public_url = s.http.public_url.replace("http://", "https://");
                for p in s.parent.iter_mut().chain(s.children.iter_mut()) {
                    p.url = p.url.replace("http://", "https://");
                }
            }
        })
        .await
    }
}
