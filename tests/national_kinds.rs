//! National-level registrations (国家层面登记, guideline 三.3; issue #3 item 2): a State-Council
//! sea/island use or a key state forest application goes to the national office (000000 on the
//! national node) from whichever portal it was submitted at; without the claim the same unit is
//! the county's; a claim that does not hold is refused (422) and changes nothing.
//!
//! When `TEST_PG_URL` is set the nation (which hosts the national office) stores in a fresh
//! PostgreSQL database too, so the national office's register and certificates run on both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use federation::wire::sign_body;
use schemas::envelope::{Envelope, EnvelopeBody, ForwardedApplication, HEADER_KEY_ID, HEADER_NODE, HEADER_SIGNATURE};
use schemas::ids::NodeId;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// A 宗海 (GH) and an uninhabited island (GG). The harness's counties are inland 南京 districts;
/// the check does not know the coastline, and the unit's division only matters for the county
/// routing of an application without the claim.
const SEA_UNIT: &str = "320102005001GH00001W00000000";
const SEA_UNIT_2: &str = "320102005001GH00002W00000000";
const SEA_UNIT_3: &str = "320703005001GH00003W00000000";
const ISLAND_UNIT: &str = "320703005001GG00004W00000000";
/// 国有林地 in 丰林县 (伊春市, a key state forest region) and, outside the list, in 玄武区.
const FOREST_UNIT: &str = "230724001001GL00001L00000001";
const FOREST_OUTSIDE: &str = "320102001001GL00001L00000001";

const HOLDER: (&str, &str) = ("张三", "110101199003074477");

fn application(unit: &str, jurisdiction: Option<&str>) -> Value {
    let mut details =
        json!({"area": "350000.00", "purpose": "港口用海", "term_from": "2026-01-01", "term_to": "2075-12-31"});
    if let Some(j) = jurisdiction {
        details["jurisdiction"] = json!(j);
    }
    json!({
        "unit_code": unit,
        "kind": "first",
        "location": "国务院批准的用海项目",
        "details": details,
        "applicants": [
            {"name": HOLDER.0, "id_type": "id_card", "id_number": HOLDER.1, "role": "right_holder"}
        ]
    })
}

async fn start() -> Federation {
    let fed = Federation::start_with(|settings, _| {
        if let Some(url) = fresh_pg_database() {
            settings[NATION].database.url = url;
        }
    })
    .await;
    bdc_node::demo::add_staff(fed.node(NATION), "000000", "nation-clerk", PASSWORD, "部中心登记员", "clerk")
        .await
        .unwrap();
    fed
}

