//! `bdc-node demo`: a whole federation on 127.0.0.1 (DESIGN §7) — the nation on P, the Jiangsu
//! province (320000) on P+1, 南京市玄武区 (320102, interface navigation) on P+2 and 南京市秦淮区
//! (320104, link navigation) on P+3 — each with its own SQLite database and keys under the data
//! directory, seeded with sample applications. The same plan serves the black-box tests.

use std::path::{Path, PathBuf};

use rand::Rng;
use schemas::api::{Mode, NavigationMode};
use schemas::ids::{DivisionCode, NodeId};

use crate::keys;
use crate::settings::{
    DatabaseSettings, FederationSettings, HttpSettings, KeySettings, LogSettings, OfficeSettings, PeerSettings,
    Settings, TlsSettings,
};
use crate::startup::{Application, RunningNode};

pub const NATION: &str = "nation";
pub const PROVINCE: &str = "js-province";
pub const XUANWU: &str = "nj-xuanwu";
pub const QINHUAI: &str = "nj-qinhuai";

fn id(s: &str) -> anyhow::Result<NodeId> {
    Ok(NodeId::parse(s)?)
}

fn div(s: &str) -> anyhow::Result<DivisionCode> {
    Ok(DivisionCode::parse(s)?)
}

fn base(node: &str, mode: Mode, division: &str, dir: &Path, port: u16) -> anyhow::Result<Settings> {
    let data_dir = dir.join(node);
    Ok(Settings {
        node_id: id(node)?,
        mode,
        division: div(division)?,
        data_dir: data_dir.clone(),
        http: HttpSettings {
            listen: format!("127.0.0.1:{port}"),
            public_url: format!("http://127.0.0.1:{port}"),
            max_body_bytes: 1 << 20,
            rate_limits: true,
        },
        database: DatabaseSettings { url: "sqlite://node.db".into(), pool_size: 8 },
        keys: KeySettings {
            signing_key_file: "keys/node.key.pem".into(),
            data_key_file: "keys/data.key".into(),
            generate_if_missing: true,
            reload_secs: 2,
        },
        federation: FederationSettings {
            max_skew_secs: 300,
            batch_limit: 500,
            retry_base_ms: 100,
            retry_cap_ms: 2000,
            forward_timeout_ms: 2000,
            delivery_timeout_ms: 5000,
            token_ttl_secs: 300,
            parallelism: 8,
            log_check_secs: 5,
        },
        tls: TlsSettings::default(),
        sms: crate::settings::SmsSettings::default(),
        identity: crate::settings::IdentitySettings::default(),
        log: LogSettings { filter: "info".into(), json: false },
        parent: None,
        children: vec![],
        offices: vec![],
    })
}

fn public_pem(dir: &Path, node: &str) -> anyhow::Result<String> {
    let key = keys::load_signing_key(&dir.join(node).join("keys/node.key.pem"), true)?;
    Ok(key.public_key().to_spki_pem()?)
}

fn peer(
    node: &str,
    division: &str,
    port: u16,
    pem: &str,
    navigation: Option<NavigationMode>,
) -> anyhow::Result<PeerSettings> {
    Ok(PeerSettings {
        node_id: id(node)?,
        division: div(division)?,
        url: format!("http://127.0.0.1:{port}"),
        public_key_pem: Some(pem.to_owned()),
        public_key_file: None,
        navigation,
    })
}

/// A free port on 127.0.0.1 for a node of a test or bench federation, taken below the kernel's
/// range for outgoing connections (32768–60999 by default): a port found by binding to port 0
/// and released lies in that range, and another connection's local end could take it before the
/// node binds it ("address already in use"). Ports are handed out in turn from a start that
/// depends on the process, each checked free by binding it.
pub fn free_local_port() -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(397) % COUNT;
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(FIRST + (start + n) % COUNT).unwrap_or(u16::MAX);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free port between 20000 and 31999"))
}

