//! Public API types (`/api/v1/…`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{BusinessNo, CertificateId, DivisionCode, IdType, NodeId, UnitCode};
use crate::registration::{Action, PartyRole, RegistrationKind, Stage};

/// Which level a node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    National,
    Province,
    County,
}

/// How an upper node links a child (guideline 三.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NavigationMode {
    /// 接口导航: the upper node forwards the application by API.
    Interface,
    /// 链接导航: the upper node redirects the applicant with a signed token.
    Link,
}

/// `GET /api/v1/node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeInfo {
    pub node_id: NodeId,
    pub mode: Mode,
    pub division: DivisionCode,
    /// Offices (tenants) hosted by this node.
    pub offices: Vec<DivisionCode>,
    pub parent: Option<PeerInfo>,
    pub children: Vec<PeerInfo>,
    pub key_id: String,
    /// SM2 public key, SPKI PEM.
    pub public_key_pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerInfo {
    pub node_id: NodeId,
    pub division: DivisionCode,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub navigation: Option<NavigationMode>,
}

/// One party on an application. Personal fields are encrypted at rest and masked in answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantInput {
    pub name: String,
    /// 证件种类; each is checked by its own rule.
    pub id_type: IdType,
    pub id_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub role: PartyRole,
    /// Share of ownership for 按份共有, as a decimal string (e.g. "0.5").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
}

/// `POST /api/v1/applications`: an online application (一窗办事).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitApplication {
    pub unit_code: UnitCode,
    pub kind: RegistrationKind,
    pub applicants: Vec<ApplicantInput>,
    /// The office the applicant chose; defaults to the unit code's division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<DivisionCode>,
    /// 坐落 as the applicant states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What the register should record (area, use, mortgage amount, …); see each kind's needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<crate::register::RegistrationDetails>,
}

/// The immediate answer to an application, wherever it was submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ApplicationAnswer {
    /// The competent office took it: its business number and the state the application is in.
    Received(OfficeReceipt),
    /// The office could not be reached; the upper node holds the application durably and will
    /// deliver it. Ask `GET /api/v1/tickets/{ticket}` for the business number later.
    Queued(QueuedReceipt),
    /// Link navigation: continue at the office's portal.
    Navigate(NavigateAnswer),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OfficeReceipt {
    pub business_no: BusinessNo,
    pub state: Stage,
    pub office: DivisionCode,
    pub office_node: NodeId,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuedReceipt {
    pub ticket: String,
    pub office: DivisionCode,
    /// The node that holds the application.
    pub queued_at_node: NodeId,
    pub queued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NavigateAnswer {
    /// The office portal URL, with a short-lived single-use token signed by the upper node.
    pub navigate_to: String,
    pub office: DivisionCode,
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/v1/tickets/{ticket}` at the node that queued an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    pub ticket: String,
    pub office: DivisionCode,
    /// `queued` until delivered; then the office's answer.
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<ApplicationAnswer>,
    /// Set when the office refused the delivered application (its reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `POST /api/v1/applications/{business_no}/actions` (staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: Action,
    /// Reasons (不予受理, 不予登记) in words.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// For 补正 / 不予受理: everything missing, listed at once (一次性告知).
    #[serde(default)]
    pub missing: Vec<String>,
}

/// `POST /api/v1/staff/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The 6-digit code of the account's authenticator app, for an account with a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<String>,
}

/// `POST /api/v1/staff/totp`: a new second-factor secret to put into an authenticator app. It is
/// active only after `POST /api/v1/staff/totp/confirm` with a code from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 (RFC 4648, no padding), for typing in.
    pub secret: String,
    /// `otpauth://totp/…` for scanning.
    pub otpauth_uri: String,
}

/// A code from the authenticator app (confirming or turning off the second factor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub office: DivisionCode,
}

/// A party as shown in answers: personal fields masked, unless a staff member asked for an
/// audited full view with a stated purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartyView {
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub role: PartyRole,
}

/// One application at its office (staff view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    pub business_no: BusinessNo,
    pub office: DivisionCode,
    pub unit_code: UnitCode,
    pub kind: RegistrationKind,
    pub state: Stage,
    pub parties: Vec<PartyView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<CertificateId>,
    /// What the application asks the register to record.
    #[serde(default)]
    pub details: crate::register::RegistrationDetails,
    /// Every rule run on the application so far, passed or not (规则审查记录).
    #[serde(default)]
    pub rule_trace: Vec<crate::register::RuleOutcome>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an applicant proves themselves with, beside the business number in the path: one
/// applicant's name and ID number, as they were given in the application. It travels only in a
/// request body (`POST /api/v1/progress/{business_no}`, `…/notice`, the materials list and file,
/// and as form fields of an upload): a query string naming an applicant (`name` or `id_number`) is
/// refused with 400 `personal_data_in_url` and nothing is looked up.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicantProof {
    /// 申请人姓名
    pub name: String,
    /// 申请人证件号码
    pub id_number: String,
}

