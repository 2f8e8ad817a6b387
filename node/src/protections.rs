//! A switch for one benchmark only: the submit-path benchmark (`examples/submit_bench.rs`)
//! compares throughput with personal-data encryption, the blind index and the audit log on and
//! off (issue "Personal data encrypted…": at most 15 % loss). The switch exists only in builds
//! with the cargo feature `bench-protections-off`, which no shipped binary enables; in every other
//! build [`off`] is the constant `false` and the code paths below it compile away.

#[cfg(feature = "bench-protections-off")]
static OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turn the protections off (`true`) or on again, for the whole process.
#[cfg(feature = "bench-protections-off")]
pub fn set_off(off: bool) {
    OFF.store(off, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the benchmark has turned encryption, blind index and audit off.
#[inline]
pub fn off() -> bool {
    #[cfg(feature = "bench-protections-off")]
    {
        OFF.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "bench-protections-off"))]
    {
        false
    }
}
