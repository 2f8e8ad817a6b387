//! The parent's side of the transparency logs: every `federation.log_check_secs` the node fetches
//! each child's signed tree head, checks it is the child's, and proves it extends the head
//! accepted before (`domain::log_watch`). A child whose log was rewritten is marked
//! `inconsistent`, an error is logged and a security record is audited; the last good head is
//! kept, so later heads are still judged against what the child showed before.

use std::time::Duration;

use actix_web::web;
use federation::merkle::SignedTreeHead;
use federation::peers::Peer;
use schemas::api::{ChildLogView, ConsistencyProofView, LogCheckStatus, SignedTreeHeadView};
use tokio::sync::watch;

use crate::domain::log_watch::{Next, check_proof, check_signed, next_step, parse_proof};
use crate::state::{AppState, sth_view};
use crate::store;
use crate::store::audit;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: LogCheckStatus,
    pub accepted: Option<SignedTreeHead>,
    pub problem: Option<String>,
}

fn from_view(v: SignedTreeHeadView) -> SignedTreeHead {
    SignedTreeHead {
        head: federation::merkle::TreeHead { log_id: v.log_id, size: v.size, root: v.root, timestamp: v.timestamp },
        key_id: v.key_id,
        signature: v.signature,
    }
}

/// Fetch and judge one child's head against the accepted one.
async fn judge(state: &AppState, peer: &Peer, accepted: Option<SignedTreeHead>) -> Verdict {
    let timeout = Duration::from_millis(state.settings.federation.delivery_timeout_ms);
    let unreachable = |why: String| Verdict { status: LogCheckStatus::Unreachable, accepted: None, problem: Some(why) };
    let inconsistent =
        |why: String| Verdict { status: LogCheckStatus::Inconsistent, accepted: None, problem: Some(why) };
    let fresh = match state.client.get_public::<SignedTreeHeadView>(peer, "/api/v1/transparency/head", timeout).await {
        Ok(v) => from_view(v),
        Err(e) => return unreachable(format!("无法取得下级节点的签名树头：{e}")),
    };
    // A head that is not the child's own, validly signed, proves nothing either way.
    if let Err(why) = check_signed(&fresh, peer.node_id.as_str(), &peer.keys) {
        return unreachable(why);
    }
    let accepted_head = accepted.as_ref().map(|a| &a.head);
    match next_step(accepted_head, &fresh.head) {
        Next::AcceptFirst => Verdict { status: LogCheckStatus::Consistent, accepted: Some(fresh), problem: None },
        Next::Unchanged => Verdict { status: LogCheckStatus::Consistent, accepted: None, problem: None },
        Next::Inconsistent(why) => inconsistent(why),
        Next::Prove { from, to } => {
            let path = format!("/api/v1/transparency/consistency?from={from}&to={to}");
            let proof = match state.client.get_public::<ConsistencyProofView>(peer, &path, timeout).await {
                Ok(p) if p.from == from && p.to == to => p,
                Ok(_) => return unreachable("一致性证明与所请求的日志区间不符".into()),
                Err(e) => return unreachable(format!("无法取得一致性证明：{e}")),
            };
            let hashes = match parse_proof(&proof.proof) {
                Ok(h) => h,
                Err(why) => return inconsistent(why),
            };
            let Some(old) = accepted_head else { return unreachable("内部错误：缺少已接受的树头".into()) };
            match check_proof(old, &fresh.head, &hashes) {
                Ok(()) => Verdict { status: LogCheckStatus::Consistent, accepted: Some(fresh), problem: None },
                Err(why) => inconsistent(why),
            }
        }
    }
}

/// Check every child once and store the verdicts; returns them by child.
pub async fn check_children(state: &web::Data<AppState>) -> Vec<(Peer, Verdict)> {
    let mut out = vec![];
    for peer in state.directory.children().cloned().collect::<Vec<_>>() {
        let s = state.clone();
        let id = peer.node_id.to_string();
        let previous = web::block(move || {
            let mut conn = s.db.conn().map_err(|e| e.to_string())?;
            store::child_logs::get(&mut conn, &id).map_err(|e| e.to_string())
        })
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
        let accepted = previous.as_ref().and_then(store::child_logs::ChildLogRow::accepted);
        let was = previous.as_ref().map(store::child_logs::ChildLogRow::status);
        let mut verdict = judge(state, &peer, accepted).await;
        // An inconsistency stays on record until a head passes again: a child that then stops
        // answering must not turn the alarm into a mere "unreachable".
        if verdict.status == LogCheckStatus::Unreachable && was == Some(LogCheckStatus::Inconsistent) {
            verdict.status = LogCheckStatus::Inconsistent;
            verdict.problem = previous.as_ref().and_then(|r| r.problem.clone()).or(verdict.problem);
        }
        if verdict.status == LogCheckStatus::Inconsistent {
            tracing::error!(child = %peer.node_id, problem = ?verdict.problem, "a child's transparency log is not consistent with what it showed before");
        } else if verdict.status == LogCheckStatus::Unreachable {
            tracing::warn!(child = %peer.node_id, problem = ?verdict.problem, "could not check a child's transparency log");
        }
        let (s, v, p) = (state.clone(), verdict.clone(), peer.clone());
        let stored = web::block(move || {
            s.db.write(|conn| {
                store::child_logs::record(
                    conn,
                    p.node_id.as_str(),
                    p.division.as_str(),
                    v.status,
                    v.accepted.as_ref(),
                    v.problem.as_deref(),
                    store::now(),
                )?;
                // A rewritten history is a security event, audited once per discovery.
                if v.status == LogCheckStatus::Inconsistent && was != Some(LogCheckStatus::Inconsistent) {
                    audit::append(
                        conn,
                        &audit::Entry::new(
                            s.settings.division.as_str(),
                            &format!("node:{}", p.node_id),
                            audit::Kind::Security,
                            "transparency_inconsistent",
                            &ulid::Ulid::new().to_string(),
                        )
                        .detail(v.problem.clone().unwrap_or_default()),
                    )?;
                }
                Ok::<_, crate::db::DbError>(())
            })
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            tracing::error!(child = %peer.node_id, "could not store a transparency check");
        }
        out.push((peer, verdict));
    }
    out
}

/// The stored verdicts, for `GET /api/v1/transparency/children`.
pub fn children_view(state: &AppState) -> Result<Vec<ChildLogView>, String> {
    let mut conn = state.db.conn().map_err(|e| e.to_string())?;
    let rows = store::child_logs::all(&mut conn).map_err(|e| e.to_string())?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(ChildLogView {
                node_id: schemas::ids::NodeId::parse(&r.peer).ok()?,
                division: schemas::ids::DivisionCode::parse(&r.division).ok()?,
                status: r.status(),
                accepted: r.accepted().as_ref().map(sth_view),
                problem: r.problem.clone(),
                checked_at: r.checked_at.and_utc(),
            })
        })
        .collect())
}

/// The worker: check the children now and then, until shutdown.
pub async fn run(state: web::Data<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.settings.federation.log_check_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        check_children(&state).await;
    }
}
