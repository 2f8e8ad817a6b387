//! Applicant accounts (issue "Personal data…", item 5): a phone gets an SMS code through the
//! gateway, the applicant signs up with it as a person (公民身份号码) or an enterprise (统一社会信用
//! 代码), signs in, and sees the account masked. 玄武区 uses the development file sink; 秦淮区 an
//! HTTP gateway simulated here that answers, fails, answers nonsense or hangs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The latest code the development sink holds for a phone.
fn code_in_sink(fed: &Federation, phone: &str) -> String {
    let text = std::fs::read_to_string(fed.data_dir(XUANWU).join("sms-outbox.txt")).unwrap();
    let line = text.lines().rev().find(|l| l.split('\t').nth(1) == Some(phone)).expect("a message to the phone");
    let message = line.split('\t').nth(2).unwrap();
    let start = message.find("验证码为").unwrap() + "验证码为".len();
    message[start..start + 6].to_owned()
}

/// An SMS gateway on a loopback port: mode 0 answers {"ok":true}, 1 fails with 500, 2 answers
/// something that is not JSON, 3 never answers. Counts the requests it took.
async fn gateway(mode: Arc<AtomicUsize>, hits: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (mode, hits) = (mode.clone(), hits.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while !String::from_utf8_lossy(&buf[..got]).contains("}") {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
                let (status, body) = match mode.load(Ordering::SeqCst) {
                    0 => ("200 OK", r#"{"ok":true,"id":"m-1"}"#),
                    1 => ("500 Internal Server Error", r#"{"ok":false}"#),
                    2 => ("200 OK", "<html>gateway maintenance</html>"),
                    _ => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applicants_sign_up_with_an_sms_code_and_sign_in() {
    let mode = Arc::new(AtomicUsize::new(0));
    let hits = Arc::new(AtomicUsize::new(0));
    let url = gateway(mode.clone(), hits.clone()).await;
    let fed = Federation::start_with(|settings, _| {
        settings[QINHUAI].sms.gateway = "http".into();
        settings[QINHUAI].sms.url = url.clone();
        settings[QINHUAI].sms.timeout_ms = 500;
    })
    .await;
    let phone = "13812341234";

    // Bad input: 400 with a stable code; nothing sent.
    for (body, code) in [
        (json!({"phone": "1381234123", "purpose": "sign_up"}), "invalid_phone"),
        (json!({"phone": phone, "purpose": "anything"}), "invalid_field"),
        (json!({"phone": phone}), "invalid_field"),
    ] {
        let (status, answer) = fed.post(XUANWU, "/api/v1/applicants/sms-code", &body).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some(code)), "{answer}");
    }
    assert!(!fed.data_dir(XUANWU).join("sms-outbox.txt").exists());

    // A code through the development sink; a second one at once is refused.
    let (status, sent) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": phone, "purpose": "sign_up"})).await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["phone"], "138****1234");
    let code = code_in_sink(&fed, phone);
    let (status, again) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": phone, "purpose": "sign_up"})).await;
    assert_eq!((status, again["error"].as_str()), (429, Some("sms_too_soon")));

    let sign_up = |code: &str, id: &str, phone: &str| json!({"phone": phone, "code": code, "password": "bdc-pass-2026", "kind": "person", "name": "张三", "id_number": id});
    // Refusals that change nothing: weak password, bad ID number, wrong code.
    let mut weak = sign_up(&code, "110101199003074477", phone);
    weak["password"] = json!("password");
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &weak).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("weak_password")));
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(&code, "110101199003074478", phone)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_id_number")));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(wrong, "110101199003074477", phone)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("sms_code_invalid")));
    assert_eq!(fed.count(XUANWU, "applicants"), 0);

    // The right code (a 15-digit legacy number is converted): the account, masked.
    let (status, me) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(&code, "110101900307447", phone)).await;
    assert_eq!(status, 201, "{me}");
    assert_eq!((me["name"].as_str(), me["phone"].as_str()), (Some("张*"), Some("138****1234")));
    assert_eq!(me["id_number"], "110101********4477");
    assert_eq!(me["real_name"], "declared");
    // The code is used up; the phone and the person cannot register twice.
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(&code, "11010519491231002X", phone)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("sms_code_invalid")));

    // Sign in; the session shows the account; a wrong password five times locks it.
    let (status, session) =
        fed.post(XUANWU, "/api/v1/applicants/login", &json!({"phone": phone, "password": "bdc-pass-2026"})).await;
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    let (status, view) = fed.get_as(XUANWU, &token, "/api/v1/applicants/me").await;
    assert_eq!((status, view["id_number"].as_str()), (200, Some("110101********4477")));
    let (status, _) = fed.get_as(XUANWU, "forged-token", "/api/v1/applicants/me").await;
    assert_eq!(status, 401);
    let staff = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, _) = fed.get_as(XUANWU, &staff, "/api/v1/applicants/me").await;
    assert_eq!(status, 401, "a staff session is not an applicant session");
    for _ in 0..4 {
        let (status, answer) =
            fed.post(XUANWU, "/api/v1/applicants/login", &json!({"phone": phone, "password": "wrong-pass-1"})).await;
        assert_eq!((status, answer["error"].as_str()), (401, Some("bad_credentials")));
    }
    let (status, answer) =
        fed.post(XUANWU, "/api/v1/applicants/login", &json!({"phone": phone, "password": "wrong-pass-1"})).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("account_locked")));
    let (status, _) =
        fed.post(XUANWU, "/api/v1/applicants/login", &json!({"phone": phone, "password": "bdc-pass-2026"})).await;
    assert_eq!(status, 403, "locked even with the right password");

    // An enterprise by its credit code; a wrong check character is refused.
    let phone2 = "13912345678";
    let (status, _) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": phone2, "purpose": "sign_up"})).await;
    assert_eq!(status, 202);
    let code2 = code_in_sink(&fed, phone2);
    let enterprise = |id: &str| json!({"phone": phone2, "code": code2, "password": "corp-pass-99", "kind": "enterprise", "name": "南京某置业有限公司", "id_number": id});
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &enterprise("91350100M000100Y44")).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_credit_code")));
    let (status, corp) = fed.post(XUANWU, "/api/v1/applicants", &enterprise("91350100M000100Y43")).await;
    assert_eq!(status, 201, "{corp}");
    assert_eq!((corp["kind"].as_str(), corp["id_type"].as_str()), (Some("enterprise"), Some("credit_code")));
    assert_eq!(corp["name"], "南京某置业有限公司");

    // Five wrong codes kill a code.
    let phone3 = "13700001111";
    let (status, _) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": phone3, "purpose": "sign_up"})).await;
    assert_eq!(status, 202);
    let code3 = code_in_sink(&fed, phone3);
    let wrong3 = if code3 == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let (status, _) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(wrong3, "11010519491231002X", phone3)).await;
        assert_eq!(status, 400);
    }
    let (status, answer) = fed.post(XUANWU, "/api/v1/applicants", &sign_up(&code3, "11010519491231002X", phone3)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("sms_code_invalid")), "dead after five wrong tries");

    // The HTTP gateway: sent; then a failure, nonsense and silence each give 503 and no live code.
    let ask = |p: &str| json!({"phone": p, "purpose": "sign_up"});
    let (status, answer) = fed.post(QINHUAI, "/api/v1/applicants/sms-code", &ask("13600000001")).await;
    assert_eq!(status, 202, "{answer}");
    for (m, p) in [(1, "13600000002"), (2, "13600000003"), (3, "13600000004")] {
        mode.store(m, Ordering::SeqCst);
        let (status, answer) = fed.post(QINHUAI, "/api/v1/applicants/sms-code", &ask(p)).await;
        assert_eq!((status, answer["error"].as_str()), (503, Some("sms_unavailable")), "mode {m}: {answer}");
        // Nothing to use and nothing blocks asking again once the gateway is back.
        mode.store(0, Ordering::SeqCst);
        let (status, _) = fed.post(QINHUAI, "/api/v1/applicants/sms-code", &ask(p)).await;
        assert_eq!(status, 202, "mode {m}: the applicant may ask again at once");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 7);

    // At rest: no phone, name or ID number in clear in 玄武区's database; every step audited.
    let auditor = fed.login(XUANWU, "xuanwu-auditor").await;
    let (status, records) = fed.get_as(XUANWU, &auditor, "/api/v1/audit?kind=applicant").await;
    assert_eq!(status, 200, "{records}");
    let actions: Vec<&str> = records.as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    for a in ["sms_code", "sign_up", "login"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    assert!(!records.to_string().contains(phone), "no phone number in the audit log");
    let on_pg = fed.county_on_pg;
    let data = fed.data_dir(XUANWU);
    let dir = fed.shutdown_keeping_data().await;
    if !on_pg {
        for name in ["node.db", "node.db-wal"] {
            let Ok(bytes) = std::fs::read(data.join(name)) else { continue };
            for secret in ["13812341234", "张三", "110101199003074477", "91350100M000100Y43"] {
                assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in clear in {name}");
            }
        }
    }
    drop(dir);
}
