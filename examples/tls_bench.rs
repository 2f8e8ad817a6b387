//! TLS listener benchmark (issue "Personal data encrypted…", item 7): requests per second on a
//! node's TLS listener (rustls, TLS 1.3, keep-alive), beside the same node on plain HTTP.
//!
//! ```sh
//! cargo run --release --example tls_bench -- [--clients 32] [--secs 8]
//! ```
//!
//! County 玄武区 runs in this process (the demo federation's settings; the other nodes are not
//! started), rate limits off, log filter `warn`, with a certificate issued here by a fresh CA
//! (rcgen) for `localhost` and 127.0.0.1. A second process (this binary with `--client`) opens
//! `--clients` keep-alive HTTP/1.1 connections that trust only that CA and sends
//! `GET /api/v1/node` (the node's public description, a small JSON answer) for `--secs` seconds;
//! every answer must be 200. Then the same with TLS off. Reported: requests per second each way,
//! and the node's CPU per request (utime + stime from `/proc/self/stat`).

mod support;

use anyhow::{anyhow, bail};
use bdc_node::startup::Application;
use support::{Flags, cpu_secs};

struct Opts {
    clients: usize,
    secs: u64,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts { clients: 32, secs: 8 };
    let mut flags = Flags::new(args);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--clients" => o.clients = flags.number::<usize>(flag)?.max(1),
            "--secs" => o.secs = flags.number::<u64>(flag)?.max(1),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

/// A CA and a leaf for localhost / 127.0.0.1: (CA PEM, leaf PEM, leaf key PEM).
fn pki() -> anyhow::Result<(String, String, String)> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "bench CA");
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let key = rcgen::KeyPair::generate()?;
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    Ok((ca_pem, leaf.signed_by(&key, &issuer)?.pem(), key.serialize_pem()))
}

/// The load generator (a separate process): prints "ok bad".
async fn client(url: String, ca: Option<String>, clients: usize, secs: u64) -> anyhow::Result<()> {
    let mut builder = reqwest::Client::builder().pool_max_idle_per_host(clients).http1_only();
    if let Some(ca) = ca {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(std::fs::read(ca)?.as_slice())?]);
    }
    let node_info = move |http: &reqwest::Client, _n: u64| http.get(format!("{url}/api/v1/node"));
    support::load(builder.build()?, clients, secs, 0, node_info, b"").await
}

/// One measurement: (requests per second, node CPU µs per request).
async fn measure(opts: &Opts, tls: bool) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let [_, _, mut s, _] = support::federation_settings(dir.path())?;
    let ca_file = dir.path().join("ca.pem");
    if tls {
        let (ca, cert, key) = pki()?;
        std::fs::write(&ca_file, ca)?;
        std::fs::write(dir.path().join("node.crt"), cert)?;
        std::fs::write(dir.path().join("node.key"), key)?;
        s.tls.cert_file = Some(dir.path().join("node.crt"));
        s.tls.key_file = Some(dir.path().join("node.key"));
        s.http.public_url = s.http.public_url.replace("http://", "https://");
    }
    let node = Application::build(s).await?.spawn();
    let url = if tls { node.url.replace("http://", "https://") } else { node.url.clone() };
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args(["--client", &url, &opts.clients.to_string(), &opts.secs.to_string()]);
    if tls {
        cmd.arg(&ca_file);
    }
    let cpu0 = cpu_secs()?;
    let out = cmd.output().await?;
    let cpu = cpu_secs()? - cpu0;
    node.stop().await;
    if !out.status.success() {
        bail!("client failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let ok: f64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    let bad: u64 = parts.next().ok_or_else(|| anyhow!("client said {text}"))?.parse()?;
    if bad > 0 {
        bail!("{bad} requests failed");
    }
    Ok((ok / opts.secs as f64, 1e6 * cpu / ok.max(1.0)))
}

async fn run(opts: Opts) -> anyhow::Result<()> {
    let (tls, tls_cpu) = measure(&opts, true).await?;
    let (plain, plain_cpu) = measure(&opts, false).await?;
    println!("GET /api/v1/node at county 玄武区, {} keep-alive connections, {} s each", opts.clients, opts.secs);
    println!("| listener | requests/s | node CPU µs / request |");
    println!("|---|---:|---:|");
    println!("| TLS 1.3 (rustls) | **{tls:.0}** | {tls_cpu:.0} |");
    println!("| plain HTTP | {plain:.0} | {plain_cpu:.0} |");
    println!("TLS costs {:.1} % of the plain rate", 100.0 * (1.0 - tls / plain));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.first().map(String::as_str) == Some("--client") {
        let (url, clients, secs, ca) = match args.as_slice() {
            [_, url, clients, secs] => (url, clients, secs, None),
            [_, url, clients, secs, ca] => (url, clients, secs, Some(ca.clone())),
            _ => bail!("--client URL CLIENTS SECS [CA]"),
        };
        return rt.block_on(client(url.clone(), ca, clients.parse()?, secs.parse()?));
    }
    // rustls needs a process-wide crypto provider, as `bdc-node` installs at start.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let opts = parse_opts(&args)?;
    rt.block_on(run(opts))
}
