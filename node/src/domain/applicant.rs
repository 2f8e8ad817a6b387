//! Applicant accounts (申请人账户) as plain rules: a mainland mobile number, a password policy, the
//! six-digit SMS code and how it is kept (only a keyed hash), and the two kinds of account — a
//! natural person by 公民身份号码, an enterprise by 统一社会信用代码 (GB 32100).

use rand::Rng;
use schemas::error::ErrorCode;
use schemas::ids::{IdType, check_id_document};

/// A code is refused after this many wrong tries (a new one must be requested).
pub const MAX_CODE_ATTEMPTS: i32 = 5;
/// Failed sign-ins before the account locks for [`LOCK_MINUTES`].
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;

/// A mainland mobile number: 11 digits, `1[3-9]…`.
pub fn parse_phone(text: &str) -> Result<String, ErrorCode> {
    let p = text.trim();
    let ok = p.len() == 11 && p.starts_with('1') && p.chars().all(|c| c.is_ascii_digit()) && p.as_bytes()[1] >= b'3';
    if ok { Ok(p.to_owned()) } else { Err(ErrorCode::InvalidPhone) }
}

/// 8–64 characters with at least one letter and one digit.
pub fn check_password(password: &str) -> Result<(), ErrorCode> {
    let n = password.chars().count();
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if (8..=64).contains(&n) && letters && digits { Ok(()) } else { Err(ErrorCode::WeakPassword) }
}

/// What an SMS code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignUp,
    ResetPassword,
}

impl Purpose {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign_up" => Some(Self::SignUp),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::ResetPassword => "reset_password",
        }
    }

    /// The message text (the code and what it is for, as carriers require a signature 【…】).
    pub fn message(self, code: &str, minutes: i64) -> String {
        let what = match self {
            Self::SignUp => "注册",
            Self::ResetPassword => "重置密码",
        };
        format!("【不动产登记】您的{what}验证码为{code}，{minutes}分钟内有效。请勿告知他人。")
    }
}

/// A fresh six-digit code.
pub fn new_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

/// Account kinds and the identity document each is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Person,
    Enterprise,
}

impl AccountKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(Self::Person),
            "enterprise" => Some(Self::Enterprise),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Enterprise => "enterprise",
        }
    }

    /// The document this kind of account is identified by.
    pub fn id_type(self) -> IdType {
        match self {
            Self::Person => IdType::IdCard,
            Self::Enterprise => IdType::CreditCode,
        }
    }

    /// The document number checked (GB 11643 with legacy 15-digit numbers converted, or GB 32100).
    pub fn check_id(self, number: &str) -> Result<String, (ErrorCode, String)> {
        check_id_document(self.id_type(), number).map_err(|e| {
            let code = match self {
                Self::Person => ErrorCode::InvalidIdNumber,
                Self::Enterprise => ErrorCode::InvalidCreditCode,
            };
            (code, e.message_zh())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_passwords_and_documents() {
        assert_eq!(parse_phone(" 13812341234 "), Ok("13812341234".into()));
        for bad in ["1381234123", "23812341234", "12812341234", "1381234123x", ""] {
            assert_eq!(parse_phone(bad), Err(ErrorCode::InvalidPhone), "{bad}");
        }
        assert!(check_password("abcdefg1").is_ok());
        for weak in ["abcdefgh", "12345678", "abc123", &"a1".repeat(33)] {
            assert_eq!(check_password(weak), Err(ErrorCode::WeakPassword), "{weak}");
        }
        assert_eq!(AccountKind::Person.check_id("11010519491231002x").ok().as_deref(), Some("11010519491231002X"));
        assert_eq!(
            AccountKind::Person.check_id("110105194912310021").map_err(|e| e.0),
            Err(ErrorCode::InvalidIdNumber)
        );
        assert!(AccountKind::Enterprise.check_id("91350100M000100Y43").is_ok());
        assert_eq!(
            AccountKind::Enterprise.check_id("91350100M000100Y44").map_err(|e| e.0),
            Err(ErrorCode::InvalidCreditCode)
        );
        let code = new_code();
        assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()));
        assert!(Purpose::SignUp.message(&code, 5).contains(&code));
    }
}
