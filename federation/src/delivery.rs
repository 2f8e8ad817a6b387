//! Per-peer outbox delivery.
//!
//! A node's state changes and the messages they cause commit in one database transaction (the
//! outbox, kept by the node). One worker per peer wakes when a commit notifies it, reads what is
//! pending in commit order, sends it as one envelope (adaptive batching: whatever is queued, up to
//! a limit), and marks it delivered only after the peer's signed receipt. Failures back off
//! exponentially with jitter, capped; nothing is dropped. Order per origin holds because a peer
//! has one envelope in flight at a time; a shared semaphore bounds how many peers send at once.

use std::sync::Arc;
use std::time::Duration;

use schemas::api::ApplicationAnswer;
use schemas::envelope::{Event, ForwardedApplication, OriginBatch};
use schemas::ids::{DivisionCode, NodeId};
use tokio::sync::{Notify, Semaphore, watch};

use crate::backoff::Backoff;
use crate::client::PeerClient;
use crate::peers::Peer;
use crate::wire::seal_batch;

/// One pending outbox row.
#[derive(Debug, Clone)]
pub enum OutboxItem {
    /// An event of an office hosted here, not yet signed.
    Local { id: i64, event: Event },
    /// A batch received from below, forwarded intact.
    Forward { id: i64, batch: OriginBatch },
    /// An application queued for a child (interface navigation while the child was down).
    Application { id: i64, application: ForwardedApplication },
}

impl OutboxItem {
    pub fn id(&self) -> i64 {
        match self {
            Self::Local { id, .. } | Self::Forward { id, .. } | Self::Application { id, .. } => *id,
        }
    }
}

/// The node's durable outbox, as the worker sees it. Calls are blocking (database work); the
/// worker runs them on the blocking pool.
pub trait OutboxStore: Send + Sync + 'static {
    /// Up to `limit` undelivered items for `peer`, in commit order.
    fn pending(&self, peer: &NodeId, limit: usize) -> Result<Vec<OutboxItem>, String>;
    /// The peer acknowledged these items.
    fn delivered(&self, peer: &NodeId, ids: &[i64]) -> Result<(), String>;
    /// A queued application reached the child; record its answer (or its refusal, which
    /// retrying would not change) under the ticket.
    fn application_answered(
        &self,
        id: i64,
        application: &ForwardedApplication,
        answer: Result<&ApplicationAnswer, &str>,
    ) -> Result<(), String>;
}

#[derive(Debug, Clone, Copy)]
pub struct DeliveryConfig {
    pub batch_limit: usize,
    pub backoff: Backoff,
    pub timeout: Duration,
}

/// Group consecutive items into origin batches, sealing local events with this node's key.
pub fn build_batches(client: &PeerClient, items: &[OutboxItem]) -> Result<Vec<OriginBatch>, String> {
    let mut batches = Vec::new();
    let mut run: Vec<Event> = Vec::new();
    let mut run_origin: Option<DivisionCode> = None;
    let flush = |run: &mut Vec<Event>, origin: &Option<DivisionCode>, out: &mut Vec<OriginBatch>| {
        if let (Some(origin), false) = (origin, run.is_empty()) {
            let batch = seal_batch(origin, client.node_id(), client.key(), run).map_err(|e| e.to_string())?;
            out.push(batch);
            run.clear();
        }
        Ok::<(), String>(())
    };
    for item in items {
        match item {
            OutboxItem::Local { event, .. } => {
                if run_origin.as_ref() != Some(&event.origin) {
                    flush(&mut run, &run_origin, &mut batches)?;
                    run_origin = Some(event.origin.clone());
                }
                run.push(event.clone());
            }
            OutboxItem::Forward { batch, .. } => {
                flush(&mut run, &run_origin, &mut batches)?;
                batches.push(batch.clone());
            }
            OutboxItem::Application { .. } => {}
        }
    }
    flush(&mut run, &run_origin, &mut batches)?;
    Ok(batches)
}

