//! What the benchmarks share: the process's CPU time, percentiles, and a JSON call that fails
//! on a non-2xx answer. Each bench includes it with `mod support;` (a folder, so that cargo does
//! not take it for an example of its own).

#![allow(dead_code)]

use anyhow::{anyhow, bail};
use serde_json::Value;

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
