//! Checked identifiers: "parse, don't validate".
//!
//! Every type here can only be built through `parse` (or a checked constructor), so holding a value
//! proves the text followed its standard. Each one serialises as a plain JSON string and deserialising
//! runs the same `parse`, so an invalid value in a request fails deserialisation. In OpenAPI each one
//! is presented as a string.
//!
//! The rules come from `STANDARDS.md` (sections cited on each type). This module checks *format*;
//! knowledge of which division codes exist lives in [`crate::divisions`].
//!
//! Error values never echo the rejected input: identity numbers are personal information.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why an identifier was rejected. `code()` is a stable machine code, `message_zh()` (also the
/// `Display` form) is the message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not exactly 6 ASCII digits.
    #[error("{}", self.message_zh())]
    InvalidDivisionCode,
    /// 不动产单元代码 (GB/T 37346) structure broken; `reason` names the position.
    #[error("{}", self.message_zh())]
    InvalidUnitCode { reason: String },
    /// 公民身份号码 (GB 11643).
    #[error("{}", self.message_zh())]
    InvalidIdNumber { reason: String },
    /// 统一社会信用代码 (GB 32100).
    #[error("{}", self.message_zh())]
    InvalidCreditCode { reason: String },
    /// An identity document number that does not follow the rule of its 证件种类.
    #[error("{}", self.message_zh())]
    InvalidIdDocument { id_type: IdType, reason: String },
    /// 业务号.
    #[error("{}", self.message_zh())]
    InvalidBusinessNo { reason: String },
    /// Federation node identifier.
    #[error("{}", self.message_zh())]
    InvalidNodeId,
    /// 电子证照标识 (GB/T 36904).
    #[error("{}", self.message_zh())]
    InvalidCertificateId { reason: String },
    /// 不动产权证书号 / 不动产登记证明号.
    #[error("{}", self.message_zh())]
    InvalidCertificateNumber { reason: String },
}

impl IdError {
    /// Stable snake_case machine code, suitable for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::InvalidDivisionCode => "invalid_division_code",
            IdError::InvalidUnitCode { .. } => "invalid_unit_code",
            IdError::InvalidIdNumber { .. } => "invalid_id_number",
            IdError::InvalidCreditCode { .. } => "invalid_credit_code",
            IdError::InvalidIdDocument { .. } => "invalid_id_document",
            IdError::InvalidBusinessNo { .. } => "invalid_business_no",
            IdError::InvalidNodeId => "invalid_node_id",
            IdError::InvalidCertificateId { .. } => "invalid_certificate_id",
            IdError::InvalidCertificateNumber { .. } => "invalid_certificate_number",
        }
    }

    /// A clear Chinese message for people.
    pub fn message_zh(&self) -> String {
        match self {
            IdError::InvalidDivisionCode => "行政区划代码应为6位数字（GB/T 2260）".to_owned(),
            IdError::InvalidUnitCode { reason } => {
                format!("不动产单元代码不符合 GB/T 37346 结构：{reason}")
            }
            IdError::InvalidIdNumber { reason } => format!("公民身份号码{reason}（GB 11643）"),
            IdError::InvalidCreditCode { reason } => {
                format!("统一社会信用代码{reason}（GB 32100）")
            }
            IdError::InvalidIdDocument { id_type, reason } => {
                format!("证件号码不符合“{}”的格式：{reason}", id_type.label_zh())
            }
            IdError::InvalidBusinessNo { reason } => {
                format!("业务号格式不正确：{reason}（应为6位行政区划代码 + 8位日期 YYYYMMDD + 6至8位顺序号）")
            }
            IdError::InvalidNodeId => {
                "节点标识应为1至64位小写字母、数字或连字符“-”，且不能以连字符开头或结尾".to_owned()
            }
            IdError::InvalidCertificateId { reason } => {
                format!("电子证照标识不符合 GB/T 36904：{reason}")
            }
            IdError::InvalidCertificateNumber { reason } => {
                format!("不动产权证书号（证明号）格式不正确：{reason}")
            }
        }
    }
}

fn unit_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidUnitCode { reason: reason.into() }
}

fn id_number_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidIdNumber { reason: reason.into() }
}

fn credit_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidCreditCode { reason: reason.into() }
}

fn business_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidBusinessNo { reason: reason.into() }
}

fn cert_id_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidCertificateId { reason: reason.into() }
}

fn cert_no_err(reason: impl Into<String>) -> IdError {
    IdError::InvalidCertificateNumber { reason: reason.into() }
}

fn doc_err(id_type: IdType, reason: impl Into<String>) -> IdError {
    IdError::InvalidIdDocument { id_type, reason: reason.into() }
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing: Display, FromStr, serde and OpenAPI for string-shaped identifiers
// ---------------------------------------------------------------------------------------------

fn string_schema(
    description: &str,
    example: &str,
    pattern: Option<&str>,
    min_length: Option<usize>,
    max_length: Option<usize>,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
        .examples([example])
        .pattern(pattern)
        .min_length(min_length)
        .max_length(max_length)
        .into()
}

macro_rules! string_identifier {
    (
        $ty:ident,
        name: $name:literal,
        description: $desc:literal,
        example: $example:literal,
        pattern: $pattern:expr,
        min_length: $min:expr,
        max_length: $max:expr $(,)?
    ) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string_schema($desc, $example, $pattern, $min, $max)
            }
        }

        impl utoipa::ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

fn all_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Value of a character in the 0-9A-Z alphabet (A = 10 … Z = 35).
fn alnum36_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        _ => None,
    }
}

const ALNUM36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The current date in China (UTC+8), used for "not in the future" checks.
fn today_in_china() -> NaiveDate {
    let now = Utc::now();
    now.checked_add_signed(TimeDelta::hours(8)).unwrap_or(now).date_naive()
}

fn is_han(c: char) -> bool {
    matches!(
        u32::from(c),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF
    )
}