/// Settings of the four demo nodes (nation, province, 320102, 320104) on the given ports, with
/// keys created under `dir` when missing.
pub fn federation_settings(dir: &Path, ports: [u16; 4]) -> anyhow::Result<[Settings; 4]> {
    let [pn, pp, px, pq] = ports;
    let (kn, kp, kx, kq) =
        (public_pem(dir, NATION)?, public_pem(dir, PROVINCE)?, public_pem(dir, XUANWU)?, public_pem(dir, QINHUAI)?);

    let mut nation = base(NATION, Mode::National, "000000", dir, pn)?;
    nation.children = vec![peer(PROVINCE, "320000", pp, &kp, Some(NavigationMode::Interface))?];
    // The national office: 国家层面登记 only (State-Council sea/island use, key state forests).
    nation.offices = vec![OfficeSettings {
        division: DivisionCode::nation(),
        name: crate::domain::national::NATIONAL_OFFICE_NAME.into(),
        time_limit_days: 30,
        time_limits: Default::default(),
        auto_approve: vec![],
    }];

    let mut province = base(PROVINCE, Mode::Province, "320000", dir, pp)?;
    province.parent = Some(peer(NATION, "000000", pn, &kn, None)?);
    province.children = vec![
        peer(XUANWU, "320102", px, &kx, Some(NavigationMode::Interface))?,
        peer(QINHUAI, "320104", pq, &kq, Some(NavigationMode::Link))?,
    ];

    let mut xuanwu = base(XUANWU, Mode::County, "320102", dir, px)?;
    xuanwu.parent = Some(peer(PROVINCE, "320000", pp, &kp, None)?);
    xuanwu.offices = vec![OfficeSettings {
        division: div("320102")?,
        name: "南京市玄武区不动产登记中心".into(),
        time_limit_days: 5,
        time_limits: Default::default(),
        auto_approve: vec![],
    }];

    let mut qinhuai = base(QINHUAI, Mode::County, "320104", dir, pq)?;
    qinhuai.parent = Some(peer(PROVINCE, "320000", pp, &kp, None)?);
    qinhuai.offices = vec![OfficeSettings {
        division: div("320104")?,
        name: "南京市秦淮区不动产登记中心".into(),
        time_limit_days: 5,
        time_limits: Default::default(),
        auto_approve: vec![],
    }];

    for s in [&nation, &province, &xuanwu, &qinhuai] {
        s.validate()?;
    }
    Ok([nation, province, xuanwu, qinhuai])
}

/// Create or reset a staff account of an office on a running node.
pub async fn add_staff(
    node: &RunningNode,
    office: &str,
    username: &str,
    password: &str,
    name: &str,
    role: &str,
) -> anyhow::Result<()> {
    let db = node.state.db.clone();
    let (office, username, password, name, role) =
        (office.to_owned(), username.to_owned(), password.to_owned(), name.to_owned(), role.to_owned());
    tokio::task::spawn_blocking(move || {
        db.write(|conn| {
            crate::store::staff::upsert(conn, &office, &username, &password, &name, &role).map_err(anyhow::Error::msg)
        })
    })
    .await??;
    node.state.sessions.clear();
    Ok(())
}

fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..14).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// Run the demo until Ctrl-C.
pub async fn run(base_port: u16, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| PathBuf::from("demo-data"));
    std::fs::create_dir_all(&dir)?;
    let ports = [0u16, 1, 2, 3].map(|i| base_port.saturating_add(i));
    let settings = federation_settings(&dir, ports)?;
    let mut nodes = Vec::new();
    for s in settings {
        let label = format!("{} ({})", s.node_id, s.division);
        let app = Application::build(s).await.map_err(|e| anyhow::anyhow!("{label}: {e:#}"))?;
        nodes.push(app.spawn());
    }
    let pw_x = random_password();
    let pw_q = random_password();
    let pw_n = random_password();
    add_staff(&nodes[2], "320102", "xuanwu-clerk", &pw_x, "玄武区登记员", "clerk").await?;
    add_staff(&nodes[3], "320104", "qinhuai-clerk", &pw_q, "秦淮区登记员", "clerk").await?;
    add_staff(&nodes[0], "000000", "nation-clerk", &pw_n, "自然资源部不动产登记中心登记员", "clerk").await?;
    let sample = seed(&nodes, &pw_x).await;
    let national = seed_national(&nodes, &pw_n).await;

    println!("bdc-node demo — a federation on 127.0.0.1 (data in {})", dir.display());
    println!();
    for (n, role) in nodes.iter().zip([
        "national 国家级",
        "province 江苏省 320000",
        "county 玄武区 320102 (interface navigation)",
        "county 秦淮区 320104 (link navigation)",
    ]) {
        println!("  {:<48} {}", role, n.url);
    }
    println!();
    println!("Staff accounts (POST /api/v1/staff/login):");
    println!("  320102  xuanwu-clerk   {pw_x}  at {}", nodes[2].url);
    println!("  320104  qinhuai-clerk  {pw_q}  at {}", nodes[3].url);
    println!("  000000  nation-clerk   {pw_n}  at {} (自然资源部不动产登记中心, national-level kinds)", nodes[0].url);
    println!();
    match sample {
        Ok(s) => print!("{s}"),
        Err(e) => println!("(sample data could not be created: {e:#})"),
    }
    println!();
    match national {
        Ok(s) => print!("{s}"),
        Err(e) => println!("(national sample could not be created: {e:#})"),
    }
    println!();
    println!("Press Ctrl-C to stop.");
    wait().await;
    println!("stopping…");
    for n in nodes.into_iter().rev() {
        n.stop().await;
    }
    println!("stopped.");
    Ok(())
}

