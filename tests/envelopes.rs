//! The inbox refuses what it must, stores nothing when it refuses, and de-duplicates by origin and
//! sequence. The test plays county 320102 with its real key and talks to the real province.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use common::*;
use federation::crypto::SigningKey;
use federation::wire::{seal_batch, sign_body};
use schemas::envelope::{
    DeliveryReceipt, Envelope, EnvelopeBody, Event, EventBody, HEADER_KEY_ID, HEADER_NODE, HEADER_SIGNATURE,
    OriginBatch, ProgressEvent, WIRE_VERSION,
};
use schemas::ids::{BusinessNo, DivisionCode, NodeId, UnitCode};
use schemas::registration::{RegistrationKind, Stage};
use serde_json::Value;

/// (what, body, headers, status, code)
type Case = (&'static str, Vec<u8>, Vec<(&'static str, String)>, u16, &'static str);

fn events(origin: &str, seqs: std::ops::RangeInclusive<u64>) -> Vec<Event> {
    seqs.map(|seq| Event {
        origin: DivisionCode::parse(origin).unwrap(),
        seq,
        // Deterministic: a retried event is the very same event.
        occurred_at: chrono::DateTime::from_timestamp(1_795_000_000 + seq as i64, 0).unwrap(),
        body: EventBody::Progress(ProgressEvent {
            business_no: BusinessNo::parse(&format!("{origin}20261129{seq:06}")).unwrap(),
            unit_code: UnitCode::parse(XUANWU_UNIT).unwrap(),
            kind: RegistrationKind::Transfer,
            stage: Stage::Submitted,
            due_date: None,
            notes: vec![],
            applicant_proofs: vec![],
        }),
    })
    .collect()
}

fn envelope(batches: Vec<OriginBatch>) -> Envelope {
    Envelope {
        v: WIRE_VERSION,
        id: ulid::Ulid::new().to_string(),
        from: NodeId::parse("nj-xuanwu").unwrap(),
        to: NodeId::parse("js-province").unwrap(),
        sent_at: Utc::now(),
        request_id: "test".into(),
        body: EnvelopeBody::Events { batches },
    }
}

struct County {
    key: SigningKey,
    me: NodeId,
    origin: DivisionCode,
}

impl County {
    fn batch(&self, seqs: std::ops::RangeInclusive<u64>) -> OriginBatch {
        seal_batch(&self.origin, &self.me, &self.key, &events("320102", seqs)).unwrap()
    }
}

async fn post_raw(
    fed: &Federation,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = fed
        .http
        .post(format!("{}/federation/v1/envelopes", fed.url(PROVINCE)))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers)
}

