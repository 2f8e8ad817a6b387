//! Federation benchmark: upward latency, sustained rate and ingest, with real `bdc-node` processes.
//!
//! ```sh
//! cargo build --release -p bdc-node            # the node binary the bench starts (target/release/bdc-node)
//! cargo run --release --example federation_bench -- [--rates 200,1000,2000] [--seconds 10]
//! cargo run --release --example federation_bench -- --ingest [--ingest-envelopes 100] \
//!     [--ingest-batches 10] [--ingest-events 100] [--ingest-senders 4]
//! ```
//!
//! Build the node and the bench from the same tree (the bench writes the node's settings as TOML,
//! and a node refuses settings fields it does not know).
//!
//! **Latency mode** (default). The nation and the province run as separate `bdc-node serve`
//! processes on free loopback ports, each with its own SQLite data directory under a temporary
//! directory, from configs derived from `bdc_node::demo::federation_settings` (log filter `warn`).
//! The bench plays county 320102 (`nj-xuanwu`) with that node's own key: an open-loop generator
//! creates progress events at the offered rate (`occurred_at` = the event's due time, gap-free
//! sequence), and one sender task keeps ONE envelope in flight to the province, sending whatever
//! is queued (adaptive batching, at most 500 events, sealed with `federation::wire::seal_batch`)
//! through `federation::client::PeerClient::send_events`, as a county's delivery worker does. The
//! province verifies, stores and forwards the batch intact; the nation verifies both signatures and
//! stores. After each run the bench reads the nation's (and the province's) SQLite database
//! read-only and reports `stored_at − occurred_at` per event (p50/p90/p99/max), the achieved rate
//! and whether a backlog built up (lag samples during the run, events still missing after the
//! drain period, undelivered province `outbox` rows).
//!
//! **Ingest mode** (`--ingest`). Only the nation runs. The bench plays the province (its key,
//! origin 320000), pre-seals large envelopes and sends them as fast as possible with a few
//! concurrent senders; it reports events/s verified and stored at the nation, the nation's CPU, and
//! the raw SM2 verify rate measured in this process (one thread, ~2 s) times the cores the nation
//! can use (2), with the ratio between them. The nation's `http.max_body_bytes` is raised to 8 MiB
//! in this mode only, so that envelopes of e.g. 50 batches × 100 events (≈ 1.2 MiB) fit.
//!
//! Other options: `--node-bin PATH` (default: `bdc-node` beside this example's target directory),
//! `--drain-secs N` (how long to wait for stragglers, default 10), `--keep` (keep the temp dir and
//! node logs), `--cores N` (cores the nation may use for the ratio, default 2), `--tmp-in DIR`
//! (where the temporary data directory goes, e.g. /dev/shm to take the disk out of the picture).
//! `--wait-idle SECS` waits up to SECS for other processes to leave the CPU before starting (the
//! bench always reports the CPU other processes used during each run); `--retries N` repeats a
//! latency run up to N times when other processes used more than 0.15 cores during it.
//! `--outage SECS` freezes the nation (SIGSTOP) from t = 2 s for SECS seconds of every latency run,
//! then lets it go on (SIGCONT): the province must hold the backlog and deliver all of it after.
//! `BENCH_NODE_LOG=info` sets the nodes' log filter (default `warn`) for profiling; logs are in the
//! temp dir (`--keep`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use federation::client::PeerClient;
use federation::crypto::{PublicKey, SigningKey};
use federation::peers::{Peer, Relation};
use federation::wire::seal_batch;
use schemas::envelope::{Event, EventBody, OriginBatch, ProgressEvent};
use schemas::ids::{BusinessNo, DivisionCode, NodeId, UnitCode};
use schemas::registration::{RegistrationKind, Stage};
use tokio::sync::{Mutex, Notify};

use bdc_node::db::schema::{events, outbox};
use bdc_node::demo::free_local_port;
use bdc_node::settings::Settings;

const COUNTY: &str = "320102";
const PROVINCE_DIV: &str = "320000";
const MAX_BATCH: usize = 500;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Cores used by other processes during a run above which its figures are marked disturbed.
const DISTURBED: f64 = 0.15;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Opts {
    rates: Vec<f64>,
    seconds: f64,
    ingest: bool,
    ingest_envelopes: usize,
    ingest_batches: usize,
    ingest_events: usize,
    ingest_senders: usize,
    drain_secs: f64,
    node_bin: PathBuf,
    keep: bool,
    cores: f64,
    tmp_in: Option<PathBuf>,
    wait_idle: f64,
    retries: u32,
    outage: f64,
}

