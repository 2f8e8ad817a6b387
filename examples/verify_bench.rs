//! Verification benchmark (issue "Electronic certificates…"): certificate verifications per
//! second at the national node, against the raw SM2 verify rate measured in the same run.
//!
//! ```sh
//! cargo run --release --example verify_bench -- [--certificates 200] [--clients 32] [--secs 10]
//! ```
//!
//! The demo federation (nation, 江苏省, 玄武区, 秦淮区) runs in this process on loopback, rate
//! limits off, log filter `warn`. 玄武区 issues `--certificates` e-certificates through the HTTP API
//! (申请 → 发证); they roll up to the nation. Then a second process (this binary with `--client`,
//! so that the load generator's CPU is not the node's) sends `GET /api/v1/certificates/{id}/verify`
//! to the **nation** from `--clients` keep-alive connections for `--secs` seconds and checks every
//! answer says `"valid":true`. Each answer is a full verification: the stored row is read and
//! opened (SM4-GCM), the issuer's key found, the SM2 signature over the signed content checked,
//! the status read, and an inclusion proof in the nation's transparency log built with its signed
//! tree head.
//!
//! Reported: verifications/s; the node process's CPU (utime + stime from `/proc/self/stat`, at
//! Linux's 100 ticks per second) per verification; the raw SM2 verify rate over the same signed
//! content, measured here before the load with every core verifying at once (the state the node
//! is in under load) and, for reference, on one thread alone. The issue's target compares the two
//! per core: verifications per node CPU-second ≥ 70 % of raw verifies per CPU-second.

mod support;

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use bdc_node::startup::{Application, RunningNode};
use federation::crypto::{PublicKey, unb64};
use serde_json::{Value, json};
use support::{Flags, call, cpu_secs};

