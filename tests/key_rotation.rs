//! Data-key rotation while a county keeps serving (issue "Personal data encrypted…", item 1):
//! a new SM4 key is put in front of the keyring, the running node loads it, every stored value is
//! sealed again, the old key is dropped — and the office reads everything throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_rotates_its_data_key_without_stopping() {
    let fed = Federation::start().await;
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT)).await;
    let first_no = receipt["business_no"].as_str().unwrap().to_owned();
    let issued = fed.run_to_issued(&first_no).await;
    let cert = issued["certificate_id"].as_str().unwrap().to_owned();
    let county = &fed.node(XUANWU).state;
    let old_key = county.sealer.key_id();
    let old_ciphertext = county.sealer.seal_str("张三", "test");
    // A material of an open application, sealed under the old key.
    let (_, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    let open_no = receipt["business_no"].as_str().unwrap().to_owned();
    let scan = files::pdf("identity scan before the rotation");
    let me = Some(("张三", "110101199003074477"));
    let (status, file) = fed.upload_material(XUANWU, &open_no, "identity", "id.pdf", &scan, me, None).await;
    assert_eq!(status, 201, "{file}");
    let file_path = format!("/api/v1/applications/{open_no}/materials/identity/files/{}", file["id"]);

    // Rotate (in the background, as an operator's command would run beside the node) …
    let settings = fed.settings[XUANWU].clone();
    let rotation = tokio::task::spawn_blocking(move || {
        bdc_node::keys::rotate_data_key(&settings, Duration::from_secs(3)).map_err(|e| e.to_string())
    });
    // … while the office goes on taking applications.
    let (status, receipt) = fed.post(XUANWU, "/api/v1/applications", &sample_application(XUANWU_UNIT_2)).await;
    assert_eq!(status, 200, "{receipt}");
    let second_no = receipt["business_no"].as_str().unwrap().to_owned();
    let rotation = rotation.await.unwrap().unwrap();
    assert_eq!(rotation.old_key, old_key);
    assert_ne!(rotation.new_key, old_key);
    assert!(rotation.resealed.iter().map(|(_, n)| n).sum::<usize>() >= 5, "{rotation:?}");

    // The running node took the new key, and nothing is left under the old one.
    eventually("node reloaded the keyring", WAIT, || async {
        (fed.node(XUANWU).state.sealer.key_id() == rotation.new_key).then_some(())
    })
    .await;
    let stale = bdc_node::store::rekey::stale_counts(&county.db, &county.sealer).unwrap();
    assert!(stale.iter().all(|(_, n)| *n == 0), "{stale:?}");

    // Everything still reads: the application (masked), public progress, the register, the
    // certificate, and the application taken during the rotation goes on to 发证.
    let token = fed.login(XUANWU, "xuanwu-clerk").await;
    let (status, view) = fed.get_as(XUANWU, &token, &format!("/api/v1/applications/{first_no}")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["parties"][0]["name"], "张*");
    let (status, progress) = fed.progress(XUANWU, &first_no, "张三", "110101199003074477").await;
    assert_eq!(status, 200, "{progress}");
    let (status, page) = fed.get_as(XUANWU, &token, &format!("/api/v1/register/units/{XUANWU_UNIT}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["current"]["holders"][0]["name"], "张*", "{page}");
    let (status, verified) = fed.get(XUANWU, &format!("/api/v1/certificates/{cert}/verify")).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["valid"], true);
    let issued = fed.run_to_issued(&second_no).await;
    assert_eq!(issued["state"], "issued");

    // Drop the old key: the file holds one key, the node follows, and a value sealed under the
    // old key no longer opens anywhere.
    let settings = fed.settings[XUANWU].clone();
    let dropped =
        tokio::task::spawn_blocking(move || bdc_node::keys::drop_old_keys(&settings).map_err(|e| e.to_string()))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(dropped, vec![old_key.clone()]);
    eventually("node dropped the old key", WAIT, || async {
        (fed.node(XUANWU).state.sealer.key_ids().len() == 1).then_some(())
    })
    .await;
    assert!(county.sealer.open_str(&old_ciphertext, "test").is_err());
    let (status, view) = fed.get_as(XUANWU, &token, &format!("/api/v1/applications/{second_no}")).await;
    assert_eq!(status, 200, "{view}");
    // The material was sealed again too: it still opens with the old key gone.
    let (status, _, bytes) = fed.fetch_raw(XUANWU, &file_path, me, None).await;
    assert_eq!((status, bytes == scan), (200, true));
    let path = fed.settings[XUANWU].resolve(&fed.settings[XUANWU].keys.data_key_file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("index "), "the blind-index key is pinned");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Staff can still find a holder's properties by ID number (the blind index did not change).
    let (status, holdings) = fed
        .send_as(
            XUANWU,
            &token,
            reqwest::Method::POST,
            "/api/v1/register/holdings",
            Some(serde_json::json!({"id_type": "id_card", "id_number": "110101199003074477"})),
        )
        .await;
    assert_eq!(status, 200, "{holdings}");
    assert!(holdings.to_string().contains(XUANWU_UNIT), "{holdings}");
    fed.shutdown().await;
}
