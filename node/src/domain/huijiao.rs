//! National 汇交 (接入) export of one recorded business, in the table naming of the 不动产登记数据库
//! 标准 接入 format (STANDARDS.md §4.2): `DJT_DJ_SL` (受理), `DJF_DJ_SQR` (申请人), the right table
//! (`QLT_FW_FDCQ_YZ` for house ownership, `QLF_QL_JSYDSYQ` for land use, else `QLF_QL_QTXGQL`),
//! `ZTT_GY_QLR` (权利人), the restriction tables (`QLF_QL_DYAQ`, `QLF_QL_CFDJ`, `QLF_QL_YYDJ`,
//! `QLF_QL_YGDJ`), `QLF_QL_ZXDJ` (注销) and the process tables `DJF_DJ_SH`, `DJF_DJ_SZ`,
//! `DJF_DJ_FZ`. A county can so feed an existing national platform as well as the federation.
//!
//! Field names follow the tables as implemented publicly; the 2021 edition may differ in detail
//! (STANDARDS.md §4 marks what is unverified), so each table is plain data that is easy to adjust.

use chrono::{DateTime, Utc};
use schemas::register::{RegistrationDetails, RestrictionKind};
use schemas::registration::{PartyRole, RegistrationKind, Stage};
use serde_json::{Map, Value};

use super::parties::Party;
use super::register::Holder;

