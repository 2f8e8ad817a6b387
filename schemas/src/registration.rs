//! Registration vocabulary shared on the wire: kinds (登记类型), stages (环节), staff actions, roles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// 登记类型 (条例 Art. 3; 数据库标准 DJLX). `code()` is the DJLX dictionary value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    /// 首次登记
    First,
    /// 转移登记
    Transfer,
    /// 变更登记
    Change,
    /// 注销登记
    Cancellation,
    /// 更正登记
    Correction,
    /// 异议登记
    Objection,
    /// 预告登记
    AdvanceNotice,
    /// 查封登记
    Seizure,
    /// 解封 (recorded as 查封登记 in DJLX)
    ReleaseSeizure,
    /// 抵押权登记 (其它登记)
    Mortgage,
}

impl RegistrationKind {
    pub const ALL: &'static [RegistrationKind] = &[
        Self::First,
        Self::Transfer,
        Self::Change,
        Self::Cancellation,
        Self::Correction,
        Self::Objection,
        Self::AdvanceNotice,
        Self::Seizure,
        Self::ReleaseSeizure,
        Self::Mortgage,
    ];

    /// DJLX code (STANDARDS.md §3.6).
    pub fn code(self) -> u16 {
        match self {
            Self::First => 100,
            Self::Transfer => 200,
            Self::Change => 300,
            Self::Cancellation => 400,
            Self::Correction => 500,
            Self::Objection => 600,
            Self::AdvanceNotice => 700,
            Self::Seizure | Self::ReleaseSeizure => 800,
            Self::Mortgage => 900,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::First => "首次登记",
            Self::Transfer => "转移登记",
            Self::Change => "变更登记",
            Self::Cancellation => "注销登记",
            Self::Correction => "更正登记",
            Self::Objection => "异议登记",
            Self::AdvanceNotice => "预告登记",
            Self::Seizure => "查封登记",
            Self::ReleaseSeizure => "解封登记",
            Self::Mortgage => "抵押权登记",
        }
    }

    /// Whether 发证 issues a 不动产权证书 (true) or a 不动产登记证明 (false).
    pub fn issues_property_certificate(self) -> bool {
        matches!(self, Self::First | Self::Transfer | Self::Change | Self::Correction)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::First => "first",
            Self::Transfer => "transfer",
            Self::Change => "change",
            Self::Cancellation => "cancellation",
            Self::Correction => "correction",
            Self::Objection => "objection",
            Self::AdvanceNotice => "advance_notice",
            Self::Seizure => "seizure",
            Self::ReleaseSeizure => "release_seizure",
            Self::Mortgage => "mortgage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// 环节: where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 申请: received, not yet decided
    Submitted,
    /// 受理
    Accepted,
    /// 审核 passed
    Reviewed,
    /// 登簿: the registration takes effect (条例 Art. 21)
    Recorded,
    /// 缮证
    Certified,
    /// 发证: the e-certificate is issued
    Issued,
    /// 不予受理 (条例 Art. 17)
    Rejected,
    /// 补正: the applicant must supply what is listed
    CorrectionRequested,
    /// 不予登记 (条例 Art. 22)
    Refused,
    /// 撤回 (条例 Art. 15)
    Withdrawn,
}

impl Stage {
    pub const ALL: &'static [Stage] = &[
        Self::Submitted,
        Self::Accepted,
        Self::Reviewed,
        Self::Recorded,
        Self::Certified,
        Self::Issued,
        Self::Rejected,
        Self::CorrectionRequested,
        Self::Refused,
        Self::Withdrawn,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Submitted => "已申请",
            Self::Accepted => "已受理",
            Self::Reviewed => "已审核",
            Self::Recorded => "已登簿",
            Self::Certified => "已缮证",
            Self::Issued => "已发证",
            Self::Rejected => "不予受理",
            Self::CorrectionRequested => "待补正",
            Self::Refused => "不予登记",
            Self::Withdrawn => "已撤回",
        }
    }

    /// No further action can follow.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Issued | Self::Rejected | Self::Refused | Self::Withdrawn)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Accepted => "accepted",
            Self::Reviewed => "reviewed",
            Self::Recorded => "recorded",
            Self::Certified => "certified",
            Self::Issued => "issued",
            Self::Rejected => "rejected",
            Self::CorrectionRequested => "correction_requested",
            Self::Refused => "refused",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// What a staff member (or, for `withdraw` and `resubmit`, the applicant) does to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 受理
    Accept,
    /// 不予受理, with reasons
    Reject,
    /// 补正: list everything missing at once (一次性告知)
    RequestCorrection,
    /// the applicant has supplied what was missing
    Resubmit,
    /// 审核 passed
    Review,
    /// 不予登记 at review
    Refuse,
    /// 登簿
    Record,
    /// 缮证
    Certify,
    /// 发证
    Issue,
    /// 撤回 before 登簿
    Withdraw,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::RequestCorrection => "request_correction",
            Self::Resubmit => "resubmit",
            Self::Review => "review",
            Self::Refuse => "refuse",
            Self::Record => "record",
            Self::Certify => "certify",
            Self::Issue => "issue",
            Self::Withdraw => "withdraw",
        }
    }
}

/// Role of a party in an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// 权利人
    RightHolder,
    /// 义务人
    Obligor,
    /// 申请人 (neither of the above)
    Applicant,
    /// 代理人
    Agent,
}
