//! Verifying an uploaded certificate package (issue "Electronic certificates…", item 7): at the
//! API and on the public page, at a node other than the issuer; a changed byte, a wrong key, a
//! file that is not a package — each gets a clear answer, never a 500.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

const WAIT: std::time::Duration = std::time::Duration::from_secs(15);

async fn post_package(fed: &Federation, node: usize, body: Vec<u8>) -> (u16, Value) {
    let r = fed
        .http
        .post(format!("{}/api/v1/certificates/verify-package", fed.url(node)))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uploaded_package_is_verified_anywhere_and_a_changed_one_is_named() {
    let fed = Federation::start().await;
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let issued = fed.run_to_issued(receipt["business_no"].as_str().unwrap()).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    eventually("certificate at the nation", WAIT, || async {
        let (status, _) = fed.get(NATION, &format!("/api/v1/certificates/{cert}/verify")).await;
        (status == 200).then_some(())
    })
    .await;
    // The holder downloads the package from the county …
    let code = fed.access_code(XUANWU, receipt["business_no"].as_str().unwrap()).await;
    let (status, package) = fed.get(XUANWU, &format!("/api/v1/certificates/{cert}/package?code={code}")).await;
    assert_eq!(status, 200, "{package}");
    let file = serde_json::to_vec(&package).unwrap();

    // … and a bank checks it at the nation.
    let (status, answer) = post_package(&fed, NATION, file.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["id"], cert.as_str());
    assert_eq!(answer["answered_by"], "nation");
    assert!(answer["transparency"]["audit_path"].is_array());

    // The same on the public page, as an upload.
    let (status, html) = fed.upload_package(NATION, &file).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&cert), "{html}");
    assert!(html.contains("签名有效，证照现势有效"), "{html}");

    // One character of the signed content changed: the signature no longer holds.
    let mut changed = package.clone();
    let content = changed["content"].as_str().unwrap().replace("张三", "张四");
    assert_ne!(content, package["content"].as_str().unwrap());
    changed["content"] = Value::String(content);
    let (status, answer) = post_package(&fed, NATION, serde_json::to_vec(&changed).unwrap()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "package_invalid");
    assert!(answer["message"].as_str().unwrap().contains("签名验证失败"), "{answer}");
    let (status, html) = fed.upload_package(NATION, &serde_json::to_vec(&changed).unwrap()).await;
    assert_eq!(status, 422);
    assert!(html.contains("签名验证失败"), "{html}");

    // Re-signed with a key of one's own: the signature holds, but the key is not the issuer's.
    let forger = federation::crypto::SigningKey::generate();
    let mut forged = changed.clone();
    let sig = forger.sign(forged["content"].as_str().unwrap().as_bytes());
    forged["signature"] = Value::String(federation::crypto::b64(&sig));
    forged["issuer_public_key_pem"] = Value::String(forger.public_key().to_spki_pem().unwrap());
    forged["key_id"] = Value::String(forger.key_id());
    let (status, answer) = post_package(&fed, NATION, serde_json::to_vec(&forged).unwrap()).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("不是本节点所知的该签发机构的密钥"), "{answer}");
    // A key id that does not name the key in the file.
    let mut mislabelled = package.clone();
    mislabelled["key_id"] = Value::String(forger.key_id());
    let (status, answer) = post_package(&fed, NATION, serde_json::to_vec(&mislabelled).unwrap()).await;
    assert_eq!(status, 422, "{answer}");

    // Not a package at all, or an empty upload.
    for junk in [b"not json".to_vec(), b"{}".to_vec(), b"[1,2]".to_vec()] {
        let (status, answer) = post_package(&fed, NATION, junk).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], "invalid_request");
    }
    let (status, html) = fed.upload_package(NATION, b"").await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("请选择要核验的证照包文件"), "{html}");
    fed.shutdown().await;
}