async fn wait() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Sample data through the real API: 李四's 首次登记 at 320102, then a 转移登记 to 张三 submitted at
/// the nation, forwarded down, taken through every stage to 发证; progress and certificates (the
/// new one valid, 李四's voided) roll up.
/// A staff session at `office_url`.
async fn login(http: &reqwest::Client, office_url: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let login: serde_json::Value = http
        .post(format!("{office_url}/api/v1/staff/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["token"].as_str().ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?.to_owned())
}

/// Submit `application` at the portal `entry`, then take it from 受理 to 发证 at the office
/// `office_url` with `token`. Returns the business number and the last staff view.
async fn submit_and_issue(
    http: &reqwest::Client,
    entry: &str,
    office_url: &str,
    token: &str,
    application: &serde_json::Value,
) -> anyhow::Result<(String, serde_json::Value)> {
    let answer: serde_json::Value =
        http.post(format!("{entry}/api/v1/applications")).json(application).send().await?.json().await?;
    let business_no =
        answer["business_no"].as_str().ok_or_else(|| anyhow::anyhow!("unexpected answer {answer}"))?.to_owned();
    let mut view = serde_json::Value::Null;
    for action in ["accept", "review", "record", "certify", "issue"] {
        view = http
            .post(format!("{office_url}/api/v1/applications/{business_no}/actions"))
            .bearer_auth(token)
            .json(&serde_json::json!({"action": action}))
            .send()
            .await?
            .json()
            .await?;
        if view.get("error").is_some() {
            anyhow::bail!("sample {action} of {business_no} refused: {view}");
        }
    }
    Ok((business_no, view))
}

async fn seed(nodes: &[RunningNode], password: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let nation = &nodes[0].url;
    let county = &nodes[2].url;
    let token = login(&http, county, "xuanwu-clerk", password).await?;
    // A data directory from an earlier run already holds the sample (the register is permanent).
    let unit = "320102003001GB00012F00010203";
    let page = http.get(format!("{county}/api/v1/register/units/{unit}")).bearer_auth(&token).send().await?;
    if page.status().is_success() {
        return Ok(format!(
            "Sample data from an earlier run is kept (unit {unit} is on 320102's register):\n  \
             curl -H 'Authorization: Bearer <token>' {county}/api/v1/register/units/{unit}\n"
        ));
    }
    // 李四's 首次登记 at the county, then the sale to 张三 applied for at the nation.
    let first = serde_json::json!({
        "unit_code": "320102003001GB00012F00010203",
        "kind": "first",
        "location": "南京市玄武区北京东路41号3幢203室",
        "details": {"area": "89.50", "purpose": "住宅"},
        "applicants": [
            {"name": "李四", "id_type": "id_card", "id_number": "11010519491231002X", "role": "right_holder"}
        ]
    });
    let transfer = serde_json::json!({
        "unit_code": "320102003001GB00012F00010203",
        "kind": "transfer",
        "location": "南京市玄武区北京东路41号3幢203室",
        "applicants": [
            {"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder", "phone": "13812341234"},
            {"name": "李四", "id_type": "id_card", "id_number": "11010519491231002X", "role": "obligor"}
        ]
    });
    submit_and_issue(&http, county, county, &token, &first).await?;
    let (business_no, view) = submit_and_issue(&http, nation, county, &token, &transfer).await?;
    let cert = view["certificate_id"].as_str().unwrap_or_default().to_owned();
    // The 查验码 the applicant sees with the progress (the clerk sees it too).
    let progress: serde_json::Value =
        http.get(format!("{county}/api/v1/progress/{business_no}")).bearer_auth(&token).send().await?.json().await?;
    let code = progress["certificates"][0]["access_code"].as_str().unwrap_or_default().to_owned();
    let link: serde_json::Value = http
        .post(format!("{nation}/api/v1/applications"))
        .json(&serde_json::json!({
            "unit_code": "320104001002GB00031F00020101", "kind": "first",
            "applicants": [{"name": "王五", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder"}]
        }))
        .send()
        .await?
        .json()
        .await?;
    Ok(format!(
        "Sample data:\n  business number {business_no} (a 转移登记 submitted at the nation, handled by 320102, now issued)\n  \
         progress:     curl {nation}/api/v1/progress/{business_no} -H 'content-type: application/json' -d '{{\"name\": \"张三\", \"id_number\": \"110101199003074477\"}}'\n  \
         certificate:  curl {nation}/api/v1/certificates/{cert}/verify\n  \
         查验码 {code}: {nation}/verify?id={cert}&code={code} (page with the PDF, OFD and package)\n  \
         link navigation for 320104 from the nation: {}\n",
        link["navigate_to"].as_str().unwrap_or("(none)")
    ))
}

/// The unit of the national sample: a 宗海 off 连云港市连云区 (320703).
const NATIONAL_SAMPLE_UNIT: &str = "320703005001GH00001W00000000";

/// A 国务院批准的用海项目 首次登记 submitted at the county portal of 玄武区: whatever the unit's
/// division, it travels up (county → province → nation) to the national office, whose clerk takes
/// it to 发证; the certificate (`国(…)自然资源部不动产权第…号`) verifies at the nation.
async fn seed_national(nodes: &[RunningNode], password: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let nation = &nodes[0].url;
    let county = &nodes[2].url;
    let token = login(&http, nation, "nation-clerk", password).await?;
    let unit = NATIONAL_SAMPLE_UNIT;
    let page = http.get(format!("{nation}/api/v1/register/units/{unit}")).bearer_auth(&token).send().await?;
    if page.status().is_success() {
        return Ok(format!("National office: the sea-use sample from an earlier run is kept (unit {unit}).\n"));
    }
    let application = serde_json::json!({
        "unit_code": unit,
        "kind": "first",
        "location": "连云港市连云区海域（国务院批准的用海项目）",
        "details": {"jurisdiction": "state_council_sea_island", "area": "1200000.00", "purpose": "港口用海",
                    "term_from": "2026-01-01", "term_to": "2075-12-31"},
        "applicants": [
            {"name": "连云港港务示例有限公司", "id_type": "credit_code", "id_number": "91320703MA1N2B3C4A", "role": "right_holder"}
        ]
    });
    let (business_no, view) = submit_and_issue(&http, county, nation, &token, &application).await?;
    let cert = view["certificate_id"].as_str().unwrap_or_default().to_owned();
    let verified: serde_json::Value =
        http.get(format!("{nation}/api/v1/certificates/{cert}/verify")).send().await?.json().await?;
    Ok(format!(
        "National office (自然资源部不动产登记中心, division 000000): a 国务院批准的用海项目 submitted at 玄武区's portal\n  \
         went up to the nation as {business_no} and was issued there: {}\n  \
         certificate:  curl {nation}/api/v1/certificates/{cert}/verify\n",
        verified["number"].as_str().unwrap_or("(no number)")
    ))
}
