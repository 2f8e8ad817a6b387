//! Chinese commercial cryptography (国密) primitives used by the federation protocol.
//!
//! * **SM2** signatures (GB/T 32918.2) with SM3, distinguishing identifier [`DEFAULT_DIST_ID`]
//!   (GM/T 0009), DER-encoded `SEQUENCE { r INTEGER, s INTEGER }` — the format OpenSSL 3 produces
//!   and verifies with `openssl dgst -sm3 -sigopt distid:1234567812345678`.
//! * Keys as PKCS#8 (`-----BEGIN PRIVATE KEY-----`) and SubjectPublicKeyInfo
//!   (`-----BEGIN PUBLIC KEY-----`) with `id-ecPublicKey` + the SM2 curve OID `1.2.156.10197.1.301`,
//!   exactly as OpenSSL writes them.
//! * **SM3** hashing (GB/T 32905) and HMAC-SM3 (RFC 2104).
//! * **SM4-GCM** authenticated encryption (GB/T 32907 block cipher in NIST SP 800-38D GCM mode, as
//!   in RFC 8998), output `nonce (12) ‖ ciphertext ‖ tag (16)`.
//! * Standard base64 with padding.
//!
//! Performance: [`PublicKey`] keeps the parsed SM2 verifying key, whose user hash `Z_A` is computed
//! once, plus its SPKI DER and key id, behind an [`Arc`]; cloning is a reference-count increment and
//! [`PublicKey::verify`] does no parsing besides the signature itself. [`SigningKey`] likewise keeps
//! the ready-to-use signing key, and [`Sm4Key`] its expanded SM4 key schedule and GHASH key.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut as _, AesGcm, KeyInit as _};
use base64::Engine as _;
use sm2::dsa::signature::{RandomizedSigner as _, Signer as _, Verifier as _};
use sm2::elliptic_curve::Generate as _;
use sm2::elliptic_curve::common::getrandom::SysRng;
use sm2::elliptic_curve::rand_core::UnwrapErr;
use sm2::elliptic_curve::subtle::ConstantTimeEq as _;
use sm2::elliptic_curve::zeroize::{Zeroize as _, Zeroizing};
use sm2::pkcs8::der::pem;
use sm2::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _, LineEnding,
};
use sm3::{Digest as _, Sm3};

/// Default SM2 distinguishing identifier (user ID) of GM/T 0009, used for every signature.
pub const DEFAULT_DIST_ID: &str = "1234567812345678";

/// `n - 1` for the SM2 curve. SM2 requires the private key `d` in `[1, n-2]`: with `d = n-1`,
/// `1 + d` is not invertible and no signature can be produced.
const SM2_N_MINUS_1: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x72, 0x03, 0xdf,
    0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x22,
];

const PEM_LABEL_PRIVATE_KEY: &str = "PRIVATE KEY";
const PEM_LABEL_PUBLIC_KEY: &str = "PUBLIC KEY";

/// SM4 in GCM mode with a 96-bit nonce and a 128-bit tag.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;
const GCM_NONCE_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;

/// Errors of this module. [`CryptoError::code`] gives a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key material is not a valid SM2/SM4 key (wrong curve, wrong length, invalid scalar…).
    #[error("invalid key: {0}")]
    BadKey(String),
    /// The signature is malformed or does not verify for this key and message.
    #[error("invalid signature")]
    BadSignature,
    /// The text is not a PEM document of the expected kind.
    #[error("invalid PEM: {0}")]
    BadPem(String),
    /// Encryption refused (input beyond the GCM length limits).
    #[error("encryption failed")]
    Encrypt,
    /// Authenticated decryption failed: wrong key, wrong associated data, truncated or tampered
    /// ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// The text is not standard padded base64.
    #[error("invalid base64: {0}")]
    BadBase64(String),
}

impl CryptoError {
    /// Stable snake_case code of the variant (the variant name in snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            CryptoError::BadKey(_) => "bad_key",
            CryptoError::BadSignature => "bad_signature",
            CryptoError::BadPem(_) => "bad_pem",
            CryptoError::Encrypt => "encrypt",
            CryptoError::Decrypt => "decrypt",
            CryptoError::BadBase64(_) => "bad_base64",
        }
    }
}

/// Decodes a PEM document and checks its label.
fn decode_pem(text: &str, expected_label: &str) -> Result<Vec<u8>, CryptoError> {
    let (label, der) = pem::decode_vec(text.trim().as_bytes()).map_err(|e| CryptoError::BadPem(e.to_string()))?;
    if label != expected_label {
        return Err(CryptoError::BadPem(format!("expected a \"{expected_label}\" PEM block, found \"{label}\"")));
    }
    Ok(der)
}

// ---------------------------------------------------------------------------------------------
// SM2
// ---------------------------------------------------------------------------------------------

