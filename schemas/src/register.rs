//! The register (不动产登记簿) on the wire: what an application asks the register to record
//! (`RegistrationDetails`), what a staff query shows of a unit's page (`UnitRegisterView`), and
//! the review rules an office runs (`RuleView`, `RuleConfig`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::PartyView;
use crate::ids::{BusinessNo, CertificateId, DivisionCode, IdType, UnitCode};
use crate::registration::{RegistrationKind, Stage};

/// 抵押权登记: which of the four (条例实施细则 Arts. 65–72).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum MortgageAction {
    /// 抵押权设立登记
    #[default]
    Establish,
    /// 抵押权变更登记 (amount or term)
    Change,
    /// 抵押权转移登记 (the secured claim changed hands)
    Transfer,
    /// 抵押权注销登记
    Cancel,
}

impl MortgageAction {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Establish => "抵押权设立登记",
            Self::Change => "抵押权变更登记",
            Self::Transfer => "抵押权转移登记",
            Self::Cancel => "抵押权注销登记",
        }
    }
}

/// 国家层面登记 (《"互联网+不动产登记"建设指南》 三.3): the kinds of registration the Ministry of
/// Natural Resources' national portal accepts and its national office handles, whatever the unit's
/// division. An application states it; without the claim a unit follows the normal county routing
/// (many sea areas are approved and registered locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jurisdiction {
    /// 国务院批准的用海用岛项目: the unit must be a 宗海 (宗地特征码 `GH`) or an uninhabited island
    /// (无居民海岛, `GG`).
    StateCouncilSeaIsland,
    /// 重点国有林区: a 林权 (QLLX 10, 11 or 12) on a 林地 parcel (`E`/`L`) in a key state forest region.
    KeyStateForest,
}

impl Jurisdiction {
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::StateCouncilSeaIsland => "国务院批准的用海用岛项目登记",
            Self::KeyStateForest => "重点国有林区登记",
        }
    }
}

/// What the application asks the register to record, beyond the unit, kind and parties. Every
/// field is optional on the wire; which ones a kind needs is checked at submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RegistrationDetails {
    /// 权利类型 QLLX code (STANDARDS.md §3.6); default 4, 国有建设用地使用权/房屋（构筑物）所有权.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_type: Option<u16>,
    /// 面积 in square metres, a decimal with at most two places (e.g. "89.50").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// 用途 (e.g. 住宅, 商业).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// 权利性质 QLXZ code (STANDARDS.md §3.6), e.g. 102 出让, 101 划拨, 201 家庭承包.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nature: Option<u16>,
    /// 使用期限: first day (起).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_from: Option<NaiveDate>,
    /// 使用期限: last day (止); after `term_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_to: Option<NaiveDate>,
    /// For 抵押权登记: 设立 (default), 变更, 转移 or 注销.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mortgage_action: Option<MortgageAction>,
    /// 被担保主债权数额 or, for 最高额抵押, 最高债权数额, in yuan (a decimal, at most two places).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// 最高额抵押 (DYFS 2) rather than 一般抵押 (DYFS 1).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maximum: bool,
    /// The register entry (限制 id) that a 抵押权变更/转移/注销 or a 解封 acts on; default: the
    /// earliest current one of that kind on the unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction_id: Option<i64>,
    /// 查封机关 / 嘱托机关 (for 查封 and 解封), or the court or body behind a 更正.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// 预告登记种类 YGDJZL 1–4 (STANDARDS.md §3.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_kind: Option<u8>,
    /// A national-level registration (国家层面登记), handled by the national office whatever the
    /// unit's division; checked at submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
}

/// 权属状态 of a register entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// 现势
    Current,
    /// 历史
    History,
}

/// The kinds of 权利限制/提示事项 a unit's page can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    /// 抵押权
    Mortgage,
    /// 查封 (position 0) or 轮候查封 (position ≥ 1)
    Seizure,
    /// 异议登记 (lapses after 15 days, 民法典 Art. 220)
    Objection,
    /// 预告登记 (lapses after 90 days, 民法典 Art. 221)
    AdvanceNotice,
}

impl RestrictionKind {
    pub const ALL: &'static [RestrictionKind] = &[Self::Mortgage, Self::Seizure, Self::Objection, Self::AdvanceNotice];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mortgage => "mortgage",
            Self::Seizure => "seizure",
            Self::Objection => "objection",
            Self::AdvanceNotice => "advance_notice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Mortgage => "抵押",
            Self::Seizure => "查封",
            Self::Objection => "异议",
            Self::AdvanceNotice => "预告",
        }
    }
}

/// One 权利 entry on a unit's page (staff view: personal fields masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RightView {
    pub id: i64,
    pub status: EntryStatus,
    /// 权利类型 QLLX code.
    pub right_type: u16,
    pub holders: Vec<PartyView>,
    /// Shares as written on the register, one per holder (按份共有), e.g. "1/2".
    pub shares: Vec<String>,
    /// 共有方式: 单独所有, 共同共有 or 按份共有.
    pub co_ownership: String,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// 权利性质 QLXZ code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nature: Option<u16>,
    /// 使用期限 as written on the certificate (2006年01月01日起2076年12月31日止).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// The application that recorded it (业务号).
    pub business_no: BusinessNo,
    /// The application that ended it, for history entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<CertificateId>,
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One 权利限制/提示 entry on a unit's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestrictionView {
    pub id: i64,
    pub kind: RestrictionKind,
    pub status: EntryStatus,
    /// For 查封: 0 is the effective seizure, 1.. are 轮候查封 in order.
    pub position: i64,
    /// 抵押权人 / 异议人 / 预告权利人 (masked); empty for 查封.
    pub holders: Vec<PartyView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maximum: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    pub business_no: BusinessNo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// When it lapses by law (异议 15 days, 预告 90 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/register/units/{unit_code}`: a unit's page of the register (staff of its office).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitRegisterView {
    pub unit_code: UnitCode,
    pub office: DivisionCode,
    /// The current right, if any (现势).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<RightView>,
    /// Current restrictions: mortgages, seizures (with 轮候), objections, advance notices.
    pub restrictions: Vec<RestrictionView>,
    /// Summary flags a bank or a buyer reads first.
    pub mortgaged: bool,
    pub seized: bool,
    pub objection: bool,
    pub advance_notice: bool,
    /// Every earlier entry (历史), newest first.
    pub history: Vec<RightView>,
    pub ended_restrictions: Vec<RestrictionView>,
}

