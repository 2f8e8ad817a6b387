//! What a certificate prints (照面信息), taken from the register as it stands at 发证: the
//! 不动产权证书's 权利人, 共有情况, 坐落, 权利类型, 权利性质, 用途, 面积, 使用期限 and 权利其他状况,
//! or the 不动产登记证明's 证明权利或事项, 权利人 and 义务人 (STANDARDS.md §5). A pure function of
//! the unit's current page, so the certificate cannot say what the register does not.

use chrono::NaiveDate;
use schemas::register::RestrictionKind;
use schemas::registration::RegistrationKind;

use super::codes::{nature_name, right_type_name};
use super::register::{CurrentRestriction, CurrentRight, Holder, UnitPage, co_ownership};

/// The printed fields of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub holders: Vec<String>,
    /// 持证主体代码类型 of the first holder (身份证, 统一社会信用代码, …).
    pub holder_id_type: String,
    pub co_ownership: String,
    pub location: String,
    pub right_type: String,
    pub nature: Option<String>,
    pub purpose: Option<String>,
    /// 面积 with its unit (89.50平方米).
    pub area: Option<String>,
    pub term: Option<String>,
    /// 权利其他状况.
    pub other: Vec<String>,
    /// 证明权利或事项 (登记证明 only).
    pub matter: Option<String>,
    /// 义务人 (登记证明 only): the holders of the right the restriction burdens.
    pub obligors: Vec<String>,
    /// 有效期 end, where the entry lapses by law (异议 15 days, 预告 90 days).
    pub valid_until: Option<NaiveDate>,
}

fn names(holders: &[Holder]) -> Vec<String> {
    holders.iter().map(|h| h.name.clone()).collect()
}

fn id_type(holders: &[Holder]) -> String {
    holders.first().map(|h| h.id_type.label_zh().to_owned()).unwrap_or_default()
}

fn shares(holders: &[Holder]) -> Option<String> {
    let parts: Vec<String> =
        holders.iter().filter_map(|h| h.share.as_ref().map(|s| format!("{}占{}", h.name, s))).collect();
    (!parts.is_empty()).then(|| format!("按份共有：{}", parts.join("，")))
}

fn natural(right: &CurrentRight) -> (String, Option<String>, Option<String>, Option<String>, Option<String>) {
    (
        right_type_name(right.right_type).unwrap_or("其它权利").to_owned(),
        right.nature.and_then(nature_name).map(str::to_owned),
        right.purpose.clone(),
        right.area.as_ref().map(|a| format!("{a}平方米")),
        right.term.map(|t| t.to_printed()),
    )
}

fn right_certificate(right: &CurrentRight) -> Option<Printed> {
    let (right_type, nature, purpose, area, term) = natural(right);
    Some(Printed {
        holders: names(&right.holders),
        holder_id_type: id_type(&right.holders),
        co_ownership: co_ownership(&right.holders).ok()?.to_owned(),
        location: right.location.clone(),
        right_type,
        nature,
        purpose,
        area,
        term,
        other: shares(&right.holders).into_iter().collect(),
        matter: None,
        obligors: vec![],
        valid_until: None,
    })
}

fn matter(r: &CurrentRestriction) -> &'static str {
    match r.kind {
        RestrictionKind::Mortgage if r.maximum => "最高额抵押权",
        RestrictionKind::Mortgage => "抵押权",
        RestrictionKind::Seizure => "查封",
        RestrictionKind::Objection => "异议登记",
        RestrictionKind::AdvanceNotice => "预告登记",
    }
}

fn proof(page: &UnitPage, r: &CurrentRestriction) -> Printed {
    let mut other = vec![];
    if let Some(amount) = &r.amount {
        let what = if r.maximum { "最高债权数额" } else { "被担保主债权数额" };
        other.push(format!("{what}：{amount}元"));
    }
    if r.kind == RestrictionKind::Mortgage {
        other.push(format!("抵押顺位：{}", r.position + 1));
    }
    if let Some(shares) = shares(&r.holders) {
        other.push(shares);
    }
    let (right_type, nature, purpose, area, term) =
        page.right.as_ref().map(natural).unwrap_or_else(|| (String::new(), None, None, None, None));
    Printed {
        holders: names(&r.holders),
        holder_id_type: id_type(&r.holders),
        co_ownership: co_ownership(&r.holders).unwrap_or("单独所有").to_owned(),
        location: page.right.as_ref().map(|p| p.location.clone()).unwrap_or_default(),
        right_type,
        nature,
        purpose,
        area,
        term,
        other,
        matter: Some(matter(r).to_owned()),
        obligors: page.right.as_ref().map(|p| names(&p.holders)).unwrap_or_default(),
        valid_until: r.expires_at.map(|t| t.date_naive()),
    }
}