/// Parses `YYYYMMDD` (8 ASCII digits) into a real date.
fn parse_yyyymmdd(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !all_ascii_digits(s) {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u32 = s.get(4..6)?.parse().ok()?;
    let day: u32 = s.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

// ---------------------------------------------------------------------------------------------
// DivisionCode (GB/T 2260)
// ---------------------------------------------------------------------------------------------

/// Level of an administrative division, as implied by the shape of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DivisionLevel {
    /// `000000`, 全国.
    Nation,
    /// `xx0000`, 省级.
    Province,
    /// `xxxx00`, 地级.
    Prefecture,
    /// Anything else, 县级.
    County,
}

/// 行政区划代码 (GB/T 2260, STANDARDS §9): exactly 6 ASCII digits. `000000` is the nation.
///
/// Only the format is checked here; whether the code exists is answered by
/// [`crate::divisions::Divisions::is_known`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

string_identifier!(
    DivisionCode,
    name: "DivisionCode",
    description: "行政区划代码（GB/T 2260），6位数字；000000 表示全国",
    example: "320102",
    pattern: Some("^[0-9]{6}$"),
    min_length: Some(6),
    max_length: Some(6),
);

impl DivisionCode {
    /// Parses exactly 6 ASCII digits.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() == 6 && all_ascii_digits(s) {
            Ok(DivisionCode(s.to_owned()))
        } else {
            Err(IdError::InvalidDivisionCode)
        }
    }

    /// `000000`, the whole country.
    pub fn nation() -> Self {
        DivisionCode("000000".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_nation(&self) -> bool {
        self.0 == "000000"
    }

    /// `000000` nation, `xx0000` province, `xxxx00` prefecture, otherwise county.
    pub fn level(&self) -> DivisionLevel {
        if self.is_nation() {
            DivisionLevel::Nation
        } else if self.0.ends_with("0000") {
            DivisionLevel::Province
        } else if self.0.ends_with("00") {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    /// The province this code belongs to: first 2 digits + `0000` (the nation for `000000`).
    pub fn province(&self) -> DivisionCode {
        DivisionCode(format!("{}0000", &self.0[..2]))
    }

    /// The prefecture this code belongs to: first 4 digits + `00`. For a province (or the nation)
    /// this is the code itself.
    pub fn prefecture(&self) -> DivisionCode {
        DivisionCode(format!("{}00", &self.0[..4]))
    }

    /// The nation contains everything; a province every code with the same first 2 digits; a
    /// prefecture every code with the same first 4 digits; a county only itself.
    pub fn contains(&self, other: &DivisionCode) -> bool {
        match self.level() {
            DivisionLevel::Nation => true,
            DivisionLevel::Province => self.0[..2] == other.0[..2],
            DivisionLevel::Prefecture => self.0[..4] == other.0[..4],
            DivisionLevel::County => self.0 == other.0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// UnitCode (不动产单元代码, GB/T 37346)
// ---------------------------------------------------------------------------------------------

/// 宗地特征码 2nd character (position 14) + 定着物特征码 (position 20) pairs allowed (STANDARDS §1.3).
const ALLOWED_PARCEL_FIXTURE: &[&str] = &[
    "AW", "BW", "BF", "BQ", "CW", "CF", "CQ", "DW", "EL", "EQ", "EW", "FW", "GW", "GF", "GL", "GQ", "HW", "HF", "HL",
    "HQ", "LL", "LQ", "LW", "NW", "SW", "SF", "SQ", "XW", "XF", "XQ",
    // W (使用权未确定或有争议) and Y (其他使用权) are in the §1.3 table but in no combination seen in
    // gtmap's list; land-only units of both must still be registrable (e.g. an 异议登记 on
    // disputed land). Fixtures on them are not accepted until the standard's text is confirmed.
    "WW", "YW",
];

/// 不动产单元代码 (BDCDYH, GB/T 37346-2019, STANDARDS §1): 28 characters
/// `县级区划(6) 地籍区(3) 地籍子区(3) 宗地特征码(2) 宗地顺序号(5) 定着物特征码(1) 定着物单元代码(8)`.
///
/// Input may use lowercase letters and the display grouping with spaces (`6 6 7 9`); the stored
/// form is uppercase without spaces. There is no check character (§1.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitCode(String);

string_identifier!(
    UnitCode,
    name: "UnitCode",
    description: "不动产单元代码（GB/T 37346），28位：6位县级行政区划代码+3位地籍区+3位地籍子区+2位宗地特征码+5位宗地顺序号+1位定着物特征码+8位定着物单元代码；输入可带空格分组、可小写，输出为大写无空格",
    example: "320684413219GB00029F00010002",
    pattern: None,
    min_length: Some(28),
    max_length: Some(31),
);

impl UnitCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let normalised: String =
            s.chars().filter(|c| *c != ' ' && *c != '\u{3000}').map(|c| c.to_ascii_uppercase()).collect();
        if !normalised.is_ascii() {
            return Err(unit_err("只能包含数字、字母和分组空格"));
        }
        let n = normalised.len();
        if n != 28 {
            return Err(unit_err(format!("长度应为28位（去掉空格后为{n}位）")));
        }
        let b = normalised.as_bytes();
        let digits = |from: usize, to: usize| b[from..to].iter().all(u8::is_ascii_digit);
        if !digits(0, 6) {
            return Err(unit_err("第1–6位县级行政区划代码应为数字"));
        }
        if !digits(6, 12) {
            return Err(unit_err("第7–12位地籍区、地籍子区代码应为数字"));
        }
        let ownership = b[12];
        if !b"GJZ".contains(&ownership) {
            return Err(unit_err("第13位宗地特征码应为 G/J/Z"));
        }
        let right = b[13];
        if !b"ABSXCDEFLNHGWY".contains(&right) {
            return Err(unit_err("第14位宗地特征码应为 A/B/S/X/C/D/E/F/L/N/H/G/W/Y"));
        }
        if !digits(14, 19) || &normalised[14..19] == "00000" {
            return Err(unit_err("第15–19位宗地顺序号应为 00001–99999"));
        }
        let fixture = b[19];
        if !b"FLQW".contains(&fixture) {
            return Err(unit_err("第20位定着物特征码应为 F/L/Q/W"));
        }
        if !digits(20, 28) {
            return Err(unit_err("第21–28位定着物单元代码应为数字"));
        }
        if fixture == b'W' && &normalised[20..28] != "00000000" {
            return Err(unit_err("第20位定着物特征码为 W（无定着物）时第21–28位应为 00000000"));
        }
        if (right == b'A' || right == b'C') && ownership != b'J' {
            return Err(unit_err(format!("第14位宗地特征码 {} 只能用于集体土地（第13位应为 J）", char::from(right))));
        }
        let pair = [right, fixture];
        if !ALLOWED_PARCEL_FIXTURE.iter().any(|p| p.as_bytes() == pair) {
            return Err(unit_err(format!(
                "第14位宗地特征码 {} 与第20位定着物特征码 {} 不能组合",
                char::from(right),
                char::from(fixture)
            )));
        }
        Ok(UnitCode(normalised))
    }

    /// The 28 characters, uppercase, without spaces.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The county-level division code (positions 1–6).
    pub fn division(&self) -> DivisionCode {
        DivisionCode(self.0[..6].to_owned())
    }

    /// 宗地代码 (ZDDM): the first 19 characters.
    pub fn parcel_code(&self) -> &str {
        &self.0[..19]
    }

    /// 宗地（宗海）特征码 (positions 13–14): ownership (G/J/Z) and the parcel's right type, e.g.
    /// `GB` 国有建设用地, `GH` 海域, `GG` 无居民海岛, `GL` 国有林地 (STANDARDS §1.2–1.3).
    pub fn parcel_feature(&self) -> (char, char) {
        // A parsed code is 28 ASCII characters: the indexing cannot fail.
        let b = self.0.as_bytes();
        (char::from(b[12]), char::from(b[13]))
    }

    /// 定着物特征码 (position 20): F, L, Q or W.
    pub fn fixture_feature(&self) -> char {
        char::from(self.0.as_bytes()[19])
    }

    /// Display form `6 6 7 9`, e.g. `320684 413219 GB00029 F00010002`.
    pub fn display_grouped(&self) -> String {
        format!("{} {} {} {}", &self.0[0..6], &self.0[6..12], &self.0[12..19], &self.0[19..28])
    }
}

// ---------------------------------------------------------------------------------------------
// IdType (证件种类)
// ---------------------------------------------------------------------------------------------

/// 证件种类 (ZJZL, 不动产登记数据库标准 code table, STANDARDS §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 1 身份证
    IdCard,
    /// 2 港澳台身份证
    HkMacaoTaiwan,
    /// 3 护照
    Passport,
    /// 4 户口簿
    Household,
    /// 5 军官证（士兵证）
    Military,
    /// 6 组织机构代码
    OrgCode,
    /// 7 营业执照
    BusinessLicence,
    /// 8 统一社会信用代码.
    ///
    /// The code 8 is **our assumption**: the 2015 dictionary stops at 7 and 99, and whether
    /// TD/T 1066-2021 adds 统一社会信用代码 and with which code is unconfirmed (STANDARDS §10).
    CreditCode,
    /// 99 其它
    Other,
}

impl IdType {
    pub const ALL: [IdType; 9] = [
        IdType::IdCard,
        IdType::HkMacaoTaiwan,
        IdType::Passport,
        IdType::Household,
        IdType::Military,
        IdType::OrgCode,
        IdType::BusinessLicence,
        IdType::CreditCode,
        IdType::Other,
    ];

    /// Numeric code of the dictionary.
    pub fn code(self) -> u8 {
        match self {
            IdType::IdCard => 1,
            IdType::HkMacaoTaiwan => 2,
            IdType::Passport => 3,
            IdType::Household => 4,
            IdType::Military => 5,
            IdType::OrgCode => 6,
            IdType::BusinessLicence => 7,
            IdType::CreditCode => 8,
            IdType::Other => 99,
        }
    }

    pub fn from_code(code: u8) -> Option<IdType> {
        IdType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            IdType::IdCard => "身份证",
            IdType::HkMacaoTaiwan => "港澳台身份证",
            IdType::Passport => "护照",
            IdType::Household => "户口簿",
            IdType::Military => "军官证（士兵证）",
            IdType::OrgCode => "组织机构代码",
            IdType::BusinessLicence => "营业执照",
            IdType::CreditCode => "统一社会信用代码",
            IdType::Other => "其它",
        }
    }

    /// Whether the document identifies a natural person (as opposed to an organisation).
    /// `Other` is not assumed to be a person.
    pub fn is_natural_person(self) -> bool {
        matches!(self, IdType::IdCard | IdType::HkMacaoTaiwan | IdType::Passport | IdType::Household | IdType::Military)
    }
}

// ---------------------------------------------------------------------------------------------
// IdNumber (公民身份号码, GB 11643)
// ---------------------------------------------------------------------------------------------

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

fn id_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(ID_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

/// 公民身份号码 (GB 11643-1999, STANDARDS §6.1): 18 characters with the MOD 11-2 check
/// character (uppercase `X`). A lowercase `x` is accepted, and a legacy 15-digit number is
/// converted to 18 digits (century `19` inserted, check character computed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber {
    value: String,
    birth_date: NaiveDate,
}

string_identifier!(
    IdNumber,
    name: "IdNumber",
    description: "公民身份号码（GB 11643），18位，末位校验码为数字或 X；输入也接受15位旧号码（自动升位）",
    example: "11010519491231002X",
    pattern: None,
    min_length: Some(15),
    max_length: Some(18),
);

impl IdNumber {
    /// Earliest accepted birth date.
    const MIN_BIRTH: (i32, u32, u32) = (1850, 1, 1);

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let upper = s.to_ascii_uppercase();
        let b = upper.as_bytes();
        let value = match b.len() {
            18 => {
                if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
                    return Err(id_number_err("前17位应为数字，第18位应为数字或 X"));
                }
                upper
            }
            15 => {
                if !b.iter().all(u8::is_ascii_digit) {
                    return Err(id_number_err("15位旧号码应全部为数字"));
                }
                let mut v = String::with_capacity(18);
                v.push_str(&upper[..6]);
                v.push_str("19");
                v.push_str(&upper[6..]);
                let check = id_check_char(v.as_bytes());
                v.push(char::from(check));
                v
            }
            _ => return Err(id_number_err("长度应为18位（或15位旧号码）")),
        };
        let birth_date = parse_yyyymmdd(&value[6..14]).ok_or_else(|| id_number_err("出生日期不是有效日期"))?;
        let (y, m, d) = Self::MIN_BIRTH;
        if NaiveDate::from_ymd_opt(y, m, d).is_some_and(|min| birth_date < min) {
            return Err(id_number_err("出生日期不能早于1850年"));
        }
        if birth_date > today_in_china() {
            return Err(id_number_err("出生日期不能晚于今天"));
        }
        let vb = value.as_bytes();
        if id_check_char(&vb[..17]) != vb[17] {
            return Err(id_number_err("校验位错误"));
        }
        Ok(IdNumber { value, birth_date })
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// 地址码: the first 6 digits (the division where the number was first issued).
    pub fn address_code(&self) -> &str {
        &self.value[..6]
    }

    /// 顺序码 (positions 15–17) odd = male, even = female.
    pub fn is_male(&self) -> bool {
        (self.value.as_bytes()[16] - b'0') % 2 == 1
    }
}

// ---------------------------------------------------------------------------------------------
// CreditCode (统一社会信用代码, GB 32100)
// ---------------------------------------------------------------------------------------------

const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

fn uscc_value(b: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|c| *c == b).and_then(|p| u32::try_from(p).ok())
}

