//! Checking a sign-in password against a stored argon2 hash, at the same cost whatever the account.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Whether `password` matches `stored` (an argon2 PHC string). With no usable hash — an unknown
/// account, a locked one, one without a password, a hash that does not parse — the same argon2
/// work is done and the answer is `false`, so the time taken tells nothing about the account.
pub fn verify_evenly(stored: Option<&str>, password: &str) -> bool {
    match stored.and_then(|hash| PasswordHash::new(hash).ok()) {
        Some(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        None => {
            if let Ok(salt) = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA") {
                let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_password_against_a_real_hash_passes() {
        let salt = SaltString::from_b64("YW5vdGhlcnNhbHRhbm90aGVy").expect("salt");
        let hash = Argon2::default().hash_password(b"correct horse 1", &salt).expect("hash").to_string();
        assert!(verify_evenly(Some(&hash), "correct horse 1"));
        assert!(!verify_evenly(Some(&hash), "correct horse 2"));
        assert!(!verify_evenly(None, "correct horse 1"));
        // "!" marks an account without a password (统一身份认证 only).
        assert!(!verify_evenly(Some("!"), "correct horse 1"));
    }
}