/// Most bytes (estimated) of event data one envelope carries. A receiver refuses a body above its
/// `http.max_body_bytes` (1 MiB by default) with 413, and the same rows would be refused on every
/// retry: the lane would be stuck for good. A backlog (say, after the parent was down) easily holds
/// 500 forwarded batches of several events each, so an envelope is cut by size as well as by
/// `batch_limit`. Half of the default limit leaves room for the envelope's own fields.
pub const MAX_ENVELOPE_BYTES: usize = 512 * 1024;

/// Counts the bytes a value serialises to, without keeping them.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// About how many bytes an item adds to an events envelope.
fn envelope_bytes(item: &OutboxItem) -> usize {
    match item {
        // The batch's event text travels as a JSON string inside the envelope, so its quotes are
        // escaped (about +15 %): count a quarter more, plus the batch's other fields.
        OutboxItem::Forward { batch, .. } => {
            batch.events.len() + batch.events.len() / 4 + batch.signature.len() + batch.key_id.len() + 128
        }
        OutboxItem::Local { event, .. } => {
            let mut n = ByteCount(0);
            let _ = serde_json::to_writer(&mut n, event);
            n.0 + n.0 / 4 + 1
        }
        OutboxItem::Application { .. } => 0,
    }
}

/// The events that go in the next envelope: the leading run of event items (an application goes
/// on its own), cut at [`MAX_ENVELOPE_BYTES`] — but always at least one item, so that progress is
/// made. A prefix, so commit order (and order per origin) holds.
pub fn next_envelope(items: Vec<OutboxItem>) -> Vec<OutboxItem> {
    let mut bytes = 0usize;
    let mut out = Vec::new();
    for item in items {
        if matches!(item, OutboxItem::Application { .. }) {
            break;
        }
        let b = envelope_bytes(&item);
        if !out.is_empty() && bytes + b > MAX_ENVELOPE_BYTES {
            break;
        }
        bytes += b;
        out.push(item);
    }
    out
}

/// Outcome of one delivery round, for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Idle,
    Sent(usize),
}

