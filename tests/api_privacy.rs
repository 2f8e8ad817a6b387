//! The JSON API never takes an applicant's name or ID number in a URL (browser history, access
//! logs, proxies, `Referer`): progress, the notice and the materials list and files are asked for
//! with the proof in a POST body, an upload carries it in its form fields; a query string naming
//! an applicant is refused with 400 `personal_data_in_url` before anything is looked up or
//! written. Staff keep their GETs. Runs on PostgreSQL too when TEST_PG_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};

const ME: (&str, &str) = ("张三", "110101199003074477");
const WRONG: (&str, &str) = ("张三", "11010519491231002X");
/// 张三 and his ID number as an old-style query string.
const IN_URL: &str = "name=%E5%BC%A0%E4%B8%89&id_number=110101199003074477";

fn body(proof: (&str, &str)) -> Value {
    json!({"name": proof.0, "id_number": proof.1})
}

/// A raw request: status and the JSON answer (Null when it is not JSON).
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn assert_refused(what: &str, (status, body): (u16, Value)) {
    assert_eq!((status, body["error"].as_str()), (400, Some("personal_data_in_url")), "{what}: {body}");
    assert_eq!(
        body["message"].as_str(),
        Some(schemas::error::ErrorCode::PersonalDataInUrl.message_zh()),
        "{what}: the code's own Chinese message"
    );
    assert!(!body.to_string().contains(ME.1), "{what}: the ID number is not echoed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_takes_the_proof_in_a_body_and_refuses_it_in_a_url() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let pdf = files::pdf("api-privacy");
    let (status, up) = fed.upload_material(XUANWU, &no, "application_form", "申请书.pdf", &pdf, Some(ME), None).await;
    assert_eq!(status, 201, "{up}");
    let file_id = up["id"].as_i64().unwrap();
    let (status, view) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 200, "{view}");

    let base = fed.url(XUANWU);
    let progress = format!("/api/v1/progress/{no}");
    let notice = format!("/api/v1/progress/{no}/notice");
    let list = format!("/api/v1/applications/{no}/materials");
    let file = format!("/api/v1/applications/{no}/materials/application_form/files/{file_id}");
    let upload = format!("/api/v1/applications/{no}/materials/identity");

    // The POST forms, for the right proof: what the GET with a query gave before.
    let (status, p) = fed.post(XUANWU, &progress, &body(ME)).await;
    assert_eq!((status, p["state"].as_str()), (200, Some("accepted")), "{p}");
    let (status, n) = fed.post(XUANWU, &notice, &body(ME)).await;
    assert_eq!((status, n["kind"].as_str()), (200, Some("acceptance")), "{n}");
    let (status, l) = fed.post(XUANWU, &list, &body(ME)).await;
    assert_eq!((status, l["materials"][0]["files"][0]["id"].as_i64()), (200, Some(file_id)), "{l}");
    let (status, content_type, bytes) = fed.fetch_raw(XUANWU, &file, Some(ME), None).await;
    assert_eq!((status, content_type.as_str(), bytes == pdf), (200, "application/pdf", true));
    // A wrong ID number looks like an unknown business, on every one of them.
    for path in [&progress, &notice, &list, &file] {
        let (status, answer) = fed.post(XUANWU, path, &body(WRONG)).await;
        assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")), "{path}: {answer}");
    }
    // A body without the proof, or no JSON at all, finds nothing either.
    for (sent, want) in
        [(json!({"name": ME.0}), "invalid_field"), (json!({"name": "", "id_number": ""}), "invalid_field")]
    {
        let (status, answer) = fed.post(XUANWU, &progress, &sent).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some(want)), "{sent}: {answer}");
    }
    let (status, answer) =
        send(fed.http.post(format!("{base}{progress}")).header("content-type", "application/json").body("name=x"))
            .await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_request")), "{answer}");

    // Staff keep their GETs, with no proof at all.
    for path in [&progress, &notice, &list] {
        let (status, answer) = fed.get_as(XUANWU, &clerk, path).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (status, _, bytes) = fed.fetch_raw(XUANWU, &file, None, Some(clerk.as_str())).await;
    assert_eq!((status, bytes == pdf), (200, true));
    // Without a session or a posted proof, a GET finds nothing.
    for path in [&progress, &notice, &list, &file] {
        let (status, answer) = fed.get(XUANWU, path).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_field")), "{path}: {answer}");
    }

    // The proof in a query string is refused, whatever else the request carries: the right proof,
    // a staff session that alone would be let in, the proof in the body as well, one key alone,
    // an empty value, a percent-encoded key. Nothing is looked up (the clerk's GET would have
    // answered 200), downloaded or stored, and nothing is audited.
    let audited = fed.count(XUANWU, "audit_log");
    let stored = fed.count(XUANWU, "application_materials");
    for path in [&progress, &notice, &list, &file] {
        for query in [IN_URL, "id_number=110101199003074477", "name=%E5%BC%A0%E4%B8%89", "id_number=", "id%5Fnumber=1"]
        {
            let url = format!("{base}{path}?{query}");
            assert_refused(&format!("GET {path}?{query}"), send(fed.http.get(&url)).await);
            assert_refused(&format!("GET {path}?{query} as staff"), send(fed.http.get(&url).bearer_auth(&clerk)).await);
            assert_refused(&format!("POST {path}?{query}"), send(fed.http.post(&url).json(&body(ME))).await);
        }
    }
    let form = |proof: Option<(&str, &str)>| {
        let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![];
        if let Some((name, id)) = proof {
            fields.push(("name", None, name.as_bytes()));
            fields.push(("id_number", None, id.as_bytes()));
        }
        fields.push(("file", Some("id.pdf"), &pdf));
        multipart(&fields)
    };
    for (why, proof, token) in [
        ("the proof only in the query", None, None),
        ("and in the form", Some(ME), None),
        ("as staff", None, Some(&clerk)),
    ] {
        let (content_type, bytes) = form(proof);
        let mut req =
            fed.http.post(format!("{base}{upload}?{IN_URL}")).header("content-type", content_type).body(bytes);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_refused(&format!("upload, {why}"), send(req).await);
    }
    assert_eq!(fed.count(XUANWU, "application_materials"), stored, "a refused upload stores nothing");
    assert_eq!(fed.count(XUANWU, "audit_log"), audited, "a refused request audits nothing: it got nowhere");

    // The upload's proof is its form fields, and only those: an upload without them is refused
    // as before, one with the right ones stored, with wrong ones not found.
    let (status, answer) = fed.upload_material(XUANWU, &no, "identity", "id.pdf", &pdf, None, None).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_field")), "{answer}");
    let (status, answer) = fed.upload_material(XUANWU, &no, "identity", "id.pdf", &pdf, Some(WRONG), None).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")), "{answer}");
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upper_node_answers_the_posted_proof_and_refuses_it_in_a_url() {
    let fed = Federation::start().await;
    let (status, receipt) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let clerk = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, view) = fed.act(XUANWU, &clerk, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 200, "{view}");
    // The progress rolls up; the province and the nation answer the posted proof from it.
    for node in [PROVINCE, NATION] {
        let p = eventually("progress rolled up", std::time::Duration::from_secs(15), || async {
            let (status, p) = fed.progress(node, &no, ME.0, ME.1).await;
            (status == 200 && p["state"] == "accepted").then_some(p)
        })
        .await;
        assert_eq!(p["office"], "320102", "{p}");
        let (status, n) = fed.post(node, &format!("/api/v1/progress/{no}/notice"), &body(ME)).await;
        assert_eq!((status, n["kind"].as_str()), (200, Some("acceptance")), "{n}");
        let (status, _) = fed.progress(node, &no, WRONG.0, WRONG.1).await;
        assert_eq!(status, 404);
        for path in [format!("/api/v1/progress/{no}?{IN_URL}"), format!("/api/v1/progress/{no}/notice?{IN_URL}")] {
            assert_refused(&path, fed.get(node, &path).await);
        }
    }
    fed.shutdown().await;
}
