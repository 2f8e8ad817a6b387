//! Personal data (个人信息): names, ID numbers, phone numbers.
//!
//! Every personal field reaches storage through [`Sealer::seal`], which encrypts it with SM4-GCM
//! under the node's data key and records the key id beside the ciphertext; answers show it only
//! through the masking functions. `Debug` of [`Personal`] never prints the value, so it cannot
//! slip into a log line.

use federation::crypto::{Sm4Key, b64, hmac_sm3, sm3_hex, unb64};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A value that is personal data. Construct it at the edge; read it with [`Personal::expose`].
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The plain value, for the few places that must see it (matching, the certificate face).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Personal(***)")
    }
}

/// Encrypts personal data for storage. Format: `sm4gcm:<key id>:<base64 nonce‖ciphertext‖tag>`.
#[derive(Clone)]
pub struct Sealer {
    key: Sm4Key,
    key_id: String,
    /// HMAC-SM3 key for blind indexes, derived from the sealing key.
    index_key: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed value has an unknown format")]
    Format,
    #[error("sealed under key {0}, which this node does not hold")]
    UnknownKey(String),
    #[error("sealed value fails authentication")]
    Tampered,
    #[error("sealed value does not parse: {0}")]
    Parse(String),
}

impl Sealer {
    pub fn new(key: Sm4Key) -> Self {
        let key_id = sm3_hex(&key.to_hex().into_bytes())[..12].to_owned();
        let index_key = hmac_sm3(key.to_hex().as_bytes(), b"bdc-blind-index-v1");
        Self { key, key_id, index_key }
    }

    /// A blind index of an identity document: equal documents give equal indexes, so a person's
    /// register entries can be found without storing the number in clear, and the index alone
    /// does not reveal it (HMAC-SM3 under a key derived from the sealing key).
    pub fn blind_index(&self, id_type: &str, id_number: &str) -> String {
        hex::encode(hmac_sm3(&self.index_key, format!("{id_type}|{id_number}").as_bytes()))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn seal_bytes(&self, plain: &[u8], context: &str) -> String {
        let sealed = self.key.encrypt(plain, context.as_bytes());
        format!("sm4gcm:{}:{}", self.key_id, b64(&sealed))
    }

    fn open_bytes(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("sm4gcm"), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Format);
        };
        if key_id != self.key_id {
            return Err(SealError::UnknownKey(key_id.to_owned()));
        }
        let bytes = unb64(data).map_err(|_| SealError::Format)?;
        self.key.decrypt(&bytes, context.as_bytes()).map_err(|_| SealError::Tampered)
    }

    /// Encrypt; `context` (e.g. the business number) is bound as associated data, so a ciphertext
    /// moved to another row does not open.
    pub fn seal<T: Serialize>(&self, value: &Personal<T>, context: &str) -> String {
        // Serializing plain data structures to JSON cannot fail.
        self.seal_bytes(&serde_json::to_vec(value.expose()).unwrap_or_default(), context)
    }

    pub fn open<T: DeserializeOwned>(&self, sealed: &str, context: &str) -> Result<Personal<T>, SealError> {
        let plain = self.open_bytes(sealed, context)?;
        serde_json::from_slice(&plain).map(Personal::new).map_err(|e| SealError::Parse(e.to_string()))
    }

    /// Seal text that may hold personal data (an event body, a certificate's content).
    pub fn seal_str(&self, text: &str, context: &str) -> String {
        self.seal_bytes(text.as_bytes(), context)
    }

    pub fn open_str(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        String::from_utf8(self.open_bytes(sealed, context)?).map_err(|e| SealError::Parse(e.to_string()))
    }
}

/// 张*三: keep the first and last character of names of three or more; 张* for two.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// 320102********1234: keep the first 6 and last 4 of an ID number (shorter documents: first and
/// last 2).
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 15 {
        (6, 4)
    } else if n > 4 {
        (2, 2)
    } else {
        (0, 0)
    };
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' }).collect()
}

/// 138****1234
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n < 7 {
        return "*".repeat(n);
    }
    chars.iter().enumerate().map(|(i, c)| if i < 3 || i >= n - 4 { *c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_id("110101199003074477"), "110101********4477");
        assert_eq!(mask_phone("13812341234"), "138****1234");
    }

    #[test]
    fn sealed_values_hide_and_bind_context() {
        let sealer = Sealer::new(Sm4Key::generate());
        let value = Personal::new(vec!["张三".to_owned(), "110101199003074477".to_owned()]);
        let sealed = sealer.seal(&value, "32010220261129000001");
        assert!(!sealed.contains("110101199003074477"));
        assert!(!sealed.contains("张三"));
        let opened: Personal<Vec<String>> = sealer.open(&sealed, "32010220261129000001").expect("open");
        assert_eq!(opened, value);
        assert!(matches!(sealer.open::<Vec<String>>(&sealed, "32010220261129000002"), Err(SealError::Tampered)));
        assert!(format!("{value:?}").contains("***"));
        let other = Sealer::new(Sm4Key::generate());
        assert!(matches!(other.open::<Vec<String>>(&sealed, "32010220261129000001"), Err(SealError::UnknownKey(_))));
    }
}
