//! Certificate documents: what an applicant takes away and prints. One [`Sheet`] — the fields of
//! the paper 不动产权证书 / 不动产登记证明 in their official order, the electronic-licence metadata
//! and a QR code leading to the verification page — is laid out once on an A4 page ([`layout`])
//! and written as PDF ([`pdf`]) or OFD ([`ofd`], GB/T 33190, the format GB/T 36905 names for
//! e-licences); the printable HTML page renders the same sheet. Every document is a pure function
//! of the signed content, its status and the verification address, so the same certificate always
//! gives the same bytes.

pub mod layout;
pub mod ofd;
pub mod pdf;

use schemas::api::{CertificateContent, CertificateStatus};

/// A certificate as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    /// 不动产权证书 or 不动产登记证明.
    pub title: String,
    /// 苏(2026)南京市不动产权第0000001号
    pub number: String,
    /// The table, in the order of the paper form: (label, value).
    pub rows: Vec<(String, String)>,
    /// The lines under the table: issuing office, date, identifier.
    pub footer: Vec<String>,
    /// Where the QR code leads: the verification page for this certificate.
    pub verify_url: String,
    /// A warning printed in red when the certificate is no longer valid.
    pub warning: Option<String>,
    /// 电子证照标识, for document metadata.
    pub id: String,
}

fn joined(items: &[String]) -> String {
    items.join("、")
}