/// SM2 private key, bound to [`DEFAULT_DIST_ID`]. `Debug` prints only the key id.
#[derive(Clone)]
pub struct SigningKey {
    inner: sm2::dsa::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// Generates a new key with the operating system's CSPRNG.
    ///
    /// Panics only if the operating system's random number generator fails.
    pub fn generate() -> Self {
        loop {
            let secret = sm2::SecretKey::generate();
            // `from_secret` rejects only d = n-1 (probability 2^-256; draw again). Its other
            // failure paths cannot happen for a freshly generated key: Z_A with the constant
            // 16-byte DEFAULT_DIST_ID and a non-identity point always succeeds, and so does the
            // SPKI encoding of a valid point.
            if let Ok(key) = Self::from_secret(&secret) {
                return key;
            }
        }
    }

    fn from_secret(secret: &sm2::SecretKey) -> Result<Self, CryptoError> {
        let d = Zeroizing::new(secret.to_bytes());
        if bool::from(d.as_slice().ct_eq(&SM2_N_MINUS_1)) {
            return Err(CryptoError::BadKey("SM2 private key must be in [1, n-2]".to_owned()));
        }
        let inner = sm2::dsa::SigningKey::new(DEFAULT_DIST_ID, secret)
            .map_err(|_| CryptoError::BadKey("cannot derive the SM2 signing key".to_owned()))?;
        let public = PublicKey::from_verifying_key(inner.verifying_key().clone())?;
        Ok(Self { inner, public })
    }

    /// Reads an unencrypted PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) on the SM2
    /// curve, as written by `openssl genpkey -algorithm SM2`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = Zeroizing::new(decode_pem(pem, PEM_LABEL_PRIVATE_KEY)?);
        let secret = sm2::SecretKey::from_pkcs8_der(&der)
            .map_err(|e| CryptoError::BadKey(format!("not an SM2 PKCS#8 private key: {e}")))?;
        Self::from_secret(&secret)
    }

    /// Writes the key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings),
    /// readable by `openssl pkey`.
    pub fn to_pkcs8_pem(&self) -> Result<String, CryptoError> {
        let secret = sm2::SecretKey::from(self.inner.as_nonzero_scalar());
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| CryptoError::BadKey(format!("cannot encode PKCS#8: {e}")))?;
        Ok(String::from(pem.as_str()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Key id of the public key, see [`PublicKey::key_id`].
    pub fn key_id(&self) -> String {
        self.public.key_id()
    }

    /// Signs `msg` with SM2/SM3 and [`DEFAULT_DIST_ID`]; returns the DER `SEQUENCE { r, s }`.
    ///
    /// The nonce `k` is derived deterministically (RFC 6979 style, HMAC-SM3 DRBG), so signing the
    /// same message twice with the same key yields the same bytes.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let signature: sm2::dsa::Signature = match self.inner.try_sign(msg) {
            Ok(signature) => signature,
            Err(_) => self.sign_randomized(msg),
        };
        signature.to_der().to_vec()
    }

    /// Fallback for the deterministic signer, which fails only when `r = 0`, `r + k = n` or
    /// `s = 0` (probability about 2^-255 per message for a key in `[1, n-2]`, which
    /// `from_secret` enforces): retry with fresh randomness mixed into `k`. Each attempt fails
    /// with the same negligible probability, so the loop ends; an OS RNG failure panics.
    #[cold]
    fn sign_randomized(&self, msg: &[u8]) -> sm2::dsa::Signature {
        loop {
            if let Ok(signature) = self.inner.try_sign_with_rng(&mut UnwrapErr(SysRng), msg) {
                return signature;
            }
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("key_id", &self.public.0.key_id).finish_non_exhaustive()
    }
}

/// SM2 public key, bound to [`DEFAULT_DIST_ID`]. Cheap to clone (shared).
///
/// Equality and hashing use the canonical SPKI DER encoding (uncompressed point).
#[derive(Clone)]
pub struct PublicKey(Arc<PublicKeyInner>);

struct PublicKeyInner {
    /// Parsed point with the precomputed user hash `Z_A`.
    verifying: sm2::dsa::VerifyingKey,
    /// Canonical SubjectPublicKeyInfo DER (uncompressed point).
    spki_der: Vec<u8>,
    /// First 16 hex characters of SM3(`spki_der`).
    key_id: String,
}

impl PublicKey {
    fn from_verifying_key(verifying: sm2::dsa::VerifyingKey) -> Result<Self, CryptoError> {
        let spki_der = sm2::PublicKey::from(&verifying)
            .to_public_key_der()
            .map_err(|e| CryptoError::BadKey(format!("cannot encode SPKI: {e}")))?
            .into_vec();
        let key_id = hex::encode(&sm3(&spki_der)[..8]);
        Ok(Self(Arc::new(PublicKeyInner { verifying, spki_der, key_id })))
    }

    fn from_point(point: sm2::PublicKey) -> Result<Self, CryptoError> {
        let verifying = sm2::dsa::VerifyingKey::new(DEFAULT_DIST_ID, point)
            .map_err(|_| CryptoError::BadKey("cannot derive the SM2 verifying key".to_owned()))?;
        Self::from_verifying_key(verifying)
    }