/// Where a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleStage {
    /// 受理
    Accept,
    /// 审核
    Review,
    /// 登簿
    Record,
    /// 发证
    Issue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The action is refused while the rule fails.
    Block,
    /// The action goes ahead; the failure is kept in the trace and shown to staff.
    Warn,
}

/// A rule as an office runs it (`GET /api/v1/rules`). Built-in rules have `builtin: true`; an
/// office may disable them, change their severity and order, and add its own from the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub stage: RuleStage,
    /// Kinds it applies to; empty means every kind.
    pub kinds: Vec<RegistrationKind>,
    pub severity: Severity,
    pub message: String,
    /// The check it runs (see `RuleConfig::check`).
    pub check: String,
    pub enabled: bool,
    pub position: i32,
    pub builtin: bool,
}

/// `PUT /api/v1/rules/{id}`: an office's setting for one rule. For a built-in rule only
/// `enabled`, `severity`, `position` and `message` may differ from the default; a new id adds a
/// rule built from one of the named checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub stage: RuleStage,
    #[serde(default)]
    pub kinds: Vec<RegistrationKind>,
    pub severity: Severity,
    pub message: String,
    /// One of: `unit_not_seized`, `obligors_are_holders`, `shares_sum_to_one`, `right_exists`,
    /// `no_current_right`, `no_advance_notice_conflict`, `no_objection`, `not_mortgaged`,
    /// `has_right_holder`, `certificate_holder_is_register_holder`, `required_materials_uploaded`.
    pub check: String,
    pub enabled: bool,
    pub position: i32,
}

/// One rule's result on one application, kept with the application (the rule trace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleOutcome {
    pub rule: String,
    pub stage: RuleStage,
    pub severity: Severity,
    pub passed: bool,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// `POST /api/v1/register/holdings`: whose holdings (the id number stays out of URLs and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldingsRequest {
    pub id_type: IdType,
    pub id_number: String,
}

/// The units on which the person is a current right holder in the office's register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HoldingsView {
    pub office: DivisionCode,
    pub units: Vec<UnitCode>,
}

/// `POST /api/v1/register/no-property-proof` (staff): for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoPropertyRequest {
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
}

/// The signed content of a 无房证明 (不动产登记信息查询结果证明: no current right in this office's
/// register). The signature covers the UTF-8 bytes of its JSON text, as for certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoPropertyContent {
    pub title: String,
    /// A fresh ULID for this document.
    pub serial: String,
    pub office: DivisionCode,
    pub office_name: String,
    pub subject_name: String,
    pub subject_id_type: IdType,
    /// The id number, masked as on any document that leaves the office.
    pub subject_id_masked: String,
    pub statement: String,
    pub as_of: DateTime<Utc>,
    pub issuer_node: crate::ids::NodeId,
    pub key_id: String,
}

/// A document signed by the issuing node's SM2 key (its public key is in `GET /api/v1/node`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedDocument {
    /// JSON text; the signature covers its UTF-8 bytes.
    pub content: String,
    /// Base64 DER SM2 signature (SM3, user id 1234567812345678).
    pub signature: String,
    pub key_id: String,
}

/// One material an application of a kind needs (申请材料清单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Material {
    pub id: String,
    pub name: String,
    pub required: bool,
    /// File formats accepted for an online application.
    pub formats: Vec<String>,
    pub max_size_mb: u32,
}

/// One file attached to a checklist item of an application. The bytes are sealed at rest; `sm3`
/// is the SM3 hash of the file as uploaded, so that anyone holding a copy can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaterialFileView {
    pub id: i64,
    pub material_id: String,
    /// Told by the file's content: `pdf`, `ofd`, `jpg` or `png`.
    pub format: String,
    pub size_bytes: u64,
    pub sm3: String,
    pub uploaded_at: DateTime<Utc>,
    /// `applicant` or `staff`.
    pub uploaded_by: String,
}

/// A checklist item with the files an application holds for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaterialItemView {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub formats: Vec<String>,
    pub max_size_mb: u32,
    /// Oldest first; every upload is kept.
    pub files: Vec<MaterialFileView>,
}

/// A required item that holds no file yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MissingMaterial {
    pub id: String,
    pub name: String,
}

/// `GET /api/v1/applications/{business_no}/materials`: the kind's checklist merged with what the
/// application holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationMaterialsView {
    pub business_no: BusinessNo,
    pub kind: RegistrationKind,
    pub state: Stage,
    /// Whether files may be attached now (before 受理, or while 补正 is asked).
    pub open_for_upload: bool,
    pub max_files_per_item: u32,
    pub materials: Vec<MaterialItemView>,
    pub missing_required: Vec<MissingMaterial>,
}

/// `GET /api/v1/materials?kind=…`: what to bring for a kind, listed at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaterialsView {
    pub kind: RegistrationKind,
    pub materials: Vec<Material>,
}
