//! After a full federation flow, no plaintext name, ID number or phone number of a sample person
//! appears in any database (SQLite files with their WAL, and PostgreSQL when TEST_PG_URL is set)
//! or in any log line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

const SECRETS: &[&str] = &["张三", "李四", "110101199003074477", "11010519491231002X", "13812341234"];

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    // Files come and go while nodes run (SQLite journals): take what is there.
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_personal_data_at_rest_or_in_logs() {
    let sink = Sink::default();
    let writer = sink.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug,hyper=info,reqwest=info,h2=info,rustls=info,actix_server=info")
        .with_writer(move || writer.clone())
        .init();

    let mut fed = Federation::start().await;
    // Interface navigation from the nation, all the way to 发证.
    let (_, receipt) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let cert = fed.run_to_issued(&no).await["certificate_id"].as_str().unwrap().to_owned();
    // 张三 opens an applicant account at the county with his phone and an SMS code.
    let (status, _) = fed
        .post(XUANWU, "/api/v1/applicants/sms-code", &serde_json::json!({"phone": "13812341234", "purpose": "sign_up"}))
        .await;
    assert_eq!(status, 202);
    let outbox = std::fs::read_to_string(fed.data_dir(XUANWU).join("sms-outbox.txt")).unwrap();
    let at = outbox.find("验证码为").unwrap() + "验证码为".len();
    let account = serde_json::json!({"phone": "13812341234", "code": &outbox[at..at + 6], "password": "bdc-pass-2026",
        "kind": "person", "name": "张三", "id_number": "110101199003074477"});
    let (status, body) = fed.post(XUANWU, "/api/v1/applicants", &account).await;
    assert_eq!(status, 201, "{body}");
    // The development SMS sink holds the phone in clear by design; it is not part of the scan.
    std::fs::remove_file(fed.data_dir(XUANWU).join("sms-outbox.txt")).unwrap();
    // A scan of his ID card attached to an application (the file holds his name and number).
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    let open = receipt["business_no"].as_str().unwrap().to_owned();
    let scan = files::pdf("张三 110101199003074477 13812341234 李四 11010519491231002X");
    let (status, body) = fed
        .upload_material(XUANWU, &open, "identity", "身份证.pdf", &scan, Some(("张三", "110101199003074477")), None)
        .await;
    assert_eq!(status, 201, "{body}");
    // A queued application while the county is down.
    fed.stop(XUANWU).await;
    let (status, queued) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 202);
    fed.restart(XUANWU).await;
    let ticket = queued["ticket"].as_str().unwrap().to_owned();
    eventually("queued application delivered", Duration::from_secs(15), || async {
        let (_, v) = fed.get(PROVINCE, &format!("/api/v1/tickets/{ticket}")).await;
        (v["delivered"] == true).then_some(())
    })
    .await;
    // Link navigation.
    let (_, nav) = fed.post(NATION, "/api/v1/applications", &sample_application(QINHUAI_UNIT)).await;
    let _ = fed.http.get(nav["navigate_to"].as_str().unwrap()).send().await.unwrap();
    // Everything rolled up; the public asks with a name and ID number.
    eventually("certificate at the nation", Duration::from_secs(15), || async {
        let (status, v) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
        (status == 200 && v["valid"] == true).then_some(())
    })
    .await;
    let (status, _) = fed.progress(NATION, &no, "张三", "110101199003074477").await;
    assert_eq!(status, 200);
    // The same at the portal (a posted form), the notice form (no notice once issued), and an
    // old-style GET naming him in its query (refused): all covered by the log scan below.
    let csrf = fed.portal_csrf(NATION).await;
    let (status, _, _) = fed.applicant_page(NATION, "/progress", &no, ("张三", "110101199003074477"), &csrf).await;
    assert_eq!(status, 200);
    let (status, _, _) = fed.applicant_page(NATION, "/notice", &no, ("张三", "110101199003074477"), &csrf).await;
    assert_eq!(status, 404);
    let query = format!("/progress?business_no={no}&name=%E5%BC%A0%E4%B8%89&id_number=110101199003074477");
    let (status, _, _) = fed.page(NATION, &query, Some(&csrf)).await;
    assert_eq!(status, 400);
    // The certificate itself shows the holder (that is what it is for), but only to whoever
    // shows its 查验码: without it, nothing.
    let content = fed.http.get(format!("{}/api/v1/certificates/{cert}/signed-data", fed.url(NATION))).send().await;
    let content = content.unwrap();
    assert_eq!(content.status(), 403);
    assert!(!content.text().await.unwrap().contains("张三"));
    let code = fed.access_code(NATION, &no).await;
    let url = format!("{}/api/v1/certificates/{cert}/signed-data?code={code}", fed.url(NATION));
    let content = fed.http.get(url).send().await;
    assert!(content.unwrap().text().await.unwrap().contains("张三"));

    let on_pg = fed.county_on_pg;
    let pg_url = fed.settings[XUANWU].database.url.clone();
    let dir = fed.dir.path().to_owned();
    let mut all = Vec::new();
    files(&dir, &mut all);
    // Scan while the nodes still hold their WAL files, and again after they stop.
    let scan = |paths: &[std::path::PathBuf]| {
        for path in paths {
            let Ok(bytes) = std::fs::read(path) else { continue };
            for secret in SECRETS {
                assert!(!contains(&bytes, secret), "{secret} in plaintext in {}", path.display());
            }
        }
    };
    scan(&all);
    let _kept = fed.shutdown_keeping_data().await;
    let mut after = Vec::new();
    files(&dir, &mut after);
    assert!(after.iter().any(|p| p.extension().is_some_and(|e| e == "db")));
    scan(&after);
    if on_pg {
        let dump = std::process::Command::new("pg_dump").arg(&pg_url).output().expect("pg_dump");
        assert!(dump.status.success(), "{dump:?}");
        assert!(contains(&dump.stdout, "applications"));
        for secret in SECRETS {
            assert!(!contains(&dump.stdout, secret), "{secret} in plaintext in PostgreSQL");
        }
    }
    let logs = sink.0.lock().unwrap().clone();
    assert!(contains(&logs, "application received"), "the log sink captured nothing");
    for secret in SECRETS {
        assert!(!contains(&logs, secret), "{secret} in the logs");
    }
}