/// Never prints the name or the number (it may reach a log).
impl std::fmt::Debug for ApplicantProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplicantProof { .. }")
    }
}

/// Progress of a business number, at any level (`POST /api/v1/progress/{business_no}` for an
/// applicant, `GET` for staff of the office).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    pub business_no: BusinessNo,
    pub office: DivisionCode,
    pub kind: RegistrationKind,
    pub state: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub steps: Vec<ProgressStep>,
    pub certificate_ids: Vec<CertificateId>,
    /// The same certificates with their 查验码, which unlocks the content and the documents
    /// (PDF, OFD, package) for whoever the applicant gives it to.
    #[serde(default)]
    pub certificates: Vec<CertificateLink>,
    /// The node answering.
    pub answered_by: NodeId,
}

/// A certificate and its 查验码 (access code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CertificateLink {
    pub id: CertificateId,
    pub access_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProgressStep {
    pub seq: u64,
    pub stage: Stage,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The signed content of an e-certificate (照面信息 and 电子证照 metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateContent {
    /// 证照名称: 不动产权证书 or 不动产登记证明
    pub title: String,
    /// 证照类型代码 (GB/T 36904, 21 chars)
    pub type_code: String,
    /// 电子证照标识
    pub id: CertificateId,
    /// 证书号
    pub number: String,
    pub business_no: BusinessNo,
    /// 权利人 (as printed on the certificate)
    pub holders: Vec<String>,
    /// 共有情况
    pub co_ownership: String,
    /// 坐落
    pub location: String,
    /// 不动产单元号
    pub unit_code: UnitCode,
    /// 登记类型
    pub registration_kind: String,
    /// 颁发机构
    pub issuer_name: String,
    pub issuer_division: DivisionCode,
    /// 颁发日期
    pub issued_on: NaiveDate,
    /// 持证主体代码类型 of the first 权利人 (身份证, 统一社会信用代码, …). The 持证主体代码 itself (an ID
    /// number) is personal data and is not in the signed content; the register holds it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub holder_id_type: String,
    /// 权利类型 (QLLX name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub right_type: String,
    /// 权利性质 (QLXZ name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nature: Option<String>,
    /// 用途
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// 面积, with its unit (89.50平方米).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// 使用期限 (2006年01月01日起2076年12月31日止).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// 权利其他状况, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<String>,
    /// 附记
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// 证明权利或事项 (不动产登记证明 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matter: Option<String>,
    /// 义务人 (不动产登记证明 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obligors: Vec<String>,
    /// 有效期限 end, where the entry lapses by law (异议, 预告); absent: 长期.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    Valid,
    Superseded,
    Void,
}

/// `GET /api/v1/certificates/{id}/verify`: the answer a bank or a court reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CertificateVerification {
    pub id: CertificateId,
    /// True only when the signature checks against the issuer's known key and the status is valid.
    pub valid: bool,
    pub signature_valid: bool,
    pub status: CertificateStatus,
    pub reason: String,
    pub number: String,
    pub business_no: BusinessNo,
    pub issuer: DivisionCode,
    pub key_id: String,
    pub issued_at: DateTime<Utc>,
    /// For a superseded or void certificate: when the answering node recorded the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed_at: Option<DateTime<Utc>>,
    pub answered_by: NodeId,
    /// Proof that the answering node's transparency log holds this certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency: Option<TransparencyProof>,
}

/// A signed tree head of a node's transparency log (SM3 Merkle tree, RFC 9162 style). The
/// signature (SM2, base64 DER) covers the UTF-8 of `bdc-sth-v1|{log_id}|{size}|{root}|{timestamp}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedTreeHeadView {
    pub log_id: String,
    pub size: u64,
    /// Root hash, 64 lowercase hex digits.
    pub root: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    pub key_id: String,
    pub signature: String,
}

/// `GET /api/v1/transparency/consistency?from=&to=`: proof that the node's log at size `from` is a
/// prefix of its log at size `to` (RFC 9162 §2.1.4, SM3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProofView {
    pub log_id: String,
    pub from: u64,
    pub to: u64,
    /// Hashes, hex, in the RFC's order.
    pub proof: Vec<String>,
}

/// What a parent last found when it checked a child's transparency log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogCheckStatus {
    /// Every head seen so far extends the one before it.
    Consistent,
    /// The child showed a head that does not extend the last one this node accepted: its
    /// history was rewritten (or its key signed two different histories). Kept until an operator
    /// looks: later heads are still checked against the last good one.
    Inconsistent,
    /// The last check could not reach the child or got an answer that was not a valid signed
    /// head; the last good head stands.
    Unreachable,
}

