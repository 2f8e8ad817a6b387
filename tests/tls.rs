//! HTTPS on every listener and mutual TLS between nodes, with certificates made in the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_federation_runs_over_mutual_tls() {
    let pki = Pki::new("bdc federation test CA");
    let fed = Federation::start_tls(&pki).await;
    assert!(fed.url(NATION).starts_with("https://"));

    // The public reaches the API over HTTPS without a client certificate.
    let (status, receipt) = fed.post(NATION, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    assert_eq!(status, 200, "{receipt}");
    let no = receipt["business_no"].as_str().unwrap().to_owned();
    let token = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, _) = fed.act(XUANWU, &token, &no, json!({"action": "accept"})).await;
    assert_eq!(status, 200);
    // Events travel county → province → nation over mutual TLS.
    eventually("progress at the nation over mTLS", Duration::from_secs(15), || async {
        let (_, body) = fed.progress(NATION, &no, "张三", "110101199003074477").await;
        (body["state"] == "accepted").then_some(())
    })
    .await;

    // Plain HTTP to a TLS listener gets nowhere.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{}/healthz", fed.port(PROVINCE))).send().await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();
    let county_key = key_path(&fed.data_dir(XUANWU));
    let province_url = format!("{}/federation/v1/envelopes", fed.url(PROVINCE));
    let envelope = |client: reqwest::Client| {
        let url = province_url.clone();
        let key_file = county_key.clone();
        async move {
            let body = br#"{"v":1}"#.to_vec();
            let key = bdc_node::keys::load_signing_key(&key_file, false).unwrap();
            let sig = federation::wire::sign_body(&schemas::ids::NodeId::parse("nj-xuanwu").unwrap(), &key, &body);
            client
                .post(url)
                .header("x-bdc-node", sig.node)
                .header("x-bdc-key-id", sig.key_id)
                .header("x-bdc-signature", sig.signature)
                .body(body)
                .send()
                .await
        }
    };
    let with_identity = |cert: String, key: String| {
        reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap())
            .build()
            .unwrap()
    };

    // No client certificate on the federation endpoint: refused.
    let r = envelope(reqwest::Client::builder().add_root_certificate(ca.clone()).build().unwrap()).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "client_certificate");
    // A certificate of the federation CA that names another node: refused.
    let (cert, key) = pki.leaf("nj-qinhuai");
    let r = envelope(with_identity(cert, key)).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "client_certificate");
    // A certificate from an unknown CA: the handshake itself fails.
    let rogue = Pki::new("rogue CA");
    let (cert, key) = rogue.leaf("nj-xuanwu");
    assert!(envelope(with_identity(cert, key)).await.is_err());
    // The right certificate gets as far as the envelope checks (this body is no envelope).
    let (cert, key) = pki.leaf("nj-xuanwu");
    let r = envelope(with_identity(cert, key)).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "malformed_envelope");
    fed.shutdown().await;
}

#[test]
fn a_renewed_certificate_is_picked_up_without_restart() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let pki = Pki::new("reload CA");
    let dir = tempfile::tempdir().unwrap();
    let (cf, kf) = (dir.path().join("n.crt"), dir.path().join("n.key"));
    let (c1, k1) = pki.leaf("nation");
    std::fs::write(&cf, &c1).unwrap();
    std::fs::write(&kf, &k1).unwrap();
    let reloading = bdc_node::tls::ReloadingCert::load(cf.clone(), kf.clone()).unwrap();
    let first = reloading.current_der();
    // A broken pair is refused and the current certificate stays.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&cf, "not a certificate").unwrap();
    reloading.reload_if_changed();
    assert_eq!(reloading.current_der(), first);
    // A good new pair replaces it.
    let (c2, k2) = pki.leaf("nation");
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&kf, &k2).unwrap();
    std::fs::write(&cf, &c2).unwrap();
    reloading.reload_if_changed();
    assert_ne!(reloading.current_der(), first);
}
