//! Node-to-node endpoints. Verify before receive: nothing is stored until the sender, its
//! signature, the envelope and every origin signature have been checked.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use federation::inbox::{check_envelope, open_batches};
use federation::peers::Relation;
use federation::wire::{BodySignature, sign_body};
use schemas::envelope::{
    ApplicationReceipt, DeliveryReceipt, EnvelopeBody, HEADER_KEY_ID, HEADER_NODE, HEADER_SIGNATURE, WIRE_VERSION,
};
use schemas::error::ErrorCode;

use super::{ApiError, blocking};
use crate::navigation::place_application;
use crate::state::AppState;
use crate::store;
use crate::store::audit;
use crate::store::inbox::InboxError;

/// Under mutual TLS, the connection's client certificate must name the node that signs.
fn check_transport_identity(req: &HttpRequest, state: &AppState, sig: &BodySignature) -> Result<(), ApiError> {
    if !state.mutual_tls {
        return Ok(());
    }
    let cert = req.conn_data::<crate::tls::PeerCertificate>().ok_or_else(|| {
        ApiError::with_message(ErrorCode::ClientCertificate, "节点间通信须出示联盟 CA 签发的客户端证书（双向 TLS）")
    })?;
    if !crate::tls::certificate_names(&cert.0, &sig.node) {
        return Err(ApiError::with_message(ErrorCode::ClientCertificate, "客户端证书与发送节点标识不一致"));
    }
    Ok(())
}

fn signature_of(req: &HttpRequest) -> Result<BodySignature, ApiError> {
    let get = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match (get(HEADER_NODE), get(HEADER_KEY_ID), get(HEADER_SIGNATURE)) {
        (Some(node), Some(key_id), Some(signature)) => Ok(BodySignature { node, key_id, signature }),
        _ => Err(ApiError::with_message(
            ErrorCode::BadSignature,
            "报文未签名（缺少 x-bdc-node / x-bdc-key-id / x-bdc-signature）",
        )),
    }
}

/// Answer with a body signed by this node (the SM2 signature is computed off the async threads).
async fn signed<T: serde::Serialize>(state: &web::Data<AppState>, value: &T) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(e.to_string()))?;
    let s = state.clone();
    let (body, sig) = blocking(move || {
        let sig = sign_body(&s.me, &s.key, &body);
        Ok((body, sig))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((HEADER_NODE, sig.node))
        .insert_header((HEADER_KEY_ID, sig.key_id))
        .insert_header((HEADER_SIGNATURE, sig.signature))
        .body(body))
}

fn claimed_sender(req: &HttpRequest) -> String {
    let node = req.headers().get(HEADER_NODE).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    format!("node:{}", node.chars().take(64).collect::<String>())
}

/// Upward events from a child. Every refusal is a security event in the audit log.
pub async fn post_envelope(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let result = receive_events(&req, &state, body).await;
    super::audit_refusal(&state, &claimed_sender(&req), "receive_events", None, &super::request_id(&req), result).await
}

async fn receive_events(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let req = req.clone();
    let state = state.clone();
    let sig = signature_of(&req)?;
    check_transport_identity(&req, &state, &sig)?;
    let state2 = state.clone();
    let receipt = blocking(move || {
        let skew = chrono::Duration::seconds(state2.settings.federation.max_skew_secs);
        let checked = check_envelope(&state2.directory, &state2.me, &sig, &body, Utc::now(), skew)?;
        let sender = checked.sender;
        let envelope = &checked.envelope;
        let span = tracing::info_span!("envelope", envelope_id = %envelope.id, from = %envelope.from, request_id = %envelope.request_id);
        let _enter = span.enter();
        let (opened, learned) = open_batches(sender, envelope, state2.as_ref())?;
        let parent = state2.parent_id().cloned();
        let division = state2.settings.division.to_string();
        let stored = state2.db.write(|conn| -> Result<_, InboxError> {
            store::inbox::remember_envelope(conn, &envelope.id, sender.node_id.as_str())?;
            let stored = store::inbox::store_batches(conn, &state2.sealer, &sender.node_id, parent.as_ref(), &opened, &learned)?;
            let entry = audit::Entry::new(
                &division,
                &format!("node:{}", sender.node_id),
                audit::Kind::Node,
                "receive_events",
                &envelope.request_id,
            )
            .detail(format!("envelope={} accepted={} duplicates={}", envelope.id, stored.accepted, stored.duplicates));
            audit::append(conn, &entry)?;
            Ok(stored)
        });
        let stored = match stored {
            Ok(s) => s,
            Err(InboxError::Replayed) => return Err(ApiError::new(ErrorCode::ReplayedEnvelope)),
            Err(e @ InboxError::SequenceConflict { .. }) => {
                tracing::error!(error = %e, "sequence conflict: an origin reused a sequence number");
                return Err(ApiError::new(ErrorCode::SequenceConflict).caused_by(e.to_string()));
            }
            Err(InboxError::Db(e)) => return Err(ApiError::internal(e.to_string())),
        };
        // Learned keys are read back from the database (first binding wins), not cached here.
        tracing::debug!(accepted = stored.accepted, duplicates = stored.duplicates, "envelope stored");
        Ok(DeliveryReceipt {
            v: WIRE_VERSION,
            envelope_id: envelope.id.clone(),
            receiver: state2.me.clone(),
            received_at: Utc::now(),
            accepted: stored.accepted,
            duplicates: stored.duplicates,
        })
    })
    .await?;
    if receipt.accepted > 0 {
        state.wake_parent();
    }
    signed(&state, &receipt).await
}

/// An application forwarded by the parent (interface navigation).
pub async fn post_application(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let result = receive_application(&req, &state, body).await;
    super::audit_refusal(&state, &claimed_sender(&req), "receive_application", None, &super::request_id(&req), result)
        .await
}

async fn receive_application(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let sig = signature_of(req)?;
    check_transport_identity(req, state, &sig)?;
    let skew = chrono::Duration::seconds(state.settings.federation.max_skew_secs);
    let checked = check_envelope(&state.directory, &state.me, &sig, &body, Utc::now(), skew)?;
    let relation = checked.sender.relation;
    let envelope = checked.envelope;
    let EnvelopeBody::Application(forwarded) = envelope.body else {
        return Err(ApiError::with_message(ErrorCode::MalformedEnvelope, "应为申请报文"));
    };
    // Applications travel down to the office that owns the property, except national-level ones
    // (国家层面登记), which travel up to the national office: a child may pass on only those, and a
    // parent never sends one down (that would loop).
    let claim = forwarded.application.details.as_ref().and_then(|d| d.jurisdiction);
    match (relation, claim) {
        (Relation::Parent, None) | (Relation::Child, Some(_)) => {}
        (Relation::Parent, Some(c)) => {
            return Err(ApiError::with_message(
                ErrorCode::NotThisOffice,
                crate::domain::national::competent_national_office(c),
            ));
        }
        (Relation::Child, None) => {
            return Err(ApiError::with_message(
                ErrorCode::UnknownSender,
                "只接受上级节点转来的申请（下级节点只可转来国家层面登记申请）",
            ));
        }
    }
    let (answer, _) =
        place_application(state, forwarded.application, forwarded.entry_node, forwarded.ticket, &envelope.request_id)
            .await?;
    signed(state, &ApplicationReceipt { v: WIRE_VERSION, envelope_id: envelope.id, receiver: state.me.clone(), answer })
        .await
}
