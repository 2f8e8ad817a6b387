//! The 查验码 (access code) of a certificate. Whether a certificate is valid is public: anyone
//! may ask with its identifier, and the answer names no person. Its content — holders' names,
//! the address — and the documents that print it are personal data, and identifiers are
//! sequential, so they are given only to whoever shows the code: the applicant gets it with the
//! progress of their business, the QR code on the document carries it, and the holder passes it
//! to a bank or a buyer together with the document.
//!
//! The code is derived from the issuing office's SM2 signature (random per certificate and never
//! served without the code), so every node that holds the certificate — the office, its province,
//! the nation — can check it without a shared secret or a new column: 16 hexadecimal characters
//! (64 bits) of SM3 over a domain label and the signature.

use sm3::{Digest, Sm3};

const LABEL: &[u8] = b"bdc-certificate-access-v1|";

/// The 查验码 of the certificate whose signature (base64 DER, as stored) is `signature`.
pub fn access_code(signature: &str) -> String {
    let mut h = Sm3::new();
    h.update(LABEL);
    h.update(signature.as_bytes());
    hex::encode_upper(&h.finalize()[..8])
}

/// Whether `given` is the certificate's code (case and surrounding spaces ignored; the comparison
/// takes the same time wherever the first difference is).
pub fn matches(given: &str, signature: &str) -> bool {
    let want = access_code(signature);
    let given = given.trim().to_ascii_uppercase();
    given.len() == want.len() && given.bytes().zip(want.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_follows_the_signature() {
        let a = access_code("MEUCIQDx");
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_eq!(access_code("MEUCIQDx"), a, "stable");
        assert_ne!(access_code("MEUCIQDy"), a, "another signature, another code");
        assert!(matches(&a, "MEUCIQDx"));
        assert!(matches(&format!(" {} ", a.to_lowercase()), "MEUCIQDx"));
        assert!(!matches(&a[..15], "MEUCIQDx"));
        assert!(!matches("", "MEUCIQDx"));
        assert!(!matches(&access_code("MEUCIQDy"), "MEUCIQDx"));
    }
}
