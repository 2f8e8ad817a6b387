//! The example messages in `schemas/fixtures/` are real: signed with the example keys beside them,
//! they verify, and they round-trip through the wire types. Regenerate with
//! `BDC_UPDATE_FIXTURES=1 cargo test --test fixtures`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use federation::crypto::{SigningKey, unb64};
use federation::wire::{BodySignature, seal_batch, sign_body, verify_body};
use schemas::api::*;
use schemas::envelope::*;
use schemas::ids::*;
use schemas::registration::*;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/fixtures"))
}

fn key(name: &str) -> SigningKey {
    let path = dir().join(format!("{name}.key.pem"));
    if !path.exists() {
        std::fs::write(&path, SigningKey::generate().to_pkcs8_pem().unwrap()).unwrap();
    }
    SigningKey::from_pkcs8_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn at(s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 9, 30, s).unwrap()
}

fn generate() -> Vec<(String, Vec<u8>, BodySignature, &'static str)> {
    let county = key("example-county");
    let province = key("example-province");
    for (name, k) in [("example-county", &county), ("example-province", &province)] {
        std::fs::write(dir().join(format!("{name}.pub.pem")), k.public_key().to_spki_pem().unwrap()).unwrap();
    }
    let xuanwu = NodeId::parse("nj-xuanwu").unwrap();
    let js = NodeId::parse("js-province").unwrap();
    let origin = DivisionCode::parse("320102").unwrap();
    let bn = BusinessNo::parse("32010220261129000123").unwrap();
    let unit = UnitCode::parse("320102003001GB00012F00010203").unwrap();
    let content = CertificateContent {
        title: "不动产权证书".into(),
        type_code: PROPERTY_CERTIFICATE_TYPE.into(),
        id: CertificateId::new(PROPERTY_CERTIFICATE_TYPE, "320102", "202600000001", 1).unwrap(),
        number: "苏(2026)南京市不动产权第0000001号".into(),
        business_no: bn.clone(),
        holders: vec!["张三".into()],
        co_ownership: "单独所有".into(),
        location: "南京市玄武区北京东路41号3幢203室".into(),
        unit_code: unit.clone(),
        registration_kind: "转移登记".into(),
        issuer_name: "南京市玄武区不动产登记中心".into(),
        issuer_division: origin.clone(),
        issued_on: at(0).date_naive(),
        holder_id_type: "身份证".into(),
        right_type: "国有建设用地使用权/房屋所有权".into(),
        nature: Some("出让".into()),
        purpose: Some("住宅".into()),
        area: Some("89.50平方米".into()),
        term: Some("2006年01月01日起2076年12月31日止".into()),
        other: vec![],
        notes: vec![format!("业务号：{bn}")],
        matter: None,
        obligors: vec![],
        valid_until: None,
    };
    let content_text = serde_json::to_string(&content).unwrap();
    let events = vec![
        Event {
            origin: origin.clone(),
            seq: 41,
            occurred_at: at(1),
            body: EventBody::Progress(ProgressEvent {
                business_no: bn.clone(),
                unit_code: unit.clone(),
                kind: RegistrationKind::Transfer,
                stage: Stage::Issued,
                due_date: Some(at(0).date_naive()),
                notes: vec![],
                applicant_proofs: vec![],
            }),
        },
        Event {
            origin: origin.clone(),
            seq: 42,
            occurred_at: at(1),
            body: EventBody::Certificate(CertificateRecord {
                id: content.id.clone(),
                number: content.number.clone(),
                business_no: bn.clone(),
                issuer: origin.clone(),
                issuer_node: xuanwu.clone(),
                key_id: county.key_id(),
                signature: federation::crypto::b64(&county.sign(content_text.as_bytes())),
                content: content_text,
                issued_at: at(1),
            }),
        },
    ];
    let batch = seal_batch(&origin, &xuanwu, &county, &events).unwrap();
    let envelope = Envelope {
        v: WIRE_VERSION,
        id: "01KB0Z7X3M9Q2T8V6W4Y5Z1A2B".into(),
        from: xuanwu.clone(),
        to: js.clone(),
        sent_at: at(2),
        request_id: "01KB0Z7X3M9Q2T8V6W4Y5Z1A2C".into(),
        body: EnvelopeBody::Events { batches: vec![batch] },
    };
    let receipt = DeliveryReceipt {
        v: WIRE_VERSION,
        envelope_id: envelope.id.clone(),
        receiver: js.clone(),
        received_at: at(3),
        accepted: 2,
        duplicates: 0,
    };
    let application = Envelope {
        v: WIRE_VERSION,
        id: "01KB0Z7X3M9Q2T8V6W4Y5Z1A2D".into(),
        from: js.clone(),
        to: xuanwu.clone(),
        sent_at: at(4),
        request_id: "01KB0Z7X3M9Q2T8V6W4Y5Z1A2E".into(),
        body: EnvelopeBody::Application(Box::new(ForwardedApplication {
            ticket: Some("01KB0Z7X3M9Q2T8V6W4Y5Z1A2F".into()),
            entry_node: NodeId::parse("nation").unwrap(),
            application: SubmitApplication {
                unit_code: unit.clone(),
                kind: RegistrationKind::Transfer,
                applicants: vec![ApplicantInput {
                    name: "张三".into(),
                    id_type: IdType::IdCard,
                    id_number: "110101199003074477".into(),
                    phone: Some("13812341234".into()),
                    role: PartyRole::RightHolder,
                    share: None,
                }],
                division: None,
                location: Some("南京市玄武区北京东路41号3幢203室".into()),
                details: None,
            },
        })),
    };
    let answer = ApplicationReceipt {
        v: WIRE_VERSION,
        envelope_id: application.id.clone(),
        receiver: xuanwu.clone(),
        answer: ApplicationAnswer::Received(OfficeReceipt {
            business_no: bn,
            state: Stage::Submitted,
            office: origin,
            office_node: xuanwu.clone(),
            received_at: at(5),
        }),
    };
    let mut out = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, signer: &SigningKey, node: &NodeId, kind: &'static str| {
        let sig = sign_body(node, signer, &bytes);
        out.push((name.to_owned(), bytes, sig, kind));
    };
    add("events-envelope", serde_json::to_vec(&envelope).unwrap(), &county, &xuanwu, "envelope");
    add("events-receipt", serde_json::to_vec(&receipt).unwrap(), &province, &js, "delivery_receipt");
    add("application-envelope", serde_json::to_vec(&application).unwrap(), &province, &js, "envelope");
    add("application-receipt", serde_json::to_vec(&answer).unwrap(), &county, &xuanwu, "application_receipt");
    out
}

