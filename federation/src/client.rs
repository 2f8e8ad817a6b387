//! Sending signed envelopes to a peer and checking its signed answer.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use schemas::api::ApplicationAnswer;
use schemas::envelope::{
    ApplicationReceipt, DeliveryReceipt, Envelope, EnvelopeBody, ForwardedApplication, HEADER_KEY_ID, HEADER_NODE,
    HEADER_REQUEST_ID, HEADER_SIGNATURE, OriginBatch, WIRE_VERSION,
};
use schemas::ids::NodeId;

use crate::crypto::SigningKey;
use crate::error::FederationError;
use crate::peers::Peer;
use crate::wire::{BodySignature, sign_body, verify_body};

pub const ENVELOPES_PATH: &str = "/federation/v1/envelopes";
pub const APPLICATIONS_PATH: &str = "/federation/v1/applications";

/// A node's outbound side: its identity, key and HTTP client.
#[derive(Clone)]
pub struct PeerClient {
    http: reqwest::Client,
    me: NodeId,
    key: Arc<SigningKey>,
}

impl PeerClient {
    pub fn new(me: NodeId, key: Arc<SigningKey>, http: reqwest::Client) -> Self {
        Self { http, me, key }
    }

    pub fn node_id(&self) -> &NodeId {
        &self.me
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    fn envelope(&self, to: &Peer, request_id: &str, body: EnvelopeBody) -> Envelope {
        Envelope {
            v: WIRE_VERSION,
            id: ulid::Ulid::new().to_string(),
            from: self.me.clone(),
            to: to.node_id.clone(),
            sent_at: Utc::now(),
            request_id: request_id.to_owned(),
            body,
        }
    }

    /// POST a signed envelope; return the verified answer body.
    async fn post(
        &self,
        peer: &Peer,
        path: &str,
        envelope: &Envelope,
        timeout: Duration,
    ) -> Result<Vec<u8>, FederationError> {
        let body = serde_json::to_vec(envelope).map_err(|e| FederationError::Malformed(e.to_string()))?;
        let sig = sign_body(&self.me, &self.key, &body);
        let url = format!("{}{}", peer.url.trim_end_matches('/'), path);
        let resp = self
            .http
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header(HEADER_NODE, sig.node)
            .header(HEADER_KEY_ID, sig.key_id)
            .header(HEADER_SIGNATURE, sig.signature)
            .header(HEADER_REQUEST_ID, envelope.request_id.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| FederationError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let answer_sig = BodySignature {
            node: header(HEADER_NODE),
            key_id: header(HEADER_KEY_ID),
            signature: header(HEADER_SIGNATURE),
        };
        let bytes = resp.bytes().await.map_err(|e| FederationError::Transport(e.to_string()))?.to_vec();
        if status != 200 {
            return Err(FederationError::PeerRefused {
                status,
                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            });
        }
        if answer_sig.node != peer.node_id.as_str() {
            return Err(FederationError::UnknownSender(answer_sig.node));
        }
        let key = peer.key(&answer_sig.key_id).ok_or_else(|| FederationError::UnknownKey(answer_sig.key_id.clone()))?;
        verify_body(key, &answer_sig, &bytes)?;
        Ok(bytes)
    }

    /// GET a peer's public API (`/api/v1/…`) and parse its JSON answer. Such answers carry no
    /// envelope signature: the caller checks what they hold (a signed tree head, a proof).
    pub async fn get_public<T: serde::de::DeserializeOwned>(
        &self,
        peer: &Peer,
        path_and_query: &str,
        timeout: Duration,
    ) -> Result<T, FederationError> {
        let url = format!("{}{}", peer.url.trim_end_matches('/'), path_and_query);
        let resp = self
            .http
            .get(url)
            .timeout(timeout)
            .header(HEADER_NODE, self.me.as_str())
            .send()
            .await
            .map_err(|e| FederationError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| FederationError::Transport(e.to_string()))?;
        if status != 200 {
            return Err(FederationError::PeerRefused {
                status,
                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| FederationError::Malformed(e.to_string()))
    }

    /// Deliver batches upward; the answer is the peer's signed receipt.
    pub async fn send_events(
        &self,
        peer: &Peer,
        request_id: &str,
        batches: Vec<OriginBatch>,
        timeout: Duration,
    ) -> Result<DeliveryReceipt, FederationError> {
        let envelope = self.envelope(peer, request_id, EnvelopeBody::Events { batches });
        let bytes = self.post(peer, ENVELOPES_PATH, &envelope, timeout).await?;
        let receipt: DeliveryReceipt =
            serde_json::from_slice(&bytes).map_err(|e| FederationError::Malformed(e.to_string()))?;
        if receipt.envelope_id != envelope.id {
            return Err(FederationError::Malformed("receipt for another envelope".into()));
        }
        Ok(receipt)
    }

    /// Interface navigation: hand an application to a child and return its answer.
    pub async fn send_application(
        &self,
        peer: &Peer,
        request_id: &str,
        application: ForwardedApplication,
        timeout: Duration,
    ) -> Result<ApplicationAnswer, FederationError> {
        let envelope = self.envelope(peer, request_id, EnvelopeBody::Application(Box::new(application)));
        let bytes = self.post(peer, APPLICATIONS_PATH, &envelope, timeout).await?;
        let receipt: ApplicationReceipt =
            serde_json::from_slice(&bytes).map_err(|e| FederationError::Malformed(e.to_string()))?;
        if receipt.envelope_id != envelope.id {
            return Err(FederationError::Malformed("receipt for another envelope".into()));
        }
        Ok(receipt.answer)
    }
}
