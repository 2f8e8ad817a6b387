//! The whole federation over HTTP: interface and link navigation, the registration flow at the
//! county, progress and certificates rolling up, and bad input changing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn interface_navigation_from_the_nation_reaches_the_county_and_everything_rolls_up() {
    let fed = Federation::start().await;

    let (status, receipt) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["status"], "received");
    assert_eq!(receipt["state"], "submitted");
    assert_eq!(receipt["office"], "320102");
    assert_eq!(receipt["office_node"], "nj-xuanwu");
    let business_no = receipt["business_no"].as_str().unwrap().to_owned();
    assert!(business_no.starts_with("320102"), "{business_no}");
    assert_eq!(business_no.len(), 20);

    // The county holds the application with personal data sealed and masked in answers.
    let token = fed.login(XUANWU, "xuanwu-clerk").await;
    let (_, view) = fed.get_as(XUANWU, &token, &format!("/api/v1/applications/{business_no}")).await;
    assert_eq!(view["parties"][0]["name"], "张*");
    assert_eq!(view["parties"][0]["id_number"], "110101********4477");

    let issued = fed.run_to_issued(&business_no).await;
    assert_eq!(issued["state"], "issued");
    assert!(issued["due_date"].is_string());
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    assert!(cert.starts_with("1.2.156.3005.2.11100000MB03271699001.320102."), "{cert}");

    // Progress and the certificate reach the province and the nation.
    for node in [PROVINCE, NATION] {
        let progress = eventually("progress rolled up", WAIT, || async {
            let (status, body) = fed.progress(node, &business_no, "张三", "110101199003074477").await;
            (status == 200 && body["state"] == "issued").then_some(body)
        })
        .await;
        let stages: Vec<&str> =
            progress["steps"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
        assert_eq!(stages, ["submitted", "accepted", "reviewed", "recorded", "certified", "issued"]);
        let seqs: Vec<u64> = progress["steps"].as_array().unwrap().iter().map(|s| s["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));

        let verified = eventually("certificate rolled up", WAIT, || async {
            let (status, body) = fed.get(node, &format!("/api/v1/certificates/{cert}/verify")).await;
            (status == 200).then_some(body)
        })
        .await;
        assert_eq!(verified["valid"], true, "{verified}");
        assert_eq!(verified["status"], "valid");
        assert_eq!(verified["issuer"], "320102");
        assert!(
            verified["number"].as_str().unwrap().starts_with("苏(2026)南京市不动产权第")
                || verified["number"].as_str().unwrap().starts_with("苏(")
        );
    }

    // The public must name an applicant: a wrong name or ID number finds nothing, at any level.
    let (status, body) = fed.progress(NATION, &business_no, "王五", "110101199003074477").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, _) = fed.progress(NATION, &business_no, "张三", "11010519491231002X").await;
    assert_eq!(status, 404);
    let (status, body) = fed.get(NATION, &format!("/api/v1/progress/{business_no}")).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_field")));
    // Never in the URL: the old query form is refused at the nation, even with the right proof.
    let old = format!("/api/v1/progress/{business_no}?name=%E5%BC%A0%E4%B8%89&id_number=110101199003074477");
    let (status, body) = fed.get(NATION, &old).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("personal_data_in_url")), "{body}");
    // Another applicant (申请人) on the application may ask too.
    let (status, _) = fed.progress(PROVINCE, &business_no, "李四", "11010519491231002X").await;
    assert_eq!(status, 200);

    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certificate_verifies_with_openssl() {
    let fed = Federation::start().await;
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let business_no = receipt["business_no"].as_str().unwrap().to_owned();
    let issued = fed.run_to_issued(&business_no).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    // Fetch the three parts from the nation, as a bank would.
    let base = eventually("certificate at the nation", WAIT, || async {
        let (status, _) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
        (status == 200).then_some(format!("{}/api/v1/certificates/{cert}", fed.url(NATION)))
    })
    .await;
    // The holder gives the bank the 查验码 (it is on the certificate's QR code).
    let code = fed.access_code(NATION, &business_no).await;
    for (part, file) in [("signed-data", "data.json"), ("signature.der", "sig.der"), ("issuer-key.pem", "key.pem")] {
        let r = fed.http.get(format!("{base}/{part}?code={code}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{part}");
        let bytes = r.bytes().await.unwrap();
        std::fs::write(dir.path().join(file), &bytes).unwrap();
    }
    let verify = |data: &str| {
        std::process::Command::new("openssl")
            .args([
                "dgst",
                "-sm3",
                "-verify",
                "key.pem",
                "-signature",
                "sig.der",
                "-sigopt",
                "distid:1234567812345678",
                data,
            ])
            .current_dir(dir.path())
            .output()
            .expect("openssl must be installed")
    };
    let out = verify("data.json");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"), "{out:?}");

    // The nation's answer proves the certificate is in its transparency log, under a tree head
    // the nation signed.
    let (_, v) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
    let t = &v["transparency"];
    // The answer names the leaf by its hash only (the entry holds the signature, and the
    // signature the 查验码); the bank, holding the certificate, rebuilds the entry.
    assert!(t.get("entry").is_none() && !v.to_string().contains(&code), "{v}");
    let signed_data = std::fs::read_to_string(dir.path().join("data.json")).unwrap();
    let signature = federation::crypto::b64(&std::fs::read(dir.path().join("sig.der")).unwrap());
    assert!(!v.to_string().contains(&signature), "the public answer does not carry the signature");
    let entry = bdc_node::store::tlog::certificate_entry(&cert, &signed_data, &signature);
    assert_eq!(
        t["leaf_hash"].as_str().unwrap(),
        hex_encode(&federation::merkle::leaf_hash(entry.as_bytes())),
        "the bank's certificate is the logged leaf"
    );
    let hash = |h: &Value| -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&hex_decode(h.as_str().unwrap()));
        out
    };
    let path: Vec<[u8; 32]> = t["audit_path"].as_array().unwrap().iter().map(hash).collect();
    let head = &t["tree_head"];
    federation::merkle::verify_inclusion(
        &federation::merkle::leaf_hash(entry.as_bytes()),
        t["leaf_index"].as_u64().unwrap(),
        head["size"].as_u64().unwrap(),
        &path,
        &hash(&head["root"]),
    )
    .unwrap();
    let sth: federation::merkle::SignedTreeHead = serde_json::from_value(json!({
        "head": {"log_id": head["log_id"], "size": head["size"], "root": head["root"], "timestamp": head["timestamp"]},
        "key_id": head["key_id"], "signature": head["signature"]
    }))
    .unwrap();
    let (_, info) = fed.get(NATION, "/api/v1/node").await;
    let nation_key = federation::crypto::PublicKey::from_spki_pem(info["public_key_pem"].as_str().unwrap()).unwrap();
    sth.verify(&nation_key).unwrap();
    let (_, current) = fed.get(NATION, "/api/v1/transparency/head").await;
    assert!(current["size"].as_u64().unwrap() >= head["size"].as_u64().unwrap());
    // One byte changed: OpenSSL refuses it.
    let mut data = std::fs::read(dir.path().join("data.json")).unwrap();
    let pos = data.iter().position(|b| *b == b'1').unwrap();
    data[pos] = b'2';
    std::fs::write(dir.path().join("tampered.json"), &data).unwrap();
    let out = verify("tampered.json");
    assert!(!out.status.success());
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_navigation_redirects_with_a_single_use_signed_token() {
    let fed = Federation::start().await;
    let (status, answer) = fed.post(NATION, "/api/v1/applications", &sample_application(QINHUAI_UNIT)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "navigate");
    assert_eq!(answer["office"], "320104");
    let url = answer["navigate_to"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/navigate?token=", fed.url(QINHUAI))), "{url}");
    // No personal data in the token: it sits in URLs and logs.
    let token = url.split("token=").nth(1).unwrap().to_owned();
    let claims = federation::token::peek(&token).unwrap();
    let text = serde_json::to_string(&claims).unwrap();
    assert!(!text.contains("张三") && !text.contains("110101199003074477"));
    assert_eq!(claims.iss.as_str(), "js-province");

    let first = fed.http.get(&url).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let landing: Value = first.json().await.unwrap();
    assert_eq!(landing["office"], "320104");
    assert_eq!(landing["unit_code"], QINHUAI_UNIT);
    // Single use.
    let again = fed.http.get(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    assert_eq!(again.json::<Value>().await.unwrap()["error"], "token_replayed");
    // Forged: one character of the signature changed.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = fed.get(QINHUAI, &format!("/navigate?token={forged}")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("token_invalid")));
    // Expired: signed by the province, but its time is up.
    let province_key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(PROVINCE)), false).unwrap();
    let mut old = claims.clone();
    old.jti = ulid::Ulid::new().to_string();
    old.exp = chrono::Utc::now().timestamp() - 1;
    let expired = federation::token::issue(&province_key, &old).unwrap();
    let (status, body) = fed.get(QINHUAI, &format!("/navigate?token={expired}")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("token_expired")));
    // Signed by someone who is not the county's parent.
    let nation_key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(NATION)), false).unwrap();
    let mut other = claims.clone();
    other.jti = ulid::Ulid::new().to_string();
    other.iss = schemas::ids::NodeId::parse("nation").unwrap();
    other.key_id = nation_key.key_id();
    let foreign = federation::token::issue(&nation_key, &other).unwrap();
    let (status, body) = fed.get(QINHUAI, &format!("/navigate?token={foreign}")).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("token_invalid")));

    // A browser's form post is redirected.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/api/v1/applications", fed.url(NATION)))
        .header("accept", "text/html")
        .json(&sample_application(QINHUAI_UNIT))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with(&fed.url(QINHUAI)));

    // A retired code (320103 白下区, merged into 秦淮区 320104) routes to its successor.
    let (status, answer) =
        fed.post(PROVINCE, "/api/v1/applications", &sample_application("320103001002GB00031F00020101")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["office"], "320104");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_with_a_code_and_changes_nothing() {
    let fed = Federation::start().await;
    let mut cases: Vec<(Value, u16, &str)> = Vec::new();
    let mut bad_unit = sample_application(XUANWU_UNIT);
    bad_unit["unit_code"] = json!("320102003001GB00012X00010203");
    cases.push((bad_unit, 400, "invalid_unit_code"));
    let mut bad_id = sample_application(XUANWU_UNIT);
    bad_id["applicants"][0]["id_number"] = json!("110101199003074478");
    cases.push((bad_id, 400, "invalid_id_number"));
    let mut bad_credit = sample_application(XUANWU_UNIT);
    bad_credit["applicants"][1] =
        json!({"name": "某公司", "id_type": "credit_code", "id_number": "91350100M000100Y44", "role": "obligor"});
    cases.push((bad_credit, 400, "invalid_credit_code"));
    let mut unknown_division = sample_application(XUANWU_UNIT);
    unknown_division["unit_code"] = json!("329999003001GB00012F00010203");
    cases.push((unknown_division, 400, "unknown_division"));
    let mut no_applicants = sample_application(XUANWU_UNIT);
    no_applicants["applicants"] = json!([]);
    cases.push((no_applicants, 400, "missing_applicant"));
    let mut bad_kind = sample_application(XUANWU_UNIT);
    bad_kind["kind"] = json!("sell");
    cases.push((bad_kind, 400, "invalid_field"));
    let mut script = sample_application(XUANWU_UNIT);
    script["applicants"][0]["phone"] = json!("<script>alert(1)</script>");
    cases.push((script, 400, "invalid_field"));
    let mut other_county = sample_application(XUANWU_UNIT);
    other_county["division"] = json!("320104");
    cases.push((other_county, 400, "not_this_office"));

    for node in [NATION, PROVINCE, XUANWU] {
        for (body, status, code) in &cases {
            let (s, answer) = fed.post(node, "/api/v1/applications", body).await;
            assert_eq!((s, answer["error"].as_str()), (*status, Some(*code)), "at node {node}: {answer}");
            assert!(
                answer["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{answer}"
            );
        }
        let r = fed
            .http
            .post(format!("{}/api/v1/applications", fed.url(node)))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    }
    // A county refuses a unit outside its jurisdiction and names the competent office.
    let (status, body) = fed.post(XUANWU, "/api/v1/applications", &sample_application(QINHUAI_UNIT)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("not_this_office")));
    assert!(body["message"].as_str().unwrap().contains("秦淮区"), "{body}");
    // The nation knows no office for Zhejiang in this federation.
    let (status, body) =
        fed.post(NATION, "/api/v1/applications", &sample_application("330102003001GB00012F00010203")).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("no_route")));

    assert_eq!(fed.count(XUANWU, "applications"), 0);
    assert_eq!(fed.count(XUANWU, "events"), 0);
    assert_eq!(fed.count(NATION, "tickets"), 0);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_actions_follow_the_law_and_stay_in_their_office() {
    let fed = Federation::start().await;
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let token = fed.login(XUANWU, "xuanwu-clerk").await;

    // 登簿 before 受理 is impossible.
    let (status, body) = fed.act(XUANWU, &token, &no, json!({"action": "record"})).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("invalid_transition")));
    // 补正 must list everything missing at once.
    let (status, body) = fed.act(XUANWU, &token, &no, json!({"action": "request_correction"})).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("invalid_transition")));
    let (status, body) = fed
        .act(
            XUANWU,
            &token,
            &no,
            json!({"action": "request_correction", "missing": ["不动产权属证书原件", "完税证明"]}),
        )
        .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("correction_requested")), "{body}");
    let (status, _) = fed.act(XUANWU, &token, &no, json!({"action": "resubmit"})).await;
    assert_eq!(status, 200);
    for action in ["accept", "review", "record", "certify", "issue"] {
        let (status, body) = fed.act(XUANWU, &token, &no, json!({"action": action})).await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    // Issuing twice is refused; withdrawal after 登簿 is refused.
    let (status, _) = fed.act(XUANWU, &token, &no, json!({"action": "issue"})).await;
    assert_eq!(status, 409);
    let (status, _) = fed.act(XUANWU, &token, &no, json!({"action": "withdraw"})).await;
    assert_eq!(status, 409);

    // The 补正 list reaches the public progress answer, without personal data.
    let (_, progress) = fed.progress(XUANWU, &no, "张三", "110101199003074477").await;
    let notes = progress["steps"][1]["notes"].to_string();
    assert!(notes.contains("完税证明"), "{progress}");

    // No token, a forged token, another office's staff: refused, nothing changed.
    let r = fed
        .http
        .post(format!("{}/api/v1/applications/{no}/actions", fed.url(XUANWU)))
        .json(&json!({"action": "accept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (status, _) = fed.act(XUANWU, &"0".repeat(64), &no, json!({"action": "accept"})).await;
    assert_eq!(status, 401);
    let other = fed.login(QINHUAI, "qinhuai-clerk").await;
    let (status, _) = fed.act(QINHUAI, &other, &no, json!({"action": "withdraw"})).await;
    assert_eq!(status, 404);
    let (status, body) =
        fed.post(XUANWU, "/api/v1/staff/login", &json!({"username": "xuanwu-clerk", "password": "wrong"})).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("bad_credentials")));

    // The auditor reads the trail of this application; duties are separated.
    let auditor = fed.login(XUANWU, "xuanwu-auditor").await;
    let (_, trail) = fed.get_as(XUANWU, &auditor, &format!("/api/v1/audit?business_no={no}")).await;
    let actions: Vec<&str> = trail.as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "submit_application", "{trail}");
    assert!(actions.contains(&"issue"));
    let refused = trail.as_array().unwrap().iter().filter(|r| r["outcome"] == "refused").count();
    assert!(refused >= 3, "refused staff actions are audited too: {trail}");
    assert!(!trail.to_string().contains("110101199003074477") && !trail.to_string().contains("张三"));
    let r = fed.http.get(format!("{}/api/v1/audit", fed.url(XUANWU))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (status, _) = fed.act(XUANWU, &auditor, &no, json!({"action": "withdraw"})).await;
    assert_eq!(status, 403);
    let csv = fed
        .http
        .get(format!("{}/api/v1/audit?format=csv&business_no={no}", fed.url(XUANWU)))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("seq,at,division,actor,kind,action"));

    // Brute force: five wrong passwords lock the account, even against the right one.
    for _ in 0..5 {
        let (status, _) =
            fed.post(XUANWU, "/api/v1/staff/login", &json!({"username": "xuanwu-auditor", "password": "guess"})).await;
        assert!(status == 401 || status == 403);
    }
    let (status, body) =
        fed.post(XUANWU, "/api/v1/staff/login", &json!({"username": "xuanwu-auditor", "password": PASSWORD})).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("account_locked")));

    // Certificate numbers per office and year have no gaps.
    let (_, r2) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    let no2 = r2["business_no"].as_str().unwrap().to_owned();
    let last = fed.run_to_issued(&no2).await;
    let c2 = last["certificate_id"].as_str().unwrap();
    let (_, v2) = fed.get(XUANWU, &format!("/api/v1/certificates/{c2}/verify")).await;
    assert!(v2["number"].as_str().unwrap().ends_with("第0000002号"), "{v2}");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_county_gets_the_application_later_exactly_once() {
    let mut fed = Federation::start().await;
    fed.stop(XUANWU).await;

    let (status, answer) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued");
    assert_eq!(answer["queued_at_node"], "js-province");
    let ticket = answer["ticket"].as_str().unwrap().to_owned();
    let (status, view) = fed.get(PROVINCE, &format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!((status, view["delivered"].as_bool()), (200, Some(false)), "{view}");

    fed.restart(XUANWU).await;
    let delivered = eventually("queued application delivered", WAIT, || async {
        let (_, view) = fed.get(PROVINCE, &format!("/api/v1/tickets/{ticket}")).await;
        (view["delivered"] == true).then_some(view)
    })
    .await;
    assert_eq!(delivered["answer"]["status"], "received");
    let no = delivered["answer"]["business_no"].as_str().unwrap().to_owned();
    assert!(no.starts_with("320102"));
    assert_eq!(fed.count(XUANWU, "applications"), 1);
    // Its progress reaches the nation.
    eventually("progress of the queued application at the nation", WAIT, || async {
        let (status, _) = fed.progress(NATION, &no, "张三", "110101199003074477").await;
        (status == 200).then_some(())
    })
    .await;
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_answers_its_identity_and_health() {
    let fed = Federation::start().await;
    let (status, info) = fed.get(PROVINCE, "/api/v1/node").await;
    assert_eq!(status, 200);
    assert_eq!(info["mode"], "province");
    assert_eq!(info["division"], "320000");
    assert_eq!(info["parent"]["node_id"], "nation");
    assert_eq!(info["children"][0]["navigation"], "interface");
    assert_eq!(info["children"][1]["navigation"], "link");
    assert!(info["public_key_pem"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    let (status, _) = fed.get(XUANWU, "/healthz").await;
    assert_eq!(status, 200);
    // With TEST_PG_URL set (as CI does), county 320102 runs on PostgreSQL in every flow test.
    let on_pg = fed.node(XUANWU).state.db.backend() == bdc_node::db::Backend::Postgres;
    assert_eq!(on_pg, std::env::var_os("TEST_PG_URL").is_some());
    let (status, body) = fed.get(XUANWU, "/api/v1/nothing-here").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let r =
        fed.http.get(format!("{}/healthz", fed.url(NATION))).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_limits_hold() {
    let fed = Federation::start_with(|s, _| s[XUANWU].http.rate_limits = true).await;
    // Oversized bodies are refused before they are read.
    let big = "x".repeat(2 << 20);
    let r = fed
        .http
        .post(format!("{}/api/v1/applications", fed.url(XUANWU)))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "payload_too_large");
    // Logins: a burst of ten, then 429.
    for _ in 0..10 {
        let (status, _) =
            fed.post(XUANWU, "/api/v1/staff/login", &json!({"username": "nobody", "password": "x"})).await;
        assert_eq!(status, 401);
    }
    let (status, body) = fed.post(XUANWU, "/api/v1/staff/login", &json!({"username": "nobody", "password": "x"})).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("rate_limited")));
    // Pages and answers carry the security headers.
    let r = fed.http.get(format!("{}/healthz", fed.url(XUANWU))).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(fed.count(XUANWU, "applications"), 0);
    fed.shutdown().await;
}
