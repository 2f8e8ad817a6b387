//! A short memory of live staff sessions.
//!
//! Every staff request names its session; looking it up was a database read on a pooled
//! connection whose page cache the last write had just invalidated — about a twentieth of the
//! node's CPU in the register benchmark. A session found live is remembered for [`TTL`], keyed by
//! the token's SM3 hash (the token itself is never kept). What it costs: a change made outside
//! this process (`bdc-node staff add` giving someone another role) takes effect within [`TTL`]
//! instead of at once; a session never outlives its own expiry, and unknown tokens are never
//! remembered, so guessing fills nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

/// How long a looked-up session is trusted without asking the database again.
pub const TTL: Duration = Duration::from_secs(2);
/// At most this many sessions are remembered; when full, the memory starts afresh.
const CAPACITY: usize = 10_000;

/// A live session as the database gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub staff_id: i64,
    pub division: String,
    pub role: String,
    pub expires_at: NaiveDateTime,
}

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (Session, Instant)>>,
}

impl SessionCache {
    /// The remembered session for this token hash, if still fresh and not expired at `now`.
    pub fn get(&self, token_hash: &str, now: NaiveDateTime) -> Option<Session> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(token_hash).filter(|(s, at)| at.elapsed() < TTL && s.expires_at > now).map(|(s, _)| s.clone())
    }

    pub fn put(&self, token_hash: String, session: Session) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(token_hash, (session, Instant::now()));
    }

    /// Forget everything (after a change to staff made in this process).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_in: chrono::TimeDelta) -> Session {
        Session {
            staff_id: 7,
            division: "320102".into(),
            role: "clerk".into(),
            expires_at: chrono::Utc::now().naive_utc() + expires_in,
        }
    }

    #[test]
    fn a_session_is_remembered_until_it_expires_or_is_cleared() {
        let cache = SessionCache::default();
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(cache.get("h", now), None);
        cache.put("h".into(), session(chrono::TimeDelta::hours(1)));
        assert_eq!(cache.get("h", now).map(|s| s.role), Some("clerk".into()));
        assert_eq!(cache.get("other", now), None);
        // Never past the session's own expiry.
        assert_eq!(cache.get("h", now + chrono::TimeDelta::hours(2)), None);
        cache.clear();
        assert_eq!(cache.get("h", now), None);
    }

    #[test]
    fn an_expired_session_is_not_served() {
        let cache = SessionCache::default();
        cache.put("h".into(), session(chrono::TimeDelta::seconds(-1)));
        assert_eq!(cache.get("h", chrono::Utc::now().naive_utc()), None);
    }
}
