//! Verify before receive: every inbound envelope passes these checks before anything is stored.
//!
//! Order: the sender is a configured peer → its signature over the exact body verifies → the body
//! parses → version, recipient and sending time are right → every origin batch verifies with the
//! origin's key and its origin lies below the sender. Only then may the node de-duplicate and store.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use schemas::envelope::{Envelope, EnvelopeBody, Event, EventBody, OriginBatch, WIRE_VERSION};
use schemas::ids::NodeId;

use crate::crypto::PublicKey;
use crate::error::FederationError;
use crate::peers::{Directory, KnownKey, Peer, Relation};
use crate::wire::{BodySignature, open_batch, verify_body};

/// An envelope whose outer signature, sender, version, recipient and freshness are checked.
#[derive(Debug)]
pub struct CheckedEnvelope<'a> {
    pub envelope: Envelope,
    pub sender: &'a Peer,
}

/// Check the outer envelope. `max_skew` bounds |sent_at − now|.
pub fn check_envelope<'a>(
    directory: &'a Directory,
    me: &NodeId,
    sig: &BodySignature,
    body: &[u8],
    now: DateTime<Utc>,
    max_skew: Duration,
) -> Result<CheckedEnvelope<'a>, FederationError> {
    let sender = directory.get_str(&sig.node).ok_or_else(|| FederationError::UnknownSender(sig.node.clone()))?;
    let key = sender.key(&sig.key_id).ok_or_else(|| FederationError::UnknownKey(sig.key_id.clone()))?;
    verify_body(key, sig, body)?;
    // The signature is good; only now do we spend effort parsing.
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| FederationError::Malformed(e.to_string()))?;
    let v = value.get("v").and_then(|v| v.as_u64()).unwrap_or(0);
    if v != u64::from(WIRE_VERSION) {
        return Err(FederationError::UnsupportedVersion(v as u32));
    }
    let envelope: Envelope = serde_json::from_value(value).map_err(|e| FederationError::Malformed(e.to_string()))?;
    if envelope.from.as_str() != sig.node {
        return Err(FederationError::Malformed("from differs from the signing node".into()));
    }
    if &envelope.to != me {
        return Err(FederationError::WrongRecipient(envelope.to.to_string()));
    }
    if ulid_ok(&envelope.id).is_none() {
        return Err(FederationError::Malformed("id is not a ULID".into()));
    }
    if (envelope.sent_at - now).abs() > max_skew {
        return Err(FederationError::Stale);
    }
    Ok(CheckedEnvelope { envelope, sender })
}

fn ulid_ok(id: &str) -> Option<()> {
    ulid::Ulid::from_string(id).ok().map(|_| ())
}

/// Keys a node trusts for origin signatures beyond its direct peers.
pub trait KeyRing {
    fn find(&self, key_id: &str) -> Option<KnownKey>;
}

impl KeyRing for HashMap<String, KnownKey> {
    fn find(&self, key_id: &str) -> Option<KnownKey> {
        self.get(key_id).cloned()
    }
}

/// A verified origin batch with its events.
#[derive(Debug, Clone)]
pub struct OpenedBatch {
    pub batch: OriginBatch,
    pub events: Vec<Event>,
}

/// Open every batch of an events envelope from `sender`. Only children send events upward.
///
/// Enrolment events introduce keys that later batches of the same envelope may use; the
/// returned list holds them, and the caller stores them with the events.
pub fn open_batches(
    sender: &Peer,
    envelope: &Envelope,
    keyring: &dyn KeyRing,
) -> Result<(Vec<OpenedBatch>, Vec<KnownKey>), FederationError> {
    let EnvelopeBody::Events { batches } = &envelope.body else {
        return Err(FederationError::Malformed("expected an events envelope".into()));
    };
    if sender.relation != Relation::Child {
        return Err(FederationError::OriginNotAllowed {
            origin: sender.division.to_string(),
            sender: sender.node_id.to_string(),
        });
    }
    if batches.is_empty() {
        return Err(FederationError::Malformed("no batches".into()));
    }
    let mut learned: HashMap<String, KnownKey> = HashMap::new();
    let mut opened = Vec::with_capacity(batches.len());
    for batch in batches {
        if !sender.division.contains(&batch.origin) {
            return Err(FederationError::OriginNotAllowed {
                origin: batch.origin.to_string(),
                sender: sender.node_id.to_string(),
            });
        }
        let key: PublicKey = if batch.origin_node == sender.node_id {
            sender.key(&batch.key_id).cloned().ok_or_else(|| FederationError::UnknownKey(batch.key_id.clone()))?
        } else {
            let known = learned
                .get(&batch.key_id)
                .cloned()
                .or_else(|| keyring.find(&batch.key_id))
                .ok_or_else(|| FederationError::UnknownKey(batch.key_id.clone()))?;
            if known.node_id != batch.origin_node || !known.division.contains(&batch.origin) {
                return Err(FederationError::UnknownKey(batch.key_id.clone()));
            }
            known.key
        };
        let events = open_batch(batch, &key)?;
        for event in &events {
            if let EventBody::Enrolment(e) = &event.body {
                // A node may only introduce offices below its own.
                if !sender.division.contains(&e.division) {
                    return Err(FederationError::OriginNotAllowed {
                        origin: e.division.to_string(),
                        sender: sender.node_id.to_string(),
                    });
                }
                let key = PublicKey::from_spki_pem(&e.public_key_pem)
                    .map_err(|_| FederationError::Malformed("enrolment key".into()))?;
                if key.key_id() != e.key_id {
                    return Err(FederationError::Malformed("enrolment key id".into()));
                }
                learned.insert(
                    e.key_id.clone(),
                    KnownKey { node_id: e.node_id.clone(), division: e.division.clone(), key },
                );
            }
        }
        opened.push(OpenedBatch { batch: batch.clone(), events });
    }
    Ok((opened, learned.into_values().collect()))
}