    /// Reads a PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`) with `id-ecPublicKey` and
    /// the SM2 curve OID, as written by `openssl pkey -pubout`.
    pub fn from_spki_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = decode_pem(pem, PEM_LABEL_PUBLIC_KEY)?;
        Self::from_spki_der(&der)
    }

    /// Reads a DER SubjectPublicKeyInfo on the SM2 curve (compressed or uncompressed point).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let point = sm2::PublicKey::from_public_key_der(der)
            .map_err(|e| CryptoError::BadKey(format!("not an SM2 public key: {e}")))?;
        Self::from_point(point)
    }

    /// PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`, LF line endings, final newline),
    /// byte-identical to `openssl pkey -pubout` output.
    pub fn to_spki_pem(&self) -> Result<String, CryptoError> {
        pem::encode_string(PEM_LABEL_PUBLIC_KEY, LineEnding::LF, &self.0.spki_der)
            .map_err(|e| CryptoError::BadPem(e.to_string()))
    }

    /// Canonical SubjectPublicKeyInfo DER (uncompressed point).
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.0.spki_der.clone()
    }

    /// Key id: the first 16 lowercase hex characters (8 bytes) of SM3(SPKI DER).
    pub fn key_id(&self) -> String {
        self.0.key_id.clone()
    }

    /// Verifies a DER `SEQUENCE { r, s }` SM2/SM3 signature made with [`DEFAULT_DIST_ID`].
    /// Malformed signature bytes yield [`CryptoError::BadSignature`], never a panic.
    pub fn verify(&self, msg: &[u8], der_sig: &[u8]) -> Result<(), CryptoError> {
        let signature = sm2::dsa::Signature::from_der(der_sig).map_err(|_| CryptoError::BadSignature)?;
        self.0.verifying.verify(msg, &signature).map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.spki_der == other.0.spki_der
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.spki_der.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("key_id", &self.0.key_id).finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------------------------
// SM3
// ---------------------------------------------------------------------------------------------

/// SM3 digest.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// SM3 digest as 64 lowercase hex characters.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(sm3(data))
}

/// HMAC (RFC 2104) over SM3, block size 64 bytes; keys longer than 64 bytes are hashed first.
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k0 = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        let mut hashed = sm3(key);
        k0[..hashed.len()].copy_from_slice(&hashed);
        hashed.zeroize();
    } else {
        k0[..key.len()].copy_from_slice(key);
    }
    let mut ipad = Zeroizing::new([0x36u8; BLOCK]);
    let mut opad = Zeroizing::new([0x5cu8; BLOCK]);
    for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(k0.iter()) {
        *i ^= k;
        *o ^= k;
    }
    let inner = Sm3::new().chain_update(ipad.as_slice()).chain_update(data).finalize();
    Sm3::new().chain_update(opad.as_slice()).chain_update(inner).finalize().into()
}

// ---------------------------------------------------------------------------------------------
// SM4-GCM
// ---------------------------------------------------------------------------------------------

/// 128-bit SM4 key for SM4-GCM. `Debug` does not print the key; the raw bytes are zeroized on
/// drop.
#[derive(Clone)]
pub struct Sm4Key {
    bytes: [u8; 16],
    aead: Sm4Gcm,
}

impl Sm4Key {
    /// Key length in bytes.
    pub const LEN: usize = 16;

    /// Generates a random key with the operating system's CSPRNG.
    ///
    /// Panics only if the operating system's random number generator fails.
    pub fn generate() -> Self {
        Self::from_array(<[u8; 16]>::generate())
    }

    fn from_array(bytes: [u8; 16]) -> Self {
        let aead = Sm4Gcm::new(&bytes.into());
        Self { bytes, aead }
    }

    /// Key from exactly 16 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| CryptoError::BadKey(format!("SM4 key must be 16 bytes, got {}", bytes.len())))?;
        Ok(Self::from_array(array))
    }

    /// Key as 32 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// Key from 32 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let bytes =
            Zeroizing::new(hex::decode(s.trim()).map_err(|e| CryptoError::BadKey(format!("SM4 key is not hex: {e}")))?);
        Self::from_bytes(&bytes)
    }

    /// Authenticated encryption with SM4-GCM under a fresh random 96-bit nonce.
    /// Output: `nonce (12 bytes) ‖ ciphertext (plaintext.len() bytes) ‖ tag (16 bytes)`.
    ///
    /// # Panics
    /// If `plaintext` exceeds GCM's limit of 2^36 − 32 bytes (64 GiB); use
    /// [`Sm4Key::try_encrypt`] to get an error instead.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        match self.try_encrypt(plaintext, aad) {
            Ok(ciphertext) => ciphertext,
            Err(_) => panic!("SM4-GCM input exceeds the GCM length limit (2^36 - 32 bytes)"),
        }
    }

    /// Like [`Sm4Key::encrypt`], but returns [`CryptoError::Encrypt`] when `plaintext` or `aad`
    /// exceed GCM's length limits (NIST SP 800-38D) instead of panicking.
    pub fn try_encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.encrypt_with_nonce(<[u8; GCM_NONCE_LEN]>::generate(), plaintext, aad)
    }

    fn encrypt_with_nonce(
        &self,
        nonce: [u8; GCM_NONCE_LEN],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut out = Vec::with_capacity(GCM_NONCE_LEN + plaintext.len() + GCM_TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce.into(), aad, (&mut out[GCM_NONCE_LEN..]).into())
            .map_err(|_| CryptoError::Encrypt)?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Authenticated decryption of [`Sm4Key::encrypt`] output; fails with
    /// [`CryptoError::Decrypt`] on a wrong key, wrong `aad`, truncation or any modification.
    pub fn decrypt(&self, ciphertext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (nonce, rest) = ciphertext.split_first_chunk::<GCM_NONCE_LEN>().ok_or(CryptoError::Decrypt)?;
        let (body, tag) = rest.split_last_chunk::<GCM_TAG_LEN>().ok_or(CryptoError::Decrypt)?;
        let mut plaintext = body.to_vec();
        let decrypted =
            self.aead.decrypt_inout_detached(&(*nonce).into(), aad, plaintext.as_mut_slice().into(), &(*tag).into());
        match decrypted {
            Ok(()) => Ok(plaintext),
            Err(_) => Err(CryptoError::Decrypt),
        }
    }
}

