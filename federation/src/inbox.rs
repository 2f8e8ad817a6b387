//! Verify before receive: every inbound envelope passes these checks before anything is stored.
//!
//! Order: the sender is a configured peer → its signature over the exact body verifies → the body
//! parses → version, recipient and sending time are right → every origin batch verifies with the
//! origin's key and its origin lies below the sender. Only then may the node de-duplicate and store.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use schemas::envelope::{Envelope, EnvelopeBody, Event, EventBody, OriginBatch, WIRE_VERSION};
use schemas::ids::{DivisionCode, NodeId};

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
    /// The node that hosts an office, when an enrolment named one.
    fn owner_of(&self, office: &DivisionCode) -> Option<NodeId>;
}

impl KeyRing for HashMap<String, KnownKey> {
    fn find(&self, key_id: &str) -> Option<KnownKey> {
        self.get(key_id).cloned()
    }
    fn owner_of(&self, office: &DivisionCode) -> Option<NodeId> {
        self.values().find(|k| k.division.contains(office)).map(|k| k.node_id.clone())
    }
}

/// An event may only speak for its own origin office: its business number, its certificate's
/// issuer and identifier must all belong to that office.
fn check_event_origin(origin: &DivisionCode, body: &EventBody) -> Result<(), String> {
    let issuer_ok = |id: &schemas::ids::CertificateId| {
        // An issuer given as a credit code cannot be placed; a division code must be the origin.
        id.issuer().len() != 6 || id.issuer() == origin.as_str()
    };
    match body {
        EventBody::Progress(p) if &p.business_no.division() != origin => {
            Err(format!("progress of {} in a batch of {origin}", p.business_no))
        }
        EventBody::Certificate(c)
            if &c.issuer != origin || &c.business_no.division() != origin || !issuer_ok(&c.id) =>
        {
            Err(format!("certificate {} in a batch of {origin}", c.id))
        }
        EventBody::CertificateStatus(s) if !issuer_ok(&s.id) => {
            Err(format!("status of certificate {} in a batch of {origin}", s.id))
        }
        _ => Ok(()),
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
        let not_allowed = || FederationError::OriginNotAllowed {
            origin: batch.origin.to_string(),
            sender: sender.node_id.to_string(),
        };
        let key: PublicKey = if batch.origin_node == sender.node_id {
            // The sender signs only for offices it hosts itself, never for one a child of its hosts.
            if keyring.owner_of(&batch.origin).is_some_and(|owner| owner != sender.node_id) {
                return Err(not_allowed());
            }
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
            check_event_origin(&batch.origin, &event.body).map_err(|_| not_allowed())?;
            if let EventBody::Enrolment(e) = &event.body {
                // Only the sender itself introduces its children: offices strictly below its own
                // division, hosted by other nodes. A county has nothing below it to enrol.
                let own = batch.origin == sender.division && batch.origin_node == sender.node_id;
                let below = sender.division.contains(&e.division) && e.division != sender.division;
                if !own || !below || e.node_id == sender.node_id {
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
                // A key already bound to another node or office cannot be rebound.
                if let Some(known) = keyring.find(&e.key_id)
                    && (known.node_id != e.node_id || known.division != e.division)
                {
                    return Err(FederationError::UnknownKey(e.key_id.clone()));
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
