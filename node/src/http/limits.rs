//! Abuse limits: a token bucket per client address and kind of request (login, public queries,
//! submissions), kept in the node's memory. A node behind a reverse proxy sees the proxy's
//! address; configure the proxy to limit too (deploy notes).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use schemas::error::ErrorCode;

use super::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Login,
    PublicQuery,
    Submit,
    /// SMS codes: few, since each costs money and reaches a stranger's phone.
    Sms,
}

impl Class {
    /// (burst, refill per minute)
    fn budget(self) -> (f64, f64) {
        match self {
            Class::Login => (10.0, 10.0),
            Class::PublicQuery => (60.0, 120.0),
            Class::Submit => (30.0, 60.0),
            Class::Sms => (5.0, 5.0),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(IpAddr, Class), Bucket>>,
    disabled: bool,
}

impl RateLimiter {
    pub fn new(enabled: bool) -> Self {
        Self { buckets: Mutex::default(), disabled: !enabled }
    }

    /// Take one token, or refuse with `rate_limited`.
    pub fn check(&self, ip: Option<IpAddr>, class: Class) -> Result<(), ApiError> {
        let Some(ip) = ip.filter(|_| !self.disabled) else { return Ok(()) };
        let (burst, per_minute) = class.budget();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs() < 120);
        }
        let bucket = buckets.entry((ip, class)).or_insert(Bucket { tokens: burst, at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() * per_minute / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Err(ApiError::new(ErrorCode::RateLimited));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }
}

pub fn client_ip(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_after_the_burst() {
        let limiter = RateLimiter::default();
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..10 {
            assert!(limiter.check(ip, Class::Login).is_ok());
        }
        assert!(limiter.check(ip, Class::Login).is_err());
        // Another client and another class are separate.
        assert!(limiter.check(Some(IpAddr::from([10, 0, 0, 2])), Class::Login).is_ok());
        assert!(limiter.check(ip, Class::PublicQuery).is_ok());
    }
}
