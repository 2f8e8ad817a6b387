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

/// The SM4 data keys of a node (数据密钥): the first seals, every one opens, and the blind-index
/// key stays the same across rotations (an index is an equality lookup: changing its key would
/// lose every match). Kept in one file, `keys.data_key_file`:
///
/// ```text
/// # current key first, older keys after it; `index` pins the blind-index key
/// 6f1c…(32 hex digits)
/// 0a9e…
/// index 3b7d…(64 hex digits)
/// ```
///
/// A file of one bare key (as `bdc-node keygen` writes it) is a keyring of that key, with the
/// index key derived from it.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Sm4Key>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    /// Key ids only: the keys themselves never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("key_ids", &self.ids()).finish_non_exhaustive()
    }
}

/// The id recorded beside each ciphertext: the first 12 hex digits of SM3 of the key's hex.
pub fn data_key_id(key: &Sm4Key) -> String {
    sm3_hex(&key.to_hex().into_bytes())[..12].to_owned()
}

impl Keyring {
    pub fn single(key: Sm4Key) -> Self {
        let index_key = hmac_sm3(key.to_hex().as_bytes(), b"bdc-blind-index-v1");
        Self { keys: vec![key], index_key }
    }

    /// Parse the key file; says which line is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = vec![];
        let mut index = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(hex_key) = line.strip_prefix("index ") {
                let mut k = [0u8; 32];
                hex::decode_to_slice(hex_key.trim(), &mut k)
                    .map_err(|_| format!("line {}: the index key must be 64 hex digits", n + 1))?;
                index = Some(k);
            } else {
                keys.push(Sm4Key::from_hex(line).map_err(|e| format!("line {}: {e}", n + 1))?);
            }
        }
        let Some(first) = keys.first() else { return Err("no data key in the file".into()) };
        let mut ring = Self::single(first.clone());
        if let Some(k) = index {
            ring.index_key = k;
        } else if keys.len() > 1 {
            return Err("a file of several keys must pin the index key (`index …`)".into());
        }
        ring.keys = keys;
        Ok(ring)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# bdc-node SM4 data keys: the first seals, every one opens; `index` pins the blind-index key.\n\
             # Written by `bdc-node keys rotate-data`. Keep this file secret (mode 0600).\n",
        );
        for k in &self.keys {
            out.push_str(&k.to_hex());
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", hex::encode(self.index_key)));
        out
    }

    /// A new current key in front; the older keys stay to open what they sealed.
    pub fn rotated(&self, new: Sm4Key) -> Self {
        let mut keys = vec![new];
        keys.extend(self.keys.iter().cloned());
        Self { keys, index_key: self.index_key }
    }

    /// Only the current key (once nothing is sealed under the others any more).
    pub fn without_old_keys(&self) -> Self {
        Self { keys: self.keys.iter().take(1).cloned().collect(), index_key: self.index_key }
    }

    pub fn current_id(&self) -> String {
        self.keys.first().map(data_key_id).unwrap_or_default()
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(data_key_id).collect()
    }

    pub fn index_key_matches(&self, other: &Keyring) -> bool {
        self.index_key == other.index_key
    }
}

struct Prepared {
    /// (key id, key), current first.
    keys: Vec<(String, Sm4Key)>,
    index_key: [u8; 32],
}

impl Prepared {
    fn of(ring: &Keyring) -> Self {
        Self { keys: ring.keys.iter().map(|k| (data_key_id(k), k.clone())).collect(), index_key: ring.index_key }
    }
}

