//! Unified identity authentication (统一身份认证, issue "Personal data…", item 5): an applicant
//! signs in at the national portal through the platform (simulated here, `bdc_node::identity::
//! simulator`) and the login carries down to the county without a second password; tickets are
//! single-use and bound to the node they were issued for; the platform's failures, nonsense and
//! silence are refused cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bdc_node::identity::simulator::{self, SimUser};
use common::*;
use serde_json::{Value, json};

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").expect("a redirect").to_str().unwrap().to_owned()
}

fn ticket_path(url: &str, base: &str) -> String {
    url.strip_prefix(base).expect("back to the node").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_at_the_national_portal_carries_down_to_the_county() {
    let idp = simulator::start(
        "127.0.0.1:0",
        vec![
            SimUser {
                username: "zhangsan".into(),
                password: "idp-pass-1".into(),
                name: "张三".into(),
                id_number: "110101199003074477".into(),
                phone: "13812341234".into(),
            },
            SimUser {
                username: "lisi".into(),
                password: "idp-pass-2".into(),
                name: "李四".into(),
                id_number: "11010519491231002X".into(),
                phone: "13700000002".into(),
            },
        ],
    )
    .unwrap();
    let url = idp.url.clone();
    let fed = Federation::start_with(|settings, _| {
        for i in [NATION, XUANWU] {
            settings[i].identity.provider_url = url.clone();
            settings[i].identity.timeout_ms = 500;
        }
    })
    .await;
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // 玄武区's applicant already signed up with phone and SMS code (实名 declared).
    let (status, _) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": "13812341234", "purpose": "sign_up"})).await;
    assert_eq!(status, 202);
    let sink = std::fs::read_to_string(fed.data_dir(XUANWU).join("sms-outbox.txt")).unwrap();
    let start = sink.find("验证码为").unwrap() + "验证码为".len();
    let code = &sink[start..start + 6];
    let (status, declared) = fed
        .post(
            XUANWU,
            "/api/v1/applicants",
            &json!({"phone": "13812341234", "code": code, "password": "bdc-pass-2026", "kind": "person", "name": "张三", "id_number": "110101199003074477"}),
        )
        .await;
    assert_eq!((status, declared["real_name"].as_str()), (201, Some("declared")), "{declared}");

    // At the nation: to the platform, which shows its form.
    let r = browser.get(format!("{}/sso/login", fed.url(NATION))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let login = location(&r);
    assert!(login.starts_with(&format!("{url}/login?service=")), "{login}");
    let r = browser.get(&login).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let service = format!("{}/sso/callback", fed.url(NATION));
    let form = |password: &str| {
        serde_urlencoded::to_string([("username", "zhangsan"), ("password", password), ("service", service.as_str())])
            .unwrap()
    };
    let post_form = |password: &str| {
        browser
            .post(format!("{url}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(password))
    };
    let r = post_form("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401, "a wrong password at the platform");
    let r = post_form("idp-pass-1").send().await.unwrap();
    assert_eq!(r.status(), 303);
    let sso_cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let back = location(&r);
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session: Value = r.json().await.unwrap();
    let token = session["token"].as_str().unwrap();
    let (status, me) = fed.get_as(NATION, token, "/api/v1/applicants/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["name"].as_str(), me["real_name"].as_str()), (Some("张*"), Some("verified")));
    // The ticket was used once.
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "identity_ticket_invalid");

    // At the county: the platform's SSO session answers at once, no password.
    let r = browser.get(format!("{}/sso/login", fed.url(XUANWU))).send().await.unwrap();
    let login = location(&r);
    let r = browser.get(&login).header("cookie", &sso_cookie).send().await.unwrap();
    assert_eq!(r.status(), 302, "single sign-on: straight back with a ticket");
    let back = location(&r);
    // A ticket for 玄武区 does not open a session at the nation.
    let path = ticket_path(&back, &fed.url(XUANWU));
    let r = browser.get(format!("{}{path}", fed.url(NATION))).send().await.unwrap();
    assert_eq!(r.status(), 401, "tickets are bound to the node they were issued for");
    // (That try used the ticket up, as a real platform does.) A fresh one for the county:
    let r = browser.get(&login).header("cookie", &sso_cookie).send().await.unwrap();
    let back = location(&r);
    let r = browser.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session: Value = r.json().await.unwrap();
    let (status, me) = fed.get_as(XUANWU, session["token"].as_str().unwrap(), "/api/v1/applicants/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], declared["id"], "the same account as the SMS sign-up");
    assert_eq!(me["real_name"], "verified", "now 实名 verified by the platform");

    // Someone declared 李四's ID number with their own phone before 李四 ever came. When 李四
    // signs in through the platform, he takes the account over: his phone, no password, the
    // squatter's session ended.
    let (status, _) =
        fed.post(XUANWU, "/api/v1/applicants/sms-code", &json!({"phone": "13600000009", "purpose": "sign_up"})).await;
    assert_eq!(status, 202);
    let sink = std::fs::read_to_string(fed.data_dir(XUANWU).join("sms-outbox.txt")).unwrap();
    let line = sink.lines().rev().find(|l| l.contains("13600000009")).unwrap();
    let at = line.find("验证码为").unwrap() + "验证码为".len();
    let squat = json!({"phone": "13600000009", "code": &line[at..at + 6], "password": "squat-pass-1", "kind": "person",
        "name": "李四", "id_number": "11010519491231002X"});
    let (status, squatted) = fed.post(XUANWU, "/api/v1/applicants", &squat).await;
    assert_eq!(status, 201, "{squatted}");
    let (_, squatter) = fed
        .post(XUANWU, "/api/v1/applicants/login", &json!({"phone": "13600000009", "password": "squat-pass-1"}))
        .await;
    let squatter = squatter["token"].as_str().unwrap().to_owned();
    let county_service = format!("{}/sso/callback", fed.url(XUANWU));
    let lisi = serde_urlencoded::to_string([
        ("username", "lisi"),
        ("password", "idp-pass-2"),
        ("service", county_service.as_str()),
    ])
    .unwrap();
    let r = browser
        .post(format!("{url}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(lisi)
        .send()
        .await
        .unwrap();
    let r = browser.get(location(&r)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session: Value = r.json().await.unwrap();
    let (_, me) = fed.get_as(XUANWU, session["token"].as_str().unwrap(), "/api/v1/applicants/me").await;
    assert_eq!(me["id"], squatted["id"]);
    assert_eq!((me["phone"].as_str(), me["real_name"].as_str()), (Some("137****0002"), Some("verified")));
    let (status, _) = fed.get_as(XUANWU, &squatter, "/api/v1/applicants/me").await;
    assert_eq!(status, 401, "the squatter's session is ended");
    let (status, _) = fed
        .post(XUANWU, "/api/v1/applicants/login", &json!({"phone": "13600000009", "password": "squat-pass-1"}))
        .await;
    assert_eq!(status, 401, "and the squatter's password no longer opens it");

    // The platform failing, answering nonsense, or not answering: 503, no session.
    for mode in ["fail", "garbage", "slow"] {
        let r = browser.post(format!("{url}/_sim/mode")).json(&json!({"mode": mode})).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = browser.get(&login).header("cookie", &sso_cookie).send().await.unwrap();
        let r = browser.get(location(&r)).send().await.unwrap();
        assert_eq!(r.status(), 503, "{mode}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "identity_unavailable", "{mode}");
    }
    // A node not connected to the platform says so.
    let r = browser.get(format!("{}/sso/login", fed.url(QINHUAI))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    fed.shutdown().await;
    idp.handle.stop(false).await;
}
