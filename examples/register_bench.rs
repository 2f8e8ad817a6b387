//! Register benchmark (issue "County registration office"): complete registrations per second on
//! one county node, and unit-code lookups with a million rights on the register.
//!
//! ```sh
//! cargo run --release --example register_bench -- [--registrations 3000] [--clients 16] \
//!     [--rights 1000000] [--lookups 20000] [--pg postgres://postgres@127.0.0.1:5432/test]
//! ```
//!
//! **Registrations.** County 320102 runs in this process as a real node (`Application::build`,
//! actix-web on a loopback port, its own SQLite database in a temporary directory — or a fresh
//! PostgreSQL database with `--pg`), rate limits off, log filter `warn`. Its parent is configured
//! but not running, as when the province is down: every event still goes to the outbox in the
//! same transaction (the delivery worker retries with capped backoff). `--clients` concurrent
//! HTTP clients each take a fresh unit from 申请 to 发证: `POST /api/v1/applications` (a 首次登记
//! with one right holder, details checked, an argon2id applicant proof), then 受理, 审核 (rules),
//! 登簿 (register plan), 缮证 and 发证 (certificate number, SM2 signature, transparency log) as six
//! HTTP requests with a staff session, each audited. Reported: complete registrations per second
//! and the latency of one complete registration (p50/p99).
//!
//! **Lookups.** The register's `register_rights` table is filled with `--rights` current rights
//! (each holder list sealed with SM4-GCM, as the node writes them; bulk inserted), then
//! `--lookups` random unit codes are looked up through `store::register::load_page` — the
//! function behind `GET /api/v1/register/units/{unit}` and every review — which reads the unit's
//! current right and restrictions by index and opens the sealed holders. p50/p99/max reported,
//! against the issue's p99 ≤ 5 ms at 1,000,000 rights.

mod support;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail};
use bdc_node::db::schema::register_rights;
use bdc_node::db::{AnyConnection, Db};
use bdc_node::domain::register::Holder;
use bdc_node::personal::{Personal, Sealer};
use bdc_node::startup::{Application, RunningNode};
use diesel::prelude::*;
use rand::Rng;
use schemas::ids::IdType;
use serde_json::json;
use support::{Flags, call, cpu_secs, pct};

