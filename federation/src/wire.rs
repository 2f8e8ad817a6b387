//! Signing and opening what travels between nodes: HTTP bodies and origin batches.

use schemas::envelope::{Event, OriginBatch};
use schemas::ids::{DivisionCode, NodeId};

use crate::crypto::{PublicKey, SigningKey, b64, unb64};
use crate::error::FederationError;

/// The three signature headers of a signed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySignature {
    pub node: String,
    pub key_id: String,
    pub signature: String,
}

/// Sign the exact bytes that will be sent.
pub fn sign_body(node: &NodeId, key: &SigningKey, body: &[u8]) -> BodySignature {
    BodySignature { node: node.to_string(), key_id: key.key_id(), signature: b64(&key.sign(body)) }
}

/// Check a body's signature against the key it names.
pub fn verify_body(key: &PublicKey, sig: &BodySignature, body: &[u8]) -> Result<(), FederationError> {
    if sig.key_id != key.key_id() {
        return Err(FederationError::UnknownKey(sig.key_id.clone()));
    }
    let der = unb64(&sig.signature).map_err(|_| FederationError::BadSignature)?;
    key.verify(body, &der).map_err(|_| FederationError::BadSignature)
}

/// Seal events of one origin into a batch signed by the origin node.
pub fn seal_batch(
    origin: &DivisionCode,
    origin_node: &NodeId,
    key: &SigningKey,
    events: &[Event],
) -> Result<OriginBatch, FederationError> {
    if let Some(e) = events.iter().find(|e| &e.origin != origin) {
        return Err(FederationError::Malformed(format!("event of origin {} sealed as {origin}", e.origin)));
    }
    let text = serde_json::to_string(events).map_err(|e| FederationError::Malformed(e.to_string()))?;
    let signature = b64(&key.sign(text.as_bytes()));
    Ok(OriginBatch {
        origin: origin.clone(),
        origin_node: origin_node.clone(),
        key_id: key.key_id(),
        events: text,
        signature,
    })
}

/// Verify a batch with the origin's key and return its events; every event must carry the
/// batch's origin.
pub fn open_batch(batch: &OriginBatch, key: &PublicKey) -> Result<Vec<Event>, FederationError> {
    if batch.key_id != key.key_id() {
        return Err(FederationError::UnknownKey(batch.key_id.clone()));
    }
    let der = unb64(&batch.signature).map_err(|_| FederationError::BadSignature)?;
    key.verify(batch.events.as_bytes(), &der).map_err(|_| FederationError::BadSignature)?;
    let events: Vec<Event> =
        serde_json::from_str(&batch.events).map_err(|e| FederationError::Malformed(format!("batch events: {e}")))?;
    if events.is_empty() {
        return Err(FederationError::Malformed("empty batch".into()));
    }
    if let Some(e) = events.iter().find(|e| e.origin != batch.origin) {
        return Err(FederationError::Malformed(format!("event origin {} in a batch of {}", e.origin, batch.origin)));
    }
    Ok(events)
}
