//! Node-to-node envelopes (wire format version 1).
//!
//! An envelope is POSTed as JSON to `/federation/v1/envelopes` (upward events) or
//! `/federation/v1/applications` (a forwarded application). The HTTP body bytes are signed by the
//! sender with SM2/SM3 (user id `1234567812345678`); the signature travels in headers:
//!
//! | header | value |
//! |---|---|
//! | `x-bdc-node` | the sender's node id |
//! | `x-bdc-key-id` | the key id of the signing key (16 hex chars of SM3 over its SPKI DER) |
//! | `x-bdc-signature` | base64 of the DER signature over the exact body bytes |
//!
//! Answers (receipts) are signed the same way by the receiver.
//!
//! Events are grouped in [`OriginBatch`]es signed by the office where they happened (the origin).
//! A province forwards a county's batches unchanged inside its own envelope, so the nation checks
//! both signatures.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{ApplicationAnswer, SubmitApplication};
use crate::ids::{BusinessNo, CertificateId, DivisionCode, NodeId, UnitCode};
use crate::registration::{RegistrationKind, Stage};

/// Version of the envelope format this crate describes.
pub const WIRE_VERSION: u32 = 1;

pub const HEADER_NODE: &str = "x-bdc-node";
pub const HEADER_KEY_ID: &str = "x-bdc-key-id";
pub const HEADER_SIGNATURE: &str = "x-bdc-signature";
pub const HEADER_REQUEST_ID: &str = "x-request-id";

/// A signed message from one node to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Format version, `1`.
    pub v: u32,
    /// ULID, unique per envelope; a receiver refuses an id it has seen.
    pub id: String,
    pub from: NodeId,
    pub to: NodeId,
    /// When the sender signed it; the receiver allows a bounded clock skew.
    pub sent_at: DateTime<Utc>,
    /// Request id carried through logs on both sides.
    pub request_id: String,
    #[serde(flatten)]
    pub body: EnvelopeBody,
}

/// What the envelope carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "body", rename_all = "snake_case")]
pub enum EnvelopeBody {
    /// Upward: batches of events, each batch signed by its origin.
    Events { batches: Vec<OriginBatch> },
    /// Downward (interface navigation): an application for an office below the receiver.
    Application(Box<ForwardedApplication>),
}

/// Events of one origin, contiguous or not, signed by the origin node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginBatch {
    /// The office (division code) where the events happened.
    pub origin: DivisionCode,
    /// The node hosting that office, which signed the batch.
    pub origin_node: NodeId,
    /// Key id of the origin node's signing key.
    pub key_id: String,
    /// The exact JSON text of a `Vec<Event>`; the signature covers these UTF-8 bytes.
    pub events: String,
    /// Base64 DER SM2 signature over `events`.
    pub signature: String,
}

/// One upward event. `(origin, seq)` identifies it; seq is gap-free and increasing per origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub origin: DivisionCode,
    pub seq: u64,
    pub occurred_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// Event payloads. Progress events carry no personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventBody {
    Progress(ProgressEvent),
    Certificate(CertificateRecord),
    CertificateStatus(CertificateStatusEvent),
    Enrolment(Enrolment),
}

/// A stage change of one application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressEvent {
    pub business_no: BusinessNo,
    pub unit_code: UnitCode,
    pub kind: RegistrationKind,
    pub stage: Stage,
    /// Statutory due date (working days from 受理), once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// Reasons or the list of missing materials (no personal data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Only on `submitted`: a slow salted hash (argon2id, PHC string) of the applicants'
    /// "name|id number" pairs, so that upper nodes can answer the public progress query
    /// (guideline 二.1.4) without ever holding the personal data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applicant_proofs: Vec<String>,
}

/// An issued e-certificate as it rolls up: the exact signed bytes and the issuer's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecord {
    pub id: CertificateId,
    /// 不动产权证书号 / 不动产登记证明号, canonical form.
    pub number: String,
    pub business_no: BusinessNo,
    pub issuer: DivisionCode,
    pub issuer_node: NodeId,
    pub key_id: String,
    /// The signed content: JSON text of a [`crate::api::CertificateContent`].
    pub content: String,
    /// Base64 DER SM2 signature over the UTF-8 bytes of `content`.
    pub signature: String,
    pub issued_at: DateTime<Utc>,
}

/// A certificate's status changed (void on transfer, cancellation or correction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateStatusEvent {
    pub id: CertificateId,
    pub status: crate::api::CertificateStatus,
    pub reason: String,
}

/// A node introduces a child's signing key to its own parent, so that grandparents can verify
/// the child's origin signatures. The origin of this event is the introducing node's office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    pub node_id: NodeId,
    pub division: DivisionCode,
    pub key_id: String,
    pub public_key_pem: String,
}

/// Interface navigation: the upper node hands an application to the office below.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardedApplication {
    /// Set when the upper node queued the application and already gave the applicant a ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Node where the applicant submitted.
    pub entry_node: NodeId,
    pub application: SubmitApplication,
}

/// The receiver's signed answer to an events envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryReceipt {
    pub v: u32,
    pub envelope_id: String,
    pub receiver: NodeId,
    pub received_at: DateTime<Utc>,
    /// Events stored for the first time.
    pub accepted: u32,
    /// Events already held (de-duplicated by origin and sequence).
    pub duplicates: u32,
}

/// The receiver's signed answer to a forwarded application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationReceipt {
    pub v: u32,
    pub envelope_id: String,
    pub receiver: NodeId,
    pub answer: ApplicationAnswer,
}