/// Encrypts personal data for storage. Format: `sm4gcm:<key id>:<base64 nonce‖ciphertext‖tag>`.
/// Clones share one keyring, which [`Sealer::reload`] replaces while the node serves (key
/// rotation).
#[derive(Clone)]
pub struct Sealer {
    ring: std::sync::Arc<std::sync::RwLock<std::sync::Arc<Prepared>>>,
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
        Self::from_keyring(&Keyring::single(key))
    }

    pub fn from_keyring(ring: &Keyring) -> Self {
        Self { ring: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(Prepared::of(ring)))) }
    }

    fn prepared(&self) -> std::sync::Arc<Prepared> {
        self.ring.read().map(|g| g.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Replace the keyring (every clone sees it). Refused if the blind-index key would change.
    pub fn reload(&self, ring: &Keyring) -> Result<(), String> {
        let next = Prepared::of(ring);
        let mut slot = self.ring.write().unwrap_or_else(|p| p.into_inner());
        if slot.index_key != next.index_key {
            return Err("the new key file has another blind-index key: refused (indexes would stop matching)".into());
        }
        *slot = std::sync::Arc::new(next);
        Ok(())
    }

    /// A blind index of an identity document: equal documents give equal indexes, so a person's
    /// register entries can be found without storing the number in clear, and the index alone
    /// does not reveal it (HMAC-SM3 under the keyring's index key).
    pub fn blind_index(&self, id_type: &str, id_number: &str) -> String {
        if crate::protections::off() {
            return format!("{id_type}|{id_number}");
        }
        hex::encode(hmac_sm3(&self.prepared().index_key, format!("{id_type}|{id_number}").as_bytes()))
    }

    /// Id of the key that seals now.
    pub fn key_id(&self) -> String {
        self.prepared().keys.first().map(|(id, _)| id.clone()).unwrap_or_default()
    }

    /// Ids of every key held, current first.
    pub fn key_ids(&self) -> Vec<String> {
        self.prepared().keys.iter().map(|(id, _)| id.clone()).collect()
    }

    fn seal_bytes(&self, plain: &[u8], context: &str) -> String {
        if crate::protections::off() {
            return format!("plain:{}", String::from_utf8_lossy(plain));
        }
        let ring = self.prepared();
        match ring.keys.first() {
            Some((id, key)) => format!("sm4gcm:{id}:{}", b64(&key.encrypt(plain, context.as_bytes()))),
            // A keyring always holds a key (`Keyring::parse` refuses an empty file).
            None => String::new(),
        }
    }

    fn open_bytes(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        if crate::protections::off()
            && let Some(plain) = sealed.strip_prefix("plain:")
        {
            return Ok(plain.as_bytes().to_vec());
        }
        let mut parts = sealed.splitn(3, ':');
        let (Some("sm4gcm"), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Format);
        };
        let ring = self.prepared();
        let (_, key) =
            ring.keys.iter().find(|(id, _)| id == key_id).ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let bytes = unb64(data).map_err(|_| SealError::Format)?;
        key.decrypt(&bytes, context.as_bytes()).map_err(|_| SealError::Tampered)
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

    /// Seal a file's bytes (an uploaded material: an ID card scan, a contract). Always encrypted,
    /// whatever the benchmark switch says: its plain form is for text.
    pub fn seal_file(&self, plain: &[u8], context: &str) -> String {
        let ring = self.prepared();
        match ring.keys.first() {
            Some((id, key)) => format!("sm4gcm:{id}:{}", b64(&key.encrypt(plain, context.as_bytes()))),
            // A keyring always holds a key (`Keyring::parse` refuses an empty file).
            None => String::new(),
        }
    }

    pub fn open_file(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SealError> {
        self.open_bytes(sealed, context)
    }

    /// The value sealed again under the current key, or `None` if it already is.
    pub fn reseal(&self, sealed: &str, context: &str) -> Result<Option<String>, SealError> {
        if sealed.strip_prefix("sm4gcm:").is_some_and(|rest| rest.starts_with(&format!("{}:", self.key_id()))) {
            return Ok(None);
        }
        let plain = self.open_bytes(sealed, context)?;
        Ok(Some(self.seal_bytes(&plain, context)))
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
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

    #[test]
    fn a_rotated_keyring_seals_with_the_new_key_opens_the_old_and_keeps_indexes() {
        let first = Keyring::single(Sm4Key::generate());
        let sealer = Sealer::from_keyring(&first);
        let old = sealer.seal_str("张三", "ctx");
        let index = sealer.blind_index("1", "110101199003074477");
        let rotated = Keyring::parse(&first.rotated(Sm4Key::generate()).to_text()).expect("parses");
        assert_eq!(rotated.ids().len(), 2);
        sealer.reload(&rotated).expect("same index key");
        assert_eq!(sealer.key_id(), rotated.current_id());
        assert_eq!(sealer.open_str(&old, "ctx").expect("old key still opens"), "张三");
        assert_eq!(sealer.blind_index("1", "110101199003074477"), index);
        let resealed = sealer.reseal(&old, "ctx").expect("reseal").expect("was under the old key");
        assert!(resealed.starts_with(&format!("sm4gcm:{}:", rotated.current_id())));
        assert_eq!(sealer.reseal(&resealed, "ctx").expect("reseal"), None);
        assert!(matches!(sealer.reseal(&old, "other"), Err(SealError::Tampered)));
        // Only the new key left: the old ciphertext no longer opens, the new one does.
        sealer.reload(&rotated.without_old_keys()).expect("same index key");
        assert!(matches!(sealer.open_str(&old, "ctx"), Err(SealError::UnknownKey(_))));
        assert_eq!(sealer.open_str(&resealed, "ctx").expect("opens"), "张三");
        // A keyring with another index key is refused; so are broken files.
        assert!(sealer.reload(&Keyring::single(Sm4Key::generate())).is_err());
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("zz").unwrap_err().contains("line 1"));
        let two_keys = format!("{}\n{}\n", Sm4Key::generate().to_hex(), Sm4Key::generate().to_hex());
        assert!(Keyring::parse(&two_keys).unwrap_err().contains("index"));
        // A bare key file, as `keygen` writes it, is a keyring of one.
        let bare = Sm4Key::generate();
        let ring = Keyring::parse(&format!("{}\n", bare.to_hex())).expect("bare key");
        assert_eq!(ring.current_id(), data_key_id(&bare));
    }
}
