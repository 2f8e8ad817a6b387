//! The staff second factor (issue "Personal data encrypted…", item 3): a clerk turns on RFC 6238
//! codes; from then on a login needs the password and a fresh code, a used code is refused, and
//! a wrong code counts toward the lockout like a wrong password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bdc_node::domain::totp::{STEP_SECS, code_at, secret_from_base32};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn step_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap() / STEP_SECS
}

async fn login(fed: &Federation, user: &str, password: &str, totp: Option<&str>) -> (u16, Value) {
    let mut body = json!({"username": user, "password": password});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    fed.post(XUANWU, "/api/v1/staff/login", &body).await
}

/// Enrol `user`; returns the secret and a signed-in token.
async fn enrol(fed: &Federation, user: &str) -> (Vec<u8>, String) {
    let token = fed.login(XUANWU, user).await;
    let (status, enrolment) = fed.send_as(XUANWU, &token, Method::POST, "/api/v1/staff/totp", None).await;
    assert_eq!(status, 200, "{enrolment}");
    assert!(enrolment["otpauth_uri"].as_str().unwrap().starts_with(&format!("otpauth://totp/bdc-node:{user}?")));
    let secret = secret_from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    assert_eq!(secret.len(), 20);
    // Not active until confirmed: the password alone still signs in.
    assert_eq!(login(fed, user, PASSWORD, None).await.0, 200);
    let (status, body) =
        fed.send_as(XUANWU, &token, Method::POST, "/api/v1/staff/totp/confirm", Some(json!({"code": "000000x"}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")), "{body}");
    let code = code_at(&secret, step_now()).unwrap();
    let (status, body) =
        fed.send_as(XUANWU, &token, Method::POST, "/api/v1/staff/totp/confirm", Some(json!({"code": code}))).await;
    assert_eq!(status, 200, "{body}");
    (secret, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_needs_a_fresh_code_once_the_second_factor_is_on() {
    let fed = Federation::start().await;
    let (secret, _) = enrol(&fed, "xuanwu-clerk").await;

    let (status, body) = login(&fed, "xuanwu-clerk", PASSWORD, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("second_factor_required")), "{body}");
    let next = code_at(&secret, step_now() + 1).unwrap();
    let wrong = if next == "123456" { "654321" } else { "123456" };
    let (status, body) = login(&fed, "xuanwu-clerk", PASSWORD, Some(wrong)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("second_factor_invalid")), "{body}");
    // A right code with a wrong password is still a wrong password.
    let (status, body) = login(&fed, "xuanwu-clerk", "not-the-password", Some(&next)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("bad_credentials")), "{body}");
    let (status, body) = login(&fed, "xuanwu-clerk", PASSWORD, Some(&next)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string());
    // The same code again: refused (it may have been seen over a shoulder).
    let (status, body) = login(&fed, "xuanwu-clerk", PASSWORD, Some(&next)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("second_factor_invalid")), "{body}");

    // Wrong codes count toward the lockout like wrong passwords.
    for _ in 0..6 {
        login(&fed, "xuanwu-clerk", PASSWORD, Some(wrong)).await;
    }
    let (status, body) = login(&fed, "xuanwu-clerk", PASSWORD, Some(wrong)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("account_locked")), "{body}");

    // Another account turns it on and off again (with a code from the active secret).
    let (secret, token) = enrol(&fed, "xuanwu-auditor").await;
    let (status, body) =
        fed.send_as(XUANWU, &token, Method::DELETE, "/api/v1/staff/totp", Some(json!({"code": "000000"}))).await;
    assert!(status == 400 || code_at(&secret, step_now()).unwrap() == "000000", "{status} {body}");
    let code = code_at(&secret, step_now() + 1).unwrap();
    let (status, body) =
        fed.send_as(XUANWU, &token, Method::DELETE, "/api/v1/staff/totp", Some(json!({"code": code}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(login(&fed, "xuanwu-auditor", PASSWORD, None).await.0, 200);

    // Two logins racing with one code: exactly one gets a session.
    let (secret, _) = enrol(&fed, "xuanwu-admin").await;
    let code = code_at(&secret, step_now() + 1).unwrap();
    let (first, second) = tokio::join!(
        login(&fed, "xuanwu-admin", PASSWORD, Some(&code)),
        login(&fed, "xuanwu-admin", PASSWORD, Some(&code))
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{first:?} {second:?}");

    // Every step is a security record; the secret is sealed at rest.
    let auditor = fed.login(XUANWU, "xuanwu-auditor").await;
    let (_, trail) = fed.get_as(XUANWU, &auditor, "/api/v1/audit?kind=security").await;
    let actions: Vec<&str> = trail.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap_or("")).collect();
    for a in ["totp_enrol", "totp_enable", "totp_disable"] {
        assert!(actions.contains(&a), "{a} missing: {actions:?}");
    }
    {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct S {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            totp_secret: Option<String>,
        }
        let mut conn = fed.node(XUANWU).state.db.conn().unwrap();
        let rows: Vec<S> = diesel::sql_query("SELECT totp_secret FROM staff WHERE username = 'xuanwu-clerk'")
            .load(&mut *conn)
            .unwrap();
        assert!(rows[0].totp_secret.as_deref().unwrap().starts_with("sm4gcm:"));
    }
    fed.shutdown().await;
}