struct Opts {
    registrations: usize,
    clients: usize,
    rights: usize,
    lookups: usize,
    pg: Option<String>,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts { registrations: 3000, clients: 16, rights: 1_000_000, lookups: 20_000, pg: None };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--registrations" => o.registrations = flags.number(flag)?,
            "--clients" => o.clients = flags.number::<usize>(flag)?.max(1),
            "--rights" => o.rights = flags.number(flag)?,
            "--lookups" => o.lookups = flags.number(flag)?,
            "--pg" => o.pg = Some(flags.text(flag)?),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

/// A fresh PostgreSQL database next to the given URL's.
fn fresh_pg(url: &str) -> anyhow::Result<String> {
    let mut admin = diesel::PgConnection::establish(url)?;
    let name = format!("bdc_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin)?;
    let base = url.rsplit_once('/').map(|(b, _)| b.to_owned()).ok_or_else(|| anyhow!("bad URL"))?;
    Ok(format!("{base}/{name}"))
}

/// Unit code number `n` of 宗地 320102003001GB00012: building n / 10000, room n % 10000.
fn unit(n: usize) -> String {
    format!("320102003001GB{:05}F{:04}{:04}", 12 + n / 100_000_000, (n / 10_000) % 10_000, n % 10_000)
}

async fn county(dir: &std::path::Path, pg: Option<&str>) -> anyhow::Result<RunningNode> {
    let mut all = support::federation_settings(dir)?;
    let mut s = all[2].clone();
    if let Some(url) = pg {
        s.database.url = fresh_pg(url)?;
    }
    s.database.pool_size = 16;
    all[2] = s.clone();
    let node = Application::build(s).await?.spawn();
    bdc_node::demo::add_staff(&node, "320102", "bench-clerk", "bench-password-1", "压测登记员", "clerk").await?;
    Ok(node)
}

/// Milliseconds spent in each of the six requests of one registration.
type Steps = [f64; 6];
const STEP_NAMES: [&str; 6] =
    ["申请 submit", "受理 accept", "审核 review", "登簿 record", "缮证 certify", "发证 issue"];

async fn one_registration(http: &reqwest::Client, base: &str, token: &str, n: usize) -> anyhow::Result<Steps> {
    let mut steps = [0.0; 6];
    let t = Instant::now();
    let application = json!({
        "unit_code": unit(n),
        "kind": "first",
        "location": format!("南京市玄武区北京东路41号{}幢{}室", n / 10_000, n % 10_000),
        "details": {"area": "89.50", "purpose": "住宅"},
        "applicants": [{"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder"}]
    });
    let receipt = call(http.post(format!("{base}/api/v1/applications")).json(&application)).await?;
    let no = receipt["business_no"].as_str().ok_or_else(|| anyhow!("no business number: {receipt}"))?.to_owned();
    steps[0] = t.elapsed().as_secs_f64() * 1000.0;
    for (i, action) in ["accept", "review", "record", "certify", "issue"].into_iter().enumerate() {
        let t = Instant::now();
        call(
            http.post(format!("{base}/api/v1/applications/{no}/actions"))
                .bearer_auth(token)
                .json(&json!({"action": action})),
        )
        .await?;
        steps[i + 1] = t.elapsed().as_secs_f64() * 1000.0;
    }
    Ok(steps)
}

async fn registrations(opts: &Opts, label: &str, pg: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = county(dir.path(), pg).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(opts.clients).build()?;
    let login = call(
        http.post(format!("{}/api/v1/staff/login", node.url))
            .json(&json!({"username": "bench-clerk", "password": "bench-password-1"})),
    )
    .await?;
    let token = login["token"].as_str().ok_or_else(|| anyhow!("login: {login}"))?.to_owned();
    // Warm up (connections, caches, the first counters).
    for n in 0..opts.clients {
        one_registration(&http, &node.url, &token, 9_000_000 + n).await?;
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer0 = node.state.db.writer_stats();
    let cpu0 = cpu_secs()?;
    let start = Instant::now();
    let tasks: Vec<_> = (0..opts.clients)
        .map(|_| {
            let (http, base, token, next) = (http.clone(), node.url.clone(), token.clone(), Arc::clone(&next));
            let total = opts.registrations;
            tokio::spawn(async move {
                let mut lat = vec![];
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= total {
                        return Ok::<_, anyhow::Error>(lat);
                    }
                    let t = Instant::now();
                    let steps = one_registration(&http, &base, &token, n).await?;
                    lat.push((t.elapsed().as_secs_f64() * 1000.0, steps));
                }
            })
        })
        .collect();
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_secs()? - cpu0;
    let writer = node.state.db.writer_stats();
    let mut lat: Vec<f64> = all.iter().map(|(l, _)| *l).collect();
    lat.sort_by(f64::total_cmp);
    let mut step_means = [0.0; 6];
    for (_, steps) in &all {
        for (m, s) in step_means.iter_mut().zip(steps) {
            *m += s / all.len().max(1) as f64;
        }
    }
    let rate = lat.len() as f64 / secs;
    println!(
        "| {label} | {} | {} | {:.1} s | **{rate:.0}/s** | {:.1} | {:.1} | {} |",
        lat.len(),
        opts.clients,
        secs,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        if rate >= 500.0 { "≥ 500 PASS" } else { "≥ 500 FAIL" }
    );
    let breakdown: Vec<String> =
        STEP_NAMES.iter().zip(step_means).map(|(name, ms)| format!("{name} {ms:.1} ms")).collect();
    eprintln!("  {label} mean per request: {}", breakdown.join(", "));
    let n = lat.len().max(1) as f64;
    eprintln!(
        "  {label} CPU (node and clients, one process) {:.2} ms per registration, {:.0} % of {} cores",
        cpu * 1000.0 / n,
        cpu / secs * 100.0 / std::thread::available_parallelism().map_or(1.0, |c| c.get() as f64),
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    if writer.closures > writer0.closures {
        let held_ms = (writer.held_ns - writer0.held_ns) as f64 / 1e6;
        eprintln!(
            "  {label} SQLite writer: held {:.0} % of the time (on a CPU {:.0} % of that), idle {:.0} % while a writer woke to take it; {:.2} ms per registration ({:.1} writes, {:.2} commits each; commits {:.0} % of the hold)",
            held_ms / (secs * 1000.0) * 100.0,
            (writer.held_cpu_ns - writer0.held_cpu_ns) as f64 / 1e6 / held_ms.max(f64::MIN_POSITIVE) * 100.0,
            (writer.handoff_ns - writer0.handoff_ns) as f64 / 1e6 / (secs * 1000.0) * 100.0,
            held_ms / n,
            (writer.closures - writer0.closures) as f64 / n,
            (writer.commits - writer0.commits) as f64 / n,
            (writer.commit_ns - writer0.commit_ns) as f64 / 1e6 / held_ms.max(f64::MIN_POSITIVE) * 100.0,
        );
        let syncs = writer.syncs - writer0.syncs;
        if syncs > 0 {
            eprintln!(
                "  {label} WAL syncs: {syncs}, {:.2} ms each, busy {:.0} % of the time",
                (writer.sync_ns - writer0.sync_ns) as f64 / 1e6 / syncs as f64,
                (writer.sync_ns - writer0.sync_ns) as f64 / 1e6 / (secs * 1000.0) * 100.0
            );
        }
    }
    node.stop().await;
    Ok(())
}

/// Fill the register with `n` current rights, sealed as the node seals them.
fn fill(db: &Db, sealer: &Sealer, n: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let holders = |i: usize| {
        vec![Holder {
            name: format!("权利人{i}"),
            id_type: IdType::IdCard,
            id_number: "110101199003074477".into(),
            share: None,
        }]
    };
    let now = chrono::Utc::now().naive_utc();
    for chunk_start in (0..n).step_by(20_000) {
        let end = (chunk_start + 20_000).min(n);
        let rows: Vec<_> = (chunk_start..end)
            .map(|i| {
                let unit = unit(i);
                let business_no = format!("320102202601{:02}{:06}", 1 + i / 1_000_000, i % 1_000_000);
                let sealed = sealer.seal(&Personal::new(holders(i)), &format!("register:right:{unit}:{business_no}"));
                (
                    register_rights::division.eq("320102"),
                    register_rights::unit_code.eq(unit),
                    register_rights::right_type.eq(4),
                    register_rights::holders.eq(sealed),
                    register_rights::co_ownership.eq("单独所有"),
                    register_rights::location.eq(format!("南京市玄武区某路{i}号")),
                    register_rights::status.eq("current"),
                    register_rights::business_no.eq(business_no),
                    register_rights::recorded_at.eq(now),
                )
            })
            .collect();
        db.write(|c: &mut AnyConnection| {
            for part in rows.chunks(1000) {
                bdc_node::with_inner!(c, |x| diesel::insert_into(register_rights::table).values(part).execute(x))?;
            }
            Ok::<_, bdc_node::db::DbError>(())
        })?;
        if end % 200_000 == 0 || end == n {
            eprintln!("  filled {end} rights ({:.0} s)", start.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

fn lookups(opts: &Opts, label: &str, pg: Option<&str>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = match pg {
        Some(u) => fresh_pg(u)?,
        None => format!("sqlite://{}", dir.path().join("register.db").display()),
    };
    let db = Db::open(&url, 4)?;
    let sealer = Sealer::new(federation::crypto::Sm4Key::generate());
    fill(&db, &sealer, opts.rights)?;
    if opts.rights == 0 || opts.lookups == 0 {
        println!("| {label} | skipped (--rights or --lookups 0) | | | | | |");
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    let mut conn = db.conn()?;
    // Warm the cache with a first pass, as a running node would be.
    for _ in 0..1000 {
        let u = unit(rng.gen_range(0..opts.rights));
        bdc_node::store::register::load_page(&mut conn, &sealer, &u).map_err(|e| anyhow!("{e}"))?;
    }
    let mut lat = Vec::with_capacity(opts.lookups);
    let mut found = 0usize;
    for _ in 0..opts.lookups {
        let u = unit(rng.gen_range(0..opts.rights));
        let t = Instant::now();
        let page = bdc_node::store::register::load_page(&mut conn, &sealer, &u).map_err(|e| anyhow!("{e}"))?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        found += usize::from(page.right.is_some_and(|r| !r.holders.is_empty()));
    }
    if found != opts.lookups {
        bail!("only {found} of {} lookups found their right", opts.lookups);
    }
    lat.sort_by(f64::total_cmp);
    let p99 = pct(&lat, 0.99);
    println!(
        "| {label} | {} | {} | {:.3} | {:.3} | {:.3} | {} |",
        opts.rights,
        lat.len(),
        pct(&lat, 0.5),
        p99,
        lat.last().copied().unwrap_or(f64::NAN),
        if p99 <= 5.0 { "≤ 5 ms PASS" } else { "≤ 5 ms FAIL" }
    );
    drop(dir);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let opts = parse_opts(&std::env::args().skip(1).collect::<Vec<_>>())?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // `--registrations 0` measures the lookups alone.
    if opts.registrations > 0 {
        println!(
            "Complete registrations (申请 → 受理 → 审核 → 登簿 → 缮证 → 发证, 6 HTTP requests) on one county node"
        );
        println!("| database | registrations | clients | time | rate | p50 ms | p99 ms | target |");
        println!("|---|---:|---:|---:|---:|---:|---:|---|");
        rt.block_on(registrations(&opts, "SQLite", None))?;
        if let Some(pg) = &opts.pg {
            rt.block_on(registrations(&opts, "PostgreSQL", Some(pg)))?;
        }
        println!();
    }
    println!("Unit-code lookups (store::register::load_page: current right + restrictions, holders opened)");
    println!("| database | rights | lookups | p50 ms | p99 ms | max ms | target |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    lookups(&opts, "SQLite", None)?;
    if let Some(pg) = &opts.pg {
        lookups(&opts, "PostgreSQL", Some(pg))?;
    }
    Ok(())
}