/// The fields a certificate for `business_no` prints, from the unit's current page; `None` when
/// that business's entry is no longer current (a later registration changed it).
pub fn printed(kind: RegistrationKind, page: &UnitPage, business_no: &str) -> Option<Printed> {
    if kind.issues_property_certificate() {
        return page.right.as_ref().filter(|r| r.business_no == business_no).and_then(right_certificate);
    }
    let restriction = page.restrictions.iter().find(|r| r.business_no == business_no)?;
    let mut p = proof(page, restriction);
    if p.location.is_empty() {
        p.location = page.right.as_ref().map(|r| r.location.clone()).unwrap_or_default();
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use schemas::ids::IdType;

    use super::*;
    use crate::domain::codes::Term;

    fn holder(name: &str, share: Option<&str>) -> Holder {
        Holder {
            name: name.into(),
            id_type: IdType::IdCard,
            id_number: "11010519491231002X".into(),
            share: share.map(str::to_owned),
        }
    }

    fn page() -> UnitPage {
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        UnitPage {
            right: Some(CurrentRight {
                id: 1,
                right_type: 4,
                holders: vec![holder("张三", Some("1/2")), holder("李四", Some("1/2"))],
                location: "玄武区中山路1号1幢101室".into(),
                area: Some("89.50".into()),
                purpose: Some("住宅".into()),
                nature: Some(102),
                term: d("2006-01-01").zip(d("2076-12-31")).and_then(|(a, b)| Term::new(a, b)),
                business_no: "B1".into(),
                certificate_id: None,
            }),
            restrictions: vec![CurrentRestriction {
                id: 7,
                kind: RestrictionKind::Mortgage,
                position: 0,
                holders: vec![Holder {
                    name: "某银行股份有限公司南京分行".into(),
                    id_type: IdType::CreditCode,
                    id_number: "91350100M000100Y43".into(),
                    share: None,
                }],
                amount: Some("800000.00".into()),
                maximum: false,
                authority: None,
                business_no: "B2".into(),
                certificate_id: None,
                expires_at: None,
            }],
        }
    }

    #[test]
    fn a_property_certificate_prints_the_register() {
        let p = printed(RegistrationKind::First, &page(), "B1").expect("current");
        assert_eq!(p.holders, ["张三", "李四"]);
        assert_eq!(p.co_ownership, "按份共有");
        assert_eq!(p.right_type, "国有建设用地使用权/房屋所有权");
        assert_eq!(p.nature.as_deref(), Some("出让"));
        assert_eq!(p.area.as_deref(), Some("89.50平方米"));
        assert_eq!(p.term.as_deref(), Some("2006年01月01日起2076年12月31日止"));
        assert_eq!(p.other, ["按份共有：张三占1/2，李四占1/2"]);
        assert_eq!(p.holder_id_type, "身份证");
        assert!(p.matter.is_none() && p.obligors.is_empty());
        // Another business's entry, or one no longer current: nothing to print.
        assert_eq!(printed(RegistrationKind::First, &page(), "B9"), None);
    }

    #[test]
    fn a_mortgage_proof_names_the_mortgagee_and_the_owners_as_obligors() {
        let p = printed(RegistrationKind::Mortgage, &page(), "B2").expect("current");
        assert_eq!(p.matter.as_deref(), Some("抵押权"));
        assert_eq!(p.holders, ["某银行股份有限公司南京分行"]);
        assert_eq!(p.holder_id_type, "统一社会信用代码");
        assert_eq!(p.obligors, ["张三", "李四"]);
        assert_eq!(p.other, ["被担保主债权数额：800000.00元", "抵押顺位：1"]);
        assert_eq!(p.location, "玄武区中山路1号1幢101室");
    }

    #[test]
    fn an_objection_proof_carries_its_lapse_date() {
        let mut pg = page();
        pg.restrictions[0].kind = RestrictionKind::Objection;
        pg.restrictions[0].amount = None;
        pg.restrictions[0].expires_at = Utc.with_ymd_and_hms(2026, 12, 15, 0, 0, 0).single();
        let p = printed(RegistrationKind::Objection, &pg, "B2").expect("current");
        assert_eq!(p.matter.as_deref(), Some("异议登记"));
        assert_eq!(p.valid_until.map(|d| d.to_string()).as_deref(), Some("2026-12-15"));
        assert!(p.other.is_empty());
    }
}
