//! Tenant isolation on one node hosting two offices (issue "Personal data encrypted…", item 4):
//! staff of 320104 cannot read or change anything of 320102 by any staff route, and the other
//! way round — on the same database, behind the same listener.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bdc_node::startup::Application;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_of_one_office_reach_nothing_of_the_other_on_a_shared_node() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let all = bdc_node::demo::federation_settings(dir.path(), ports).unwrap();
    // One 南京市 node hosting both districts' offices (its province is configured but not running:
    // events wait in the outbox).
    let mut s = all[XUANWU].clone();
    s.division = schemas::ids::DivisionCode::parse("320100").unwrap();
    s.http.rate_limits = false;
    s.offices = vec![all[XUANWU].offices[0].clone(), all[QINHUAI].offices[0].clone()];
    s.validate().unwrap();
    let node = Application::build(s).await.unwrap().spawn();
    for (office, user, role) in [
        ("320102", "a-clerk", "clerk"),
        ("320104", "b-clerk", "clerk"),
        ("320102", "a-auditor", "auditor"),
        ("320104", "b-auditor", "auditor"),
        ("320102", "a-admin", "sysadmin"),
        ("320104", "b-admin", "sysadmin"),
    ] {
        bdc_node::demo::add_staff(&node, office, user, PASSWORD, user, role).await.unwrap();
    }
    let http = reqwest::Client::new();
    let base = node.url.clone();
    let call = |method: Method, path: String, token: Option<String>, body: Option<Value>| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let mut req = http.request(method, format!("{base}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let login = |user: &'static str| async move {
        let (status, body) = call(
            Method::POST,
            "/api/v1/staff/login".into(),
            None,
            Some(json!({"username": user, "password": PASSWORD})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    };
    let (a, b) = (login("a-clerk").await, login("b-clerk").await);
    let (b_auditor, b_admin, a_admin) = (login("b-auditor").await, login("b-admin").await, login("a-admin").await);

    // Each office takes one application to 发证 and leaves a second one just submitted.
    let mut in_b = sample_application(QINHUAI_UNIT);
    in_b["location"] = json!("南京市秦淮区中山南路1号");
    in_b["applicants"] =
        json!([{"name": "王五", "id_type": "id_card", "id_number": "110101198001010010", "role": "right_holder"}]);
    let mut numbers = vec![];
    for (app, token) in [(sample_application(XUANWU_UNIT), &a), (in_b.clone(), &b)] {
        let (status, r) = call(Method::POST, "/api/v1/applications".into(), None, Some(app)).await;
        assert_eq!(status, 200, "{r}");
        let no = r["business_no"].as_str().unwrap().to_owned();
        for action in ["accept", "review", "record", "certify", "issue"] {
            let (status, body) = call(
                Method::POST,
                format!("/api/v1/applications/{no}/actions"),
                Some(token.clone()),
                Some(json!({"action": action})),
            )
            .await;
            assert_eq!(status, 200, "{action}: {body}");
        }
        numbers.push(no);
    }
    let (a_no, b_no) = (numbers[0].clone(), numbers[1].clone());
    let (_, r) = call(Method::POST, "/api/v1/applications".into(), None, Some(sample_application(XUANWU_UNIT_2))).await;
    let a_open = r["business_no"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).date_naive();

    // The owner sees its own (so the refusals below are not vacuous).
    assert_eq!(call(Method::GET, format!("/api/v1/applications/{a_no}"), Some(a.clone()), None).await.0, 200);
    assert_eq!(call(Method::GET, format!("/api/v1/register/units/{XUANWU_UNIT}"), Some(a.clone()), None).await.0, 200);

    // 320104's clerk, against everything of 320102.
    let refused = |s: u16| s == 403 || s == 404;
    for path in [
        format!("/api/v1/applications/{a_no}"),
        format!("/api/v1/applications/{a_no}?purpose=%E6%A0%B8%E9%AA%8C"),
        format!("/api/v1/applications/{a_open}"),
        format!("/api/v1/register/units/{XUANWU_UNIT}"),
        format!("/api/v1/register/export/{a_no}"),
        format!("/api/v1/register/export/{a_no}?format=xml"),
    ] {
        let (status, body) = call(Method::GET, path.clone(), Some(b.clone()), None).await;
        assert!(refused(status), "{path}: {status} {body}");
        assert!(!body.to_string().contains("张"), "{path}: {body}");
    }
    for action in ["accept", "withdraw", "reject"] {
        let (status, body) = call(
            Method::POST,
            format!("/api/v1/applications/{a_open}/actions"),
            Some(b.clone()),
            Some(json!({"action": action, "reasons": ["越权测试"]})),
        )
        .await;
        assert!(refused(status), "{action}: {status} {body}");
    }
    let (_, view) = call(Method::GET, format!("/api/v1/applications/{a_open}"), Some(a.clone()), None).await;
    assert_eq!(view["state"], "submitted", "nothing changed: {view}");

    // 申请材料: 320102's clerk attaches a file to its open application; 320104's clerk can neither
    // list it, download it nor add to it.
    let upload = |token: String, item: &'static str| {
        let (http, base, no) = (http.clone(), base.clone(), a_open.clone());
        async move {
            let (content_type, body) = multipart(&[("file", Some("申请书.pdf"), &files::pdf("tenant-test"))]);
            let r = http
                .post(format!("{base}/api/v1/applications/{no}/materials/{item}"))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, file) = upload(a.clone(), "application_form").await;
    assert_eq!(status, 201, "{file}");
    let file_path = format!("/api/v1/applications/{a_open}/materials/application_form/files/{}", file["id"]);
    let list_path = format!("/api/v1/applications/{a_open}/materials");
    assert_eq!(call(Method::GET, list_path.clone(), Some(a.clone()), None).await.0, 200);
    assert_eq!(http.get(format!("{base}{file_path}")).bearer_auth(&a).send().await.unwrap().status(), 200);
    for path in [list_path.clone(), file_path.clone()] {
        let r = http.get(format!("{base}{path}")).bearer_auth(&b).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.bytes().await.unwrap();
        assert!(refused(status), "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("tenant-test") && !body.starts_with(b"%PDF"), "{path}");
    }
    let (status, body) = upload(b.clone(), "identity").await;
    assert!(refused(status), "upload by another office: {status} {body}");
    let (_, list) = call(Method::GET, list_path, Some(a.clone()), None).await;
    let held: usize = list["materials"].as_array().unwrap().iter().map(|m| m["files"].as_array().unwrap().len()).sum();
    assert_eq!(held, 1, "{list}");

    // Lists, searches and logs answer only from the caller's own office.
    for path in [
        "/api/v1/applications?due=soon".to_owned(),
        "/api/v1/applications?due=overdue".to_owned(),
        format!("/api/v1/register/search?location={}", "%E5%8C%97%E4%BA%AC%E4%B8%9C%E8%B7%AF"),
        format!("/api/v1/register/daily-log?date={today}"),
    ] {
        let (status, body) = call(Method::GET, path.clone(), Some(b.clone()), None).await;
        assert!(status == 200 || status == 404, "{path}: {status} {body}");
        let text = body.to_string();
        assert!(!text.contains(&a_no) && !text.contains(&a_open) && !text.contains(XUANWU_UNIT), "{path}: {text}");
    }
    let (_, log) = call(Method::GET, format!("/api/v1/register/daily-log?date={today}"), Some(b.clone()), None).await;
    assert_eq!(log["count"], 1, "{log}");
    assert!(log.to_string().contains(&b_no), "{log}");
    let (status, holdings) = call(
        Method::POST,
        "/api/v1/register/holdings".into(),
        Some(b.clone()),
        Some(json!({"id_type": "id_card", "id_number": "110101199003074477"})),
    )
    .await;
    assert_eq!(status, 200, "{holdings}");
    assert!(!holdings.to_string().contains(XUANWU_UNIT), "{holdings}");

    // The audit log: 320104's auditor reads none of 320102's records.
    let (status, trail) = call(Method::GET, "/api/v1/audit".into(), Some(b_auditor.clone()), None).await;
    assert_eq!(status, 200, "{trail}");
    let records = trail.as_array().unwrap();
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r["division"] == "320104"), "{trail}");
    let (_, trail) = call(Method::GET, format!("/api/v1/audit?business_no={a_no}"), Some(b_auditor), None).await;
    assert_eq!(trail, json!([]), "{trail}");

    // Rules are per office: 320104's administrator switching one off leaves 320102's alone.
    let (_, rules) = call(Method::GET, "/api/v1/rules".into(), Some(b_admin.clone()), None).await;
    let rule = rules.as_array().unwrap().iter().find(|r| r["enabled"] == true).unwrap();
    let id = rule["id"].as_str().unwrap().to_owned();
    let config = json!({
        "stage": rule["stage"], "kinds": rule["kinds"], "severity": rule["severity"], "message": rule["message"],
        "check": rule["check"], "enabled": false, "position": rule["position"],
    });
    let (status, body) = call(Method::PUT, format!("/api/v1/rules/{id}"), Some(b_admin.clone()), Some(config)).await;
    assert_eq!(status, 200, "{body}");
    let (_, b_rules) = call(Method::GET, "/api/v1/rules".into(), Some(b_admin.clone()), None).await;
    let b_rule = b_rules.as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(b_rule["enabled"], false, "{b_rule}");
    let (_, a_rules) = call(Method::GET, "/api/v1/rules".into(), Some(a_admin.clone()), None).await;
    let a_rule = a_rules.as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(a_rule["enabled"], true, "{a_rule}");

    // Resetting a rule (DELETE) is per office too: 320102's administrator resetting it leaves
    // 320104's change standing; 320104's own reset brings it back.
    let (status, body) = call(Method::DELETE, format!("/api/v1/rules/{id}"), Some(a_admin.clone()), None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "320102 has no setting of its own to reset");
    let enabled = |token: String| {
        let id = id.clone();
        async move {
            let (_, rules) = call(Method::GET, "/api/v1/rules".into(), Some(token), None).await;
            rules.as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap()["enabled"].clone()
        }
    };
    assert_eq!(enabled(b_admin.clone()).await, false, "320102's reset does not touch 320104's rule");
    let (status, body) = call(Method::DELETE, format!("/api/v1/rules/{id}"), Some(b_admin.clone()), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(enabled(b_admin.clone()).await, true);
    assert_eq!(enabled(a_admin.clone()).await, true);

    // A 无房证明 speaks for the asking office's register only: 320104 certifies that 张三 holds
    // nothing in 320104 (and says nothing of 320102), while 320102, where he holds a flat, refuses.
    let person = json!({"name": "张三", "id_type": "id_card", "id_number": "110101199003074477"});
    let (status, proof) =
        call(Method::POST, "/api/v1/register/no-property-proof".into(), Some(b.clone()), Some(person.clone())).await;
    assert_eq!(status, 200, "{proof}");
    let text = proof.to_string();
    assert!(text.contains("320104") && !text.contains("320102"), "{proof}");
    let (status, body) =
        call(Method::POST, "/api/v1/register/no-property-proof".into(), Some(a.clone()), Some(person)).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("register_conflict")), "{body}");

    // And the other way round: 320102's clerk reaches nothing of 320104.
    for path in [format!("/api/v1/applications/{b_no}"), format!("/api/v1/register/units/{QINHUAI_UNIT}")] {
        let (status, body) = call(Method::GET, path.clone(), Some(a.clone()), None).await;
        assert!(refused(status), "{path}: {status} {body}");
    }
    node.stop().await;
}
