//! The register over HTTP at a county: staff read a unit's page and a person's holdings, rules
//! stop a registration with a stable code, and the office's system administrator changes its
//! rules at run time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_read_the_register_and_the_office_sets_its_rules() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let first = receipt["business_no"].as_str().unwrap().to_owned();
    fed.run_to_issued(&first).await;
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;

    // The application is masked by default; a clerk who states a purpose sees it in full, audited.
    let (_, masked) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/applications/{first}")).await;
    assert_eq!(
        (masked["parties"][0]["name"].as_str(), masked["parties"][0]["phone"].as_str()),
        (Some("张*"), Some("138****1234"))
    );
    let full_path = format!("/api/v1/applications/{first}?{}", param("purpose", "核对申请人身份"));
    let (status, full) = fed.get_as(XUANWU, &clerk, &full_path).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(
        (full["parties"][0]["id_number"].as_str(), full["parties"][0]["phone"].as_str()),
        (Some("110101199003074477"), Some("13812341234"))
    );
    let auditor = fed.login(XUANWU, "xuanwu-auditor").await;
    assert_eq!(fed.get_as(XUANWU, &auditor, &full_path).await.0, 403, "an auditor does no registration work");
    assert_eq!(fed.get_as(XUANWU, &clerk, &format!("/api/v1/applications/{first}?purpose=x")).await.0, 400);
    let (_, records) = fed.get_as(XUANWU, &auditor, &format!("/api/v1/audit?business_no={first}")).await;
    assert!(records.to_string().contains("核对申请人身份"), "{records}");

    // The unit's page: 张三 holds it, masked; nothing restricts it.
    let page_path = format!("/api/v1/register/units/{XUANWU_UNIT}");
    let (status, page) = fed.get_as(XUANWU, &clerk, &page_path).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["current"]["holders"][0]["name"], "张*");
    assert_eq!(page["current"]["area"], "89.50");
    assert_eq!(page["current"]["business_no"], first.as_str());
    assert_eq!((page["mortgaged"].as_bool(), page["seized"].as_bool()), (Some(false), Some(false)));
    assert!(!page.to_string().contains("110101199003074477"));
    // Without a session, with a bad code, for a unit it does not hold: refused.
    assert_eq!(fed.get(XUANWU, &page_path).await.0, 401);
    let (status, body) = fed.get_as(XUANWU, &clerk, "/api/v1/register/units/32010200300").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_unit_code")));
    assert_eq!(fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/units/{XUANWU_UNIT_2}")).await.0, 404);

    // Search by certificate number (either bracket form) and by 坐落.
    let (_, issued) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/applications/{first}")).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    let (_, v) = fed.get(XUANWU, &format!("/api/v1/certificates/{cert}/verify")).await;
    let number = v["number"].as_str().unwrap().to_owned();
    let full_width = number.replace('(', "（").replace(')', "）");
    for n in [&number, &full_width] {
        let (status, found) =
            fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/search?{}", param("certificate_number", n))).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found[0]["unit_code"], XUANWU_UNIT);
    }
    let (status, found) =
        fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/search?{}", param("location", "北京东路41号"))).await;
    assert_eq!((status, found.as_array().map(Vec::len)), (200, Some(1)));
    let (_, none) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/search?{}", param("location", "100%"))).await;
    assert_eq!(none, json!([]), "wildcards are literal");
    for bad in ["", "?location=x", "?certificate_number=abc", "?location=abc&certificate_number=x", "?unit=1"] {
        let (status, body) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/search{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // 汇交 export of the recorded business, JSON and XML; the 登簿日志 of the day lists it.
    let (status, ex) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/export/{first}")).await;
    assert_eq!(status, 200, "{ex}");
    assert_eq!(ex["data"]["QLT_FW_FDCQ_YZ"][0]["BDCQZH"], number.as_str());
    assert_eq!(ex["data"]["QLT_FW_FDCQ_YZ"][0]["JZMJ"], "89.50");
    assert_eq!(ex["data"]["ZTT_GY_QLR"][0]["ZJH"], "110101199003074477", "the national platform gets the id number");
    assert_eq!(ex["data"]["DJT_DJ_SL"][0]["DJLX"], "100");
    assert!(ex["data"]["DJF_DJ_FZ"][0]["FZSJ"].is_string());
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/register/export/{first}?format=xml", fed.url(XUANWU)))
        .bearer_auth(&clerk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/xml; charset=utf-8");
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<QLT_FW_FDCQ_YZ ") && xml.contains(&format!("YWH=\"{first}\"")), "{xml}");
    let (status, _) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/export/{first}?format=pdf")).await;
    assert_eq!(status, 400);
    assert_eq!(fed.get_as(XUANWU, &auditor, &format!("/api/v1/register/export/{first}")).await.0, 403);
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let (status, log) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/daily-log?date={today}")).await;
    assert_eq!(status, 200, "{log}");
    assert!(log["entries"].as_array().unwrap().iter().any(|e| e["business_no"] == first.as_str()));
    assert_eq!(fed.get_as(XUANWU, &clerk, "/api/v1/register/daily-log?date=2026-13-01").await.0, 400);

    // Holdings by id document (in the body, never the URL).
    let holdings = |id: &str| json!({"id_type": "id_card", "id_number": id});
    let (status, h) = fed
        .send_as(XUANWU, &clerk, Method::POST, "/api/v1/register/holdings", Some(holdings("110101199003074477")))
        .await;
    assert_eq!((status, h["units"].clone()), (200, json!([XUANWU_UNIT])));
    let (status, h) = fed
        .send_as(XUANWU, &clerk, Method::POST, "/api/v1/register/holdings", Some(holdings("110101199003074478")))
        .await;
    assert_eq!((status, h["error"].as_str()), (400, Some("invalid_id_document")));

    // 无房证明: signed for someone with nothing on the register, refused for the holder.
    let proof_for = |name: &str, id: &str| json!({"name": name, "id_type": "id_card", "id_number": id});
    let (status, doc) = fed
        .send_as(
            XUANWU,
            &clerk,
            Method::POST,
            "/api/v1/register/no-property-proof",
            Some(proof_for("王五", "110101198001010010")),
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    let (_, node) = fed.get(XUANWU, "/api/v1/node").await;
    let key = federation::crypto::PublicKey::from_spki_pem(node["public_key_pem"].as_str().unwrap()).unwrap();
    let content = doc["content"].as_str().unwrap();
    key.verify(content.as_bytes(), &federation::crypto::unb64(doc["signature"].as_str().unwrap()).unwrap()).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(content).unwrap();
    assert_eq!(parsed["subject_name"], "王五");
    assert!(!content.contains("110101198001010010"), "the id number is masked");
    let (status, body) = fed
        .send_as(
            XUANWU,
            &clerk,
            Method::POST,
            "/api/v1/register/no-property-proof",
            Some(proof_for("张三", "110101199003074477")),
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("register_conflict")));

    // A transfer whose obligor is not the holder is stopped at review with the rule named.
    let mut sale = sample_application(XUANWU_UNIT);
    sale["kind"] = json!("transfer");
    sale["applicants"] = json!([
        {"name": "王五", "id_type": "id_card", "id_number": "110101198001010010", "role": "right_holder"},
        {"name": "李四", "id_type": "id_card", "id_number": "11010519491231002X", "role": "obligor"}
    ]);
    let (_, r) = fed.post(XUANWU, "/api/v1/applications", &sale).await;
    let sale_no = r["business_no"].as_str().unwrap().to_owned();
    assert_eq!(fed.act(XUANWU, &clerk, &sale_no, json!({"action": "accept"})).await.0, 200);
    let (status, body) = fed.act(XUANWU, &clerk, &sale_no, json!({"action": "review"})).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("rule_blocked")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("transfer-needs-holder-consent"));
    let (_, view) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/applications/{sale_no}")).await;
    assert_eq!(view["state"], "accepted", "a refused review changes nothing");
    let (status, body) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/export/{sale_no}")).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("invalid_transition")), "not recorded, not exported");

    // Rules: any staff member reads them; only the system administrator changes them.
    let (status, rules) = fed.get_as(XUANWU, &clerk, "/api/v1/rules").await;
    assert_eq!(status, 200);
    let rule = rules.as_array().unwrap().iter().find(|r| r["id"] == "transfer-needs-holder-consent").unwrap().clone();
    assert_eq!((rule["enabled"].as_bool(), rule["builtin"].as_bool()), (Some(true), Some(true)));
    let mut off = json!({
        "stage": rule["stage"], "kinds": rule["kinds"], "severity": "warn", "message": rule["message"],
        "check": rule["check"], "enabled": true, "position": rule["position"]
    });
    let path = "/api/v1/rules/transfer-needs-holder-consent";
    let (status, body) = fed.send_as(XUANWU, &clerk, Method::PUT, path, Some(off.clone())).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
    let admin = fed.login(XUANWU, "xuanwu-admin").await;
    let mut changed_check = off.clone();
    changed_check["check"] = json!("no_objection");
    let (status, body) = fed.send_as(XUANWU, &admin, Method::PUT, path, Some(changed_check)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")), "a built-in keeps its check");
    let (status, body) = fed.send_as(XUANWU, &admin, Method::PUT, path, Some(off.clone())).await;
    assert_eq!((status, body["severity"].as_str()), (200, Some("warn")), "{body}");
    // Now a warning: review goes ahead and the trace keeps the failed check.
    let (status, view) = fed.act(XUANWU, &clerk, &sale_no, json!({"action": "review"})).await;
    assert_eq!(status, 200, "{view}");
    let trace = view["rule_trace"].as_array().unwrap();
    assert!(trace.iter().any(|t| t["rule"] == "transfer-needs-holder-consent" && t["passed"] == false));
    // Reset to the default, once.
    assert_eq!(fed.send_as(XUANWU, &admin, Method::DELETE, path, None).await.0, 204);
    assert_eq!(fed.send_as(XUANWU, &admin, Method::DELETE, path, None).await.0, 404);
    off["check"] = json!("nonsense");
    let (status, _) = fed.send_as(XUANWU, &admin, Method::PUT, "/api/v1/rules/my-rule", Some(off)).await;
    assert_eq!(status, 400);

    // The materials checklist, public, per kind.
    let (status, list) = fed.get(NATION, "/api/v1/materials?kind=mortgage").await;
    assert_eq!(status, 200);
    assert!(list["materials"].as_array().unwrap().iter().any(|m| m["name"] == "抵押合同" && m["required"] == true));
    assert_eq!(fed.get(NATION, "/api/v1/materials?kind=gift").await.0, 400);
    assert_eq!(fed.get(NATION, "/api/v1/materials").await.0, 400);

    // Bad register details are refused at the door, at any level, and store nothing.
    let before = fed.count(XUANWU, "applications");
    let mut mortgage = sample_application(XUANWU_UNIT);
    mortgage["kind"] = json!("mortgage");
    mortgage["details"] = json!({});
    let (status, body) = fed.post(NATION, "/api/v1/applications", &mortgage).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("债权数额"));
    let mut shares = sample_application(XUANWU_UNIT_2);
    shares["applicants"] = json!([
        {"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder", "share": "1/2"},
        {"name": "王五", "id_type": "id_card", "id_number": "110101198001010010", "role": "right_holder", "share": "0.6"}
    ]);
    let (status, body) = fed.post(XUANWU, "/api/v1/applications", &shares).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_share")), "{body}");
    shares["applicants"][1]["share"] = json!("一半");
    assert_eq!(fed.post(XUANWU, "/api/v1/applications", &shares).await.1["error"], "invalid_share");
    assert_eq!(fed.count(XUANWU, "applications"), before);

    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn written_notices_reach_the_applicant_at_every_level() {
    let fed = Federation::start().await;
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let who = json!({"name": "张三", "id_number": "110101199003074477"});

    // 补正 with the whole list at once, then 不予受理: each has its notice, also at the nation.
    let (_, r) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let no = r["business_no"].as_str().unwrap().to_owned();
    let (status, _) = fed
        .act(
            XUANWU,
            &clerk,
            &no,
            json!({"action": "request_correction", "missing": ["身份证明", "不动产权属来源证明"]}),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/api/v1/progress/{no}/notice");
    let notice = eventually("the correction notice at the nation", std::time::Duration::from_secs(10), || async {
        let (status, n) = fed.post(NATION, &path, &who).await;
        (status == 200 && n["kind"] == "correction").then_some(n)
    })
    .await;
    assert_eq!(notice["missing"], json!(["身份证明", "不动产权属来源证明"]));
    assert!(notice["office_name"].as_str().unwrap().contains("玄武区"));
    assert!(!notice.to_string().contains("110101199003074477"));
    // Without naming an applicant, or naming the wrong one: nothing.
    assert_eq!(fed.get(NATION, &path).await.0, 400);
    assert_eq!(fed.post(NATION, &path, &json!({"name": "李", "id_number": "110101199003074477"})).await.0, 404);

    let (status, _) = fed
        .act(XUANWU, &clerk, &no, json!({"action": "reject", "reasons": ["逾期未补正"], "missing": ["身份证明"]}))
        .await;
    assert_eq!(status, 200);
    let (status, n) = fed.post(XUANWU, &path, &who).await;
    assert_eq!((status, n["kind"].as_str()), (200, Some("rejection")));
    assert_eq!((n["reasons"].clone(), n["missing"].clone()), (json!(["逾期未补正"]), json!(["身份证明"])));
    // The printable page, posted from the progress page's button (the proof in the body).
    let csrf = fed.portal_csrf(XUANWU).await;
    let (status, _, html) = fed.applicant_page(XUANWU, "/notice", &no, ("张三", "110101199003074477"), &csrf).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("不动产登记不予受理告知书") && html.contains("<li>身份证明</li>"), "{html}");

    // 受理: the acceptance notice carries the statutory due date.
    let (_, r) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    let accepted = r["business_no"].as_str().unwrap().to_owned();
    let (_, view) = fed.act(XUANWU, &clerk, &accepted, json!({"action": "accept"})).await;
    let (status, n) = fed.post(XUANWU, &format!("/api/v1/progress/{accepted}/notice"), &who).await;
    assert_eq!((status, n["kind"].as_str()), (200, Some("acceptance")));
    assert_eq!(n["due_date"], view["due_date"]);
    // Under review there is no notice to give.
    fed.act(XUANWU, &clerk, &accepted, json!({"action": "review"})).await;
    assert_eq!(fed.post(XUANWU, &format!("/api/v1/progress/{accepted}/notice"), &who).await.0, 404);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_see_what_is_due() {
    // 玄武区 gives 首次登记 one working day.
    let fed = Federation::start_with(|settings, _| {
        settings[XUANWU].offices[0].time_limits.insert(schemas::registration::RegistrationKind::First, 1);
    })
    .await;
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (_, r) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let no = r["business_no"].as_str().unwrap().to_owned();
    let (_, view) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    let (status, soon) = fed.get_as(XUANWU, &clerk, "/api/v1/applications?due=soon").await;
    assert_eq!(status, 200, "{soon}");
    assert_eq!(soon[0]["business_no"], no.as_str());
    assert_eq!(soon[0]["due_date"], view["due_date"]);
    assert_eq!(soon[0]["working_days_left"], 1);
    let (_, overdue) = fed.get_as(XUANWU, &clerk, "/api/v1/applications?due=overdue").await;
    assert_eq!(overdue, json!([]));
    let (status, body) = fed.get_as(XUANWU, &clerk, "/api/v1/applications?due=tomorrow").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")));
    assert_eq!(fed.get(XUANWU, "/api/v1/applications?due=soon").await.0, 401);
    // Another office's staff see none of it.
    let other = fed.login(QINHUAI, "qinhuai-clerk").await;
    assert_eq!(fed.get_as(QINHUAI, &other, "/api/v1/applications?due=soon").await.1, json!([]));
    fed.shutdown().await;
}

/// One query parameter, percent-encoded.
fn param(name: &str, value: &str) -> String {
    serde_urlencoded::to_string([(name, value)]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transfer_voids_the_old_certificate_everywhere() {
    let fed = Federation::start().await;
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (_, r) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let first = r["business_no"].as_str().unwrap().to_owned();
    let old = fed.run_to_issued(&first).await["certificate_id"].as_str().unwrap().to_owned();
    let mut sale = sample_application(XUANWU_UNIT);
    sale["kind"] = json!("transfer");
    sale["applicants"] = json!([
        {"name": "王五", "id_type": "id_card", "id_number": "110101198001010010", "role": "right_holder"},
        {"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "obligor"}
    ]);
    let (status, r) = fed.post(NATION, "/api/v1/applications", &sale).await;
    assert_eq!(status, 200, "{r}");
    let new =
        fed.run_to_issued(r["business_no"].as_str().unwrap()).await["certificate_id"].as_str().unwrap().to_owned();
    // The nation learns of the void through the rolled-up status event, and says why and when.
    let v = eventually("the void at the nation", std::time::Duration::from_secs(10), || async {
        let (_, v) = fed.get(NATION, &format!("/api/v1/certificates/{old}/verify")).await;
        (v["status"] == "void").then_some(v)
    })
    .await;
    assert_eq!((v["valid"].as_bool(), v["signature_valid"].as_bool()), (Some(false), Some(true)));
    assert!(v["reason"].as_str().unwrap().contains("转移登记"), "{v}");
    assert!(v["status_changed_at"].is_string());
    eventually("the new certificate valid at the province", std::time::Duration::from_secs(10), || async {
        let (_, v) = fed.get(PROVINCE, &format!("/api/v1/certificates/{new}/verify")).await;
        (v["valid"] == true).then_some(())
    })
    .await;
    // The register's page shows the chain.
    let (_, page) = fed.get_as(XUANWU, &clerk, &format!("/api/v1/register/units/{XUANWU_UNIT}")).await;
    assert_eq!(page["current"]["certificate_id"], new.as_str());
    assert_eq!(page["history"][0]["certificate_id"], old.as_str());
    assert_eq!(page["history"][0]["ended_by"], r["business_no"]);
    fed.shutdown().await;
}
