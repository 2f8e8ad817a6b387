//! Tracing: `EnvFilter` (default from settings, `RUST_LOG` wins), text or JSON lines.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber once per process (later calls are ignored).
pub fn init(filter: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
