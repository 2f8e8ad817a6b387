//! The real binary: CLI commands, and real node processes surviving the province going down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bdc_node::settings::Settings;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_bdc-node");

fn free_port() -> u16 {
    bdc_node::demo::free_local_port().unwrap()
}

#[test]
fn keygen_writes_keys_that_openssl_reads_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN).args(["keygen", "--out"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let private = dir.path().join("node.key.pem");
    let public = dir.path().join("node.pub.pem");
    let derived = Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&private).output().expect("openssl");
    assert!(derived.status.success(), "{derived:?}");
    assert_eq!(String::from_utf8(derived.stdout).unwrap(), std::fs::read_to_string(&public).unwrap());
    let text = Command::new("openssl").args(["pkey", "-text", "-noout", "-in"]).arg(&private).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("SM2"), "{text:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = Command::new(BIN).args(["keygen", "--out"]).arg(dir.path()).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
}

#[test]
fn config_commands() {
    let out = Command::new(BIN).args(["config", "print-defaults"]).output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/defaults.toml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);

    let county = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/county.toml");
    let ok = Command::new(BIN)
        .args(["config", "check", "--config", county])
        .env("BDC_HTTP__LISTEN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("listen = \"127.0.0.1:1\""));
    let bad =
        Command::new(BIN).args(["config", "check", "--config", county]).env("BDC_MODE", "province").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("mode = province needs a province division"), "{err}");
    let unknown =
        Command::new(BIN).args(["config", "check", "--config", county]).env("BDC_HTTP__PORT", "1").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, s: &Settings) -> PathBuf {
    let path = dir.join(format!("{}.toml", s.node_id));
    let mut s = s.clone();
    s.log.filter = "warn".into();
    std::fs::write(&path, toml::to_string(&s).unwrap()).unwrap();
    path
}

fn serve(config: &Path) -> Proc {
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .unwrap();
    Proc { child }
}

fn url(s: &Settings) -> String {
    format!("http://{}", s.http.listen)
}

fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn healthy(http: &reqwest::blocking::Client, s: &Settings) -> bool {
    http.get(format!("{}/healthz", url(s))).send().is_ok_and(|r| r.status().is_success())
}

/// (count, max seq) of an origin's events in a node's SQLite database, read beside the process.
fn origin_events(s: &Settings, origin: &str) -> (i64, Option<i64>) {
    let db = bdc_node::db::Db::open(&s.database_url(), 1).unwrap();
    let mut conn = db.conn().unwrap();
    bdc_node::store::events::origin_summary(&mut conn, origin).unwrap()
}