#[test]
fn fixtures_are_signed_and_round_trip() {
    if std::env::var_os("BDC_UPDATE_FIXTURES").is_some() {
        for (name, bytes, sig, kind) in generate() {
            std::fs::write(dir().join(format!("{name}.json")), &bytes).unwrap();
            let headers = json!({
                "kind": kind,
                HEADER_NODE: sig.node, HEADER_KEY_ID: sig.key_id, HEADER_SIGNATURE: sig.signature,
            });
            std::fs::write(dir().join(format!("{name}.headers.json")), serde_json::to_string_pretty(&headers).unwrap())
                .unwrap();
        }
    }
    let public = |name: &str| {
        federation::crypto::PublicKey::from_spki_pem(
            &std::fs::read_to_string(dir().join(format!("{name}.pub.pem"))).unwrap(),
        )
        .unwrap()
    };
    let (county, province) = (public("example-county"), public("example-province"));
    let names = ["events-envelope", "events-receipt", "application-envelope", "application-receipt"];
    for name in names {
        let bytes =
            std::fs::read(dir().join(format!("{name}.json"))).unwrap_or_else(|_| panic!("missing fixture {name}"));
        let headers: Value =
            serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.headers.json"))).unwrap()).unwrap();
        let sig = BodySignature {
            node: headers[HEADER_NODE].as_str().unwrap().into(),
            key_id: headers[HEADER_KEY_ID].as_str().unwrap().into(),
            signature: headers[HEADER_SIGNATURE].as_str().unwrap().into(),
        };
        let signer = if sig.node == "nj-xuanwu" { &county } else { &province };
        verify_body(signer, &sig, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let again = match headers["kind"].as_str().unwrap() {
            "envelope" => {
                let e: Envelope = serde_json::from_slice(&bytes).unwrap();
                if let EnvelopeBody::Events { batches } = &e.body {
                    for b in batches {
                        let events = federation::wire::open_batch(b, &county).unwrap();
                        assert_eq!(events.len(), 2);
                        if let EventBody::Certificate(c) = &events[1].body {
                            county.verify(c.content.as_bytes(), &unb64(&c.signature).unwrap()).unwrap();
                        }
                    }
                }
                serde_json::to_value(e).unwrap()
            }
            "delivery_receipt" => {
                serde_json::to_value(serde_json::from_slice::<DeliveryReceipt>(&bytes).unwrap()).unwrap()
            }
            "application_receipt" => {
                serde_json::to_value(serde_json::from_slice::<ApplicationReceipt>(&bytes).unwrap()).unwrap()
            }
            other => panic!("unknown kind {other}"),
        };
        assert_eq!(again, original, "{name} does not round-trip");
        // Exact bytes, too: serializing the parsed value reproduces what was signed.
        assert_eq!(serde_json::to_vec(&again).unwrap().len(), bytes.len(), "{name}");
    }
}
