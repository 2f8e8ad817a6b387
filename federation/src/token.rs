//! Link-navigation tokens (链接导航): short-lived, single-use, signed by the upper node.
//!
//! Form: `base64url(claims JSON) "." base64url(DER SM2 signature over the first part)`.
//! Claims carry no personal data: they sit in URLs and logs. Single use is enforced by the
//! receiving node, which stores every `jti` it accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use schemas::ids::{DivisionCode, NodeId, UnitCode};
use schemas::registration::RegistrationKind;

use crate::crypto::{PublicKey, SigningKey};
use crate::error::FederationError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavigationClaims {
    /// Unique token id (ULID).
    pub jti: String,
    /// The upper node that signed it.
    pub iss: NodeId,
    /// The node that must accept it.
    pub aud: NodeId,
    pub office: DivisionCode,
    pub unit_code: UnitCode,
    pub kind: RegistrationKind,
    /// The node where the applicant started.
    pub entry_node: NodeId,
    pub key_id: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

pub fn issue(key: &SigningKey, claims: &NavigationClaims) -> Result<String, FederationError> {
    let json = serde_json::to_vec(claims).map_err(|e| FederationError::Malformed(e.to_string()))?;
    let head = URL_SAFE_NO_PAD.encode(json);
    let sig = URL_SAFE_NO_PAD.encode(key.sign(head.as_bytes()));
    Ok(format!("{head}.{sig}"))
}

/// Read the claims without checking anything (to find the issuer's key).
pub fn peek(token: &str) -> Result<NavigationClaims, FederationError> {
    let (head, _) = token.split_once('.').ok_or_else(|| FederationError::TokenInvalid("shape".into()))?;
    let json = URL_SAFE_NO_PAD.decode(head).map_err(|_| FederationError::TokenInvalid("encoding".into()))?;
    serde_json::from_slice(&json).map_err(|_| FederationError::TokenInvalid("claims".into()))
}

/// Verify signature, audience and expiry. The caller then records `jti` to refuse a replay.
pub fn verify(
    token: &str,
    issuer_key: &PublicKey,
    audience: &NodeId,
    now: DateTime<Utc>,
) -> Result<NavigationClaims, FederationError> {
    let (head, sig) = token.split_once('.').ok_or_else(|| FederationError::TokenInvalid("shape".into()))?;
    let der = URL_SAFE_NO_PAD.decode(sig).map_err(|_| FederationError::TokenInvalid("encoding".into()))?;
    issuer_key.verify(head.as_bytes(), &der).map_err(|_| FederationError::TokenInvalid("signature".into()))?;
    let claims = peek(token)?;
    if claims.key_id != issuer_key.key_id() {
        return Err(FederationError::TokenInvalid("key".into()));
    }
    if &claims.aud != audience {
        return Err(FederationError::TokenInvalid("audience".into()));
    }
    if claims.exp < now.timestamp() {
        return Err(FederationError::TokenExpired);
    }
    Ok(claims)
}
