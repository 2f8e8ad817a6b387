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

/// Outcome of one delivery round, for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    Idle,
    Sent(usize),
}

/// Deliver one round to `peer`: whatever is pending, up to the batch limit.
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
    let events: Vec<OutboxItem> =
        items.into_iter().take_while(|i| !matches!(i, OutboxItem::Application { .. })).collect();
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