impl Drop for Sm4Key {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Sm4Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4Key(<redacted>)")
    }
}

// ---------------------------------------------------------------------------------------------
// base64
// ---------------------------------------------------------------------------------------------

/// Standard base64 (RFC 4648 §4) with padding.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64 with padding (strict: no whitespace, no URL-safe alphabet).
pub fn unb64(s: &str) -> Result<Vec<u8>, CryptoError> {
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| CryptoError::BadBase64(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Output};
    use std::time::Instant;

    use sm4::cipher::BlockCipherEncrypt as _;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn h32(s: &str) -> [u8; 32] {
        h(s).try_into().unwrap()
    }

    // ---- 1. SM3 (STANDARDS §7.1) ----

    #[test]
    fn sm3_standard_vectors() {
        assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        let abcd16 = b"abcd".repeat(16);
        assert_eq!(abcd16.len(), 64);
        assert_eq!(sm3_hex(&abcd16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
        assert_eq!(hex::encode(sm3(b"abc")), sm3_hex(b"abc"));
    }

    // ---- 2. SM4 block cipher (STANDARDS §7.2) ----

    const SM4_KEY: &str = "0123456789abcdeffedcba9876543210";

    #[test]
    fn sm4_ecb_single_block_vector() {
        let cipher = sm4::Sm4::new_from_slice(&h(SM4_KEY)).unwrap();
        let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(h(SM4_KEY).as_slice()).unwrap();
        cipher.encrypt_block(&mut block);
        assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
    }

    // Takes about 2 s in a debug build on the project machines (< 5 s), so it is not ignored.
    #[test]
    fn sm4_ecb_million_iterations_vector() {
        let started = Instant::now();
        let cipher = sm4::Sm4::new_from_slice(&h(SM4_KEY)).unwrap();
        let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(h(SM4_KEY).as_slice()).unwrap();
        for _ in 0..1_000_000 {
            cipher.encrypt_block(&mut block);
        }
        assert_eq!(hex::encode(block), "595298c7c6fd271f0402f804c33d3f66");
        eprintln!("1,000,000 SM4 blocks: {:?}", started.elapsed());
    }

    // ---- 3. SM2 signature example (STANDARDS §7.3) ----

    const D_A: &str = "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8";
    const X_A: &str = "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020";
    const Y_A: &str = "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13";
    const Z_A: &str = "B2E14C5C 79C6DF5B 85F4FE7E D8DB7A26 2B9DA7E0 7CCB0EA9 F4747B8C CDA8A4F3";
    const E: &str = "F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640";
    const R: &str = "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3";
    const S: &str = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA";

    fn standard_public_key() -> PublicKey {
        let mut sec1 = vec![0x04];
        sec1.extend(h(X_A));
        sec1.extend(h(Y_A));
        PublicKey::from_point(sm2::PublicKey::from_sec1_bytes(&sec1).unwrap()).unwrap()
    }

    fn standard_der_signature() -> Vec<u8> {
        sm2::dsa::Signature::from_scalars(h32(R), h32(S)).unwrap().to_der().to_vec()
    }

    #[test]
    fn sm2_standard_signature_example_verifies() {
        let public = standard_public_key();
        let der = standard_der_signature();
        // SEQUENCE { INTEGER 00‖r (high bit set), INTEGER 00‖s (high bit set) }
        assert_eq!(der.len(), 2 + 2 + 33 + 2 + 33);
        assert_eq!(&der[..5], &[0x30, 0x46, 0x02, 0x21, 0x00]);
        assert_eq!(&der[5..37], h(R).as_slice());
        assert_eq!(&der[37..40], &[0x02, 0x21, 0x00]);
        assert_eq!(&der[40..], h(S).as_slice());

        assert_eq!(public.verify(b"message digest", &der), Ok(()));

        let mut tampered = b"message digest".to_vec();
        tampered[3] ^= 0x01;
        assert_eq!(public.verify(&tampered, &der), Err(CryptoError::BadSignature));
        let mut bad_sig = der.clone();
        bad_sig[20] ^= 0x80;
        assert_eq!(public.verify(b"message digest", &bad_sig), Err(CryptoError::BadSignature));
    }

    #[test]
    fn sm2_standard_z_a_and_e() {
        // Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ Gx ‖ Gy ‖ xA ‖ yA), e = SM3(Z_A ‖ M), computed by hand.
        let mut z_input = vec![0x00, 0x80];
        z_input.extend_from_slice(DEFAULT_DIST_ID.as_bytes());
        for part in [
            "FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 00000000 FFFFFFFF FFFFFFFC",
            "28E9FA9E 9D9F5E34 4D5A9E4B CF6509A7 F39789F5 15AB8F92 DDBCBD41 4D940E93",
            "32C4AE2C 1F198119 5F990446 6A39C994 8FE30BBF F2660BE1 715A4589 334C74C7",
            "BC3736A2 F4F6779C 59BDCEE3 6B692153 D0A9877C C62A4740 02DF32E5 2139F0A0",
            X_A,
            Y_A,
        ] {
            z_input.extend(h(part));
        }
        let z = sm3(&z_input);
        assert_eq!(z, h32(Z_A));
        let mut e_input = z.to_vec();
        e_input.extend_from_slice(b"message digest");
        assert_eq!(sm3(&e_input), h32(E));
    }

    #[test]
    fn sm2_standard_private_key_derives_public_key() {
        let secret = sm2::SecretKey::from_slice(&h(D_A)).unwrap();
        let signing = SigningKey::from_secret(&secret).unwrap();
        let expected = standard_public_key();
        assert_eq!(signing.public_key(), expected);
        let der = signing.public_key().to_spki_der();
        let mut point = vec![0x04];
        point.extend(h(X_A));
        point.extend(h(Y_A));
        assert!(der.ends_with(&point));
        // Our own signature with dA verifies under (xA, yA).
        let sig = signing.sign(b"message digest");
        assert_eq!(expected.verify(b"message digest", &sig), Ok(()));
    }

    #[test]
    fn sm2_private_key_n_minus_1_rejected() {
        let secret = sm2::SecretKey::from_slice(&SM2_N_MINUS_1).unwrap();
        let err = SigningKey::from_secret(&secret).unwrap_err();
        assert_eq!(err.code(), "bad_key");
    }

    // ---- 4. Round trips ----

    #[test]
    fn sm2_sign_verify_round_trip() {
        let key = SigningKey::generate();
        let public = key.public_key();
        let msg = b"federation envelope \x00\x01\x02";
        let sig = key.sign(msg);
        assert_eq!(sig[0], 0x30);
        assert!(sig.len() <= 72, "DER signature too long: {}", sig.len());
        assert_eq!(public.verify(msg, &sig), Ok(()));
        // Deterministic nonce: same key and message give the same signature.
        assert_eq!(key.sign(msg), sig);
        // Empty message works too.
        assert_eq!(public.verify(b"", &key.sign(b"")), Ok(()));

        // Wrong key.
        let other = SigningKey::generate();
        assert_ne!(other.public_key(), public);
        assert_eq!(other.public_key().verify(msg, &sig), Err(CryptoError::BadSignature));

        // Tampered message.
        let mut tampered = msg.to_vec();
        tampered[0] ^= 0x20;
        assert_eq!(public.verify(&tampered, &sig), Err(CryptoError::BadSignature));
        let mut longer = msg.to_vec();
        longer.push(0);
        assert_eq!(public.verify(&longer, &sig), Err(CryptoError::BadSignature));
    }

    #[test]
    fn sm2_garbage_signatures_rejected_without_panic() {
        let key = SigningKey::generate();
        let public = key.public_key();
        let msg = b"hello";
        let good = key.sign(msg);

        let n = h("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF 7203DF6B 21C6052B 53BBF409 39D54123");
        let mut r_eq_n = vec![0x30, 0x46, 0x02, 0x21, 0x00];
        r_eq_n.extend(&n);
        r_eq_n.extend([0x02, 0x21, 0x00]);
        r_eq_n.extend(&n);

        let mut trailing = good.clone();
        trailing.push(0x00);
        let mut raw_rs = vec![0u8; 64];
        raw_rs[31] = 1;
        raw_rs[63] = 1;

        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x30],
            vec![0x30, 0x00],
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00], // r = s = 0
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // r = s = 1
            vec![0xff; 72],
            vec![0x30; 300],
            r_eq_n,
            trailing,
            raw_rs,
            good[..good.len() - 1].to_vec(),
            b"not a signature at all".to_vec(),
        ];
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0x01;
            cases.push(flipped);
        }
        for sig in &cases {
            assert_eq!(public.verify(msg, sig), Err(CryptoError::BadSignature), "accepted {}", hex::encode(sig));
        }
        assert_eq!(public.verify(msg, &good), Ok(()));
    }

    #[test]
    fn sm2_pem_round_trips_and_key_id() {
        let key = SigningKey::generate();
        let priv_pem = key.to_pkcs8_pem().unwrap();
        assert!(priv_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(priv_pem.ends_with("-----END PRIVATE KEY-----\n"));
        let key2 = SigningKey::from_pkcs8_pem(&priv_pem).unwrap();
        assert_eq!(key2.public_key(), key.public_key());
        assert_eq!(key2.to_pkcs8_pem().unwrap(), priv_pem);
        // Same secret: deterministic signatures are identical.
        assert_eq!(key2.sign(b"m"), key.sign(b"m"));

        let public = key.public_key();
        let pub_pem = public.to_spki_pem().unwrap();
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pub_pem.ends_with("-----END PUBLIC KEY-----\n"));
        let public2 = PublicKey::from_spki_pem(&pub_pem).unwrap();
        assert_eq!(public2, public);
        assert_eq!(public2.to_spki_der(), public.to_spki_der());
        assert_eq!(PublicKey::from_spki_der(&public.to_spki_der()).unwrap(), public);
        // SPKI DER: SEQUENCE(89) { SEQUENCE { id-ecPublicKey, sm2 }, BIT STRING 04‖x‖y }
        let der = public.to_spki_der();
        assert_eq!(der.len(), 91);
        assert_eq!(&der[..27], h("3059301306072a8648ce3d020106082a811ccf5501822d03420004").as_slice());
        // CRLF and surrounding whitespace are accepted.
        let crlf = format!("\n  {}  \n", pub_pem.replace('\n', "\r\n"));
        assert_eq!(PublicKey::from_spki_pem(&crlf).unwrap(), public);

        // key_id: 16 lowercase hex chars = SM3(SPKI DER)[..8], stable across encodings.
        let id = public.key_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        assert_eq!(id, sm3_hex(&der)[..16]);
        assert_eq!(key.key_id(), id);
        assert_eq!(key2.key_id(), id);
        assert_eq!(public2.key_id(), id);
        assert_ne!(SigningKey::generate().key_id(), id);

        // Debug never shows the secret.
        let secret_hex = hex::encode(key.inner.to_bytes());
        let debug = format!("{key:?}");
        assert!(debug.contains(&id) && !debug.to_lowercase().contains(&secret_hex));
        assert!(format!("{public:?}").contains(&id));

        // Errors.
        assert_eq!(PublicKey::from_spki_pem(&priv_pem).unwrap_err().code(), "bad_pem");
        assert_eq!(SigningKey::from_pkcs8_pem(&pub_pem).unwrap_err().code(), "bad_pem");
        assert_eq!(SigningKey::from_pkcs8_pem("garbage").unwrap_err().code(), "bad_pem");
        let broken = pub_pem.replace("-----END PUBLIC KEY-----", "");
        assert_eq!(PublicKey::from_spki_pem(&broken).unwrap_err().code(), "bad_pem");
        // A P-256 key is well-formed PEM but the wrong curve.
        let p256 = "-----BEGIN PUBLIC KEY-----\n\
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzhpXhID3ePD/e6/eesExmnjye+DC\n\
            WS6ISY0jlibfAMKKbO6lXU2VIdYWJaUQqiUXmNvE3BJZGfcRloprX1UgqQ==\n\
            -----END PUBLIC KEY-----\n";
        assert_eq!(PublicKey::from_spki_pem(p256).unwrap_err().code(), "bad_key");
    }

    // ---- 5. OpenSSL interop ----

    fn openssl_bin() -> &'static str {
        if Path::new("/usr/bin/openssl").exists() { "/usr/bin/openssl" } else { "openssl" }
    }

    /// Runs openssl and fails the test (never skips) if it is missing or exits non-zero.
    fn openssl(dir: &Path, args: &[&str]) -> Output {
        let out = Command::new(openssl_bin())
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl (required for this test): {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    #[test]
    fn openssl_verifies_our_signature_and_reads_our_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let key = SigningKey::generate();
        let msg = b"SM2 interop message \xe4\xb8\xad\xe6\x96\x87\n\x00end".repeat(7);
        std::fs::write(p.join("priv.pem"), key.to_pkcs8_pem().unwrap()).unwrap();
        std::fs::write(p.join("pub.pem"), key.public_key().to_spki_pem().unwrap()).unwrap();
        std::fs::write(p.join("msg.bin"), &msg).unwrap();
        std::fs::write(p.join("sig.der"), key.sign(&msg)).unwrap();

        let out = openssl(
            p,
            &[
                "dgst",
                "-sm3",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "-sigopt",
                "distid:1234567812345678",
                "msg.bin",
            ],
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

        // A tampered message is rejected by openssl as well.
        let mut bad = msg.clone();
        bad[0] ^= 1;
        std::fs::write(p.join("bad.bin"), &bad).unwrap();
        let out = Command::new(openssl_bin())
            .current_dir(p)
            .args([
                "dgst",
                "-sm3",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "-sigopt",
                "distid:1234567812345678",
                "bad.bin",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Verification failure"));

        // openssl derives the same SPKI PEM from our PKCS#8 key, byte for byte.
        let out = openssl(p, &["pkey", "-in", "priv.pem", "-pubout"]);
        assert_eq!(String::from_utf8(out.stdout).unwrap(), key.public_key().to_spki_pem().unwrap());
        // And it recognises the key as SM2.
        let out = openssl(p, &["pkey", "-in", "priv.pem", "-noout", "-text"]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("SM2"), "{text}");
    }

    #[test]
    fn we_verify_openssl_signatures_and_read_openssl_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let msg = b"signed by openssl".to_vec();
        std::fs::write(p.join("msg.bin"), &msg).unwrap();

        for (name, genpkey_args) in [
            ("sm2", &["genpkey", "-algorithm", "SM2", "-out", "sm2.pem"][..]),
            ("ec", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "ec.pem"][..]),
        ] {
            let key_file = format!("{name}.pem");
            let pub_file = format!("{name}.pub.pem");
            let sig_file = format!("{name}.sig.der");
            openssl(p, genpkey_args);
            openssl(p, &["pkey", "-in", &key_file, "-pubout", "-out", &pub_file]);
            openssl(
                p,
                &[
                    "dgst",
                    "-sm3",
                    "-sign",
                    &key_file,
                    "-sigopt",
                    "distid:1234567812345678",
                    "-out",
                    &sig_file,
                    "msg.bin",
                ],
            );
            let pub_pem = std::fs::read_to_string(p.join(&pub_file)).unwrap();
            let key_pem = std::fs::read_to_string(p.join(&key_file)).unwrap();
            let sig = std::fs::read(p.join(&sig_file)).unwrap();

            let public = PublicKey::from_spki_pem(&pub_pem).unwrap();
            assert_eq!(public.to_spki_pem().unwrap(), pub_pem, "{name}");
            assert_eq!(public.verify(&msg, &sig), Ok(()), "{name}");
            assert_eq!(public.verify(b"signed by openssL", &sig), Err(CryptoError::BadSignature), "{name}");

            let signing = SigningKey::from_pkcs8_pem(&key_pem).unwrap();
            assert_eq!(signing.public_key(), public, "{name}");
            assert_eq!(signing.key_id(), public.key_id(), "{name}");
            // Our signature with openssl's key verifies with openssl's public key file.
            std::fs::write(p.join("ours.sig.der"), signing.sign(&msg)).unwrap();
            let out = openssl(
                p,
                &[
                    "dgst",
                    "-sm3",
                    "-verify",
                    &pub_file,
                    "-signature",
                    "ours.sig.der",
                    "-sigopt",
                    "distid:1234567812345678",
                    "msg.bin",
                ],
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
        }
    }

    // ---- 6. SM4-GCM ----

    #[test]
    fn sm4_gcm_rfc8998_known_answer() {
        // RFC 8998 Appendix A.2 (also reproduced with Python `cryptography` SM4 + GCM).
        let key = Sm4Key::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let nonce: [u8; 12] = h("00001234567800000000ABCD").try_into().unwrap();
        let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let plaintext = h("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
                           EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA");
        let sealed = key.encrypt_with_nonce(nonce, &plaintext, &aad).unwrap();
        let expected = h("00001234567800000000ABCD\
             17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
             83DE3541E4C2B58177E065A9BF7B62EC");
        assert_eq!(hex::encode(&sealed), hex::encode(&expected));
        assert_eq!(key.decrypt(&expected, &aad).unwrap(), plaintext);
    }

    #[test]
    fn sm4_gcm_round_trip_and_tampering() {
        let key = Sm4Key::generate();
        let plaintext = b"secret payload for a peer node".to_vec();
        let aad = b"envelope-id:01HXYZ";
        let ct = key.encrypt(&plaintext, aad);
        assert_eq!(ct.len(), 12 + plaintext.len() + 16);
        assert_eq!(key.decrypt(&ct, aad).unwrap(), plaintext);
        // Random nonce: encrypting twice differs.
        let ct2 = key.encrypt(&plaintext, aad);
        assert_ne!(ct[..12], ct2[..12]);
        assert_eq!(key.decrypt(&ct2, aad).unwrap(), plaintext);
        // Empty plaintext and empty aad.
        let empty = key.encrypt(b"", b"");
        assert_eq!(empty.len(), 28);
        assert_eq!(key.decrypt(&empty, b"").unwrap(), Vec::<u8>::new());

        // Every single-bit flip (nonce, body, tag) is rejected.
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x04;
            assert_eq!(key.decrypt(&bad, aad), Err(CryptoError::Decrypt), "byte {i}");
        }
        // Wrong aad, wrong key, truncation, extension.
        assert_eq!(key.decrypt(&ct, b"envelope-id:01HXYz"), Err(CryptoError::Decrypt));
        assert_eq!(key.decrypt(&ct, b""), Err(CryptoError::Decrypt));
        let other = Sm4Key::generate();
        assert_eq!(other.decrypt(&ct, aad), Err(CryptoError::Decrypt));
        assert_eq!(key.decrypt(&ct[..ct.len() - 1], aad), Err(CryptoError::Decrypt));
        assert_eq!(key.decrypt(&ct[..27], aad), Err(CryptoError::Decrypt));
        assert_eq!(key.decrypt(&[], aad), Err(CryptoError::Decrypt));
        let mut longer = ct.clone();
        longer.push(0);
        assert_eq!(key.decrypt(&longer, aad), Err(CryptoError::Decrypt));
        assert_eq!(CryptoError::Decrypt.code(), "decrypt");
    }

    #[test]
    fn sm4_key_encoding() {
        let key = Sm4Key::generate();
        let hex_key = key.to_hex();
        assert_eq!(hex_key.len(), 32);
        let same = Sm4Key::from_hex(&hex_key).unwrap();
        assert_eq!(same.to_hex(), hex_key);
        assert_eq!(Sm4Key::from_hex(&hex_key.to_uppercase()).unwrap().to_hex(), hex_key);
        let ct = key.encrypt(b"x", b"");
        assert_eq!(same.decrypt(&ct, b"").unwrap(), b"x");
        assert_eq!(Sm4Key::from_bytes(&h(&hex_key)).unwrap().to_hex(), hex_key);
        assert_ne!(Sm4Key::generate().to_hex(), hex_key);

        assert_eq!(Sm4Key::from_bytes(&[0u8; 15]).unwrap_err().code(), "bad_key");
        assert_eq!(Sm4Key::from_bytes(&[0u8; 17]).unwrap_err().code(), "bad_key");
        assert_eq!(Sm4Key::from_hex("zz").unwrap_err().code(), "bad_key");
        assert_eq!(Sm4Key::from_hex("00").unwrap_err().code(), "bad_key");

        let debug = format!("{key:?}");
        assert!(!debug.contains(&hex_key));
        assert_eq!(debug, "Sm4Key(<redacted>)");
    }

    // ---- 7. HMAC-SM3 ----

    #[test]
    fn hmac_sm3_matches_openssl() {
        // Expected values computed with OpenSSL 3.0.19:
        //   printf '<data>' | openssl mac -digest SM3 -macopt hexkey:<key> HMAC
        let key32 = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        assert_eq!(
            hex::encode(hmac_sm3(&key32, b"The quick brown fox jumps over the lazy dog")),
            "be1c9ca286f325f95cf8d9020e4242747d60faa7069d1e9758a28597c712eb46"
        );
        // 100-byte key (longer than the 64-byte block: hashed first).
        assert_eq!(
            hex::encode(hmac_sm3(&[b'k'; 100], b"what do ya want for nothing?")),
            "4003035ebf65d29bc49f47384a8af164e5614a70744a2cbfed4f804269420782"
        );
        assert_eq!(
            hex::encode(hmac_sm3(b"Jefe", b"Hi There")),
            "5ace388f012e27dfbb40f7921b42dc0ba829cc131bca78acd594db7596216e0d"
        );
    }

    #[test]
    fn hmac_sm3_matches_openssl_live() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"live check \x00\xff".repeat(9);
        std::fs::write(dir.path().join("data.bin"), &data).unwrap();
        for key_len in [0usize, 1, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let macopt = if key.is_empty() { "key:".to_owned() } else { format!("hexkey:{}", hex::encode(&key)) };
            let out = openssl(dir.path(), &["mac", "-digest", "SM3", "-macopt", &macopt, "-in", "data.bin", "HMAC"]);
            assert_eq!(
                String::from_utf8(out.stdout).unwrap().trim().to_lowercase(),
                hex::encode(hmac_sm3(&key, &data)),
                "key length {key_len}"
            );
        }
    }

    // ---- base64 and error codes ----

    #[test]
    fn base64_standard_with_padding() {
        assert_eq!(b64(b""), "");
        assert_eq!(b64(b"f"), "Zg==");
        assert_eq!(b64(b"fo"), "Zm8=");
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(&[0xfb, 0xff]), "+/8=");
        assert_eq!(unb64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(unb64("Zm8=").unwrap(), b"fo");
        for bad in ["Zm8", "-_8=", "Zm 8=", "Z"] {
            assert_eq!(unb64(bad).unwrap_err().code(), "bad_base64", "{bad}");
        }
    }

    #[test]
    fn error_codes_are_stable() {
        assert_eq!(CryptoError::BadKey(String::new()).code(), "bad_key");
        assert_eq!(CryptoError::BadSignature.code(), "bad_signature");
        assert_eq!(CryptoError::BadPem(String::new()).code(), "bad_pem");
        assert_eq!(CryptoError::Encrypt.code(), "encrypt");
        assert_eq!(CryptoError::Decrypt.code(), "decrypt");
        assert_eq!(CryptoError::BadBase64(String::new()).code(), "bad_base64");
    }
}