/// A right the business recorded.
#[derive(Debug, Clone)]
pub struct RecordedRight {
    pub unit_code: String,
    pub right_type: u16,
    pub holders: Vec<Holder>,
    pub co_ownership: String,
    pub location: String,
    pub area: Option<String>,
    pub purpose: Option<String>,
    /// 权利性质 QLXZ code.
    pub nature: Option<u16>,
    /// 使用期限 (土地使用起止时间).
    pub term: Option<crate::domain::codes::Term>,
    pub current: bool,
    pub certificate_number: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A restriction the business recorded.
#[derive(Debug, Clone)]
pub struct RecordedRestriction {
    pub unit_code: String,
    pub kind: RestrictionKind,
    pub position: i64,
    pub holders: Vec<Holder>,
    pub amount: Option<String>,
    pub maximum: bool,
    pub authority: Option<String>,
    pub current: bool,
    pub certificate_number: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// Everything the export is made of.
pub struct Business<'a> {
    pub office: &'a str,
    pub office_name: &'a str,
    pub business_no: &'a str,
    pub unit_code: &'a str,
    pub kind: RegistrationKind,
    pub details: &'a RegistrationDetails,
    pub parties: &'a [Party],
    /// Stage and time of every progress step, in order.
    pub steps: &'a [(Stage, DateTime<Utc>)],
    pub right: Option<RecordedRight>,
    pub restriction: Option<RecordedRestriction>,
    /// For 注销登记: when the right was ended.
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// One table: its name and rows of (field, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub rows: Vec<Vec<(&'static str, String)>>,
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn when(steps: &[(Stage, DateTime<Utc>)], stage: Stage) -> Option<DateTime<Utc>> {
    steps.iter().rev().find(|(s, _)| *s == stage).map(|(_, t)| *t)
}

fn holder_rows(
    holders: &[Holder],
    business_no: &str,
    unit: &str,
    co_ownership: &str,
) -> Vec<Vec<(&'static str, String)>> {
    let gyfs = match co_ownership {
        "共同共有" => "1",
        "按份共有" => "2",
        _ => "0",
    };
    holders
        .iter()
        .enumerate()
        .map(|(i, h)| {
            vec![
                ("YWH", business_no.to_owned()),
                ("BDCDYH", unit.to_owned()),
                ("SXH", (i + 1).to_string()),
                ("QLRMC", h.name.clone()),
                ("ZJZL", h.id_type.code().to_string()),
                ("ZJH", h.id_number.clone()),
                ("GYFS", gyfs.to_owned()),
                ("QLBL", h.share.clone().unwrap_or_default()),
            ]
        })
        .collect()
}

/// The tables of one business.
pub fn tables(b: &Business<'_>) -> Vec<Table> {
    let mut out = vec![];
    let djlx = b.kind.code().to_string();
    let accepted = when(b.steps, Stage::Accepted);
    out.push(Table {
        name: "DJT_DJ_SL",
        rows: vec![vec![
            ("YWH", b.business_no.to_owned()),
            ("BDCDYH", b.unit_code.to_owned()),
            ("DJLX", djlx.clone()),
            ("DJYY", b.kind.label_zh().to_owned()),
            ("SLSJ", accepted.map(time).unwrap_or_default()),
            ("SQFS", "网上申请".to_owned()),
            ("QXDM", b.office.to_owned()),
            ("DJJG", b.office_name.to_owned()),
        ]],
    });
    out.push(Table {
        name: "DJF_DJ_SQR",
        rows: b
            .parties
            .iter()
            .map(|p| {
                let role = match p.role {
                    PartyRole::RightHolder => "1",
                    PartyRole::Obligor => "2",
                    PartyRole::Applicant => "3",
                    PartyRole::Agent => "4",
                };
                vec![
                    ("YWH", b.business_no.to_owned()),
                    ("SQRMC", p.name.clone()),
                    ("ZJZL", p.id_type.code().to_string()),
                    ("ZJH", p.id_number.clone()),
                    ("SQRLB", role.to_owned()),
                ]
            })
            .collect(),
    });
    if let Some(r) = &b.right {
        let table = match r.right_type {
            4 | 6 | 8 => "QLT_FW_FDCQ_YZ",
            3 | 5 | 7 => "QLF_QL_JSYDSYQ",
            _ => "QLF_QL_QTXGQL",
        };
        out.push(Table {
            name: table,
            rows: vec![vec![
                ("YWH", b.business_no.to_owned()),
                ("BDCDYH", r.unit_code.clone()),
                ("QLLX", r.right_type.to_string()),
                ("DJLX", djlx.clone()),
                ("DJYY", b.kind.label_zh().to_owned()),
                ("FDZL", r.location.clone()),
                ("GHYT", r.purpose.clone().unwrap_or_default()),
                ("JZMJ", r.area.clone().unwrap_or_default()),
                ("QLXZ", r.nature.map(|n| n.to_string()).unwrap_or_default()),
                ("TDSYQSSJ", r.term.map(|t| t.from.to_string()).unwrap_or_default()),
                ("TDSYJSSJ", r.term.map(|t| t.to.to_string()).unwrap_or_default()),
                ("BDCQZH", r.certificate_number.clone().unwrap_or_default()),
                ("QXDM", b.office.to_owned()),
                ("DJJG", b.office_name.to_owned()),
                ("DJSJ", time(r.recorded_at)),
                ("QSZT", if r.current { "1" } else { "2" }.to_owned()),
            ]],
        });
        out.push(Table {
            name: "ZTT_GY_QLR",
            rows: holder_rows(&r.holders, b.business_no, &r.unit_code, &r.co_ownership),
        });
    }
    if let Some(r) = &b.restriction {
        let mut row = vec![("YWH", b.business_no.to_owned()), ("BDCDYH", r.unit_code.clone())];
        let name = match r.kind {
            RestrictionKind::Mortgage => {
                row.push(("DYFS", if r.maximum { "2" } else { "1" }.to_owned()));
                let amount = r.amount.clone().unwrap_or_default();
                row.push(if r.maximum { ("ZGZQSE", amount) } else { ("BDBZZQSE", amount) });
                row.push(("DYQR", r.holders.iter().map(|h| h.name.clone()).collect::<Vec<_>>().join("、")));
                row.push(("BDCDJZMH", r.certificate_number.clone().unwrap_or_default()));
                "QLF_QL_DYAQ"
            }
            RestrictionKind::Seizure => {
                row.push(("CFJG", r.authority.clone().unwrap_or_default()));
                row.push(("CFLX", if r.position == 0 { "1" } else { "2" }.to_owned()));
                row.push(("LHSX", r.position.to_string()));
                "QLF_QL_CFDJ"
            }
            RestrictionKind::Objection => {
                row.push(("YYSX", "异议登记".to_owned()));
                row.push(("BDCDJZMH", r.certificate_number.clone().unwrap_or_default()));
                "QLF_QL_YYDJ"
            }
            RestrictionKind::AdvanceNotice => {
                row.push(("YGDJZL", b.details.advance_kind.unwrap_or(2).to_string()));
                row.push(("BDCDJZMH", r.certificate_number.clone().unwrap_or_default()));
                "QLF_QL_YGDJ"
            }
        };
        row.push(("DJSJ", time(r.recorded_at)));
        row.push(("QXDM", b.office.to_owned()));
        row.push(("QSZT", if r.current { "1" } else { "2" }.to_owned()));
        out.push(Table { name, rows: vec![row] });
        if !r.holders.is_empty() {
            out.push(Table {
                name: "ZTT_GY_QLR",
                rows: holder_rows(&r.holders, b.business_no, &r.unit_code, "单独所有"),
            });
        }
    }
    if let Some(at) = b.cancelled_at {
        out.push(Table {
            name: "QLF_QL_ZXDJ",
            rows: vec![vec![
                ("YWH", b.business_no.to_owned()),
                ("BDCDYH", b.unit_code.to_owned()),
                ("ZXDJYY", "注销登记".to_owned()),
                ("DJSJ", time(at)),
                ("QXDM", b.office.to_owned()),
            ]],
        });
    }
    for (name, stage) in [("DJF_DJ_SH", Stage::Reviewed), ("DJF_DJ_SZ", Stage::Certified), ("DJF_DJ_FZ", Stage::Issued)]
    {
        if let Some(t) = when(b.steps, stage) {
            let field = match stage {
                Stage::Reviewed => "SHKSSJ",
                Stage::Certified => "SZSJ",
                _ => "FZSJ",
            };
            out.push(Table {
                name,
                rows: vec![vec![("YWH", b.business_no.to_owned()), (field, time(t)), ("QXDM", b.office.to_owned())]],
            });
        }
    }
    out
}

/// `{ "head": {…}, "data": { "TABLE": [ {FIELD: value, …}, … ], … } }`.
pub fn to_json(head: &[(&str, String)], tables: &[Table]) -> Value {
    let mut data = Map::new();
    for t in tables {
        let rows: Vec<Value> = t
            .rows
            .iter()
            .map(|r| Value::Object(r.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect()))
            .collect();
        match data.get_mut(t.name) {
            Some(Value::Array(existing)) => existing.extend(rows),
            _ => {
                data.insert(t.name.to_owned(), Value::Array(rows));
            }
        }
    }
    let head: Map<String, Value> = head.iter().map(|(k, v)| ((*k).to_owned(), Value::String(v.clone()))).collect();
    serde_json::json!({ "head": head, "data": data })
}

/// `<Message><Head …/><Data><TABLE FIELD="value" …/>…</Data></Message>`, every value escaped.
pub fn to_xml(head: &[(&str, String)], tables: &[Table]) -> String {
    let attrs = |fields: &[(&str, String)]| -> String {
        fields.iter().map(|(k, v)| format!(" {k}=\"{}\"", quick_xml::escape::escape(v.as_str()))).collect()
    };
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Message>\n");
    xml.push_str(&format!("  <Head{}/>\n  <Data>\n", attrs(head)));
    for t in tables {
        for r in &t.rows {
            let fields: Vec<(&str, String)> = r.iter().map(|(k, v)| (*k, v.clone())).collect();
            xml.push_str(&format!("    <{}{}/>\n", t.name, attrs(&fields)));
        }
    }
    xml.push_str("  </Data>\n</Message>\n");
    xml
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use schemas::ids::IdType;

    #[test]
    fn a_mortgage_exports_its_tables_and_escapes_xml() {
        let details = RegistrationDetails { amount: Some("1000.00".into()), ..Default::default() };
        let bank = Holder {
            name: "A&B \"银行\"".into(),
            id_type: IdType::CreditCode,
            id_number: "91350100M000100Y43".into(),
            share: None,
        };
        let steps = [(Stage::Accepted, Utc::now()), (Stage::Reviewed, Utc::now()), (Stage::Issued, Utc::now())];
        let b = Business {
            office: "320102",
            office_name: "玄武区不动产登记中心",
            business_no: "32010220261130000001",
            unit_code: "320102003001GB00012F00010203",
            kind: RegistrationKind::Mortgage,
            details: &details,
            parties: &[],
            steps: &steps,
            right: None,
            restriction: Some(RecordedRestriction {
                unit_code: "320102003001GB00012F00010203".into(),
                kind: RestrictionKind::Mortgage,
                position: 0,
                holders: vec![bank],
                amount: Some("1000.00".into()),
                maximum: false,
                authority: None,
                current: true,
                certificate_number: Some("苏(2026)南京市不动产证明第0000001号".into()),
                recorded_at: Utc::now(),
            }),
            cancelled_at: None,
        };
        let t = tables(&b);
        let names: Vec<&str> = t.iter().map(|t| t.name).collect();
        assert_eq!(names, vec!["DJT_DJ_SL", "DJF_DJ_SQR", "QLF_QL_DYAQ", "ZTT_GY_QLR", "DJF_DJ_SH", "DJF_DJ_FZ"]);
        let json = to_json(&[("YWH", b.business_no.to_owned())], &t);
        assert_eq!(json["data"]["QLF_QL_DYAQ"][0]["BDBZZQSE"], "1000.00");
        assert_eq!(json["data"]["ZTT_GY_QLR"][0]["ZJZL"], IdType::CreditCode.code().to_string());
        let xml = to_xml(&[("YWH", b.business_no.to_owned())], &t);
        assert!(xml.contains("DYQR=\"A&amp;B &quot;银行&quot;\""), "{xml}");
        assert!(xml.starts_with("<?xml") && xml.trim_end().ends_with("</Message>"));
    }
}
