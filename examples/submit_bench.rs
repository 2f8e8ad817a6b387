//! Submit-path benchmark (issue "Personal data encrypted and masked…"): applications submitted per
//! second at a county node with personal-data encryption (SM4-GCM), the blind index (HMAC-SM3)
//! and the audit log on, and with the three off; the issue allows at most 15 % loss.
//!
//! ```sh
//! cargo run --release --features bench-protections-off --example submit_bench -- [--clients 16] [--secs 8] [--rounds 2]
//! ```
//!
//! The demo federation (nation, 江苏省, 玄武区, 秦淮区) runs in this process on loopback, rate
//! limits off, log filter `warn`, fresh SQLite databases for each measurement. A second process
//! (this binary with `--client`, so the load generator's CPU is not the node's) sends
//! `POST /api/v1/applications` — a 首次登记 with a right holder and an applicant, each with name,
//! ID number and phone — to 玄武区 from `--clients` keep-alive connections for `--secs` seconds,
//! counting only `"status":"received"` answers. Each submission is parsed and checked, its parties
//! sealed, ID numbers blind-indexed, applicant proofs (argon2id) made, the application and its
//! progress event written (sealed) and the submission audited; the events roll up as usual.
//!
//! "Off" (`bdc_node::protections`, compiled only with the `bench-protections-off` feature) stores
//! personal data in clear, uses the ID number itself as its index and writes no audit record;
//! everything else — argon2 proofs, SM2-signed federation envelopes, the transparency log — is
//! the same. Modes alternate for `--rounds` rounds; the best of each is reported.

mod support;

use anyhow::{anyhow, bail};
use bdc_node::startup::{Application, RunningNode};
use serde_json::json;

struct Opts {
    clients: usize,
    secs: u64,
    rounds: usize,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts { clients: 16, secs: 8, rounds: 2 };
    let mut flags = support::Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--clients" => o.clients = flags.number::<usize>(flag)?.max(1),
            "--secs" => o.secs = flags.number::<u64>(flag)?.max(1),
            "--rounds" => o.rounds = flags.number::<usize>(flag)?.max(1),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

/// A 首次登记 of unit `n` (a distinct flat each time).
fn application(n: u64) -> serde_json::Value {
    json!({
        "unit_code": format!("320102003001GB00012F{:04}{:04}", 1 + n / 10_000, n % 10_000),
        "kind": "first",
        "location": format!("南京市玄武区北京东路41号{n}室"),
        "details": {"area": "89.50", "purpose": "住宅"},
        "applicants": [
            {"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder", "phone": "13812341234"},
            {"name": "李四", "id_type": "id_card", "id_number": "11010519491231002X", "role": "applicant", "phone": "13912345678"}
        ]
    })
}

/// The load generator (a separate process): submissions until time is up; prints "ok bad".
async fn client(url: String, clients: usize, secs: u64, offset: u64) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let submit =
        move |http: &reqwest::Client, n: u64| http.post(format!("{url}/api/v1/applications")).json(&application(n));
    support::load(http, clients, secs, offset, submit, b"\"status\":\"received\"").await
}

/// One measurement on a fresh federation: submissions per second.
async fn measure(opts: &Opts, off: bool, round: usize) -> anyhow::Result<f64> {
    bdc_node::protections::set_off(off);
    let dir = tempfile::tempdir()?;
    let all = support::federation_settings(dir.path())?;
    let mut nodes: Vec<RunningNode> = vec![];
    for s in all.iter() {
        nodes.push(Application::build(s.clone()).await?.spawn());
    }
    let county = &nodes[2];
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .args(["--client", &county.url, &opts.clients.to_string(), &opts.secs.to_string()])
        .arg((round as u64 * 1_000_000).to_string())
        .output()
        .await?;
    if !out.status.success() {
        bail!("client failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let ok: f64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    let bad: u64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    if bad > 0 {
        bail!("{bad} submissions failed");
    }
    // The mode really was what it says: the sealed parties are in clear only when off.
    let db = &county.state.db;
    let sample: Vec<String> = {
        use bdc_node::db::schema::applications::dsl as a;
        use diesel::prelude::*;
        let mut conn = db.conn()?;
        a::applications.select(a::parties).limit(1).load(&mut *conn)?
    };
    let clear = sample.first().is_some_and(|p| p.contains("张三"));
    if clear != off {
        bail!(
            "protections {} but parties stored {}",
            if off { "off" } else { "on" },
            if clear { "in clear" } else { "sealed" }
        );
    }
    for n in nodes {
        n.stop().await;
    }
    bdc_node::protections::set_off(false);
    Ok(ok / opts.secs as f64)
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let (mut on, mut off) = (0.0f64, 0.0f64);
    for round in 0..opts.rounds {
        let a = measure(&opts, false, 2 * round).await?;
        let b = measure(&opts, true, 2 * round + 1).await?;
        eprintln!("  round {}: on {a:.0}/s, off {b:.0}/s", round + 1);
        on = on.max(a);
        off = off.max(b);
    }
    let loss = 100.0 * (1.0 - on / off);
    println!(
        "Submit path at a county node (POST /api/v1/applications), {} clients, {} s each, best of {}",
        opts.clients, opts.secs, opts.rounds
    );
    println!("| encryption + blind index + audit on | all three off | loss | target |");
    println!("|---:|---:|---:|---|");
    println!("| {on:.0}/s | {off:.0}/s | **{loss:.1} %** | ≤ 15 % {} |", if loss <= 15.0 { "PASS" } else { "FAIL" });
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.first().map(String::as_str) == Some("--client") {
        let [_, url, clients, secs, offset] = args.as_slice() else { bail!("--client URL CLIENTS SECS OFFSET") };
        return rt.block_on(client(url.clone(), clients.parse()?, secs.parse()?, offset.parse()?));
    }
    let opts = parse_opts(&args)?;
    rt.block_on(run(opts))
}