/// `GET /api/v1/transparency/children`: each child's log as this node last checked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChildLogView {
    pub node_id: NodeId,
    pub division: DivisionCode,
    pub status: LogCheckStatus,
    /// The last head accepted as consistent (none before the first successful check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<SignedTreeHeadView>,
    /// Why the last check did not pass, in Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// Inclusion of a certificate's leaf in the answering node's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransparencyProof {
    /// The leaf's hash (RFC 9162 `SM3(0x00 ‖ entry)`, hex). The entry itself,
    /// `bdc-tlog-v1|certificate|{id}|{SM3 hex of the signed content}|{signature}`, is not
    /// published: it holds the signature, from which the certificate's 查验码 derives. Whoever holds
    /// the certificate (the package) recomputes the entry and checks that it hashes to this.
    pub leaf_hash: String,
    pub leaf_index: u64,
    /// RFC 9162 inclusion path, hex, from the leaf upward.
    pub audit_path: Vec<String>,
    pub tree_head: SignedTreeHeadView,
}

/// `GET /api/v1/certificates/{id}/package`: everything needed to verify a certificate offline
/// (`bdc-node verify-cert FILE`, or OpenSSL with the three parts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificatePackage {
    /// Format of this package, `1`.
    pub v: u32,
    pub id: CertificateId,
    /// The signed content (JSON text of [`CertificateContent`]); the signature covers its UTF-8 bytes.
    pub content: String,
    /// Base64 DER SM2 signature (SM3, user id 1234567812345678).
    pub signature: String,
    /// The issuing office's SM2 public key, SPKI PEM.
    pub issuer_public_key_pem: String,
    pub key_id: String,
    /// Status when the package was fetched.
    pub status: CertificateStatus,
}

/// Which written notice (书面告知) an office gives at a stage (条例 Arts. 17, 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// 受理通知书
    Acceptance,
    /// 不予受理告知书 (with the complete list of what is missing, 一次性告知)
    Rejection,
    /// 补正材料告知书 (一次性告知)
    Correction,
    /// 不予登记告知书
    Refusal,
}

/// `POST /api/v1/progress/{business_no}/notice` (an applicant, proof in the body) or `GET` (the
/// office's staff): the notice for the application's current stage, at any level (built from the
/// progress that rolled up).
/// The printable page is the portal's `POST /notice` (a form on the progress page: the proof
/// travels in the body, never in a URL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notice {
    pub kind: NoticeKind,
    /// e.g. 不动产登记受理通知书
    pub title: String,
    pub business_no: BusinessNo,
    pub office: DivisionCode,
    /// 登记机构 as named on the notice.
    pub office_name: String,
    pub registration_kind: RegistrationKind,
    /// When the decision was made.
    pub decided_at: DateTime<Utc>,
    /// The notice's text, paragraph by paragraph.
    pub paragraphs: Vec<String>,
    /// Reasons given (不予受理, 不予登记).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Everything to supply, listed at once (一次性告知).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// 办结时限 for an accepted application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// The legal basis cited.
    pub legal_basis: String,
    pub answered_by: NodeId,
}

/// `GET /api/v1/applications?due=overdue|soon`: an office's open applications past or near their
/// statutory time limit (条例 Art. 20), earliest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DueItem {
    pub business_no: BusinessNo,
    pub kind: RegistrationKind,
    pub state: Stage,
    pub due_date: NaiveDate,
    /// Working days from today to the due date; negative when overdue.
    pub working_days_left: i64,
}

/// `POST /api/v1/applicants/sms-code`: send a verification code to a phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsCodeRequest {
    pub phone: String,
    /// `sign_up` or `reset_password`.
    pub purpose: String,
}

/// The code was handed to the SMS gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SmsCodeSent {
    /// The phone, masked (138****1234).
    pub phone: String,
    pub expires_in_secs: i64,
    /// Least wait before another code may be asked for.
    pub resend_after_secs: i64,
}

/// `POST /api/v1/applicants`: open an applicant account (申请人注册).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub phone: String,
    /// The SMS code sent for `sign_up`.
    pub code: String,
    pub password: String,
    /// `person` (identified by 公民身份号码) or `enterprise` (by 统一社会信用代码).
    pub kind: String,
    /// The person's name or the enterprise's registered name.
    pub name: String,
    /// 公民身份号码 (GB 11643) or 统一社会信用代码 (GB 32100).
    pub id_number: String,
}

/// `POST /api/v1/applicants/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantLogin {
    pub phone: String,
    pub password: String,
}

/// An applicant session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicantSession {
    pub token: String,
    pub expires_in_secs: i64,
}

/// `GET /api/v1/applicants/me`: the account, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicantView {
    pub id: i64,
    /// `person` or `enterprise`.
    pub kind: String,
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    pub phone: String,
    /// 实名状态: `declared` (phone proven by SMS; name and number as declared) or `verified`.
    pub real_name: String,
}