/// The sheet of a certificate: `content` as signed, `status` as this node knows it now; the QR
/// code leads to this node's verification page with the 查验码 `code`, so that whoever holds the
/// document can check it and fetch the original.
pub fn sheet(
    content: &CertificateContent,
    status: CertificateStatus,
    reason: &str,
    public_url: &str,
    code: &str,
) -> Sheet {
    let c = content;
    let or_blank = |v: &Option<String>| v.clone().unwrap_or_else(|| "/".to_owned());
    let mut rows: Vec<(String, String)> = vec![];
    let mut row = |label: &str, value: String| rows.push((label.to_owned(), value));
    let proof = c.matter.is_some();
    if proof {
        row("证明权利或事项", c.matter.clone().unwrap_or_default());
        row("权利人（申请人）", joined(&c.holders));
        row("义务人", if c.obligors.is_empty() { "/".to_owned() } else { joined(&c.obligors) });
        row("坐落", c.location.clone());
        row("不动产单元号", c.unit_code.to_string());
        row("登记类型", c.registration_kind.clone());
        row("其他", if c.other.is_empty() { "/".to_owned() } else { c.other.join("；") });
    } else {
        row("权利人", joined(&c.holders));
        row("共有情况", c.co_ownership.clone());
        row("坐落", c.location.clone());
        row("不动产单元号", c.unit_code.to_string());
        row("权利类型", if c.right_type.is_empty() { "/".to_owned() } else { c.right_type.clone() });
        row("权利性质", or_blank(&c.nature));
        row("用途", or_blank(&c.purpose));
        row("面积", or_blank(&c.area));
        row("使用期限", or_blank(&c.term));
        row("权利其他状况", if c.other.is_empty() { "/".to_owned() } else { c.other.join("；") });
    }
    row(
        "有效期限",
        c.valid_until.map(|d| format!("至{}", d.format("%Y年%m月%d日"))).unwrap_or_else(|| "长期".to_owned()),
    );
    row("附记", if c.notes.is_empty() { "/".to_owned() } else { c.notes.join("；") });
    let verify_url = format!("{}/verify?id={}&code={code}", public_url.trim_end_matches('/'), c.id);
    let warning = match status {
        CertificateStatus::Valid => None,
        CertificateStatus::Superseded => Some(format!("本证照已被新版本替代（{reason}），仅供查阅")),
        CertificateStatus::Void => Some(format!("本证照已作废（{reason}），仅供查阅")),
    };
    Sheet {
        title: c.title.clone(),
        number: c.number.clone(),
        rows,
        footer: vec![
            format!("登记机构：{}（{}）", c.issuer_name, c.issuer_division),
            format!("颁发日期：{}", c.issued_on.format("%Y年%m月%d日")),
            format!("电子证照标识：{}", c.id),
            format!("业务号：{}", c.business_no),
            format!("查验码：{code}"),
            "扫描二维码或访问下列地址核验本证照：".to_owned(),
            verify_url.clone(),
        ],
        verify_url,
        warning,
        id: c.id.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::NaiveDate;
    use schemas::api::CertificateContent;
    use schemas::ids::{BusinessNo, CertificateId, DivisionCode, UnitCode};

    use super::*;

    pub fn content() -> CertificateContent {
        let (Ok(id), Ok(bn), Ok(unit), Ok(div)) = (
            CertificateId::new("11100000MB03271699001", "320102", "202600000001", 1),
            BusinessNo::parse("32010220261130000001"),
            UnitCode::parse("320102003001GB00012F00010001"),
            DivisionCode::parse("320102"),
        ) else {
            panic!("test identifiers")
        };
        CertificateContent {
            title: "不动产权证书".into(),
            type_code: "11100000MB03271699001".into(),
            id,
            number: "苏(2026)南京市不动产权第0000001号".into(),
            business_no: bn,
            holders: vec!["张三".into(), "李四".into()],
            co_ownership: "按份共有".into(),
            location: "南京市玄武区中山路1号1幢101室，一个很长的坐落用来检验自动换行是否在表格的宽度以内完成".into(),
            unit_code: unit,
            registration_kind: "首次登记".into(),
            issuer_name: "南京市玄武区不动产登记中心".into(),
            issuer_division: div,
            issued_on: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default(),
            holder_id_type: "身份证".into(),
            right_type: "国有建设用地使用权/房屋所有权".into(),
            nature: Some("出让".into()),
            purpose: Some("住宅".into()),
            area: Some("89.50平方米".into()),
            term: Some("2006年01月01日起2076年12月31日止".into()),
            other: vec!["按份共有：张三占1/2，李四占1/2".into()],
            notes: vec!["业务号：32010220261130000001".into()],
            matter: None,
            obligors: vec![],
            valid_until: None,
        }
    }

    #[test]
    fn a_property_certificate_sheet_follows_the_paper_form() {
        let s = sheet(&content(), CertificateStatus::Valid, "", "https://bdc.example.cn/", "0123456789ABCDEF");
        let labels: Vec<&str> = s.rows.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "权利人",
                "共有情况",
                "坐落",
                "不动产单元号",
                "权利类型",
                "权利性质",
                "用途",
                "面积",
                "使用期限",
                "权利其他状况",
                "有效期限",
                "附记"
            ]
        );
        assert_eq!(s.rows[0].1, "张三、李四");
        assert!(s.verify_url.starts_with("https://bdc.example.cn/verify?id=1.2.156.3005.2."), "{}", s.verify_url);
        assert!(s.verify_url.ends_with("&code=0123456789ABCDEF"), "{}", s.verify_url);
        assert!(s.warning.is_none());
        let void = sheet(&content(), CertificateStatus::Void, "转移登记", "http://x", "C");
        assert_eq!(void.warning.as_deref(), Some("本证照已作废（转移登记），仅供查阅"));
    }

    #[test]
    fn a_proof_sheet_names_the_matter_and_the_obligors() {
        let mut c = content();
        c.title = "不动产登记证明".into();
        c.matter = Some("抵押权".into());
        c.obligors = vec!["张三".into()];
        c.holders = vec!["某银行".into()];
        let s = sheet(&c, CertificateStatus::Valid, "", "http://x", "C");
        assert_eq!(s.rows[0], ("证明权利或事项".to_owned(), "抵押权".to_owned()));
        assert_eq!(s.rows[2], ("义务人".to_owned(), "张三".to_owned()));
    }
}
