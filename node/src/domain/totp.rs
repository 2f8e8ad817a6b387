//! The staff second factor (动态口令): RFC 6238 time-based one-time codes (HMAC-SHA1, 6 digits,
//! 30-second steps, as every authenticator app reads them), via the `totp-rs` crate. A code is
//! accepted in the step before, at, or after the current one, and only in a step later than the
//! last one accepted, so an observed code cannot be replayed.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "bdc-node";

/// A fresh 160-bit secret (RFC 4226's recommended length).
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::thread_rng().fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECS, secret.to_vec()).ok()
}

/// The code of a step.
pub fn code_at(secret: &[u8], step: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(step * STEP_SECS))
}

/// The step a code matches, if it is one of the three around `now_unix` and later than
/// `last_step`.
pub fn matching_step(secret: &[u8], code: &str, now_unix: u64, last_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    let now = now_unix / STEP_SECS;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .filter(|step| last_step.is_none_or(|last| i64::try_from(*step).is_ok_and(|s| s > last)))
        .find(|step| {
            let expected = t.generate(step * STEP_SECS);
            // Constant-time comparison of equal-length digit strings.
            expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        })
        .and_then(|step| i64::try_from(step).ok())
}

/// Base32 of the secret, for typing into an app.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The secret from its base32 form (as an app or an operator would type it).
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    Secret::Encoded(text.trim().to_owned()).to_bytes().ok()
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(account: &str, secret: &[u8]) -> String {
    let account: String =
        account.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    format!(
        "otpauth://totp/{ISSUER}:{account}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        secret_base32(secret)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA1, secret "12345678901234567890", last six digits.
        let secret = b"12345678901234567890";
        for (t, code) in [(59u64, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")] {
            assert_eq!(code_at(secret, t / STEP_SECS).unwrap(), code, "T = {t}");
        }
    }

    #[test]
    fn codes_match_their_window_once() {
        let secret = new_secret();
        let now = 1_800_000_000u64;
        let step = now / STEP_SECS;
        let code = code_at(&secret, step).unwrap();
        assert_eq!(matching_step(&secret, &code, now, None), Some(step as i64));
        assert_eq!(matching_step(&secret, &code, now + STEP_SECS, None), Some(step as i64), "one step of drift");
        assert_eq!(matching_step(&secret, &code, now + 3 * STEP_SECS, None), None, "too old");
        assert_eq!(matching_step(&secret, &code, now, Some(step as i64)), None, "replayed");
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(matching_step(&secret, "abcdef", now, None), None);
        assert!(otpauth_uri("xuanwu-clerk", &secret).starts_with("otpauth://totp/bdc-node:xuanwu-clerk?secret="));
        assert_eq!(secret_from_base32(&secret_base32(&secret)), Some(secret));
    }
}