fn default_node_bin() -> PathBuf {
    // target/release/examples/federation_bench → target/release/bdc-node
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().and_then(Path::parent).map(|d| d.join("bdc-node")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/bdc-node")))
}

fn parse_opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        rates: vec![200.0, 1000.0, 2000.0],
        seconds: 10.0,
        ingest: false,
        ingest_envelopes: 100,
        ingest_batches: 10,
        ingest_events: 100,
        ingest_senders: 4,
        drain_secs: 10.0,
        node_bin: default_node_bin(),
        keep: false,
        cores: 2.0,
        tmp_in: None,
        wait_idle: 0.0,
        retries: 0,
        outage: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match a.as_str() {
            "--rates" => {
                o.rates = val("--rates")?
                    .split(',')
                    .map(|s| s.trim().parse::<f64>().map_err(|e| anyhow!("--rates: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--seconds" => o.seconds = val("--seconds")?.parse()?,
            "--ingest" => o.ingest = true,
            "--ingest-envelopes" => o.ingest_envelopes = val(&a)?.parse()?,
            "--ingest-batches" => o.ingest_batches = val(&a)?.parse()?,
            "--ingest-events" => o.ingest_events = val(&a)?.parse()?,
            "--ingest-senders" => o.ingest_senders = val(&a)?.parse()?,
            "--drain-secs" => o.drain_secs = val(&a)?.parse()?,
            "--node-bin" => o.node_bin = PathBuf::from(val(&a)?),
            "--keep" => o.keep = true,
            "--cores" => o.cores = val(&a)?.parse()?,
            "--tmp-in" => o.tmp_in = Some(PathBuf::from(val(&a)?)),
            "--wait-idle" => o.wait_idle = val(&a)?.parse()?,
            "--retries" => o.retries = val(&a)?.parse()?,
            "--outage" => o.outage = val(&a)?.parse()?,
            "-h" | "--help" => {
                println!(
                    "federation_bench [--rates 200,1000,2000] [--seconds 10] [--drain-secs 10]\n\
                     federation_bench --ingest [--ingest-envelopes 100] [--ingest-batches 10] \
                     [--ingest-events 100] [--ingest-senders 4] [--cores 2]\n\
                     common: [--node-bin target/release/bdc-node] [--keep] [--tmp-in DIR] [--wait-idle SECS] [--retries N]\n\
                     latency only: [--outage SECS] (freeze the nation SECS seconds from t = 2 s)\n\
                     Build the node first: cargo build --release -p bdc-node"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    if o.rates.iter().any(|r| *r <= 0.0) || o.seconds <= 0.0 {
        bail!("rates and seconds must be positive");
    }
    if o.ingest_events == 0 || o.ingest_batches == 0 || o.ingest_envelopes == 0 || o.ingest_senders == 0 {
        bail!("ingest sizes must be at least 1");
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Node processes
// ---------------------------------------------------------------------------------------------

/// A `bdc-node serve` child: SIGTERM and wait on `stop`, killed on drop.
struct NodeProc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProc {
    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Graceful stop: SIGTERM, up to 10 s to exit, then SIGKILL.
    fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return "already stopped".into();
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = child.try_wait() {
                return format!("exited ({status}) after {:.0} ms", start.elapsed().as_secs_f64() * 1e3);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        "killed after 10 s".into()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn write_config(dir: &Path, s: &Settings) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("{}.toml", s.node_id));
    let mut s = s.clone();
    s.log.filter = std::env::var("BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into());
    std::fs::write(&path, toml::to_string(&s)?)?;
    Ok(path)
}

fn serve(bin: &Path, dir: &Path, s: &Settings) -> anyhow::Result<NodeProc> {
    let config = write_config(dir, s)?;
    let log = dir.join(format!("{}.log", s.node_id));
    let out = std::fs::File::create(&log)?;
    let child = Command::new(bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .with_context(|| format!("cannot start {} (build it: cargo build --release -p bdc-node)", bin.display()))?;
    Ok(NodeProc { name: s.node_id.to_string(), child: Some(child), log })
}

fn base_url(s: &Settings) -> String {
    format!("http://{}", s.http.listen)
}

async fn wait_healthy(http: &reqwest::Client, s: &Settings, node: &mut NodeProc) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Some(c) = node.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            let log = std::fs::read_to_string(&node.log).unwrap_or_default();
            bail!("{} exited early ({status}):\n{log}", node.name);
        }
        if let Ok(r) = http.get(format!("{}/healthz", base_url(s))).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("{} did not become healthy in 30 s", node.name);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn strip_ansi(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut chars = l.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// utime + stime of a process, seconds (from /proc; 0 when unavailable).
fn cpu_secs(pid: u32) -> f64 {
    let path = if pid == 0 { "/proc/self/stat".to_owned() } else { format!("/proc/{pid}/stat") };
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3; utime and stime are fields 14 and 15 → indexes 11 and 12.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Busy CPU seconds of the whole machine (all cores, from /proc/stat), to see foreign load.
fn machine_busy_secs() -> f64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = text.lines().next() else {
        return 0.0;
    };
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    (total - idle) / 100.0
}

/// Wait (up to `max_wait` seconds) until the machine is busy with less than 0.3 cores beyond
/// `own` (CPU our own idle processes use); true when idle.
fn wait_idle(max_wait: f64, own: Duration) -> bool {
    let started = Instant::now();
    let mut said = false;
    loop {
        let b0 = machine_busy_secs();
        std::thread::sleep(Duration::from_secs(2));
        let busy = ((machine_busy_secs() - b0) / 2.0 - own.as_secs_f64()).max(0.0);
        if busy < 0.3 {
            if said || max_wait == 0.0 {
                println!("machine idle ({busy:.2} cores busy with other processes)");
            }
            return true;
        }
        if started.elapsed().as_secs_f64() >= max_wait {
            println!("WARNING: {busy:.2} cores busy with other processes; figures will be disturbed");
            return false;
        }
        if !said {
            println!("{busy:.2} cores busy with other processes; waiting up to {max_wait:.0} s for them to finish…");
            said = true;
        }
    }
}

fn warn_lines(node: &NodeProc) -> Vec<String> {
    std::fs::read_to_string(&node.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .map(strip_ansi)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Databases (read-only)
// ---------------------------------------------------------------------------------------------

fn open_ro(s: &Settings) -> anyhow::Result<SqliteConnection> {
    let path = s.database_url();
    let mut conn = SqliteConnection::establish(&format!("file:{path}?mode=ro"))
        .with_context(|| format!("open {path} read-only"))?;
    diesel::sql_query("PRAGMA busy_timeout = 5000").execute(&mut conn)?;
    Ok(conn)
}

fn count_range(conn: &mut SqliteConnection, origin: &str, from: i64, to: i64) -> anyhow::Result<i64> {
    Ok(events::table
        .filter(events::division.eq(origin))
        .filter(events::seq.between(from, to))
        .count()
        .get_result(conn)?)
}

fn times_range(
    conn: &mut SqliteConnection,
    origin: &str,
    from: i64,
    to: i64,
) -> anyhow::Result<Vec<(i64, NaiveDateTime, NaiveDateTime)>> {
    Ok(events::table
        .filter(events::division.eq(origin))
        .filter(events::seq.between(from, to))
        .select((events::seq, events::occurred_at, events::stored_at))
        .load(conn)?)
}

fn undelivered_outbox(conn: &mut SqliteConnection) -> anyhow::Result<i64> {
    Ok(outbox::table.filter(outbox::delivered_at.is_null()).count().get_result(conn)?)
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

struct EventFactory {
    origin: DivisionCode,
    unit: UnitCode,
    date: chrono::NaiveDate,
}

impl EventFactory {
    fn new(origin: &str) -> anyhow::Result<Self> {
        Ok(Self {
            origin: DivisionCode::parse(origin)?,
            unit: UnitCode::parse(&format!("{origin}003001GB00012F00010203"))?,
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).ok_or_else(|| anyhow!("date"))?,
        })
    }

    /// Progress event `seq`: business number `<origin>20261129<seq>`, kind transfer, a stage
    /// cycling through the normal path.
    fn event(&self, seq: u64, at: DateTime<Utc>) -> anyhow::Result<Event> {
        const STAGES: [Stage; 6] =
            [Stage::Submitted, Stage::Accepted, Stage::Reviewed, Stage::Recorded, Stage::Certified, Stage::Issued];
        let app = seq / 6 + 1;
        Ok(Event {
            origin: self.origin.clone(),
            seq,
            occurred_at: at,
            body: EventBody::Progress(ProgressEvent {
                business_no: BusinessNo::new(&self.origin, self.date, app % BusinessNo::MAX_SEQUENCE + 1)?,
                unit_code: self.unit.clone(),
                kind: RegistrationKind::Transfer,
                stage: STAGES[(seq % 6) as usize],
                due_date: None,
                notes: vec![],
                applicant_proofs: vec![],
            }),
        })
    }
}

fn node_id(s: &str) -> anyhow::Result<NodeId> {
    Ok(NodeId::parse(s)?)
}

fn load_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn peer_of(s: &Settings, relation: Relation, key: PublicKey) -> Peer {
    Peer {
        node_id: s.node_id.clone(),
        division: s.division.clone(),
        url: base_url(s),
        relation,
        navigation: None,
        keys: vec![key],
    }
}

fn public_key_of(dir: &Path, node: &str) -> anyhow::Result<PublicKey> {
    Ok(load_key(&dir.join(node).join("keys/node.key.pem"))?.public_key())
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Clone, Copy, Default)]
struct Dist {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn dist(mut v: Vec<f64>) -> Dist {
    v.sort_by(f64::total_cmp);
    Dist { p50: pct(&v, 50.0), p90: pct(&v, 90.0), p99: pct(&v, 99.0), max: v.last().copied().unwrap_or(f64::NAN) }
}

fn ms(d: chrono::TimeDelta) -> f64 {
    d.num_microseconds().map(|us| us as f64 / 1e3).unwrap_or(f64::INFINITY)
}

// ---------------------------------------------------------------------------------------------
// Latency mode
// ---------------------------------------------------------------------------------------------

/// The county's in-memory "outbox": events waiting to be sent, and what was acknowledged.
struct County {
    queue: Mutex<VecDeque<Event>>,
    wake: Notify,
    generated: AtomicU64,
    acked: AtomicU64,
    envelopes: AtomicU64,
    errors: AtomicU64,
    last_error: std::sync::Mutex<String>,
    rtts_us: std::sync::Mutex<Vec<u64>>,
    batch_sizes: std::sync::Mutex<Vec<u64>>,
}

impl County {
    fn new() -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            generated: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            envelopes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(String::new()),
            rtts_us: std::sync::Mutex::new(Vec::new()),
            batch_sizes: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn reset_stats(&self) {
        self.envelopes.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        if let Ok(mut v) = self.rtts_us.lock() {
            v.clear();
        }
        if let Ok(mut v) = self.batch_sizes.lock() {
            v.clear();
        }
    }
}

/// The county's delivery worker: one envelope in flight, whatever is queued (≤ 500 events) per
/// envelope, sealed with the county's key; a failed envelope is retried (dedupe makes it safe).
async fn sender_task(
    county: Arc<County>,
    client: PeerClient,
    province: Peer,
    origin: DivisionCode,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut failures = 0u32;
    let mut pending: Vec<Event> = Vec::new();
    loop {
        if pending.is_empty() {
            loop {
                {
                    let mut q = county.queue.lock().await;
                    let n = q.len().min(MAX_BATCH);
                    pending.extend(q.drain(..n));
                }
                if !pending.is_empty() {
                    break;
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                tokio::select! {
                    _ = county.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
        let started = Instant::now();
        let sent = match seal_batch(&origin, client.node_id(), client.key(), &pending) {
            Ok(batch) => {
                let rid = ulid::Ulid::new().to_string();
                client.send_events(&province, &rid, vec![batch], SEND_TIMEOUT).await.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match sent {
            Ok(_receipt) => {
                let n = pending.len() as u64;
                county.acked.fetch_add(n, Ordering::Relaxed);
                county.envelopes.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut v) = county.rtts_us.lock() {
                    v.push(started.elapsed().as_micros() as u64);
                }
                if let Ok(mut v) = county.batch_sizes.lock() {
                    v.push(n);
                }
                pending.clear();
                failures = 0;
            }
            Err(e) => {
                county.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut l) = county.last_error.lock() {
                    *l = e;
                }
                failures = failures.saturating_add(1);
                let delay = Duration::from_millis((50u64 << failures.min(5)).min(2000));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Open loop: event i is due at t0 + i/rate and carries that instant as `occurred_at`.
async fn generator(
    county: Arc<County>,
    factory: Arc<EventFactory>,
    first_seq: u64,
    n: u64,
    rate: f64,
    t0: Instant,
    t0_wall: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut i = 0u64;
    while i < n {
        let elapsed = t0.elapsed().as_secs_f64();
        let due = ((elapsed * rate).floor() as u64 + 1).min(n);
        if due > i {
            let mut made = Vec::with_capacity((due - i) as usize);
            while i < due {
                let at = t0_wall + chrono::Duration::nanoseconds((i as f64 / rate * 1e9) as i64);
                made.push(factory.event(first_seq + i, at)?);
                i += 1;
            }
            county.queue.lock().await.extend(made);
            county.generated.store(i, Ordering::Relaxed);
            county.wake.notify_one();
        }
        if i < n {
            let next = t0 + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(next.into()).await;
        }
    }
    Ok(())
}

struct Lag {
    at_s: f64,
    generated: u64,
    at_province: i64,
    at_nation: i64,
    county_queue: usize,
}

struct RunResult {
    rate: f64,
    n: u64,
    nation: Dist,
    province: Dist,
    delivered: i64,
    throughput: f64,
    lag: Vec<Lag>,
    lag_at_end: i64,
    drained_after: Option<f64>,
    missing_after_drain: i64,
    province_outbox: i64,
    envelopes: u64,
    errors: u64,
    last_error: String,
    batch_mean: f64,
    batch_max: u64,
    rtt: Dist,
    cpu_nation: f64,
    cpu_province: f64,
    cpu_bench: f64,
    cpu_other: f64,
    wall: f64,
}

struct Federation {
    nation_s: Settings,
    province_s: Settings,
    nation: NodeProc,
    province: NodeProc,
}

#[allow(clippy::too_many_arguments)]
async fn run_rate(
    opts: &Opts,
    fed: &Federation,
    county: &Arc<County>,
    factory: &Arc<EventFactory>,
    first_seq: u64,
    rate: f64,
) -> anyhow::Result<RunResult> {
    let n = (rate * opts.seconds).round().max(1.0) as u64;
    let last_seq = first_seq + n - 1;
    let (a, b) = (first_seq as i64, last_seq as i64);
    county.reset_stats();
    county.generated.store(0, Ordering::Relaxed);
    county.acked.store(0, Ordering::Relaxed);
    let (pn, pp) = (fed.nation.pid(), fed.province.pid());
    let cpu0 = (cpu_secs(pn), cpu_secs(pp), cpu_secs(0));
    let machine0 = machine_busy_secs();
    let t0 = Instant::now() + Duration::from_millis(20);
    let t0_wall = Utc::now() + chrono::Duration::milliseconds(20);
    let gen_task = tokio::spawn(generator(Arc::clone(county), Arc::clone(factory), first_seq, n, rate, t0, t0_wall));

    // Sample the lag once a second while the stream runs.
    let mut lag = Vec::new();
    let nation_s = fed.nation_s.clone();
    let province_s = fed.province_s.clone();
    let sample = move || -> anyhow::Result<(i64, i64)> {
        let mut cn = open_ro(&nation_s)?;
        let mut cp = open_ro(&province_s)?;
        Ok((count_range(&mut cp, COUNTY, a, b)?, count_range(&mut cn, COUNTY, a, b)?))
    };
    let sample = Arc::new(sample);
    // Optional outage of the nation (frozen, so the province's deliveries time out and back off).
    let outage = (opts.outage > 0.0).then(|| {
        let pid = pn.to_string();
        let secs = opts.outage;
        tokio::spawn(async move {
            tokio::time::sleep_until((t0 + Duration::from_secs(2)).into()).await;
            let _ = Command::new("kill").args(["-STOP", &pid]).status();
            println!("  nation frozen (SIGSTOP) at t = 2 s for {secs:.0} s");
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
            println!("  nation resumed (SIGCONT) at t = {:.1} s", t0.elapsed().as_secs_f64());
        })
    });
    let mut next = t0 + Duration::from_secs(1);
    while !gen_task.is_finished() {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {
                let s = Arc::clone(&sample);
                let (p, nn) = tokio::task::spawn_blocking(move || s()).await??;
                lag.push(Lag {
                    at_s: t0.elapsed().as_secs_f64(),
                    generated: county.generated.load(Ordering::Relaxed),
                    at_province: p,
                    at_nation: nn,
                    county_queue: county.queue.lock().await.len(),
                });
                next += Duration::from_secs(1);
            }
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    gen_task.await??;
    if let Some(o) = outage {
        let _ = o.await;
    }
    let stream_end = Instant::now();
    let s = Arc::clone(&sample);
    let (_, at_end) = tokio::task::spawn_blocking(move || s()).await??;
    let lag_at_end = n as i64 - at_end;

    // Drain: wait for every event to reach the nation (or give up after --drain-secs).
    let mut drained_after = None;
    let mut missing = lag_at_end;
    while stream_end.elapsed().as_secs_f64() < opts.drain_secs {
        let s = Arc::clone(&sample);
        let (_, at) = tokio::task::spawn_blocking(move || s()).await??;
        missing = n as i64 - at;
        if missing == 0 {
            drained_after = Some(stream_end.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = (cpu_secs(pn), cpu_secs(pp), cpu_secs(0));
    let machine1 = machine_busy_secs();

    let nation_s = fed.nation_s.clone();
    let province_s = fed.province_s.clone();
    let (rows_n, rows_p, outbox_left) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        // Give the province's worker a moment to mark the last envelope delivered.
        std::thread::sleep(Duration::from_millis(200));
        let mut cn = open_ro(&nation_s)?;
        let mut cp = open_ro(&province_s)?;
        Ok((times_range(&mut cn, COUNTY, a, b)?, times_range(&mut cp, COUNTY, a, b)?, undelivered_outbox(&mut cp)?))
    })
    .await??;
    let lat = |rows: &[(i64, NaiveDateTime, NaiveDateTime)]| dist(rows.iter().map(|(_, o, s)| ms(*s - *o)).collect());
    let last_stored = rows_n.iter().map(|(_, _, s)| *s).max();
    let first_due = t0_wall.naive_utc();
    let throughput = match last_stored {
        Some(t) if t > first_due => rows_n.len() as f64 / (ms(t - first_due) / 1e3),
        _ => f64::NAN,
    };
    let batch_sizes = county.batch_sizes.lock().map(|v| v.clone()).unwrap_or_default();
    let rtts: Vec<f64> = county.rtts_us.lock().map(|v| v.iter().map(|u| *u as f64 / 1e3).collect()).unwrap_or_default();
    Ok(RunResult {
        rate,
        n,
        nation: lat(&rows_n),
        province: lat(&rows_p),
        delivered: rows_n.len() as i64,
        throughput,
        lag,
        lag_at_end,
        drained_after,
        missing_after_drain: missing,
        province_outbox: outbox_left,
        envelopes: county.envelopes.load(Ordering::Relaxed),
        errors: county.errors.load(Ordering::Relaxed),
        last_error: county.last_error.lock().map(|s| s.clone()).unwrap_or_default(),
        batch_mean: if batch_sizes.is_empty() {
            0.0
        } else {
            batch_sizes.iter().sum::<u64>() as f64 / batch_sizes.len() as f64
        },
        batch_max: batch_sizes.iter().copied().max().unwrap_or(0),
        rtt: dist(rtts),
        cpu_nation: (cpu1.0 - cpu0.0) / wall,
        cpu_province: (cpu1.1 - cpu0.1) / wall,
        cpu_bench: (cpu1.2 - cpu0.2) / wall,
        cpu_other: ((machine1 - machine0) - (cpu1.0 - cpu0.0) - (cpu1.1 - cpu0.1) - (cpu1.2 - cpu0.2)).max(0.0) / wall,
        wall,
    })
}

async fn latency_mode(opts: &Opts, dir: &Path) -> anyhow::Result<()> {
    let ports = [free_local_port()?, free_local_port()?, free_local_port()?, free_local_port()?];
    let [nation_s, province_s, county_s, _] = bdc_node::demo::federation_settings(dir, ports)?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let mut nation = serve(&opts.node_bin, dir, &nation_s)?;
    wait_healthy(&http, &nation_s, &mut nation).await?;
    let mut province = serve(&opts.node_bin, dir, &province_s)?;
    wait_healthy(&http, &province_s, &mut province).await?;
    println!(
        "nation   {} (pid {}, data {})\nprovince {} (pid {}, data {})\ncounty   {} played by this process (pid {})",
        base_url(&nation_s),
        nation.pid(),
        nation_s.data_dir.display(),
        base_url(&province_s),
        province.pid(),
        province_s.data_dir.display(),
        county_s.node_id,
        std::process::id()
    );
    let fed = Federation { nation_s, province_s, nation, province };

    // The county: its own key (created by federation_settings), talking to the province.
    let key = Arc::new(load_key(&dir.join(bdc_node::demo::XUANWU).join("keys/node.key.pem"))?);
    let client = PeerClient::new(
        node_id(bdc_node::demo::XUANWU)?,
        key,
        reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30)).build()?,
    );
    let province_peer = peer_of(&fed.province_s, Relation::Parent, public_key_of(dir, bdc_node::demo::PROVINCE)?);
    let county = Arc::new(County::new());
    let factory = Arc::new(EventFactory::new(COUNTY)?);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = tokio::spawn(sender_task(
        Arc::clone(&county),
        client,
        province_peer,
        DivisionCode::parse(COUNTY)?,
        Arc::clone(&stop),
    ));

    // Warm-up: the province's enrolment of our key must reach the nation first; a warm-up burst
    // proves the whole path (and warms connections, caches and SQLite pages).
    let warm = 200u64;
    let t = Instant::now();
    {
        let now = Utc::now();
        let mut q = county.queue.lock().await;
        for seq in 1..=warm {
            q.push_back(factory.event(seq, now)?);
        }
    }
    county.wake.notify_one();
    loop {
        let s = fed.nation_s.clone();
        let got = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            let mut c = open_ro(&s)?;
            count_range(&mut c, COUNTY, 1, warm as i64)
        })
        .await?;
        if matches!(got, Ok(c) if c == warm as i64) {
            break;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let last = county.last_error.lock().map(|s| s.clone()).unwrap_or_default();
            bail!(
                "warm-up events did not reach the nation in 30 s (last county error: {last}; nation log: {:?}; province log: {:?})",
                warn_lines(&fed.nation),
                warn_lines(&fed.province)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "warm-up: {warm} events reached the nation in {:.0} ms (enrolment of {} at the nation confirmed)\n",
        t.elapsed().as_secs_f64() * 1e3,
        bdc_node::demo::XUANWU
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut results = Vec::new();
    let mut next_seq = warm + 1;
    for &rate in &opts.rates {
        let mut attempt = 0;
        let r = loop {
            println!("run: {rate:.0} events/s offered for {:.0} s …", opts.seconds);
            let r = run_rate(opts, &fed, &county, &factory, next_seq, rate).await?;
            next_seq += r.n;
            print_run(&r);
            // Let the system settle between runs.
            tokio::time::sleep(Duration::from_secs(1)).await;
            if r.cpu_other <= DISTURBED || attempt >= opts.retries {
                break r;
            }
            attempt += 1;
            println!(
                "  run disturbed by other processes: repeating it (attempt {} of {})",
                attempt + 1,
                opts.retries + 1
            );
            let wait = opts.wait_idle;
            tokio::task::spawn_blocking(move || wait_idle(wait, Duration::ZERO)).await?;
        };
        results.push(r);
    }
    stop.store(true, Ordering::Relaxed);
    county.wake.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(5), sender).await;

    print_summary(&results);
    let Federation { mut nation, mut province, .. } = fed;
    for node in [&province, &nation] {
        let w = warn_lines(node);
        if !w.is_empty() {
            println!("\n{}: {} warning/error log lines, last ones:", node.name, w.len());
            for l in w.iter().rev().take(5).rev() {
                println!("  {l}");
            }
        }
    }
    println!("\nstopping: province {}, nation {}", province.stop(), nation.stop());
    Ok(())
}

fn print_run(r: &RunResult) {
    println!("  lag samples (t s: generated / at province / at nation / county queue):");
    for l in &r.lag {
        println!(
            "    {:>5.1}: {:>7} / {:>7} / {:>7} / {:>6}",
            l.at_s, l.generated, l.at_province, l.at_nation, l.county_queue
        );
    }
    println!(
        "  county → province envelopes {} (mean {:.1} events, max {}), errors {}{}; send RTT p50 {:.2} ms p99 {:.2} ms",
        r.envelopes,
        r.batch_mean,
        r.batch_max,
        r.errors,
        if r.errors > 0 { format!(" (last: {})", r.last_error) } else { String::new() },
        r.rtt.p50,
        r.rtt.p99
    );
    println!(
        "  CPU (cores, over {:.1} s): nation {:.2}, province {:.2}, bench/county {:.2}, other processes {:.2}{}",
        r.wall,
        r.cpu_nation,
        r.cpu_province,
        r.cpu_bench,
        r.cpu_other,
        if r.cpu_other > DISTURBED { "  ← foreign load: figures disturbed" } else { "" }
    );
    println!(
        "  at province: p50 {:.2} p99 {:.2} max {:.2} ms | at nation: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms",
        r.province.p50, r.province.p99, r.province.max, r.nation.p50, r.nation.p90, r.nation.p99, r.nation.max
    );
    println!(
        "  delivered {}/{} at {:.0} events/s; lag at end of stream {}; drained {}; missing after drain {}; province outbox undelivered {}\n",
        r.delivered,
        r.n,
        r.throughput,
        r.lag_at_end,
        r.drained_after.map(|s| format!("after {:.2} s", s)).unwrap_or_else(|| "NO".into()),
        r.missing_after_drain,
        r.province_outbox
    );
}

/// A backlog grows when, at the end of the offered stream, the nation is more than a quarter of a
/// second of traffic (and at least 100 events) behind, or events are still missing after the drain.
fn backlog_grew(r: &RunResult) -> bool {
    let allowed = (r.rate * 0.25).max(100.0) as i64;
    r.lag_at_end > allowed || r.missing_after_drain > 0
}

fn print_summary(results: &[RunResult]) {
    println!("Upward latency county 320102 → province → nation (due time → stored at the nation), ms");
    println!(
        "| offered/s | events | achieved/s | p50 | p90 | p99 | max | target p99 | lag at end | backlog | province p99 | mean batch | CPU nation/province/county/other |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---|");
    for r in results {
        let target = if r.rate <= 200.0 {
            Some(10.0)
        } else if r.rate <= 1000.0 {
            Some(50.0)
        } else {
            None
        };
        let target_txt = match target {
            Some(t) => format!("≤ {t:.0} {}", if r.nation.p99 <= t { "PASS" } else { "FAIL" }),
            None => "—".into(),
        };
        let grew = backlog_grew(r);
        println!(
            "| {:.0} | {}/{} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.2} | {:.1} | {:.2}/{:.2}/{:.2}/{:.2} |",
            r.rate,
            r.delivered,
            r.n,
            r.throughput,
            r.nation.p50,
            r.nation.p90,
            r.nation.p99,
            r.nation.max,
            target_txt,
            r.lag_at_end,
            if grew { "GROWING" } else { "steady" },
            r.province.p99,
            r.batch_mean,
            r.cpu_nation,
            r.cpu_province,
            r.cpu_bench,
            r.cpu_other
        );
    }
    if let Some(best) = results
        .iter()
        .filter(|r| !backlog_grew(r) && r.delivered as u64 == r.n)
        .map(|r| r.rate)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    {
        println!(
            "Sustained end to end (no growing backlog): {best:.0} events/s offered (target ≥ 2000: {})",
            if best >= 2000.0 { "PASS" } else { "FAIL" }
        );
    } else {
        println!("Sustained end to end: no offered rate ran without a growing backlog (target ≥ 2000: FAIL)");
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest mode
// ---------------------------------------------------------------------------------------------

/// SM2 verifications per second on one thread, over a message the size of one origin batch.
fn raw_verify_rate(key: &SigningKey, msg_len: usize, secs: f64) -> (f64, f64) {
    let msg: Vec<u8> = (0..msg_len).map(|i| (i % 251) as u8).collect();
    let sig = key.sign(&msg);
    let pk = key.public_key();
    let short = b"x".repeat(64);
    let short_sig = key.sign(&short);
    let run = |m: &[u8], s: &[u8]| {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < secs / 2.0 {
            for _ in 0..16 {
                if pk.verify(m, s).is_err() {
                    return f64::NAN;
                }
                n += 1;
            }
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    (run(&short, &short_sig), run(&msg, &sig))
}

async fn ingest_mode(opts: &Opts, dir: &Path) -> anyhow::Result<()> {
    let ports = [free_local_port()?, free_local_port()?, free_local_port()?, free_local_port()?];
    let [mut nation_s, province_s, _, _] = bdc_node::demo::federation_settings(dir, ports)?;
    // Room for the large envelopes this mode sends (the nation's own setting, not the protocol's).
    nation_s.http.max_body_bytes = nation_s.http.max_body_bytes.max(8 << 20);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let mut nation = serve(&opts.node_bin, dir, &nation_s)?;
    wait_healthy(&http, &nation_s, &mut nation).await?;
    println!(
        "nation {} (pid {}, data {}); this process plays {} (origin {PROVINCE_DIV})",
        base_url(&nation_s),
        nation.pid(),
        nation_s.data_dir.display(),
        province_s.node_id
    );
    let key = Arc::new(load_key(&dir.join(bdc_node::demo::PROVINCE).join("keys/node.key.pem"))?);
    let client = PeerClient::new(
        province_s.node_id.clone(),
        Arc::clone(&key),
        reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(30)).build()?,
    );
    let nation_peer = peer_of(&nation_s, Relation::Parent, public_key_of(dir, bdc_node::demo::NATION)?);
    let factory = EventFactory::new(PROVINCE_DIV)?;
    let origin = DivisionCode::parse(PROVINCE_DIV)?;

    // Warm-up: one small envelope (seq 1..=10).
    let warm: Vec<Event> = (1..=10).map(|s| factory.event(s, Utc::now())).collect::<Result<_, _>>()?;
    let batch = seal_batch(&origin, client.node_id(), client.key(), &warm)?;
    let r = client
        .send_events(&nation_peer, &ulid::Ulid::new().to_string(), vec![batch], SEND_TIMEOUT)
        .await
        .map_err(|e| anyhow!("warm-up envelope: {e}"))?;
    if r.accepted != 10 {
        bail!("warm-up: nation accepted {} of 10", r.accepted);
    }

    // Pre-seal every origin batch (the outer envelope is signed when sent, as a province does).
    let (envs, per_env, per_batch) = (opts.ingest_envelopes, opts.ingest_batches, opts.ingest_events);
    let total = (envs * per_env * per_batch) as u64;
    let t_build = Instant::now();
    let now = Utc::now();
    let mut seq = 11u64;
    let mut envelopes: Vec<Vec<OriginBatch>> = Vec::with_capacity(envs);
    let mut batch_bytes = 0usize;
    for _ in 0..envs {
        let mut batches = Vec::with_capacity(per_env);
        for _ in 0..per_env {
            let evs: Vec<Event> =
                (0..per_batch).map(|i| factory.event(seq + i as u64, now)).collect::<Result<_, _>>()?;
            seq += per_batch as u64;
            let b = seal_batch(&origin, client.node_id(), client.key(), &evs)?;
            batch_bytes = b.events.len();
            batches.push(b);
        }
        envelopes.push(batches);
    }
    let build_s = t_build.elapsed().as_secs_f64();
    let env_bytes = serde_json::to_vec(&envelopes[0])?.len();
    println!(
        "pre-sealed {envs} envelopes × {per_env} batches × {per_batch} events = {total} events in {:.2} s \
         (origin batch ≈ {} KiB of event JSON, envelope ≈ {} KiB)",
        build_s,
        batch_bytes / 1024,
        env_bytes / 1024
    );

    // Raw SM2 verify rate in this process, while the nation is idle.
    let (verify_short, verify_batch) = raw_verify_rate(&key, batch_bytes, 2.0);
    let sign_rate = {
        let msg = b"x".repeat(64);
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_millis(500) {
            let _ = key.sign(&msg);
            n += 1;
        }
        f64::from(n) / start.elapsed().as_secs_f64()
    };
    println!("raw SM2 sign, 1 thread: {sign_rate:.0}/s ({:.0} µs)", 1e6 / sign_rate);
    println!(
        "raw SM2 verify, 1 thread: {verify_short:.0}/s on a 64-byte message ({:.0} µs), \
         {verify_batch:.0}/s on a {}-KiB batch ({:.0} µs)",
        1e6 / verify_short,
        batch_bytes / 1024,
        1e6 / verify_batch
    );

    // Send as fast as possible with a few concurrent senders, taking envelopes in order.
    let envelopes = Arc::new(envelopes);
    let next = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let duplicates = Arc::new(AtomicU64::new(0));
    let pid = nation.pid();
    let cpu0 = (cpu_secs(pid), cpu_secs(0));
    let machine0 = machine_busy_secs();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.ingest_senders {
        let (envelopes, next, accepted, duplicates) =
            (Arc::clone(&envelopes), Arc::clone(&next), Arc::clone(&accepted), Arc::clone(&duplicates));
        let (client, peer) = (client.clone(), nation_peer.clone());
        tasks.push(tokio::spawn(async move {
            let mut rtts = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batches) = envelopes.get(i) else {
                    return Ok::<_, anyhow::Error>(rtts);
                };
                let t = Instant::now();
                let r = client
                    .send_events(&peer, &ulid::Ulid::new().to_string(), batches.clone(), Duration::from_secs(60))
                    .await
                    .map_err(|e| anyhow!("envelope {i}: {e}"))?;
                rtts.push(t.elapsed().as_secs_f64() * 1e3);
                accepted.fetch_add(u64::from(r.accepted), Ordering::Relaxed);
                duplicates.fetch_add(u64::from(r.duplicates), Ordering::Relaxed);
            }
        }));
    }
    let mut rtts = Vec::new();
    for t in tasks {
        rtts.extend(t.await??);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu1 = (cpu_secs(pid), cpu_secs(0));
    let other = ((machine_busy_secs() - machine0) - (cpu1.0 - cpu0.0) - (cpu1.1 - cpu0.1)).max(0.0) / wall;
    let s = nation_s.clone();
    let stored = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let mut c = open_ro(&s)?;
        count_range(&mut c, PROVINCE_DIV, 11, 10 + total as i64)
    })
    .await??;
    let acc = accepted.load(Ordering::Relaxed);
    let rate = acc as f64 / wall;
    let nation_cores = (cpu1.0 - cpu0.0) / wall;
    let verifies = (envs * (per_env + 1)) as f64; // one envelope signature + one per origin batch
    let ceiling_events = opts.cores * verify_batch * (per_env * per_batch) as f64 / (per_env + 1) as f64;
    let rtt = dist(rtts);
    println!();
    println!("Ingest at one parent (nation; verified + stored), {} concurrent senders", opts.ingest_senders);
    println!(
        "| events | accepted | dups | stored (DB) | wall s | events/s | target | envelope RTT p50/p99 ms | nation CPU cores | nation CPU µs/event |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---|---|---:|---:|");
    println!(
        "| {total} | {acc} | {} | {stored} | {wall:.2} | {rate:.0} | ≥ 6000 {} | {:.1}/{:.1} | {nation_cores:.2} | {:.1} |",
        duplicates.load(Ordering::Relaxed),
        if rate >= 6000.0 && stored as u64 == total { "PASS" } else { "FAIL" },
        rtt.p50,
        rtt.p99,
        (cpu1.0 - cpu0.0) * 1e6 / acc.max(1) as f64
    );
    println!();
    println!("Raw SM2 verify rate (this process, 1 thread) × {} cores the nation can use:", opts.cores);
    println!(
        "  short message: {:.0}/s × {} = {:.0} verifies/s; batch-sized message ({} KiB): {:.0}/s × {} = {:.0} verifies/s",
        verify_short,
        opts.cores,
        verify_short * opts.cores,
        batch_bytes / 1024,
        verify_batch,
        opts.cores,
        verify_batch * opts.cores
    );
    println!(
        "  ingest / raw verify rate (short msg, × cores) = {:.2} events per verify-capacity \
         ({rate:.0} / {:.0})",
        rate / (verify_short * opts.cores),
        verify_short * opts.cores
    );
    println!(
        "  signatures the nation verified: {:.0}/s ({} per {} events); at batch-sized verify speed the \
         signatures alone would cap ingest at {:.0} events/s → ingest is {:.1}% of that crypto ceiling",
        verifies / wall,
        per_env + 1,
        per_env * per_batch,
        ceiling_events,
        100.0 * rate / ceiling_events
    );
    println!(
        "  bench CPU during the send: {:.2} cores; other processes: {other:.2} cores{}",
        (cpu1.1 - cpu0.1) / wall,
        if other > DISTURBED { "  ← foreign load: figures disturbed" } else { "" }
    );
    let w = warn_lines(&nation);
    if !w.is_empty() {
        println!("\nnation: {} warning/error log lines, last ones:", w.len());
        for l in w.iter().rev().take(5).rev() {
            println!("  {l}");
        }
    }
    println!("\nstopping: nation {}", nation.stop());
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn main() -> anyhow::Result<()> {
    let opts = parse_opts()?;
    if !opts.node_bin.exists() {
        bail!(
            "{} not found: build it first with `cargo build --release -p bdc-node` (or pass --node-bin)",
            opts.node_bin.display()
        );
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix("bdc-bench-");
    let tmp = match &opts.tmp_in {
        Some(d) => builder.tempdir_in(d)?,
        None => builder.tempdir()?,
    };
    let dir = tmp.path().to_owned();
    println!(
        "federation_bench: node binary {}, data under {}, {} CPU cores visible",
        opts.node_bin.display(),
        dir.display(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    // Other load on the machine spoils every figure: say so, or wait for it to pass.
    wait_idle(opts.wait_idle, Duration::ZERO);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt
        .block_on(async { if opts.ingest { ingest_mode(&opts, &dir).await } else { latency_mode(&opts, &dir).await } });
    if opts.keep {
        let kept = tmp.keep();
        println!("kept {}", kept.display());
    }
    result
}