/// 统一社会信用代码 (GB 32100-2015, STANDARDS §6.2): 18 characters over
/// `0123456789ABCDEFGHJKLMNPQRTUWXY`, positions 3–8 digits, last character the MOD 31-3 check.
/// Lowercase input is accepted and stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode(String);

string_identifier!(
    CreditCode,
    name: "CreditCode",
    description: "统一社会信用代码（GB 32100），18位，末位为 MOD 31-3 校验码",
    example: "11100000MB03271699",
    pattern: None,
    min_length: Some(18),
    max_length: Some(18),
);

impl CreditCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let upper = s.to_ascii_uppercase();
        let b = upper.as_bytes();
        if b.len() != 18 {
            return Err(credit_err("长度应为18位"));
        }
        let mut values = [0u32; 18];
        for (i, c) in b.iter().enumerate() {
            values[i] = uscc_value(*c)
                .ok_or_else(|| credit_err(format!("第{}位含有不允许的字符（不使用 I、O、Z、S、V）", i + 1)))?;
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(credit_err("第3–8位登记管理机关行政区划码应为数字"));
        }
        let sum: u32 = values[..17].iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
        let check = (31 - sum % 31) % 31;
        if check != values[17] {
            return Err(credit_err("校验位错误"));
        }
        Ok(CreditCode(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// check_id_document
// ---------------------------------------------------------------------------------------------

/// GB 11714 组织机构代码 check character for the 8-character body.
fn org_code_check(body: &[u8]) -> Option<u8> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(WEIGHTS) {
        sum += alnum36_value(*c)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + u8::try_from(d).ok()?,
    })
}

fn check_org_code(value: &str) -> Result<String, IdError> {
    let upper = value.to_ascii_uppercase();
    let compact: String = match upper.len() {
        10 if upper.as_bytes()[8] == b'-' => format!("{}{}", &upper[..8], &upper[9..]),
        9 => upper,
        _ => {
            return Err(doc_err(IdType::OrgCode, "应为9位（8位本体代码 + 1位校验码，可写作 XXXXXXXX-X）"));
        }
    };
    let b = compact.as_bytes();
    if !b[..8].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
        return Err(doc_err(IdType::OrgCode, "本体代码应为数字或大写字母"));
    }
    match org_code_check(&b[..8]) {
        Some(check) if check == b[8] => Ok(format!("{}-{}", &compact[..8], &compact[8..])),
        _ => Err(doc_err(IdType::OrgCode, "校验码错误（GB 11714）")),
    }
}

fn check_free_text(id_type: IdType, value: &str, max_chars: usize) -> Result<String, IdError> {
    let n = value.chars().count();
    if n == 0 || n > max_chars || value.trim().is_empty() {
        return Err(doc_err(id_type, format!("长度应为1至{max_chars}个字符")));
    }
    if value.chars().any(char::is_control) {
        return Err(doc_err(id_type, "不能包含控制字符"));
    }
    Ok(value.to_owned())
}

fn check_passport(value: &str) -> Result<String, IdError> {
    let n = value.len();
    if !(5..=20).contains(&n) || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(doc_err(IdType::Passport, "应为5至20位字母或数字"));
    }
    Ok(value.to_ascii_uppercase())
}

fn check_hk_macao_taiwan(value: &str) -> Result<String, IdError> {
    let normalised: String = value
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            other => other.to_ascii_uppercase(),
        })
        .collect();
    let problem = || doc_err(IdType::HkMacaoTaiwan, "应为8至18位字母或数字，末尾可带括号括起的校验码，如 A123456(3)");
    let (body, suffix) = match normalised.find('(') {
        Some(open) => {
            let tail = &normalised[open + 1..];
            let inner = tail.strip_suffix(')').ok_or_else(problem)?;
            if inner.is_empty() || inner.len() > 2 {
                return Err(problem());
            }
            (&normalised[..open], Some(inner))
        }
        None => (normalised.as_str(), None),
    };
    let alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !alnum(body) || suffix.is_some_and(|s| !alnum(s)) {
        return Err(problem());
    }
    let count = body.len() + suffix.map_or(0, str::len);
    if !(8..=18).contains(&count) {
        return Err(problem());
    }
    Ok(normalised)
}

fn check_business_licence(value: &str) -> Result<String, IdError> {
    if value.len() == 15 && all_ascii_digits(value) {
        // Legacy 15-digit 工商注册号: its check digit is not documented in STANDARDS, so only
        // the shape is checked.
        return Ok(value.to_owned());
    }
    CreditCode::parse(value)
        .map(|c| c.as_str().to_owned())
        .map_err(|e| doc_err(IdType::BusinessLicence, e.message_zh()))
}

/// Checks a document number by the rule of its 证件种类 and returns the normalised value.
///
/// - `IdCard`, `Household`: [`IdNumber`] (18-character form).
/// - `CreditCode`: [`CreditCode`]; `BusinessLicence`: the 18-character [`CreditCode`] form (a
///   legacy 15-digit 注册号 is accepted by shape only).
/// - `Passport`: 5–20 ASCII letters/digits, uppercased.
/// - `HkMacaoTaiwan`: 8–18 ASCII letters/digits, optionally ending in a parenthesised check
///   character (`A123456(3)`); full-width parentheses are normalised, letters uppercased.
/// - `Military`: 1–20 characters, no control characters. `Other`: 1–50 characters, likewise.
/// - `OrgCode`: GB 11714 `XXXXXXXX-Y` (dash optional on input), MOD 11 check; returned with dash.
///
/// Errors are always [`IdError::InvalidIdDocument`] carrying the id type.
pub fn check_id_document(id_type: IdType, value: &str) -> Result<String, IdError> {
    match id_type {
        IdType::IdCard | IdType::Household => {
            IdNumber::parse(value).map(|n| n.as_str().to_owned()).map_err(|e| doc_err(id_type, e.message_zh()))
        }
        IdType::CreditCode => {
            CreditCode::parse(value).map(|c| c.as_str().to_owned()).map_err(|e| doc_err(id_type, e.message_zh()))
        }
        IdType::BusinessLicence => check_business_licence(value),
        IdType::Passport => check_passport(value),
        IdType::HkMacaoTaiwan => check_hk_macao_taiwan(value),
        IdType::Military => check_free_text(id_type, value, 20),
        IdType::OrgCode => check_org_code(value),
        IdType::Other => check_free_text(id_type, value, 50),
    }
}

// ---------------------------------------------------------------------------------------------
// BusinessNo (业务号)
// ---------------------------------------------------------------------------------------------

