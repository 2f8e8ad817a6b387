//! Transparency-log benchmark: a 10,000,000-leaf [`MemoryLog`], then random inclusion and
//! consistency proofs, generated and verified, against the 1 ms per proof target.
//!
//! ```text
//! cargo run --release -p bdc-federation --example merkle_bench [-- LEAVES [MIN_CACHED_LEVEL]]
//! ```

use std::error::Error;
use std::time::{Duration, Instant};

use bdc_federation::merkle::{Hash, MemoryLog, leaf_hash, verify_consistency, verify_inclusion};

const DEFAULT_LEAVES: u64 = 10_000_000;
const INCLUSION_PROOFS: usize = 100_000;
const CONSISTENCY_PROOFS: usize = 10_000;
const TARGET: Duration = Duration::from_millis(1);

/// SplitMix64: deterministic, dependency-free pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform-enough in `[lo, hi]` (modulo bias is negligible here).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

struct Stats {
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let n = samples.len().max(1);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let total: Duration = samples.iter().sum();
    let at = |q: f64| {
        let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        samples.get(i).copied().map_or(0.0, us)
    };
    Stats {
        mean_us: us(total) / n as f64,
        p50_us: at(0.50),
        p99_us: at(0.99),
        max_us: samples.last().copied().map_or(0.0, us),
    }
}

fn report(what: &str, samples: Vec<Duration>) -> bool {
    let s = stats(samples);
    let ok = s.p99_us <= TARGET.as_secs_f64() * 1e6;
    println!(
        "  {what:<40} mean {:>8.2} µs   p50 {:>8.2} µs   p99 {:>8.2} µs   max {:>9.2} µs   {}",
        s.mean_us,
        s.p50_us,
        s.p99_us,
        s.max_us,
        if ok { "≤ 1 ms ✓" } else { "> 1 ms ✗" }
    );
    ok
}

/// Resident set size now and at peak, from /proc (Linux only).
fn rss() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return "n/a".to_owned();
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_owned())
            .unwrap_or_else(|| "n/a".to_owned())
    };
    format!("VmRSS {}, VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let leaves: u64 = match args.next() {
        Some(a) => a.parse()?,
        None => DEFAULT_LEAVES,
    };
    let min_level: u32 = match args.next() {
        Some(a) => a.parse()?,
        None => MemoryLog::DEFAULT_MIN_CACHED_LEVEL,
    };
    if leaves < 2 {
        return Err("need at least 2 leaves".into());
    }

    println!("merkle_bench: {leaves} leaves, SM3, lowest cached level {min_level}");

    // --- Build.
    let t = Instant::now();
    let mut log = MemoryLog::with_min_cached_level(min_level);
    log.reserve(usize::try_from(leaves)?);
    for i in 0..leaves {
        log.append(format!("certificate/{i:010}").as_bytes());
    }
    let build = t.elapsed();
    let t = Instant::now();
    let root = log.current_root();
    let root_time = t.elapsed();
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "build: {:.2} s ({:.0} ns/leaf, leaf + amortized node hashes)",
        build.as_secs_f64(),
        build.as_secs_f64() * 1e9 / leaves as f64
    );
    println!(
        "memory: hashes {:.1} MiB ({:.1} B/leaf; leaves alone {:.1} MiB); process {}",
        mib(log.memory_bytes()),
        log.memory_bytes() as f64 / leaves as f64,
        mib(usize::try_from(leaves)? * 32),
        rss()
    );
    println!("root({leaves}) = {} in {:.2} µs", hex_of(&root), root_time.as_secs_f64() * 1e6);

    let mut rng = Rng(0x5eed_b0c5);
    let mut all_ok = true;
    let n = leaves;

    // --- Inclusion proofs at the current size.
    let mut gen_t = Vec::with_capacity(INCLUSION_PROOFS);
    let mut ver_t = Vec::with_capacity(INCLUSION_PROOFS);
    let mut total_len = 0usize;
    for _ in 0..INCLUSION_PROOFS {
        let index = rng.range(0, n - 1);
        let t = Instant::now();
        let proof = log.inclusion_proof(index, n)?;
        gen_t.push(t.elapsed());
        total_len += proof.len();
        let leaf = log.leaf_hashes()[usize::try_from(index)?];
        let t = Instant::now();
        verify_inclusion(&leaf, index, n, &proof, &root)?;
        ver_t.push(t.elapsed());
    }
    println!(
        "\n{INCLUSION_PROOFS} inclusion proofs, size {n}, random index (mean {:.1} hashes/proof):",
        total_len as f64 / INCLUSION_PROOFS as f64
    );
    all_ok &= report("generate", gen_t);
    report("verify", ver_t);

    // --- Inclusion proofs at random historical sizes (root computed per size, not timed).
    let mut gen_t = Vec::with_capacity(INCLUSION_PROOFS);
    let mut ver_t = Vec::with_capacity(INCLUSION_PROOFS);
    let mut root_t = Vec::with_capacity(INCLUSION_PROOFS);
    for _ in 0..INCLUSION_PROOFS {
        let size = rng.range(1, n);
        let index = rng.range(0, size - 1);
        let t = Instant::now();
        let proof = log.inclusion_proof(index, size)?;
        gen_t.push(t.elapsed());
        let t = Instant::now();
        let r = log.root(size)?;
        root_t.push(t.elapsed());
        let leaf = log.leaf_hashes()[usize::try_from(index)?];
        let t = Instant::now();
        verify_inclusion(&leaf, index, size, &proof, &r)?;
        ver_t.push(t.elapsed());
    }
    println!("\n{INCLUSION_PROOFS} inclusion proofs, random historical size and index:");
    all_ok &= report("generate", gen_t);
    report("verify", ver_t);
    report("root(size)", root_t);

    // --- Consistency proofs between random sizes.
    let mut gen_t = Vec::with_capacity(CONSISTENCY_PROOFS);
    let mut ver_t = Vec::with_capacity(CONSISTENCY_PROOFS);
    let mut total_len = 0usize;
    for _ in 0..CONSISTENCY_PROOFS {
        let new = rng.range(2, n);
        let old = rng.range(1, new - 1);
        let (r1, r2): (Hash, Hash) = (log.root(old)?, log.root(new)?);
        let t = Instant::now();
        let proof = log.consistency_proof(old, new)?;
        gen_t.push(t.elapsed());
        total_len += proof.len();
        let t = Instant::now();
        verify_consistency(old, new, &r1, &r2, &proof)?;
        ver_t.push(t.elapsed());
    }
    println!(
        "\n{CONSISTENCY_PROOFS} consistency proofs, random 0 < old < new ≤ {n} (mean {:.1} hashes/proof):",
        total_len as f64 / CONSISTENCY_PROOFS as f64
    );
    all_ok &= report("generate", gen_t);
    report("verify", ver_t);

    // --- Appends on top of the big log.
    let extra = 100_000u64;
    let t = Instant::now();
    for i in 0..extra {
        log.append_leaf_hash(leaf_hash(format!("late/{i}").as_bytes()));
    }
    let append = t.elapsed();
    println!(
        "\n{extra} further appends: {:.0} ns/append (leaf hash included)",
        append.as_secs_f64() * 1e9 / extra as f64
    );

    println!("\ntarget: proof generation p99 ≤ 1 ms at {n} entries: {}", if all_ok { "MET" } else { "NOT MET" });
    Ok(())
}

fn hex_of(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}
