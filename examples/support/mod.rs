//! What the benchmarks share: their `--flag value` options, the demo federation's settings for a
//! bench, the process's CPU time, percentiles, and a JSON call that fails on a non-2xx answer. Each bench includes it with `mod support;` (a folder, so that cargo does
//! not take it for an example of its own).

#![allow(dead_code)]

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// The demo federation's four nodes (nation, province, county 320102, county 320104) under `dir`,
/// on free loopback ports, with rate limits off and logging at `warn`.
pub fn federation_settings(dir: &std::path::Path) -> anyhow::Result<[bdc_node::settings::Settings; 4]> {
    let port = bdc_node::demo::free_local_port;
    let mut all = bdc_node::demo::federation_settings(dir, [port()?, port()?, port()?, port()?])?;
    for s in all.iter_mut() {
        s.http.rate_limits = false;
        s.log.filter = "warn".into();
    }
    Ok(all)
}

/// A bench's options, read as `--flag value` pairs (and bare `--flag` switches).
pub struct Flags<'a>(std::slice::Iter<'a, String>);

impl<'a> Flags<'a> {
    pub fn new(args: &'a [String]) -> Self {
        Flags(args.iter())
    }

    /// The next flag, if any.
    pub fn next_flag(&mut self) -> Option<&'a str> {
        self.0.next().map(String::as_str)
    }

    /// The value after `flag`.
    pub fn text(&mut self, flag: &str) -> anyhow::Result<String> {
        self.0.next().cloned().ok_or_else(|| anyhow!("{flag} needs a value"))
    }

    /// The value after `flag`, as a number.
    pub fn number<T>(&mut self, flag: &str) -> anyhow::Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        self.text(flag)?.parse().with_context(|| flag.to_owned())
    }
}

/// CPU seconds (user + system) this process has used so far, from /proc/self/stat.
pub fn cpu_secs() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| anyhow!("odd /proc/self/stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = f.get(11).ok_or_else(|| anyhow!("no utime"))?.parse::<u64>()?
        + f.get(12).ok_or_else(|| anyhow!("no stime"))?.parse::<u64>()?;
    Ok(ticks as f64 / 100.0)
}

/// The `p` quantile (0..=1) of sorted values, NaN when there are none.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Send a request and read its JSON answer; a non-2xx status is an error carrying the body.
pub async fn call(req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let r = req.send().await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(body)
}

/// The load generator's loop, run in a process of its own: `clients` connections send requests
/// until `secs` are up, request number `n` (each connection `c` takes `first + c`, then every
/// `clients`-th) built by `request`. An answer is good when it is 2xx and its body holds `good`
/// (any body when `good` is empty). Prints "ok bad" for the bench process to read.
pub async fn load<F>(
    http: reqwest::Client,
    clients: usize,
    secs: u64,
    first: u64,
    request: F,
    good: &'static [u8],
) -> anyhow::Result<()>
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let request = std::sync::Arc::new(request);
    let tasks: Vec<_> = (0..clients as u64)
        .map(|c| {
            let (http, request) = (http.clone(), std::sync::Arc::clone(&request));
            tokio::spawn(async move {
                let (mut ok, mut bad) = (0u64, 0u64);
                let mut n = first + c;
                while std::time::Instant::now() < deadline {
                    let answer = request(&http, n).send().await;
                    n += clients as u64;
                    match answer {
                        Ok(r) if r.status().is_success() => match r.bytes().await {
                            Ok(body) if good.is_empty() || body.windows(good.len()).any(|w| w == good) => ok += 1,
                            _ => bad += 1,
                        },
                        _ => bad += 1,
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    let (mut ok, mut bad) = (0, 0);
    for t in tasks {
        let (o, b) = t.await?;
        ok += o;
        bad += b;
    }
    println!("{ok} {bad}");
    Ok(())
}