fn signed_headers(node: &str, key: &SigningKey, body: &[u8]) -> Vec<(&'static str, String)> {
    let sig = sign_body(&NodeId::parse(node).unwrap(), key, body);
    vec![(HEADER_NODE, sig.node), (HEADER_KEY_ID, sig.key_id), (HEADER_SIGNATURE, sig.signature)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_inbox_verifies_before_it_stores() {
    let fed = Federation::start().await;
    let county = County {
        key: bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(XUANWU)), false).unwrap(),
        me: NodeId::parse("nj-xuanwu").unwrap(),
        origin: DivisionCode::parse("320102").unwrap(),
    };
    let stranger = SigningKey::generate();
    let before = fed.count(PROVINCE, "events");

    // A good envelope: stored, answered with a receipt signed by the province.
    let good = serde_json::to_vec(&envelope(vec![county.batch(1..=3)])).unwrap();
    let (status, body, headers) = post_raw(&fed, &good, &signed_headers("nj-xuanwu", &county.key, &good)).await;
    assert_eq!(status, 200, "{body}");
    let receipt: DeliveryReceipt = serde_json::from_value(body.clone()).unwrap();
    assert_eq!((receipt.accepted, receipt.duplicates), (3, 0));
    let province_key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(PROVINCE)), false).unwrap();
    let sig = federation::crypto::unb64(headers[HEADER_SIGNATURE].to_str().unwrap()).unwrap();
    province_key.public_key().verify(&serde_json::to_vec(&receipt).unwrap(), &sig).unwrap();
    assert_eq!(fed.count(PROVINCE, "events"), before + 3);

    let bad: Vec<Case> = vec![
        // The very same envelope again.
        ("replayed", good.clone(), signed_headers("nj-xuanwu", &county.key, &good), 409, "replayed_envelope"),
        ("unsigned", good.clone(), vec![], 401, "bad_signature"),
        ("unknown sender", good.clone(), signed_headers("stranger", &stranger, &good), 401, "unknown_sender"),
        ("someone else's key", good.clone(), signed_headers("nj-xuanwu", &stranger, &good), 401, "unknown_key"),
        (
            "wrong signature",
            good.clone(),
            {
                let mut h = signed_headers("nj-xuanwu", &county.key, &good);
                h[2].1 = signed_headers("nj-xuanwu", &stranger, &good)[2].1.clone();
                h
            },
            401,
            "bad_signature",
        ),
        (
            "signature over other bytes",
            {
                let mut b = good.clone();
                b.push(b' ');
                b
            },
            signed_headers("nj-xuanwu", &county.key, &good),
            401,
            "bad_signature",
        ),
    ];
    let mut bad = bad;
    let malformed = b"{\"v\":1,\"id\":\"x\"".to_vec();
    bad.push((
        "malformed",
        malformed.clone(),
        signed_headers("nj-xuanwu", &county.key, &malformed),
        400,
        "malformed_envelope",
    ));
    let mut v2 = serde_json::to_value(envelope(vec![county.batch(4..=4)])).unwrap();
    v2["v"] = 2.into();
    let v2 = serde_json::to_vec(&v2).unwrap();
    bad.push(("version 2", v2.clone(), signed_headers("nj-xuanwu", &county.key, &v2), 400, "unsupported_version"));
    let mut stale = envelope(vec![county.batch(4..=4)]);
    stale.sent_at = Utc::now() - chrono::Duration::hours(1);
    let stale = serde_json::to_vec(&stale).unwrap();
    bad.push(("stale", stale.clone(), signed_headers("nj-xuanwu", &county.key, &stale), 400, "stale_envelope"));
    let mut elsewhere = envelope(vec![county.batch(4..=4)]);
    elsewhere.to = NodeId::parse("nation").unwrap();
    let elsewhere = serde_json::to_vec(&elsewhere).unwrap();
    bad.push((
        "wrong recipient",
        elsewhere.clone(),
        signed_headers("nj-xuanwu", &county.key, &elsewhere),
        400,
        "wrong_recipient",
    ));
    // A county speaking for another county.
    let foreign =
        seal_batch(&DivisionCode::parse("320104").unwrap(), &county.me, &county.key, &events("320104", 1..=1)).unwrap();
    let foreign = serde_json::to_vec(&envelope(vec![foreign])).unwrap();
    bad.push((
        "foreign origin",
        foreign.clone(),
        signed_headers("nj-xuanwu", &county.key, &foreign),
        403,
        "origin_not_allowed",
    ));
    // A county speaking about another office's business inside its own batch.
    let mut smuggled = events("320102", 4..=4);
    if let EventBody::Progress(p) = &mut smuggled[0].body {
        p.business_no = BusinessNo::parse("32010420261129000001").unwrap();
    }
    let smuggled = seal_batch(&county.origin, &county.me, &county.key, &smuggled).unwrap();
    let smuggled = serde_json::to_vec(&envelope(vec![smuggled])).unwrap();
    bad.push((
        "another office's business",
        smuggled.clone(),
        signed_headers("nj-xuanwu", &county.key, &smuggled),
        403,
        "origin_not_allowed",
    ));
    // A county enrolling a key (it has no children).
    let enrol = vec![Event {
        origin: county.origin.clone(),
        seq: 4,
        occurred_at: Utc::now(),
        body: EventBody::Enrolment(schemas::envelope::Enrolment {
            node_id: NodeId::parse("nj-qinhuai").unwrap(),
            division: DivisionCode::parse("320102").unwrap(),
            key_id: stranger.key_id(),
            public_key_pem: stranger.public_key().to_spki_pem().unwrap(),
        }),
    }];
    let enrol =
        serde_json::to_vec(&envelope(vec![seal_batch(&county.origin, &county.me, &county.key, &enrol).unwrap()]))
            .unwrap();
    bad.push((
        "a county enrolling",
        enrol.clone(),
        signed_headers("nj-xuanwu", &county.key, &enrol),
        403,
        "origin_not_allowed",
    ));
    // The origin batch altered after the county signed it (the envelope itself re-signed).
    let mut altered = county.batch(4..=5);
    altered.events = altered.events.replace("\"submitted\"", "\"issued\"");
    let altered = serde_json::to_vec(&envelope(vec![altered])).unwrap();
    bad.push((
        "altered batch",
        altered.clone(),
        signed_headers("nj-xuanwu", &county.key, &altered),
        401,
        "bad_signature",
    ));

    for (what, body, headers, status, code) in bad {
        let (s, answer, _) = post_raw(&fed, &body, &headers).await;
        assert_eq!((s, answer["error"].as_str()), (status, Some(code)), "{what}: {answer}");
        assert!(!answer["message"].as_str().unwrap_or_default().is_empty());
    }
    assert_eq!(fed.count(PROVINCE, "events"), before + 3, "a refused envelope stored something");

    // Re-batched on retry: events 2..=5 in a new envelope — 2 and 3 are held already, 4 and 5 are new.
    let retry = serde_json::to_vec(&envelope(vec![county.batch(2..=5)])).unwrap();
    let (status, body, _) = post_raw(&fed, &retry, &signed_headers("nj-xuanwu", &county.key, &retry)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["duplicates"].as_u64()), (Some(2), Some(2)));
    assert_eq!(fed.count(PROVINCE, "events"), before + 5);

    // The same sequence number for a different event (a county restored from a backup): refused,
    // never counted as a duplicate.
    let mut other = events("320102", 5..=5);
    if let EventBody::Progress(p) = &mut other[0].body {
        p.stage = Stage::Rejected;
    }
    let conflict =
        serde_json::to_vec(&envelope(vec![seal_batch(&county.origin, &county.me, &county.key, &other).unwrap()]))
            .unwrap();
    let (status, body, _) = post_raw(&fed, &conflict, &signed_headers("nj-xuanwu", &county.key, &conflict)).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sequence_conflict")), "{body}");
    assert_eq!(fed.count(PROVINCE, "events"), before + 5);

    // The province forwards them intact: the nation holds each once, checking the county's own
    // signature with the key the province enrolled.
    eventually("forwarded to the nation", std::time::Duration::from_secs(15), || async {
        let n = {
            use bdc_node::db::schema::events::dsl as e;
            use diesel::prelude::*;
            let mut conn = fed.node(NATION).state.db.conn().unwrap();
            e::events.filter(e::division.eq("320102")).count().get_result::<i64>(&mut *conn).unwrap()
        };
        (n == 5).then_some(())
    })
    .await;
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forward_retried_with_the_same_ticket_gets_the_same_answer() {
    let fed = Federation::start().await;
    // Play the nation: its key, toward the province.
    let nation_key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(NATION)), false).unwrap();
    let province_key = bdc_node::keys::load_signing_key(&key_path(&fed.data_dir(PROVINCE)), false).unwrap();
    let client = federation::client::PeerClient::new(
        NodeId::parse("nation").unwrap(),
        std::sync::Arc::new(nation_key),
        reqwest::Client::new(),
    );
    let province = federation::peers::Peer {
        node_id: NodeId::parse("js-province").unwrap(),
        division: DivisionCode::parse("320000").unwrap(),
        url: fed.url(PROVINCE),
        relation: federation::peers::Relation::Child,
        navigation: Some(schemas::api::NavigationMode::Interface),
        keys: vec![province_key.public_key()],
    };
    let application: schemas::api::SubmitApplication = serde_json::from_value(sample_application(XUANWU_UNIT)).unwrap();
    let forwarded = schemas::envelope::ForwardedApplication {
        ticket: Some(ulid::Ulid::new().to_string()),
        entry_node: NodeId::parse("nation").unwrap(),
        application,
    };
    let t = std::time::Duration::from_secs(5);
    let first = client.send_application(&province, "t1", forwarded.clone(), t).await.unwrap();
    let again = client.send_application(&province, "t2", forwarded, t).await.unwrap();
    let no = |a: &schemas::api::ApplicationAnswer| match a {
        schemas::api::ApplicationAnswer::Received(r) => r.business_no.to_string(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(no(&first), no(&again));
    assert_eq!(fed.count(XUANWU, "applications"), 1);
    fed.shutdown().await;
}