#[test]
fn while_the_province_is_down_the_county_works_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let mut settings = bdc_node::demo::federation_settings(dir.path(), ports).unwrap();
    for s in settings.iter_mut() {
        s.federation.retry_base_ms = 50;
        s.federation.retry_cap_ms = 500;
    }
    let [nation, province, county, _] = &settings;
    let configs: Vec<PathBuf> = settings.iter().map(|s| write_config(dir.path(), s)).collect();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "a-long-test-password\n").unwrap();
    let staff = Command::new(BIN)
        .args(["staff", "add", "--office", "320102", "--username", "clerk", "--password-file"])
        .arg(&pw)
        .arg("--config")
        .arg(&configs[2])
        .output()
        .unwrap();
    assert!(staff.status.success(), "{staff:?}");

    let _n = serve(&configs[0]);
    let mut p = serve(&configs[1]);
    let _c = serve(&configs[2]);
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    for s in [nation, province, county] {
        wait_until("node up", Duration::from_secs(20), || healthy(&http, s).then_some(()));
    }
    let token = http
        .post(format!("{}/api/v1/staff/login", url(county)))
        .json(&json!({"username": "clerk", "password": "a-long-test-password"}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let submit = || -> String {
        let body = json!({
            "unit_code": "320102003001GB00012F00010203", "kind": "first",
            "applicants": [{"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder"}]
        });
        let r: Value =
            http.post(format!("{}/api/v1/applications", url(county))).json(&body).send().unwrap().json().unwrap();
        r["business_no"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
    };
    let act = |no: &str, action: &str| -> Value {
        let r = http
            .post(format!("{}/api/v1/applications/{no}/actions", url(county)))
            .bearer_auth(&token)
            .json(&json!({"action": action}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().unwrap()
    };

    let first = submit();
    act(&first, "accept");
    wait_until("first events at the nation", Duration::from_secs(20), || {
        (origin_events(nation, "320102").0 == 2).then_some(())
    });

    // The province goes down hard.
    let _ = p.child.kill();
    let _ = p.child.wait();
    // The county keeps working.
    let mut issued = String::new();
    let mut issued_no = String::new();
    for i in 0..4 {
        let no = submit();
        if i == 0 {
            issued_no = no.clone();
            for a in ["accept", "review", "record", "certify", "issue"] {
                issued = act(&no, a)["certificate_id"].as_str().unwrap_or_default().to_owned();
            }
        }
    }
    let (county_count, county_max) = origin_events(county, "320102");
    assert_eq!(county_count, 2 + 4 + 5 + 1);
    assert_eq!(origin_events(nation, "320102").0, 2, "nothing can pass while the province is down");

    // The province returns on its port; the backlog flows up in order, each event once.
    let _p = serve(&configs[1]);
    wait_until("backlog at the nation", Duration::from_secs(30), || {
        (origin_events(nation, "320102") == (county_count, county_max)).then_some(())
    });
    assert_eq!(origin_events(province, "320102"), (county_count, county_max));
    // In order: the nation stored them in sequence order.
    let arrival: Vec<i64> = {
        use bdc_node::db::schema::events::dsl as e;
        use diesel::prelude::*;
        let db = bdc_node::db::Db::open(&nation.database_url(), 1).unwrap();
        let mut conn = db.conn().unwrap();
        e::events.filter(e::division.eq("320102")).order(e::id.asc()).select(e::seq).load(&mut *conn).unwrap()
    };
    assert_eq!(arrival, (1..=county_count).collect::<Vec<i64>>());
    let v: Value =
        http.get(format!("{}/api/v1/certificates/{issued}/verify", url(nation))).send().unwrap().json().unwrap();
    assert_eq!(v["valid"], true, "{v}");
    // The applicant's proof in the body, never in the URL.
    let proof = json!({"name": "张三", "id_number": "110101199003074477"});
    let progress: Value =
        http.post(format!("{}/api/v1/progress/{first}", url(nation))).json(&proof).send().unwrap().json().unwrap();
    assert_eq!(progress["state"], "accepted", "{progress}");
    // The certificate package verifies offline with the binary; one changed byte does not. The
    // holder has the 查验码 from the progress of the business.
    let progress: Value =
        http.post(format!("{}/api/v1/progress/{issued_no}", url(nation))).json(&proof).send().unwrap().json().unwrap();
    let code = progress["certificates"][0]["access_code"].as_str().unwrap().to_owned();
    let zip = http
        .get(format!("{}/api/v1/certificates/{issued}/package.zip?code={code}", url(nation)))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let zip_file = dir.path().join("certificate.zip");
    std::fs::write(&zip_file, &zip).unwrap();
    let ok = Command::new(BIN).arg("verify-cert").arg(&zip_file).output().unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("VALID"), "the zip package verifies too");
    let package = http
        .get(format!("{}/api/v1/certificates/{issued}/package?code={code}", url(nation)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let file = dir.path().join("certificate.json");
    std::fs::write(&file, &package).unwrap();
    let ok = Command::new(BIN).arg("verify-cert").arg(&file).output().unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("VALID"));
    std::fs::write(&file, package.replacen("不动产权证书", "不动产登记证明", 1)).unwrap();
    let bad = Command::new(BIN).arg("verify-cert").arg(&file).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("INVALID"));
    std::fs::write(&file, "{not a package").unwrap();
    let junk = Command::new(BIN).arg("verify-cert").arg(&file).output().unwrap();
    assert_eq!(junk.status.code(), Some(2));

    // Still exactly once a little later (no duplicate deliveries creep in).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(origin_events(nation, "320102"), (county_count, county_max));
}