async fn run_to_issued(fed: &Federation, node: usize, user: &str, business_no: &str) -> Value {
    let token = fed.login(node, user).await;
    let mut last = Value::Null;
    for action in ["accept", "review", "record", "certify", "issue"] {
        let (status, body) = fed.act(node, &token, business_no, json!({"action": action})).await;
        assert_eq!(status, 200, "{action}: {body}");
        last = body;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_state_council_sea_use_application_ends_in_the_national_office_from_any_portal() {
    let fed = start().await;
    // The nation says it hosts the national office.
    let (_, info) = fed.get(NATION, "/api/v1/node").await;
    assert_eq!(info["offices"], json!(["000000"]), "{info}");

    // Submitted at a county (interface or link navigation below the province), at the province
    // and at the nation: whatever the unit's division, the national office takes it.
    let mut numbers = vec![];
    for (entry, unit) in [(XUANWU, SEA_UNIT), (QINHUAI, SEA_UNIT_2), (PROVINCE, SEA_UNIT_3), (NATION, ISLAND_UNIT)] {
        let (status, receipt) =
            fed.post(entry, "/api/v1/applications", &application(unit, Some("state_council_sea_island"))).await;
        assert_eq!(status, 200, "at node {entry}: {receipt}");
        assert_eq!(receipt["status"], "received", "{receipt}");
        assert_eq!(receipt["office"], "000000", "{receipt}");
        assert_eq!(receipt["office_node"], "nation", "{receipt}");
        let no = receipt["business_no"].as_str().unwrap().to_owned();
        assert!(no.starts_with("000000") && no.len() == 20, "{no}");
        numbers.push(no);
    }
    // No county or province registered any of them.
    for node in [XUANWU, QINHUAI, PROVINCE] {
        assert_eq!(fed.count(node, "applications"), 0, "node {node}");
    }
    assert_eq!(fed.count(NATION, "applications"), 4);

    // County staff cannot act on it (it is not their office's application), nor see it.
    let county = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, body) = fed.act(XUANWU, &county, &numbers[0], json!({"action": "accept"})).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{body}");
    let (status, _) = fed.get_as(XUANWU, &county, &format!("/api/v1/applications/{}", numbers[0])).await;
    assert_eq!(status, 404);

    // The national office's clerk takes it through the normal workflow to 发证.
    let issued = run_to_issued(&fed, NATION, "nation-clerk", &numbers[0]).await;
    assert_eq!(issued["state"], "issued", "{issued}");
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    assert!(cert.starts_with("1.2.156.3005.2.11100000MB03271699001.000000."), "{cert}");

    // The certificate verifies at the nation, in its own transparency log, with the national number.
    let (status, verified) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["issuer"], "000000");
    let number = verified["number"].as_str().unwrap();
    let year = Utc::now().format("%Y").to_string();
    assert!(number.starts_with(&format!("国({year})自然资源部不动产权第")), "{number}");
    assert!(verified["transparency"].is_object(), "{verified}");
    // The printed right is the sea area's (海域使用权), the holder the applicant.
    let code = fed.access_code(NATION, &numbers[0]).await;
    let (status, content) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/signed-data?code={code}")).await;
    assert_eq!(status, 200, "{content}");
    assert_eq!(content["right_type"], "海域使用权", "{content}");
    assert_eq!(content["issuer_name"], "自然资源部不动产登记中心");

    // The applicant follows the progress at the nation.
    let (status, progress) = fed.progress(NATION, &numbers[0], HOLDER.0, HOLDER.1).await;
    assert_eq!(status, 200, "{progress}");
    assert_eq!(progress["state"], "issued");

    // The register of the national office holds the sea area; the county's does not.
    let nation = fed.login(NATION, "nation-clerk").await;
    let (status, page) = fed.get_as(NATION, &nation, &format!("/api/v1/register/units/{SEA_UNIT}")).await;
    assert_eq!(status, 200, "{page}");
    let (status, _) = fed.get_as(XUANWU, &county, &format!("/api/v1/register/units/{SEA_UNIT}")).await;
    assert_eq!(status, 404);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_claim_a_sea_unit_is_the_countys_and_the_national_office_takes_nothing_else() {
    let fed = start().await;
    // Many sea areas are approved locally: no claim, normal routing to 玄武区.
    let (status, receipt) = fed.post(NATION, "/api/v1/applications", &application(SEA_UNIT, None)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["office"], "320102", "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    assert!(no.starts_with("320102"), "{no}");
    let issued = run_to_issued(&fed, XUANWU, "xuanwu-clerk", &no).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    let verified = eventually("the county's certificate at the nation", WAIT, || async {
        let (status, body) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert!(verified["number"].as_str().unwrap().starts_with("苏("), "{verified}");
    assert_eq!(fed.count(NATION, "applications"), 0);

    // The national office is no office of last resort: a division nobody serves is still unrouted.
    let (status, body) =
        fed.post(NATION, "/api/v1/applications", &sample_application("330102003001GB00012F00010203")).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("no_route")), "{body}");

    // National office staff cannot act on a county's application.
    let nation = fed.login(NATION, "nation-clerk").await;
    let (status, _) = fed.act(NATION, &nation, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 404);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_that_do_not_hold_are_refused_everywhere_and_change_nothing() {
    let fed = start().await;
    let mut cases: Vec<(Value, u16, &str, &str)> = vec![];
    // A sea claim on a land unit (宗地特征码 GB).
    cases.push((application(XUANWU_UNIT, Some("state_council_sea_island")), 422, "national_claim_invalid", "GH"));
    // A sea claim stating a land right.
    let mut house_right = application(SEA_UNIT, Some("state_council_sea_island"));
    house_right["details"]["right_type"] = json!(4);
    cases.push((house_right, 422, "national_claim_invalid", "权利类型"));
    // A key-forest claim outside the listed regions.
    cases.push((
        application(FOREST_OUTSIDE, Some("key_state_forest")),
        422,
        "national_claim_invalid",
        "重点国有林区名录",
    ));
    // A key-forest claim on a sea area, and one stating no forest right.
    cases.push((application(SEA_UNIT, Some("key_state_forest")), 422, "national_claim_invalid", "林地"));
    let mut not_forest_right = application(FOREST_UNIT, Some("key_state_forest"));
    not_forest_right["details"]["right_type"] = json!(3);
    cases.push((not_forest_right, 422, "national_claim_invalid", "林权"));
    // A claim naming a county office.
    let mut county_office = application(SEA_UNIT, Some("state_council_sea_island"));
    county_office["division"] = json!("320102");
    cases.push((county_office, 400, "not_this_office", "自然资源部不动产登记中心"));
    // An unknown jurisdiction.
    cases.push((application(SEA_UNIT, Some("provincial_sea")), 400, "invalid_field", ""));

    for node in [XUANWU, PROVINCE, NATION] {
        for (body, status, code, says) in &cases {
            let (s, answer) = fed.post(node, "/api/v1/applications", body).await;
            assert_eq!((s, answer["error"].as_str()), (*status, Some(*code)), "at node {node}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(says), "at node {node}: {answer}");
            assert!(message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{answer}");
        }
    }
    for node in [NATION, PROVINCE, XUANWU] {
        assert_eq!(fed.count(node, "applications"), 0, "node {node}");
        assert_eq!(fed.count(node, "tickets"), 0, "node {node}");
    }

    // A key state forest claim that holds: from the county portal to the national office, with a
    // forest right filled in (林地使用权/森林、林木使用权 for a unit with trees).
    let (status, receipt) =
        fed.post(XUANWU, "/api/v1/applications", &application(FOREST_UNIT, Some("key_state_forest"))).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["office"], "000000");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let nation = fed.login(NATION, "nation-clerk").await;
    let (status, view) = fed.get_as(NATION, &nation, &format!("/api/v1/applications/{no}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["details"]["right_type"], 12, "{view}");
    assert_eq!(view["details"]["jurisdiction"], "key_state_forest", "{view}");
    // The county keeps the ticket of what it passed on, and can tell the applicant where it went.
    assert_eq!(fed.count(XUANWU, "tickets"), 1);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_county_may_take_national_kinds() {
    let fed = start().await;
    // A county (or province) cannot be configured with the national office.
    for i in [XUANWU, PROVINCE] {
        let mut s = fed.settings[i].clone();
        let mut office = fed.settings[NATION].offices[0].clone();
        office.name = "南京市玄武区不动产登记中心".into();
        s.offices.push(office);
        let err = s.validate().expect_err("only the national node hosts the national office").to_string();
        assert!(err.contains("office 000000 is the national office"), "{err}");
    }

    // A parent never hands a national-level application down: the province refuses one that the
    // nation (with its real key) would send it, and stores nothing.
    let key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(NATION)), false).unwrap();
    let forwarded = ForwardedApplication {
        ticket: Some(ulid::Ulid::new().to_string()),
        entry_node: NodeId::parse("nation").unwrap(),
        application: serde_json::from_value(application(SEA_UNIT, Some("state_council_sea_island"))).unwrap(),
    };
    let envelope = Envelope {
        v: schemas::envelope::WIRE_VERSION,
        id: ulid::Ulid::new().to_string(),
        from: NodeId::parse("nation").unwrap(),
        to: NodeId::parse("js-province").unwrap(),
        sent_at: Utc::now(),
        request_id: "test".into(),
        body: EnvelopeBody::Application(Box::new(forwarded)),
    };
    let body = serde_json::to_vec(&envelope).unwrap();
    let sig = sign_body(&NodeId::parse("nation").unwrap(), &key, &body);
    let r = fed
        .http
        .post(format!("{}/federation/v1/applications", fed.url(PROVINCE)))
        .header("content-type", "application/json")
        .header(HEADER_NODE, sig.node)
        .header(HEADER_KEY_ID, sig.key_id)
        .header(HEADER_SIGNATURE, sig.signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let answer: Value = r.json().await.unwrap();
    assert_eq!((status, answer["error"].as_str()), (400, Some("not_this_office")), "{answer}");
    assert_eq!(fed.count(PROVINCE, "tickets"), 0);
    assert_eq!(fed.count(XUANWU, "applications"), 0);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_national_application_waits_upward_while_the_nation_is_down() {
    let mut fed = start().await;
    fed.stop(NATION).await;
    // The county passes it to the province, which cannot reach the nation and keeps it durably.
    let (status, answer) =
        fed.post(XUANWU, "/api/v1/applications", &application(SEA_UNIT, Some("state_council_sea_island"))).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued");
    assert_eq!(answer["office"], "000000");
    assert_eq!(answer["queued_at_node"], "js-province");
    let ticket = answer["ticket"].as_str().unwrap().to_owned();

    fed.restart(NATION).await;
    let delivered = eventually("queued national application delivered", WAIT, || async {
        let (_, view) = fed.get(PROVINCE, &format!("/api/v1/tickets/{ticket}")).await;
        (view["delivered"] == true).then_some(view)
    })
    .await;
    assert_eq!(delivered["answer"]["status"], "received", "{delivered}");
    let no = delivered["answer"]["business_no"].as_str().unwrap();
    assert!(no.starts_with("000000"), "{no}");
    assert_eq!(fed.count(NATION, "applications"), 1);
    assert_eq!(fed.count(XUANWU, "applications"), 0);
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_portal_apply_form_carries_the_national_claim() {
    let fed = start().await;
    let csrf = fed.portal_csrf(XUANWU).await;
    let (status, _, home) = fed.page(XUANWU, "/", Some(&csrf)).await;
    assert_eq!(status, 200);
    assert!(home.contains("国家级登记事项") && home.contains("name=\"jurisdiction\""), "{home}");
    assert!(home.contains("<option value=\"state_council_sea_island\">国务院批准的项目用海、用岛</option>"), "{home}");
    assert!(home.contains("<option value=\"key_state_forest\">国务院确定的重点国有林区</option>"), "{home}");

    let form = |unit: &'static str, jurisdiction: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("unit_code", unit.to_owned()),
            ("kind", "first".to_owned()),
            ("location", "国务院批准的用海项目".to_owned()),
            ("name", HOLDER.0.to_owned()),
            ("id_type", "id_card".to_owned()),
            ("id_number", HOLDER.1.to_owned()),
            ("phone", String::new()),
            ("jurisdiction", jurisdiction.to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let fed = &fed;
        let csrf = csrf.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            fed.post_page_form(XUANWU, "/apply", &csrf, &fields).await
        }
    };

    // Claims that do not hold: the claim's Chinese refusal, with its code, and nothing stored.
    for (unit, jurisdiction, status, code, says) in [
        (XUANWU_UNIT, "state_council_sea_island", 422, "national_claim_invalid", "GH"),
        (FOREST_OUTSIDE, "key_state_forest", 422, "national_claim_invalid", "重点国有林区名录"),
        (SEA_UNIT, "provincial_sea", 400, "invalid_field", "国家级登记事项无效"),
    ] {
        let (s, page) = post(form(unit, jurisdiction)).await;
        assert_eq!(s, status, "{unit} {jurisdiction}: {page}");
        assert!(page.contains("无法办理") && page.contains(code) && page.contains(says), "{page}");
    }
    for node in [NATION, PROVINCE, XUANWU] {
        assert_eq!(fed.count(node, "applications"), 0, "node {node}");
        assert_eq!(fed.count(node, "tickets"), 0, "node {node}");
    }

    // The sea-use claim from the county's form: passed up to the national office.
    let (status, page) = post(form(SEA_UNIT, "state_council_sea_island")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("申请已提交"), "{page}");
    let values = page_values(&page);
    assert!(values[0].starts_with("000000") && values[0].len() == 20, "{values:?}");
    assert_eq!(values[2], "000000", "{values:?}");
    assert_eq!((fed.count(NATION, "applications"), fed.count(XUANWU, "applications")), (1, 0));
    let nation = fed.login(NATION, "nation-clerk").await;
    let (status, view) = fed.get_as(NATION, &nation, &format!("/api/v1/applications/{}", values[0])).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["details"]["jurisdiction"], "state_council_sea_island", "{view}");

    // 「无」: the same kind of unit without the claim stays with the county.
    let (status, page) = post(form(SEA_UNIT_2, "")).await;
    assert_eq!(status, 200, "{page}");
    let values = page_values(&page);
    assert!(values[0].starts_with("320102"), "{values:?}");
    assert_eq!(values[2], "320102", "{values:?}");
    assert_eq!((fed.count(NATION, "applications"), fed.count(XUANWU, "applications")), (1, 1));
    fed.shutdown().await;
}