/// Deliver one round to `peer`: whatever is pending, up to the batch limit and
/// [`MAX_ENVELOPE_BYTES`].
pub async fn deliver_once(
    client: &PeerClient,
    peer: &Peer,
    store: &Arc<dyn OutboxStore>,
    config: &DeliveryConfig,
) -> Result<Round, String> {
    let items = {
        let store = Arc::clone(store);
        let id = peer.node_id.clone();
        let limit = config.batch_limit;
        tokio::task::spawn_blocking(move || store.pending(&id, limit)).await.map_err(|e| e.to_string())??
    };
    if items.is_empty() {
        return Ok(Round::Idle);
    }
    let request_id = ulid::Ulid::new().to_string();
    // Applications go one by one to their own endpoint; events go together in one envelope.
    if let OutboxItem::Application { id, application } = &items[0] {
        let answer = match client.send_application(peer, &request_id, application.clone(), config.timeout).await {
            Ok(answer) => Ok(answer),
            Err(e) if e.is_transient() => return Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let store = Arc::clone(store);
        let (id, app, peer_id) = (*id, application.clone(), peer.node_id.clone());
        tokio::task::spawn_blocking(move || {
            store.application_answered(id, &app, answer.as_ref().map_err(String::as_str))?;
            store.delivered(&peer_id, &[id])
        })
        .await
        .map_err(|e| e.to_string())??;
        return Ok(Round::Sent(1));
    }
    let events = next_envelope(items);
    let ids: Vec<i64> = events.iter().map(OutboxItem::id).collect();
    let batches = build_batches(client, &events)?;
    let receipt = client.send_events(peer, &request_id, batches, config.timeout).await.map_err(|e| e.to_string())?;
    tracing::debug!(peer = %peer.node_id, request_id, accepted = receipt.accepted, duplicates = receipt.duplicates, "delivered");
    let store = Arc::clone(store);
    let peer_id = peer.node_id.clone();
    let n = ids.len();
    tokio::task::spawn_blocking(move || store.delivered(&peer_id, &ids)).await.map_err(|e| e.to_string())??;
    Ok(Round::Sent(n))
}

/// The long-running worker for one peer. Stops when `shutdown` turns true.
pub async fn run_peer_worker(
    client: PeerClient,
    peer: Peer,
    store: Arc<dyn OutboxStore>,
    wake: Arc<Notify>,
    permits: Arc<Semaphore>,
    config: DeliveryConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let round = {
            let Ok(_permit) = permits.acquire().await else {
                return;
            };
            deliver_once(&client, &peer, &store, &config).await
        };
        match round {
            Ok(Round::Sent(_)) => failures = 0,
            Ok(Round::Idle) => {
                failures = 0;
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = config.backoff.delay(failures);
                tracing::warn!(peer = %peer.node_id, failures, delay_ms = delay.as_millis() as u64, error = %e, "delivery failed; will retry");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use schemas::envelope::{Enrolment, EventBody};

    fn local(id: i64, pad: usize) -> OutboxItem {
        let event = Event {
            origin: DivisionCode::parse("320102").expect("division"),
            seq: id as u64,
            occurred_at: Utc::now(),
            body: EventBody::Enrolment(Enrolment {
                node_id: NodeId::parse("nj-xuanwu").expect("node"),
                division: DivisionCode::parse("320102").expect("division"),
                key_id: "0123456789abcdef".into(),
                public_key_pem: "x".repeat(pad),
            }),
        };
        OutboxItem::Local { id, event }
    }

    fn forward(id: i64, event_bytes: usize) -> OutboxItem {
        OutboxItem::Forward {
            id,
            batch: OriginBatch {
                origin: DivisionCode::parse("320102").expect("division"),
                origin_node: NodeId::parse("nj-xuanwu").expect("node"),
                key_id: "0123456789abcdef".into(),
                events: "e".repeat(event_bytes),
                signature: "s".repeat(96),
            },
        }
    }

    fn ids(items: &[OutboxItem]) -> Vec<i64> {
        items.iter().map(OutboxItem::id).collect()
    }

    #[test]
    fn an_envelope_is_cut_by_size_in_commit_order() {
        // 500 forwarded batches of ~3 KB: about 1.9 MB in all, more than a receiver takes.
        let items: Vec<OutboxItem> = (1..=500).map(|i| forward(i, 3000)).collect();
        let first = next_envelope(items.clone());
        assert!(first.len() < 500 && !first.is_empty());
        assert_eq!(ids(&first), (1..=first.len() as i64).collect::<Vec<_>>());
        let bytes: usize = first.iter().map(envelope_bytes).sum();
        assert!(bytes <= MAX_ENVELOPE_BYTES, "{bytes}");
        // Local events are measured as they serialise.
        let locals: Vec<OutboxItem> = (1..=500).map(|i| local(i, 2000)).collect();
        let cut = next_envelope(locals);
        assert!(cut.len() < 500 && !cut.is_empty());
    }

    #[test]
    fn an_oversized_item_still_goes_alone_and_applications_stop_the_run() {
        let big = next_envelope(vec![forward(1, 2 * MAX_ENVELOPE_BYTES), forward(2, 10)]);
        assert_eq!(ids(&big), vec![1]);
        let small: Vec<OutboxItem> = (1..=500).map(|i| local(i, 10)).collect();
        assert_eq!(next_envelope(small).len(), 500);
        let app = OutboxItem::Application {
            id: 3,
            application: serde_json::from_value(serde_json::json!({
                "entry_node": "nation",
                "application": {"unit_code": "320102003001GB00012F00010203", "kind": "first", "applicants": []}
            }))
            .expect("application"),
        };
        assert_eq!(ids(&next_envelope(vec![local(1, 10), forward(2, 10), app, local(4, 10)])), vec![1, 2]);
    }
}