struct Opts {
    certificates: usize,
    clients: usize,
    secs: u64,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts { certificates: 200, clients: 32, secs: 10 };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--certificates" => o.certificates = flags.number::<usize>(flag)?.max(1),
            "--clients" => o.clients = flags.number::<usize>(flag)?.max(1),
            "--secs" => o.secs = flags.number::<u64>(flag)?.max(1),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

fn unit(n: usize) -> String {
    format!("320102003001GB00012F{:04}{:04}", 1 + n / 10_000, n % 10_000)
}

/// Submit and take one application to 发证: (business number, certificate id).
async fn issue(http: &reqwest::Client, base: &str, token: &str, n: usize) -> anyhow::Result<(String, String)> {
    let application = json!({
        "unit_code": unit(n),
        "kind": "first",
        "location": format!("南京市玄武区北京东路41号{}室", n),
        "details": {"area": "89.50", "purpose": "住宅"},
        "applicants": [{"name": "张三", "id_type": "id_card", "id_number": "110101199003074477", "role": "right_holder"}]
    });
    let receipt = call(http.post(format!("{base}/api/v1/applications")).json(&application)).await?;
    let no = receipt["business_no"].as_str().ok_or_else(|| anyhow!("no business number: {receipt}"))?.to_owned();
    let mut last = Value::Null;
    for action in ["accept", "review", "record", "certify", "issue"] {
        last = call(
            http.post(format!("{base}/api/v1/applications/{no}/actions"))
                .bearer_auth(token)
                .json(&json!({"action": action})),
        )
        .await?;
    }
    let id = last["certificate_id"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no certificate: {last}"))?;
    Ok((no, id))
}

/// Raw SM2 verifications per second on one thread, over a real certificate's signed content.
fn raw_verify_rate(key: &PublicKey, content: &[u8], sig: &[u8], secs: f64) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..50 {
            key.verify(content, sig).map_err(|e| anyhow!("raw verify failed: {e}"))?;
        }
        n += 50;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The load generator (run as a separate process): verifications until time is up.
async fn client(url: String, ids: Vec<String>, clients: usize, secs: u64) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let verify = move |http: &reqwest::Client, n: u64| {
        let id = &ids[n as usize % ids.len().max(1)];
        http.get(format!("{url}/api/v1/certificates/{id}/verify"))
    };
    support::load(http, clients, secs, 0, verify, b"\"valid\":true").await
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let all = support::federation_settings(dir.path())?;
    let mut nodes: Vec<RunningNode> = vec![];
    for s in all.iter() {
        nodes.push(Application::build(s.clone()).await?.spawn());
    }
    let (nation, county) = (&nodes[0], &nodes[2]);
    bdc_node::demo::add_staff(county, "320102", "bench-clerk", "bench-password-1", "压测登记员", "clerk").await?;
    let http = reqwest::Client::new();
    let login = call(
        http.post(format!("{}/api/v1/staff/login", county.url))
            .json(&json!({"username": "bench-clerk", "password": "bench-password-1"})),
    )
    .await?;
    let token = login["token"].as_str().ok_or_else(|| anyhow!("login: {login}"))?.to_owned();
    let started = Instant::now();
    let mut ids = vec![];
    let mut first_no = String::new();
    for n in 0..opts.certificates {
        let (no, id) = issue(&http, &county.url, &token, n).await?;
        if n == 0 {
            first_no = no;
        }
        ids.push(id);
    }
    eprintln!("  issued {} certificates at 玄武区 in {:.1} s", ids.len(), started.elapsed().as_secs_f64());
    // Wait until every certificate has rolled up to the nation.
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in &ids {
        loop {
            let r = http.get(format!("{}/api/v1/certificates/{id}/verify", nation.url)).send().await?;
            if r.status().is_success() {
                break;
            }
            if Instant::now() > deadline {
                bail!("certificate {id} did not reach the nation");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The raw rate, over the signed content of the first certificate as the nation stores it
    // (fetched with the certificate's 查验码, which the clerk sees with the progress).
    let progress = call(http.get(format!("{}/api/v1/progress/{}", county.url, first_no)).bearer_auth(&token)).await?;
    let code = progress["certificates"][0]["access_code"].as_str().ok_or_else(|| anyhow!("no code: {progress}"))?;
    let package = call(http.get(format!("{}/api/v1/certificates/{}/package?code={code}", nation.url, ids[0]))).await?;
    let content = package["content"].as_str().ok_or_else(|| anyhow!("package: {package}"))?.to_owned();
    let sig = unb64(package["signature"].as_str().ok_or_else(|| anyhow!("no signature"))?)?;
    let key = PublicKey::from_spki_pem(package["issuer_public_key_pem"].as_str().ok_or_else(|| anyhow!("no key"))?)?;
    let raw_one = raw_verify_rate(&key, content.as_bytes(), &sig, 2.0)?;
    // The same with every core busy, as the node runs under load (cores that share a physical
    // core, or a thermal budget, each verify slower then).
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (key, content, sig) = (key.clone(), content.clone(), sig.clone());
            std::thread::spawn(move || raw_verify_rate(&key, content.as_bytes(), &sig, 2.0))
        })
        .collect();
    let mut raw_all = 0.0;
    for t in threads {
        raw_all += t.join().map_err(|_| anyhow!("raw verify thread panicked"))??;
    }
    // Per CPU-second with all cores busy: the figure the node's own is compared with.
    let raw = raw_all / cores as f64;

    let exe = std::env::current_exe()?;
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, ids.join("\n"))?;
    let cpu0 = cpu_secs()?;
    let t0 = Instant::now();
    let out = tokio::process::Command::new(exe)
        .args(["--client", &nation.url, &ids_file.display().to_string()])
        .args([opts.clients.to_string(), opts.secs.to_string()])
        .output()
        .await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs()? - cpu0;
    if !out.status.success() {
        bail!("client failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let ok: f64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    let bad: u64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    if bad > 0 {
        bail!("{bad} verifications failed or were not valid");
    }
    let rate = ok / opts.secs as f64;
    let per_cpu = ok / cpu.max(0.01);
    let ratio = per_cpu / raw;
    println!(
        "Certificate verifications at the national node (GET /api/v1/certificates/{{id}}/verify, full answer with inclusion proof)"
    );
    println!(
        "| certificates | clients | verifications | rate | node CPU | µs CPU / verification | raw SM2 verify per CPU-second, all {cores} cores busy (1 thread alone) | per CPU-second vs raw | target |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {} | {} | {ok:.0} | **{rate:.0}/s** | {:.2} cores | {:.0} | {raw:.0}/s = {:.0} µs ({raw_one:.0}/s) | **{:.0} %** | ≥ 70 % {} |",
        ids.len(),
        opts.clients,
        cpu / wall,
        1e6 / per_cpu,
        1e6 / raw,
        ratio * 100.0,
        if ratio >= 0.7 { "PASS" } else { "FAIL" }
    );
    eprintln!(
        "  against one thread alone: {:.0} %; wall rate against raw all-core rate ({raw_all:.0}/s): {:.0} % (the load generator, in its own process, takes CPU from the node)",
        100.0 * per_cpu / raw_one,
        100.0 * rate / raw_all
    );
    for n in nodes {
        n.stop().await;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.first().map(String::as_str) == Some("--client") {
        let [_, url, ids, clients, secs] = args.as_slice() else { bail!("--client URL IDS CLIENTS SECS") };
        let ids: Vec<String> = std::fs::read_to_string(ids)?.lines().map(str::to_owned).collect();
        return rt.block_on(client(url.clone(), ids, clients.parse()?, secs.parse()?));
    }
    let opts = parse_opts(&args)?;
    rt.block_on(run(opts))
}
