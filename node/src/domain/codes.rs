//! Dictionaries of the 不动产登记数据库标准 (STANDARDS.md §3.6) that the register and the
//! certificates print: 权利类型 (QLLX) and 权利性质 (QLXZ), and the 使用期限 as it is written.

use chrono::NaiveDate;

/// 权利类型 QLLX: code and the name printed on a certificate. Code 23 is 抵押权 in the current
/// dictionary (其它权利 in the older one); 99 is 其它权利.
const RIGHT_TYPES: &[(u16, &str)] = &[
    (1, "集体土地所有权"),
    (2, "国家土地所有权"),
    (3, "国有建设用地使用权"),
    (4, "国有建设用地使用权/房屋所有权"),
    (5, "宅基地使用权"),
    (6, "宅基地使用权/房屋所有权"),
    (7, "集体建设用地使用权"),
    (8, "集体建设用地使用权/房屋所有权"),
    (9, "土地承包经营权"),
    (10, "土地承包经营权/森林、林木所有权"),
    (11, "林地使用权"),
    (12, "林地使用权/森林、林木使用权"),
    (13, "草原使用权"),
    (14, "水域滩涂养殖权"),
    (15, "海域使用权"),
    (16, "海域使用权/构（建）筑物所有权"),
    (17, "无居民海岛使用权"),
    (18, "无居民海岛使用权/构（建）筑物所有权"),
    (19, "地役权"),
    (20, "取水权"),
    (21, "探矿权"),
    (22, "采矿权"),
    (23, "抵押权"),
    (99, "其它权利"),
];

/// 权利性质 QLXZ: code and name.
const NATURES: &[(u16, &str)] = &[
    (100, "国有土地"),
    (101, "划拨"),
    (102, "出让"),
    (103, "作价出资（入股）"),
    (104, "租赁"),
    (105, "授权经营"),
    (106, "家庭承包"),
    (107, "其它方式承包"),
    (200, "集体土地"),
    (201, "家庭承包"),
    (202, "其它方式承包"),
    (203, "批准拨用"),
    (204, "入股"),
    (205, "联营"),
];

fn lookup(table: &[(u16, &'static str)], code: u16) -> Option<&'static str> {
    table.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

/// The name of a 权利类型 code, if the dictionary has it.
pub fn right_type_name(code: u16) -> Option<&'static str> {
    lookup(RIGHT_TYPES, code)
}

/// The name of a 权利性质 code, if the dictionary has it.
pub fn nature_name(code: u16) -> Option<&'static str> {
    lookup(NATURES, code)
}

/// A 使用期限 (term of use): first and last day, the last after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Term {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        (to > from).then_some(Self { from, to })
    }

    /// As stored: `2006-01-01/2076-12-31`.
    pub fn to_stored(self) -> String {
        format!("{}/{}", self.from, self.to)
    }

    pub fn from_stored(text: &str) -> Option<Self> {
        let (a, b) = text.split_once('/')?;
        Self::new(a.parse().ok()?, b.parse().ok()?)
    }

    /// As a certificate prints it: `2006年01月01日起2076年12月31日止`.
    pub fn to_printed(self) -> String {
        format!("{}起{}止", self.from.format("%Y年%m月%d日"), self.to.format("%Y年%m月%d日"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_terms() {
        assert_eq!(right_type_name(4), Some("国有建设用地使用权/房屋所有权"));
        assert_eq!(right_type_name(24), None);
        assert_eq!(nature_name(102), Some("出让"));
        assert_eq!(nature_name(108), None);
        let d = |s: &str| s.parse::<NaiveDate>().ok();
        let t = d("2006-01-01").zip(d("2076-12-31")).and_then(|(a, b)| Term::new(a, b));
        assert_eq!(t.map(Term::to_printed).as_deref(), Some("2006年01月01日起2076年12月31日止"));
        assert_eq!(t.map(Term::to_stored).as_deref().and_then(Term::from_stored), t);
        assert_eq!(d("2076-12-31").zip(d("2006-01-01")).and_then(|(a, b)| Term::new(a, b)), None);
        assert_eq!(Term::from_stored("2006-01-01"), None);
    }
}
