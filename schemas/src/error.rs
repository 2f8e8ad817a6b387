//! The closed list of machine-readable error codes every bdc-node answers with.
//!
//! Every refusal on the wire is `{"error": "<code>", "message": "<中文说明>"}` with a 4xx (or 5xx for
//! faults on our side). The codes are stable: clients match on them, people read the message.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code (snake_case), one of [`ErrorCode`].
    pub error: ErrorCode,
    /// Explanation for people, in Chinese.
    pub message: String,
}

macro_rules! error_codes {
    ($( $variant:ident = $status:literal, $zh:literal; )*) => {
        /// Stable error codes. Adding one is a wire change; renaming one is a breaking change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $( $variant, )* }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The HTTP status this code is answered with.
            pub fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// Default explanation in Chinese (an answer may give a more specific one).
            pub fn message_zh(self) -> &'static str {
                match self { $( ErrorCode::$variant => $zh, )* }
            }
        }
    };
}

error_codes! {
    InvalidRequest = 400, "请求格式错误，无法解析";
    InvalidDivisionCode = 400, "行政区划代码格式错误（应为6位数字，GB/T 2260）";
    UnknownDivision = 400, "行政区划代码不存在（GB/T 2260）";
    InvalidUnitCode = 400, "不动产单元代码不符合 GB/T 37346 结构";
    InvalidIdNumber = 400, "公民身份号码无效（GB 11643）";
    InvalidCreditCode = 400, "统一社会信用代码无效（GB 32100）";
    InvalidIdDocument = 400, "证件号码与证件种类不符";
    InvalidBusinessNo = 400, "业务号格式错误";
    InvalidCertificateId = 400, "电子证照标识无效（GB/T 36904）";
    InvalidCertificateNumber = 400, "不动产权证书号格式错误";
    PackageInvalid = 422, "电子证照文件无效";
    DocumentTooLong = 422, "证照内容超过一页版面，请使用打印版网页";
    AccessCodeInvalid = 403, "查验码缺失或不正确：证照内容只向持有查验码（证照二维码或办理进度中提供）者提供";
    InvalidNodeId = 400, "节点标识格式错误";
    InvalidField = 400, "字段取值无效";
    PersonalDataInUrl = 400, "姓名、证件号码等个人信息不能放在网址中：请在查询表单中填写，或放在请求正文中提交";
    MissingApplicant = 400, "申请至少需要一名申请人";
    NotThisOffice = 400, "该不动产不属于本登记机构管辖";
    NationalClaimInvalid = 422, "不符合国家层面登记（国务院批准的用海用岛项目、重点国有林区）的条件";
    NoRoute = 404, "找不到负责该行政区划的登记机构";
    NotFound = 404, "未找到";
    Unauthorized = 401, "未登录或登录已失效";
    BadCredentials = 401, "用户名或密码错误";
    SecondFactorRequired = 401, "该账户已启用动态口令，请同时填写6位动态口令";
    SecondFactorInvalid = 401, "动态口令错误或已使用";
    InvalidPhone = 400, "手机号码应为11位中国大陆手机号";
    WeakPassword = 400, "密码应为8至64位，且同时包含字母和数字";
    SmsCodeInvalid = 400, "短信验证码错误或已失效，请重新获取";
    SmsTooSoon = 429, "验证码发送过于频繁，请稍后再试";
    SmsUnavailable = 503, "短信服务暂时不可用，请稍后再试";
    AccountExists = 409, "该手机号或证件号码已注册";
    AccountLocked = 403, "连续登录失败次数过多，账户已暂时锁定，请15分钟后再试";
    Forbidden = 403, "无权执行此操作";
    InvalidTransition = 409, "当前环节不允许此操作";
    RuleBlocked = 422, "未通过登记规则审查";
    RegisterConflict = 409, "登记簿现状不允许此项登记";
    InvalidShare = 400, "共有份额无效：按份共有的份额应为正数且合计为1";
    Conflict = 409, "操作冲突，请刷新后重试";
    UnknownSender = 401, "发送方不是已配置的对等节点";
    ClientCertificate = 401, "节点间通信须使用与节点标识一致的双向 TLS 客户端证书";
    BadSignature = 401, "SM2 签名验证失败";
    UnknownKey = 401, "签名密钥未知";
    MalformedEnvelope = 400, "报文格式错误";
    UnsupportedVersion = 400, "不支持的报文版本";
    WrongRecipient = 400, "报文接收方不是本节点";
    StaleEnvelope = 400, "报文发送时间超出允许偏差";
    ReplayedEnvelope = 409, "报文已接收过（重放）";
    SequenceConflict = 409, "同一来源的事件序号被重复用于不同事件（来源可能从备份恢复），已拒收，请人工核对";
    OriginNotAllowed = 403, "事件来源不在发送节点的下级范围内";
    TokenInvalid = 401, "导航令牌无效或被篡改";
    TokenExpired = 401, "导航令牌已过期";
    TokenReplayed = 409, "导航令牌已被使用";
    IdentityTicketInvalid = 401, "统一身份认证票据无效、已使用或已过期，请重新登录";
    IdentityUnavailable = 503, "统一身份认证平台暂时不可用，请稍后再试或使用手机号登录";
    UnknownMaterial = 404, "该登记类型的申请材料清单中没有此项材料";
    MaterialsClosed = 409, "办件当前环节不能再上传申请材料（只能在受理前或补正期间上传）";
    MaterialEmpty = 400, "上传的文件为空";
    MaterialTooLarge = 413, "文件超过该项材料允许的大小";
    MaterialFormatRefused = 422, "文件格式不符：按文件内容识别，该项材料不接受此格式";
    MaterialFilesFull = 409, "该项材料上传的文件数已达上限";
    PayloadTooLarge = 413, "请求体过大";
    RateLimited = 429, "请求过于频繁，请稍后再试";
    UpstreamUnavailable = 503, "下级节点暂时无法访问";
    Internal = 500, "系统内部错误，请稍后重试";
}

impl ErrorCode {
    /// The snake_case wire name.
    pub fn as_str(self) -> String {
        // Serializing a unit variant to a JSON string cannot fail.
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl ErrorBody {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self { error, message: message.into() }
    }
    pub fn of(error: ErrorCode) -> Self {
        Self::new(error, error.message_zh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_statuses_are_errors() {
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(!name.is_empty());
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert!(code.http_status() >= 400);
            assert!(!code.message_zh().is_empty());
        }
        assert_eq!(ErrorCode::ReplayedEnvelope.as_str(), "replayed_envelope");
    }
}