/// 业务号 (YWH): 6-digit division code + `YYYYMMDD` (a real date) + a 6–8 digit sequence
/// (≥ 1). Example `32010220261129000123`. STANDARDS §2.2 notes there is no national format; this
/// is the project's own scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BusinessNo {
    value: String,
    date: NaiveDate,
    sequence: u64,
}

string_identifier!(
    BusinessNo,
    name: "BusinessNo",
    description: "业务号：6位行政区划代码 + 8位受理日期 YYYYMMDD + 6至8位顺序号",
    example: "32010220261129000123",
    pattern: Some("^[0-9]{20,22}$"),
    min_length: Some(20),
    max_length: Some(22),
);

impl BusinessNo {
    pub const MAX_SEQUENCE: u64 = 99_999_999;

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if !(20..=22).contains(&s.len()) || !all_ascii_digits(s) {
            return Err(business_err("应为20至22位数字"));
        }
        let date = parse_yyyymmdd(&s[6..14]).ok_or_else(|| business_err("第7–14位不是有效日期"))?;
        let sequence: u64 = s[14..].parse().map_err(|_| business_err("顺序号应为数字"))?;
        if sequence == 0 {
            return Err(business_err("顺序号不能为0"));
        }
        Ok(BusinessNo { value: s.to_owned(), date, sequence })
    }

    /// Builds `{division}{YYYYMMDD}{seq}` with the sequence zero-padded to at least 6 digits.
    pub fn new(division: &DivisionCode, date: NaiveDate, seq: u64) -> Result<Self, IdError> {
        if !(1..=Self::MAX_SEQUENCE).contains(&seq) {
            return Err(business_err("顺序号应在 1 至 99999999 之间"));
        }
        if !(1000..=9999).contains(&date.year()) {
            return Err(business_err("日期年份应为4位"));
        }
        Ok(BusinessNo {
            value: format!("{}{}{:06}", division.as_str(), date.format("%Y%m%d"), seq),
            date,
            sequence: seq,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn division(&self) -> DivisionCode {
        DivisionCode(self.value[..6].to_owned())
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

// ---------------------------------------------------------------------------------------------
// NodeId
// ---------------------------------------------------------------------------------------------

/// Federation node identifier: 1–64 characters of `[a-z0-9-]`, not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

string_identifier!(
    NodeId,
    name: "NodeId",
    description: "节点标识：1至64位小写字母、数字或连字符，不以连字符开头或结尾",
    example: "nanjing-xuanwu",
    pattern: Some("^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"),
    min_length: Some(1),
    max_length: Some(64),
);

impl NodeId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok { Ok(NodeId(s.to_owned())) } else { Err(IdError::InvalidNodeId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// CertificateId (电子证照标识, GB/T 36904)
// ---------------------------------------------------------------------------------------------

/// 证照类型代码 of 中华人民共和国不动产权证 (不动产权证书).
pub const PROPERTY_CERTIFICATE_TYPE: &str = "11100000MB03271699001";
/// 证照类型代码 of 中华人民共和国不动产登记证明.
pub const REGISTRATION_PROOF_TYPE: &str = "11100000MB03271699022";
/// 电子证照根 OID.
pub const CERTIFICATE_ID_ROOT: &str = "1.2.156.3005.2";

/// ISO/IEC 7064 MOD 37,36 (hybrid) check character over 0-9A-Z text (STANDARDS §5.2).
fn mod37_36_check(text: &[u8]) -> Option<u8> {
    let mut p: u32 = 36;
    for c in text {
        p = (p + alnum36_value(*c)?) % 36;
        if p == 0 {
            p = 36;
        }
        p = (2 * p) % 37;
    }
    ALNUM36.get(((37 - p) % 36) as usize).copied()
}

/// 电子证照标识 (GB/T 36904-2018, STANDARDS §5.2):
/// `1.2.156.3005.2.{证照类型代码}.{颁发机构代码}.{流水号}.{版本号}.{校验位}`.
///
/// - 证照类型代码: 21 characters, an 18-character 统一社会信用代码 (checked) + 3 digits;
/// - 颁发机构代码: an 18-character 统一社会信用代码 (checked) or a 6-digit division code;
/// - 流水号: 1–32 uppercase letters/digits; 版本号: 3 digits;
/// - 校验位: ISO/IEC 7064 MOD 37,36 over type + issuer + serial + version without dots.
///
/// Lowercase letters are accepted and stored uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateId {
    value: String,
    type_code: String,
    issuer: String,
    serial: String,
    version: u16,
    check: char,
}

string_identifier!(
    CertificateId,
    name: "CertificateId",
    description: "电子证照标识（GB/T 36904）：1.2.156.3005.2.{证照类型代码}.{颁发机构代码}.{流水号}.{版本号}.{校验位}，校验位为 ISO/IEC 7064 MOD 37,36",
    example: "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
    pattern: None,
    min_length: None,
    max_length: None,
);

impl CertificateId {
    pub const PROPERTY_CERTIFICATE_TYPE: &'static str = PROPERTY_CERTIFICATE_TYPE;
    pub const REGISTRATION_PROOF_TYPE: &'static str = REGISTRATION_PROOF_TYPE;

    fn check_type_code(type_code: &str) -> Result<(), IdError> {
        if type_code.len() != 21 || !type_code.is_ascii() {
            return Err(cert_id_err("证照类型代码应为21位"));
        }
        CreditCode::parse(&type_code[..18]).map_err(|_| cert_id_err("证照类型代码前18位不是有效的统一社会信用代码"))?;
        if !all_ascii_digits(&type_code[18..]) {
            return Err(cert_id_err("证照类型代码后3位应为数字"));
        }
        Ok(())
    }

    fn check_issuer(issuer: &str) -> Result<(), IdError> {
        match issuer.len() {
            6 if all_ascii_digits(issuer) => Ok(()),
            18 => {
                CreditCode::parse(issuer).map(|_| ()).map_err(|_| cert_id_err("颁发机构代码不是有效的统一社会信用代码"))
            }
            _ => Err(cert_id_err("颁发机构代码应为18位统一社会信用代码或6位行政区划代码")),
        }
    }

    fn check_serial(serial: &str) -> Result<(), IdError> {
        if (1..=32).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(cert_id_err("流水号应为1至32位大写字母或数字"))
        }
    }

    fn compute_check(type_code: &str, issuer: &str, serial: &str, version: &str) -> Option<u8> {
        let text = format!("{type_code}{issuer}{serial}{version}");
        mod37_36_check(text.as_bytes())
    }

    /// Builds an identifier and computes its check character. `serial` may be lowercase.
    pub fn new(type_code: &str, issuer: &str, serial: &str, version: u16) -> Result<Self, IdError> {
        let type_code = type_code.to_ascii_uppercase();
        let issuer = issuer.to_ascii_uppercase();
        let serial = serial.to_ascii_uppercase();
        Self::check_type_code(&type_code)?;
        Self::check_issuer(&issuer)?;
        Self::check_serial(&serial)?;
        if version > 999 {
            return Err(cert_id_err("版本号应为3位数字（000–999）"));
        }
        let version_text = format!("{version:03}");
        let check = Self::compute_check(&type_code, &issuer, &serial, &version_text)
            .map(char::from)
            .ok_or_else(|| cert_id_err("无法计算校验位"))?;
        Ok(CertificateId {
            value: format!("{CERTIFICATE_ID_ROOT}.{type_code}.{issuer}.{serial}.{version_text}.{check}"),
            type_code,
            issuer,
            serial,
            version,
            check,
        })
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let upper = s.to_ascii_uppercase();
        let rest = upper
            .strip_prefix(CERTIFICATE_ID_ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(|| cert_id_err("应以电子证照根标识 1.2.156.3005.2. 开头"))?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version_text, check_text] = parts.as_slice() else {
            return Err(cert_id_err("应由证照类型代码、颁发机构代码、流水号、版本号、校验位5段组成"));
        };
        Self::check_type_code(type_code)?;
        Self::check_issuer(issuer)?;
        Self::check_serial(serial)?;
        if version_text.len() != 3 || !all_ascii_digits(version_text) {
            return Err(cert_id_err("版本号应为3位数字"));
        }
        let version: u16 = version_text.parse().map_err(|_| cert_id_err("版本号应为3位数字"))?;
        let expected = Self::compute_check(type_code, issuer, serial, version_text)
            .ok_or_else(|| cert_id_err("无法计算校验位"))?;
        if check_text.as_bytes() != [expected] {
            return Err(cert_id_err("校验位错误（ISO/IEC 7064 MOD 37,36）"));
        }
        Ok(CertificateId {
            type_code: (*type_code).to_owned(),
            issuer: (*issuer).to_owned(),
            serial: (*serial).to_owned(),
            version,
            check: char::from(expected),
            value: upper.clone(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// 证照类型代码 (21 characters).
    pub fn type_code(&self) -> &str {
        &self.type_code
    }

    /// 颁发机构代码 (18-character credit code or 6-digit division code).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// 流水号.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// 版本号.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// 校验位.
    pub fn check_char(&self) -> char {
        self.check
    }
}

// ---------------------------------------------------------------------------------------------
// CertificateNumber (不动产权证书号 / 证明号)
// ---------------------------------------------------------------------------------------------

/// Which document a certificate number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// 不动产权 (不动产权证书).
    PropertyRight,
    /// 不动产证明 (不动产登记证明).
    RegistrationProof,
}

impl CertificateKind {
    /// The word used inside the number: `不动产权` or `不动产证明`.
    pub fn label_zh(self) -> &'static str {
        match self {
            CertificateKind::PropertyRight => "不动产权",
            CertificateKind::RegistrationProof => "不动产证明",
        }
    }
}

/// 不动产权证书号 / 不动产登记证明号 (STANDARDS §2.1):
/// `{省级简称}({年份}){市县名称}不动产权第{NNNNNNN}号` (`不动产证明` for a 登记证明).
///
/// Input accepts ASCII `()` and full-width `（）` and a 6–8 digit sequence; the canonical form
/// uses ASCII parentheses and pads the sequence to 7 digits: `苏(2026)南京市不动产权第0000001号`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertificateNumber {
    canonical: String,
    province_abbr: char,
    year: u16,
    place: String,
    kind: CertificateKind,
    seq: u32,
}

string_identifier!(
    CertificateNumber,
    name: "CertificateNumber",
    description: "不动产权证书号或不动产登记证明号，如 苏(2026)南京市不动产权第0000001号；输入接受全角括号和6至8位顺序号",
    example: "苏(2026)南京市不动产权第0000001号",
    pattern: None,
    min_length: None,
    max_length: None,
);

impl CertificateNumber {
    pub const MAX_SEQUENCE: u32 = 99_999_999;

    fn check_place(place: &str) -> Result<(), IdError> {
        if place.is_empty() {
            return Err(cert_no_err("缺少市县名称"));
        }
        if place.chars().count() > 32
            || place.chars().any(|c| c.is_control() || c.is_whitespace() || "()（）".contains(c))
        {
            return Err(cert_no_err("市县名称不能含空白、控制字符或括号，且不超过32个字"));
        }
        Ok(())
    }

    /// Builds a number from its parts.
    pub fn new(province_abbr: char, year: u16, place: &str, kind: CertificateKind, seq: u32) -> Result<Self, IdError> {
        if !is_han(province_abbr) {
            return Err(cert_no_err("省级简称应为一个汉字"));
        }
        if !(1000..=9999).contains(&year) {
            return Err(cert_no_err("年份应为4位数字"));
        }
        Self::check_place(place)?;
        if !(1..=Self::MAX_SEQUENCE).contains(&seq) {
            return Err(cert_no_err("顺序号应在 1 至 99999999 之间"));
        }
        Ok(CertificateNumber {
            canonical: format!("{province_abbr}({year}){place}{}第{seq:07}号", kind.label_zh()),
            province_abbr,
            year,
            place: place.to_owned(),
            kind,
            seq,
        })
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let mut chars = s.chars();
        let abbr = chars.next().ok_or_else(|| cert_no_err("为空"))?;
        if !is_han(abbr) {
            return Err(cert_no_err("第1个字应为省级简称（一个汉字）"));
        }
        let rest = chars.as_str();
        let rest = rest
            .strip_prefix('(')
            .or_else(|| rest.strip_prefix('（'))
            .ok_or_else(|| cert_no_err("省级简称后应为括号括起的年份"))?;
        let year_text = rest.get(..4).filter(|y| all_ascii_digits(y)).ok_or_else(|| cert_no_err("年份应为4位数字"))?;
        let year: u16 = year_text.parse().map_err(|_| cert_no_err("年份应为4位数字"))?;
        let rest = &rest[4..];
        let rest = rest
            .strip_prefix(')')
            .or_else(|| rest.strip_prefix('）'))
            .ok_or_else(|| cert_no_err("年份后应为右括号"))?;
        let body = rest.strip_suffix('号').ok_or_else(|| cert_no_err("应以“号”结尾"))?;
        let before_digits = body.trim_end_matches(|c: char| c.is_ascii_digit());
        let seq_text = &body[before_digits.len()..];
        if !(6..=8).contains(&seq_text.len()) {
            return Err(cert_no_err("顺序号应为6至8位数字"));
        }
        let seq: u32 = seq_text.parse().map_err(|_| cert_no_err("顺序号应为6至8位数字"))?;
        let before_seq = before_digits.strip_suffix('第').ok_or_else(|| cert_no_err("顺序号前应为“第”"))?;
        let (place, kind) = if let Some(place) = before_seq.strip_suffix("不动产权") {
            (place, CertificateKind::PropertyRight)
        } else if let Some(place) = before_seq.strip_suffix("不动产证明") {
            (place, CertificateKind::RegistrationProof)
        } else {
            return Err(cert_no_err("应含“不动产权”或“不动产证明”"));
        };
        Self::new(abbr, year, place, kind, seq)
    }

    /// The canonical form (ASCII parentheses, sequence padded to 7 digits).
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// 省级简称, e.g. `苏`.
    pub fn province_abbr(&self) -> char {
        self.province_abbr
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    /// 市县名称, e.g. `南京市`.
    pub fn place(&self) -> &str {
        &self.place
    }

    pub fn kind(&self) -> CertificateKind {
        self.kind
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    // ---- IdError ----------------------------------------------------------------------------

    #[test]
    fn error_codes_are_stable_snake_case() {
        let cases = [
            (IdError::InvalidDivisionCode, "invalid_division_code"),
            (unit_err("x"), "invalid_unit_code"),
            (id_number_err("x"), "invalid_id_number"),
            (credit_err("x"), "invalid_credit_code"),
            (doc_err(IdType::Passport, "x"), "invalid_id_document"),
            (business_err("x"), "invalid_business_no"),
            (IdError::InvalidNodeId, "invalid_node_id"),
            (cert_id_err("x"), "invalid_certificate_id"),
            (cert_no_err("x"), "invalid_certificate_number"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.to_string(), err.message_zh());
            assert!(!err.message_zh().is_empty());
        }
    }

    #[test]
    fn error_messages_are_clear_chinese() {
        let err = UnitCode::parse("320684413219GB00029X00010002").unwrap_err();
        assert_eq!(err.message_zh(), "不动产单元代码不符合 GB/T 37346 结构：第20位定着物特征码应为 F/L/Q/W");
        let err = IdNumber::parse("110105194912310021").unwrap_err();
        assert_eq!(err.message_zh(), "公民身份号码校验位错误（GB 11643）");
    }

    #[test]
    fn errors_do_not_echo_personal_data() {
        let err = IdNumber::parse("110105194912310021").unwrap_err();
        assert!(!err.to_string().contains("110105194912310021"));
        let err = check_id_document(IdType::IdCard, "110105194912310021").unwrap_err();
        assert!(!err.to_string().contains("110105194912310021"));
    }

    // ---- DivisionCode -----------------------------------------------------------------------

    #[test]
    fn division_code_format() {
        assert!(DivisionCode::parse("320102").is_ok());
        assert!(DivisionCode::parse("000000").is_ok());
        for bad in ["", "32010", "3201020", "32010a", " 320102", "３２０１０２"] {
            assert_eq!(DivisionCode::parse(bad), Err(IdError::InvalidDivisionCode), "{bad}");
        }
    }

    #[test]
    fn division_code_levels_and_parents() {
        assert_eq!(DivisionCode::nation(), d("000000"));
        assert!(d("000000").is_nation());
        assert_eq!(d("000000").level(), DivisionLevel::Nation);
        assert_eq!(d("320000").level(), DivisionLevel::Province);
        assert_eq!(d("320100").level(), DivisionLevel::Prefecture);
        assert_eq!(d("320102").level(), DivisionLevel::County);
        assert_eq!(d("320102").province(), d("320000"));
        assert_eq!(d("320102").prefecture(), d("320100"));
        assert_eq!(d("320100").province(), d("320000"));
    }

    #[test]
    fn division_code_contains() {
        let nation = DivisionCode::nation();
        assert!(nation.contains(&d("320102")));
        assert!(nation.contains(&nation));
        assert!(d("320000").contains(&d("320102")));
        assert!(d("320000").contains(&d("320100")));
        assert!(!d("320000").contains(&d("340102")));
        assert!(!d("320000").contains(&nation));
        assert!(d("320100").contains(&d("320102")));
        assert!(!d("320100").contains(&d("320201")));
        assert!(d("320102").contains(&d("320102")));
        assert!(!d("320102").contains(&d("320104")));
    }

    #[test]
    fn division_code_serde() {
        let code: DivisionCode = serde_json::from_str("\"320102\"").unwrap();
        assert_eq!(code.as_str(), "320102");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"320102\"");
        assert!(serde_json::from_str::<DivisionCode>("\"32010\"").is_err());
        assert!(serde_json::from_str::<DivisionCode>("320102").is_err());
        assert_eq!("320102".parse::<DivisionCode>().unwrap(), code);
        assert_eq!(code.to_string(), "320102");
    }

    // ---- UnitCode ---------------------------------------------------------------------------

    #[test]
    fn unit_code_real_examples_parse() {
        for s in [
            "320684413219GB00029F00010002",
            "320311001021GB00233F00010013",
            "320802001009GB00001W00000000",
            "211103005007GB00001W00000000",
        ] {
            let u = UnitCode::parse(s).unwrap();
            assert_eq!(u.as_str(), s);
        }
    }

    #[test]
    fn unit_code_appendix_a_parcels_with_land_only_suffix_parse() {
        for parcel in [
            "340123002004GB00011",
            "340123002004GS00019",
            "340123002004GX00020",
            "340123002004GD00021",
            "340123002004GE00022",
        ] {
            let u = UnitCode::parse(&format!("{parcel}W00000000")).unwrap();
            assert_eq!(u.parcel_code(), parcel);
        }
    }

    #[test]
    fn unit_code_accessors_and_display() {
        let u = UnitCode::parse("320684413219GB00029F00010002").unwrap();
        assert_eq!(u.division(), d("320684"));
        assert_eq!(u.parcel_code(), "320684413219GB00029");
        assert_eq!(u.fixture_feature(), 'F');
        assert_eq!(u.display_grouped(), "320684 413219 GB00029 F00010002");
    }

    #[test]
    fn unit_code_accepts_spaces_and_lowercase() {
        let u = UnitCode::parse("320684 413219 gb00029 f00010002").unwrap();
        assert_eq!(u.as_str(), "320684413219GB00029F00010002");
        let again = UnitCode::parse(&u.display_grouped()).unwrap();
        assert_eq!(again, u);
    }

    #[test]
    fn unit_code_rejections() {
        let bad = [
            ("320684413219GB00029F0001000", "长度"),   // 27
            ("320684413219GB00029F000100022", "长度"), // 29
            ("32068A413219GB00029F00010002", "第1–6位"),
            ("320684413A19GB00029F00010002", "第7–12位"),
            ("320684413219XB00029F00010002", "第13位"),
            ("320684413219GZ00029F00010002", "第14位"),
            ("320684413219GB00000F00010002", "第15–19位"),
            ("320684413219GB0002AF00010002", "第15–19位"),
            ("320684413219GB00029X00010002", "第20位"),
            ("320684413219GB00029F0001000A", "第21–28位"),
            ("320802001009GB00001W00000001", "W"),
            ("320802001009GA00001W00000000", "集体土地"), // A only with J
            ("320802001009GC00001F00010001", "集体土地"), // C only with J
            ("320802001009GD00001F00010001", "不能组合"), // DF not allowed
            ("320802001009JN00001F00010001", "不能组合"), // NF not allowed
            ("320802001009GY00001F00010001", "不能组合"), // no fixture on Y land
            ("320684413219GB00029F0001000２", "只能包含"),
        ];
        for (s, needle) in bad {
            let err = UnitCode::parse(s).unwrap_err();
            assert_eq!(err.code(), "invalid_unit_code");
            assert!(err.message_zh().contains(needle), "{s}: {}", err.message_zh());
        }
    }

    #[test]
    fn unit_code_allowed_combinations() {
        assert!(UnitCode::parse("320802001009JA00001W00000000").is_ok());
        assert!(UnitCode::parse("320802001009JC00001F00010001").is_ok());
        assert!(UnitCode::parse("320802001009JE00001L00010001").is_ok());
        assert!(UnitCode::parse("320802001009GH00001Q00010001").is_ok());
        assert!(UnitCode::parse("320802001009GG00001L00010001").is_ok());
        assert!(UnitCode::parse("320802001009ZB00001W00000000").is_ok());
        // W and Y land-only units are accepted; fixtures on them are not (STANDARDS §10).
        assert!(UnitCode::parse("320802001009ZW00001W00000000").is_ok());
        assert!(UnitCode::parse("320802001009GY00001W00000000").is_ok());
        assert!(UnitCode::parse("320802001009ZW00001F00010001").is_err());
    }

    #[test]
    fn unit_code_serde_runs_parse() {
        let u: UnitCode = serde_json::from_str("\"320684 413219 GB00029 F00010002\"").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"320684413219GB00029F00010002\"");
        assert!(serde_json::from_str::<UnitCode>("\"320684413219GB00029X00010002\"").is_err());
    }

    // ---- IdType -----------------------------------------------------------------------------

    #[test]
    fn id_type_codes_and_labels() {
        for t in IdType::ALL {
            assert_eq!(IdType::from_code(t.code()), Some(t));
        }
        assert_eq!(IdType::IdCard.code(), 1);
        assert_eq!(IdType::CreditCode.code(), 8);
        assert_eq!(IdType::Other.code(), 99);
        assert_eq!(IdType::from_code(0), None);
        assert_eq!(IdType::from_code(9), None);
        assert_eq!(IdType::Military.label_zh(), "军官证（士兵证）");
        assert_eq!(IdType::HkMacaoTaiwan.label_zh(), "港澳台身份证");
        assert!(IdType::IdCard.is_natural_person());
        assert!(IdType::Passport.is_natural_person());
        assert!(!IdType::CreditCode.is_natural_person());
        assert!(!IdType::OrgCode.is_natural_person());
    }

    #[test]
    fn id_type_serde_snake_case() {
        assert_eq!(serde_json::to_string(&IdType::IdCard).unwrap(), "\"id_card\"");
        assert_eq!(serde_json::to_string(&IdType::HkMacaoTaiwan).unwrap(), "\"hk_macao_taiwan\"");
        assert_eq!(serde_json::from_str::<IdType>("\"credit_code\"").unwrap(), IdType::CreditCode);
        assert_eq!(serde_json::from_str::<IdType>("\"passport\"").unwrap(), IdType::Passport);
        assert!(serde_json::from_str::<IdType>("\"IdCard\"").is_err());
    }

    // ---- IdNumber ---------------------------------------------------------------------------

    #[test]
    fn id_number_standard_examples() {
        let n = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31).unwrap());
        assert_eq!(n.address_code(), "110105");
        assert!(!n.is_male());
        let n = IdNumber::parse("440524188001010014").unwrap();
        assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1880, 1, 1).unwrap());
        assert!(n.is_male());
        let n = IdNumber::parse("110101199003074477").unwrap();
        assert!(n.is_male());
    }

    #[test]
    fn id_number_lowercase_x() {
        let n = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(n.as_str(), "11010519491231002X");
    }

    #[test]
    fn id_number_rejections() {
        let cases = [
            ("110105194912310021", "校验位错误"),
            ("11010519491231002Y", "第18位"),
            ("1101051949123100", "长度"),
            ("110105194913310028", "有效日期"),
            ("110105194902300024", "有效日期"),
            ("110105184912310022", "1850"),
            ("110105299912310028", "晚于今天"),
        ];
        for (s, needle) in cases {
            let err = IdNumber::parse(s).unwrap_err();
            assert_eq!(err.code(), "invalid_id_number");
            assert!(err.message_zh().contains(needle), "{s}: {}", err.message_zh());
        }
    }

    #[test]
    fn id_number_each_single_digit_change_fails() {
        let good = "110101199003074477";
        for i in 0..18 {
            let mut b = good.as_bytes().to_vec();
            b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
            let s = String::from_utf8(b).unwrap();
            assert!(IdNumber::parse(&s).is_err(), "{s}");
        }
    }

    #[test]
    fn id_number_legacy_15_digits() {
        // 15-digit form of 110105491231002 -> 11010519491231002X
        let n = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(n.as_str(), "11010519491231002X");
        let n = IdNumber::parse("440524800101001").unwrap();
        assert_eq!(n.as_str(), "440524198001010013");
        assert_eq!(n.birth_date(), NaiveDate::from_ymd_opt(1980, 1, 1).unwrap());
        assert!(IdNumber::parse(n.as_str()).is_ok());
        assert!(IdNumber::parse("11010549123100X").is_err());
        assert!(IdNumber::parse("110105491331002").is_err());
    }

    #[test]
    fn id_number_serde() {
        let n: IdNumber = serde_json::from_str("\"11010519491231002x\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"11010519491231002X\"");
        assert!(serde_json::from_str::<IdNumber>("\"110105194912310021\"").is_err());
    }

    // ---- CreditCode -------------------------------------------------------------------------

    const USCC_EXAMPLES: [&str; 7] = [
        "91350100M000100Y43",
        "11100000MB03271699",
        "11100000000013338W",
        "11430000006122244L",
        "11330105002500287C",
        "113700000045030270",
        "11110000000021135M",
    ];

    #[test]
    fn credit_code_examples_parse() {
        for s in USCC_EXAMPLES {
            assert_eq!(CreditCode::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(CreditCode::parse("91350100m000100y43").unwrap().as_str(), "91350100M000100Y43");
    }

    #[test]
    fn credit_code_single_change_fails() {
        for s in USCC_EXAMPLES {
            for i in 0..18 {
                let mut b = s.as_bytes().to_vec();
                let pos = USCC_CHARSET.iter().position(|c| *c == b[i]).unwrap();
                b[i] = USCC_CHARSET[(pos + 1) % 31];
                let changed = String::from_utf8(b).unwrap();
                assert!(CreditCode::parse(&changed).is_err(), "{changed}");
            }
        }
        assert!(CreditCode::parse("91350100M000100Y44").is_err());
        assert!(CreditCode::parse("91350100M000100Y4").is_err());
        assert!(CreditCode::parse("9135010OM000100Y43").is_err());
        assert!(CreditCode::parse("91A50100M000100Y43").is_err());
    }

    // ---- check_id_document ------------------------------------------------------------------

    #[test]
    fn id_document_id_card_and_household() {
        assert_eq!(check_id_document(IdType::IdCard, "11010519491231002x").unwrap(), "11010519491231002X");
        assert_eq!(check_id_document(IdType::Household, "110105491231002").unwrap(), "11010519491231002X");
        let err = check_id_document(IdType::IdCard, "110105194912310021").unwrap_err();
        assert_eq!(err.code(), "invalid_id_document");
        assert!(matches!(err, IdError::InvalidIdDocument { id_type: IdType::IdCard, .. }));
        assert!(err.message_zh().contains("校验位错误"));
    }

    #[test]
    fn id_document_credit_code_and_licence() {
        assert_eq!(check_id_document(IdType::CreditCode, "91350100m000100y43").unwrap(), "91350100M000100Y43");
        assert_eq!(check_id_document(IdType::BusinessLicence, "91350100M000100Y43").unwrap(), "91350100M000100Y43");
        assert!(check_id_document(IdType::CreditCode, "91350100M000100Y44").is_err());
        assert!(check_id_document(IdType::BusinessLicence, "91350100M000100Y44").is_err());
        assert!(check_id_document(IdType::BusinessLicence, "320100000123456").is_ok());
        assert!(check_id_document(IdType::BusinessLicence, "32010000012345").is_err());
    }

    #[test]
    fn id_document_passport() {
        assert_eq!(check_id_document(IdType::Passport, "e12345678").unwrap(), "E12345678");
        assert!(check_id_document(IdType::Passport, "G1234").is_ok());
        assert!(check_id_document(IdType::Passport, "G123").is_err());
        assert!(check_id_document(IdType::Passport, "E1234567890123456789X").is_err());
        assert!(check_id_document(IdType::Passport, "E1234 5678").is_err());
    }

    #[test]
    fn id_document_hk_macao_taiwan() {
        assert_eq!(check_id_document(IdType::HkMacaoTaiwan, "H12345678").unwrap(), "H12345678");
        assert_eq!(check_id_document(IdType::HkMacaoTaiwan, "A123456(3)").unwrap(), "A123456(3)");
        assert_eq!(check_id_document(IdType::HkMacaoTaiwan, "a123456（3）").unwrap(), "A123456(3)");
        assert!(check_id_document(IdType::HkMacaoTaiwan, "A123456789").is_ok());
        assert!(check_id_document(IdType::HkMacaoTaiwan, "A12345").is_err());
        assert!(check_id_document(IdType::HkMacaoTaiwan, "A123456(3").is_err());
        assert!(check_id_document(IdType::HkMacaoTaiwan, "A12(3)456").is_err());
        assert!(check_id_document(IdType::HkMacaoTaiwan, "A123456()").is_err());
        assert!(check_id_document(IdType::HkMacaoTaiwan, "1234567890123456789").is_err());
    }

    #[test]
    fn id_document_org_code() {
        // Organisation codes embedded in verified credit codes (positions 9–17).
        assert_eq!(check_id_document(IdType::OrgCode, "MB032716-9").unwrap(), "MB032716-9");
        assert_eq!(check_id_document(IdType::OrgCode, "mb0327169").unwrap(), "MB032716-9");
        assert_eq!(check_id_document(IdType::OrgCode, "00612224-4").unwrap(), "00612224-4");
        assert!(check_id_document(IdType::OrgCode, "MB032716-8").is_err());
        assert!(check_id_document(IdType::OrgCode, "MB03271-69").is_err());
        assert!(check_id_document(IdType::OrgCode, "MB03271").is_err());
    }

    #[test]
    fn org_code_check_special_values() {
        // sum % 11 == 1 -> 10 -> 'X'; sum % 11 == 0 -> 11 -> '0'
        assert_eq!(org_code_check(b"00000000"), Some(b'0'));
        // "00000001": sum = 2 -> 11 - 2 = 9
        assert_eq!(org_code_check(b"00000001"), Some(b'9'));
        // "00000010": sum = 4 -> 7; "00000005": sum = 10 -> 1; "00000006": sum = 12 -> 12%11=1 -> X
        assert_eq!(org_code_check(b"00000006"), Some(b'X'));
    }

    #[test]
    fn id_document_free_text_types() {
        assert_eq!(check_id_document(IdType::Military, "南字第123456号").unwrap(), "南字第123456号");
        assert!(check_id_document(IdType::Military, "").is_err());
        assert!(check_id_document(IdType::Military, "   ").is_err());
        assert!(check_id_document(IdType::Military, &"1".repeat(21)).is_err());
        assert!(check_id_document(IdType::Military, "12\n34").is_err());
        assert!(check_id_document(IdType::Other, &"证".repeat(50)).is_ok());
        assert!(check_id_document(IdType::Other, &"证".repeat(51)).is_err());
        assert!(check_id_document(IdType::Other, "a\u{0}b").is_err());
    }

    // ---- BusinessNo -------------------------------------------------------------------------

    #[test]
    fn business_no_example() {
        let b = BusinessNo::parse("32010220261129000123").unwrap();
        assert_eq!(b.division(), d("320102"));
        assert_eq!(b.date(), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
        assert_eq!(b.sequence(), 123);
        assert_eq!(b.as_str(), "32010220261129000123");
    }

    #[test]
    fn business_no_new() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let b = BusinessNo::new(&d("320102"), date, 123).unwrap();
        assert_eq!(b.as_str(), "32010220261129000123");
        assert_eq!(BusinessNo::parse(b.as_str()).unwrap(), b);
        let big = BusinessNo::new(&d("320102"), date, 12_345_678).unwrap();
        assert_eq!(big.as_str(), "3201022026112912345678");
        assert_eq!(BusinessNo::parse(big.as_str()).unwrap().sequence(), 12_345_678);
        assert!(BusinessNo::new(&d("320102"), date, 0).is_err());
        assert!(BusinessNo::new(&d("320102"), date, 100_000_000).is_err());
    }

    #[test]
    fn business_no_rejections() {
        for bad in [
            "3201022026112900012",     // 5-digit sequence
            "32010220261129000123456", // 9-digit sequence
            "32010220261329000123",    // month 13
            "32010220260230000123",    // 30 February
            "32010220261129000000",    // sequence 0
            "3201022026112900012a",
            "",
        ] {
            let err = BusinessNo::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_business_no", "{bad}");
        }
    }

    // ---- NodeId -----------------------------------------------------------------------------

    #[test]
    fn node_id_rules() {
        for good in ["a", "0", "nanjing-xuanwu", "node-1", &"a".repeat(64)] {
            assert!(NodeId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a b", "节点", &"a".repeat(65)] {
            assert_eq!(NodeId::parse(bad), Err(IdError::InvalidNodeId), "{bad}");
        }
    }

    // ---- CertificateId ----------------------------------------------------------------------

    const CERT_IDS: [&str; 3] = [
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
        "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
    ];

    #[test]
    fn certificate_id_verified_examples_parse() {
        for s in CERT_IDS {
            let id = CertificateId::parse(s).unwrap();
            assert_eq!(id.as_str(), s);
        }
        let id = CertificateId::parse(CERT_IDS[2]).unwrap();
        assert_eq!(id.type_code(), REGISTRATION_PROOF_TYPE);
        assert_eq!(id.issuer(), "340100");
        assert_eq!(id.serial(), "000000016");
        assert_eq!(id.version(), 1);
        assert_eq!(id.check_char(), '9');
    }

    #[test]
    fn certificate_id_inconsistent_example_fails() {
        // STANDARDS §5.2: this published example computes D, not M. The serial there is elided
        // ("209FA4…49"), so the full form cannot be reproduced; check both the elided text and a
        // stand-in serial whose check is not M.
        assert!(
            CertificateId::parse("1.2.156.3005.2.11100000000013661B006.113700000045046442.209FA4…49.001.M").is_err()
        );
        // With a full serial, the published check M must not be accepted when it is wrong.
        let id = CertificateId::new("11100000000013661B006", "113700000045046442", "209FA449", 1).unwrap();
        let mut wrong = id.as_str().to_owned();
        wrong.pop();
        wrong.push(if id.check_char() == 'M' { 'D' } else { 'M' });
        assert!(CertificateId::parse(&wrong).is_err());
    }

    #[test]
    fn certificate_id_new_matches_examples() {
        let id = CertificateId::new(REGISTRATION_PROOF_TYPE, "340100", "000000016", 1).unwrap();
        assert_eq!(id.as_str(), CERT_IDS[2]);
        let id = CertificateId::new("11100000000013338W011", "11430000006122244L", "20230000403", 1).unwrap();
        assert_eq!(id.as_str(), CERT_IDS[0]);
        let id = CertificateId::new("11100000000013338W009", "11330105002500287C", "2025052201", 2).unwrap();
        assert_eq!(id.as_str(), CERT_IDS[1]);
        let id = CertificateId::new(PROPERTY_CERTIFICATE_TYPE, "320102", "abc123", 1).unwrap();
        assert!(id.as_str().starts_with("1.2.156.3005.2.11100000MB03271699001.320102.ABC123.001."));
        assert_eq!(CertificateId::parse(id.as_str()).unwrap(), id);
        assert_eq!(CertificateId::PROPERTY_CERTIFICATE_TYPE, "11100000MB03271699001");
    }

    #[test]
    fn certificate_id_single_change_fails() {
        for s in CERT_IDS {
            let prefix = CERTIFICATE_ID_ROOT.len() + 1;
            for i in prefix..s.len() {
                let b = s.as_bytes()[i];
                if b == b'.' {
                    continue;
                }
                let replacement = if b == b'9' {
                    b'8'
                } else if b.is_ascii_digit() {
                    b + 1
                } else if b == b'Z' {
                    b'Y'
                } else {
                    b + 1
                };
                let mut bytes = s.as_bytes().to_vec();
                bytes[i] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(CertificateId::parse(&changed).is_err(), "{changed}");
            }
        }
    }

    #[test]
    fn certificate_id_rejections() {
        assert!(CertificateId::parse("1.2.156.3005.3.11100000MB03271699022.340100.000000016.001.9").is_err());
        assert!(CertificateId::parse("1.2.156.3005.2.11100000MB03271699022.340100.000000016.001").is_err());
        assert!(CertificateId::parse("1.2.156.3005.2.11100000MB03271699022.340100.000000016.01.9").is_err());
        assert!(CertificateId::parse("1.2.156.3005.2.11100000MB03271698022.340100.000000016.001.9").is_err());
        assert!(CertificateId::parse("1.2.156.3005.2.11100000MB03271699022.34010.000000016.001.9").is_err());
        assert!(CertificateId::parse("1.2.156.3005.2.11100000MB03271699022.340100..001.9").is_err());
        assert!(CertificateId::new(REGISTRATION_PROOF_TYPE, "340100", &"1".repeat(33), 1).is_err());
        assert!(CertificateId::new(REGISTRATION_PROOF_TYPE, "340100", "1", 1000).is_err());
        assert!(CertificateId::new(REGISTRATION_PROOF_TYPE, "340100", "A-1", 1).is_err());
    }

    // ---- CertificateNumber ------------------------------------------------------------------

    #[test]
    fn certificate_number_examples_parse() {
        let examples = [
            ("苏(2020)南通开发区不动产权第0001701号", "南通开发区", CertificateKind::PropertyRight, 1701),
            ("苏(2021)靖江不动产权第0000982号", "靖江", CertificateKind::PropertyRight, 982),
            ("苏(2017)海门市不动产权第0000183号", "海门市", CertificateKind::PropertyRight, 183),
            ("苏(2016)苏州市不动产证明第8022335号", "苏州市", CertificateKind::RegistrationProof, 8_022_335),
            ("皖(2022)蜀山区不动产证明第1000044号", "蜀山区", CertificateKind::RegistrationProof, 1_000_044),
            ("蒙(2016)乌兰浩特市不动产证明第0003309号", "乌兰浩特市", CertificateKind::RegistrationProof, 3309),
            ("皖（2023）合肥市不动产权第1000180号", "合肥市", CertificateKind::PropertyRight, 1_000_180),
            ("皖(2018)合肥市不动产权第10023999号", "合肥市", CertificateKind::PropertyRight, 10_023_999),
            ("甬（2016）宁波市不动产权第158545号", "宁波市", CertificateKind::PropertyRight, 158_545),
        ];
        for (s, place, kind, seq) in examples {
            let n = CertificateNumber::parse(s).unwrap();
            assert_eq!(n.place(), place, "{s}");
            assert_eq!(n.kind(), kind, "{s}");
            assert_eq!(n.seq(), seq, "{s}");
            assert_eq!(CertificateNumber::parse(n.as_str()).unwrap(), n);
        }
    }

    #[test]
    fn certificate_number_canonical_form() {
        let n = CertificateNumber::parse("皖（2023）合肥市不动产权第1000180号").unwrap();
        assert_eq!(n.to_string(), "皖(2023)合肥市不动产权第1000180号");
        assert_eq!(n.province_abbr(), '皖');
        assert_eq!(n.year(), 2023);
        let n = CertificateNumber::parse("甬（2016）宁波市不动产权第158545号").unwrap();
        assert_eq!(n.as_str(), "甬(2016)宁波市不动产权第0158545号");
        let n = CertificateNumber::new('苏', 2026, "南京市", CertificateKind::PropertyRight, 1).unwrap();
        assert_eq!(n.to_string(), "苏(2026)南京市不动产权第0000001号");
        let n = CertificateNumber::new('苏', 2026, "南京市", CertificateKind::RegistrationProof, 42).unwrap();
        assert_eq!(n.to_string(), "苏(2026)南京市不动产证明第0000042号");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"苏(2026)南京市不动产证明第0000042号\"");
    }

    #[test]
    fn certificate_number_rejections() {
        for bad in [
            "",
            "S(2020)南京市不动产权第0000001号",
            "苏2020南京市不动产权第0000001号",
            "苏(20200)南京市不动产权第0000001号",
            "苏(202)南京市不动产权第0000001号",
            "苏(2020)不动产权第0000001号",
            "苏(2020)南京市不动产第0000001号",
            "苏(2020)南京市不动产权第00001号",
            "苏(2020)南京市不动产权第000000001号",
            "苏(2020)南京市不动产权第0000001",
            "苏(2020)南京市不动产权0000001号",
            "苏(2020)南京市不动产权第0000000号",
            "苏(2020)南 京市不动产权第0000001号",
        ] {
            let err = CertificateNumber::parse(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_certificate_number", "{bad}");
        }
        assert!(serde_json::from_str::<CertificateNumber>("\"苏(2020)南京市不动产权第1号\"").is_err());
    }

    // ---- OpenAPI ----------------------------------------------------------------------------

    #[test]
    fn schemas_present_as_strings() {
        use utoipa::{PartialSchema, ToSchema};
        fn is_string(schema: RefOr<Schema>) -> bool {
            let json = serde_json::to_value(schema).unwrap();
            json["type"] == "string"
        }
        assert!(is_string(DivisionCode::schema()));
        assert!(is_string(UnitCode::schema()));
        assert!(is_string(IdNumber::schema()));
        assert!(is_string(CreditCode::schema()));
        assert!(is_string(BusinessNo::schema()));
        assert!(is_string(NodeId::schema()));
        assert!(is_string(CertificateId::schema()));
        assert!(is_string(CertificateNumber::schema()));
        assert_eq!(UnitCode::name(), "UnitCode");
        let id_type = serde_json::to_value(IdType::schema()).unwrap();
        assert_eq!(id_type["type"], "string");
        assert!(id_type["enum"].as_array().unwrap().contains(&serde_json::json!("credit_code")));
    }
}
