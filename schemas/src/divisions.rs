//! The GB/T 2260 administrative division table, shipped as data (STANDARDS §9, §11).
//!
//! The code lists in `data/divisions/` (provinces, prefectures, counties, from the public
//! `china-division` package) are embedded at compile time and parsed once. Division codes change
//! every year, so they are data, not code: [`Divisions::from_csv`] loads a newer copy of the same
//! files.
//!
//! `data/divisions/successors.csv` (`retired,successor,year,note`) maps codes that were retired by
//! mergers or re-designations (撤县设区, 区划合并…) to the code that took over, so old records
//! (e.g. a 不动产单元代码 issued under 白下区 320103) can be routed: see [`Divisions::resolve`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use crate::ids::{DivisionCode, DivisionLevel};

const PROVINCES_CSV: &str = include_str!("../data/divisions/provinces.csv");
const CITIES_CSV: &str = include_str!("../data/divisions/cities.csv");
const AREAS_CSV: &str = include_str!("../data/divisions/areas.csv");
const SUCCESSORS_CSV: &str = include_str!("../data/divisions/successors.csv");

/// Names used in the prefecture list for groupings that are not real prefectures.
const PLACEHOLDER_PREFECTURES: &[&str] = &["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];

/// One-character 简称 of each province-level division, as printed in certificate numbers.
const PROVINCE_ABBRS: &[(&str, &str)] = &[
    ("11", "京"),
    ("12", "津"),
    ("13", "冀"),
    ("14", "晋"),
    ("15", "蒙"),
    ("21", "辽"),
    ("22", "吉"),
    ("23", "黑"),
    ("31", "沪"),
    ("32", "苏"),
    ("33", "浙"),
    ("34", "皖"),
    ("35", "闽"),
    ("36", "赣"),
    ("37", "鲁"),
    ("41", "豫"),
    ("42", "鄂"),
    ("43", "湘"),
    ("44", "粤"),
    ("45", "桂"),
    ("46", "琼"),
    ("50", "渝"),
    ("51", "川"),
    ("52", "黔"),
    ("53", "滇"),
    ("54", "藏"),
    ("61", "陕"),
    ("62", "甘"),
    ("63", "青"),
    ("64", "宁"),
    ("65", "新"),
];

/// A line of a division data file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("行政区划数据文件 {file} 第{line}行有误：{reason}")]
pub struct DivisionDataError {
    /// Which file: `provinces.csv`, `cities.csv`, `areas.csv` or `successors.csv`.
    pub file: &'static str,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// A retired code and the code that took over its territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    pub retired: DivisionCode,
    pub successor: DivisionCode,
    /// Year the change took effect.
    pub year: u16,
    /// What happened, e.g. `白下区并入秦淮区`.
    pub note: String,
}

/// How many entries each level of the table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivisionCounts {
    pub provinces: usize,
    pub prefectures: usize,
    pub counties: usize,
    pub retired: usize,
}

#[derive(Debug, Clone)]
struct County {
    name: String,
}

/// The GB/T 2260 table: provinces (`xx`), prefectures (`xxxx`), counties (`xxxxxx`) and the
/// successor table of retired codes.
#[derive(Debug, Clone, Default)]
pub struct Divisions {
    /// 2-digit code → name.
    provinces: BTreeMap<String, String>,
    /// 4-digit code → name.
    prefectures: BTreeMap<String, String>,
    /// 6-digit code → county.
    counties: BTreeMap<String, County>,
    /// 6-digit retired code → retirement.
    successors: BTreeMap<String, Retirement>,
}

/// Splits one CSV line; handles double-quoted fields (with `""` escapes).
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
        } else {
            match c {
                '"' if field.is_empty() && !was_quoted => {
                    in_quotes = true;
                    was_quoted = true;
                }
                '"' => return Err("引号位置不正确".to_owned()),
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                _ if was_quoted => return Err("引号后应为逗号".to_owned()),
                _ => field.push(c),
            }
        }
    }
    if in_quotes {
        return Err("引号未闭合".to_owned());
    }
    fields.push(field);
    Ok(fields)
}

/// Yields `(line_number, fields)` for every data row, after checking the header.
fn csv_rows<'a>(
    file: &'static str,
    text: &'a str,
    header: &'a [&'a str],
) -> Result<Vec<(usize, Vec<String>)>, DivisionDataError> {
    let err = |line: usize, reason: String| DivisionDataError { file, line, reason };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut seen_header = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line).map_err(|r| err(line_no, r))?;
        if !seen_header {
            let names: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
            if names != header {
                return Err(err(line_no, format!("表头应为 {}", header.join(","))));
            }
            seen_header = true;
            continue;
        }
        if fields.len() != header.len() {
            return Err(err(line_no, format!("应有{}列，实际{}列", header.len(), fields.len())));
        }
        rows.push((line_no, fields));
    }
    if !seen_header {
        return Err(err(1, "文件为空".to_owned()));
    }
    Ok(rows)
}

fn digits_of_len(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

impl Divisions {
    /// The table compiled into this crate.
    pub fn builtin() -> &'static Divisions {
        static BUILTIN: OnceLock<Divisions> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The embedded files are checked by a unit test, so this cannot fail in a released
            // build; an empty table (nothing known) is the safe fallback.
            Divisions::from_csv(PROVINCES_CSV, CITIES_CSV, AREAS_CSV, SUCCESSORS_CSV).unwrap_or_default()
        })
    }

    /// Loads the table from the four CSV files (same layout as `data/divisions/`):
    /// `code,name` · `code,name,provinceCode` · `code,name,cityCode,provinceCode` ·
    /// `retired,successor,year,note`.
    pub fn from_csv(
        provinces: &str,
        cities: &str,
        areas: &str,
        successors: &str,
    ) -> Result<Divisions, DivisionDataError> {
        let mut table = Divisions::default();

        const P: &str = "provinces.csv";
        for (line, f) in csv_rows(P, provinces, &["code", "name"])? {
            let err = |reason: &str| DivisionDataError { file: P, line, reason: reason.to_owned() };
            if !digits_of_len(&f[0], 2) || f[0] == "00" {
                return Err(err("省级代码应为2位数字"));
            }
            if f[1].trim().is_empty() {
                return Err(err("名称为空"));
            }
            if table.provinces.insert(f[0].clone(), f[1].clone()).is_some() {
                return Err(err("代码重复"));
            }
        }

        const C: &str = "cities.csv";
        for (line, f) in csv_rows(C, cities, &["code", "name", "provinceCode"])? {
            let err = |reason: &str| DivisionDataError { file: C, line, reason: reason.to_owned() };
            if !digits_of_len(&f[0], 4) || f[0].ends_with("00") {
                return Err(err("地级代码应为4位数字"));
            }
            if f[1].trim().is_empty() {
                return Err(err("名称为空"));
            }
            if f[2] != f[0][..2] || !table.provinces.contains_key(&f[2]) {
                return Err(err("所属省级代码与代码前2位不符或不存在"));
            }
            if table.prefectures.insert(f[0].clone(), f[1].clone()).is_some() {
                return Err(err("代码重复"));
            }
        }

        const A: &str = "areas.csv";
        for (line, f) in csv_rows(A, areas, &["code", "name", "cityCode", "provinceCode"])? {
            let err = |reason: &str| DivisionDataError { file: A, line, reason: reason.to_owned() };
            if !digits_of_len(&f[0], 6) || f[0].ends_with("0000") {
                return Err(err("县级代码应为6位数字"));
            }
            if f[1].trim().is_empty() {
                return Err(err("名称为空"));
            }
            if f[2] != f[0][..4] || !table.prefectures.contains_key(&f[2]) {
                return Err(err("所属地级代码与代码前4位不符或不存在"));
            }
            if f[3] != f[0][..2] {
                return Err(err("所属省级代码与代码前2位不符"));
            }
            let county = County { name: f[1].clone() };
            if table.counties.insert(f[0].clone(), county).is_some() {
                return Err(err("代码重复"));
            }
        }

        const S: &str = "successors.csv";
        for (line, f) in csv_rows(S, successors, &["retired", "successor", "year", "note"])? {
            let err = |reason: &str| DivisionDataError { file: S, line, reason: reason.to_owned() };
            let retired = DivisionCode::parse(&f[0]).map_err(|_| err("被撤销代码应为6位数字"))?;
            let successor = DivisionCode::parse(&f[1]).map_err(|_| err("继承代码应为6位数字"))?;
            if retired == successor {
                return Err(err("继承代码不能与被撤销代码相同"));
            }
            let year: u16 = f[2].parse().map_err(|_| err("年份应为数字"))?;
            let retirement = Retirement { retired, successor, year, note: f[3].clone() };
            if table.successors.insert(f[0].clone(), retirement).is_some() {
                return Err(err("代码重复"));
            }
        }

        Ok(table)
    }

    /// How many entries each level holds.
    pub fn counts(&self) -> DivisionCounts {
        DivisionCounts {
            provinces: self.provinces.len(),
            prefectures: self.prefectures.len(),
            counties: self.counties.len(),
            retired: self.successors.len(),
        }
    }

    fn province_name(&self, code: &DivisionCode) -> Option<&str> {
        self.provinces.get(&code.as_str()[..2]).map(String::as_str)
    }

    fn prefecture_name(&self, code: &DivisionCode) -> Option<&str> {
        self.prefectures.get(&code.as_str()[..4]).map(String::as_str)
    }

    fn county_name(&self, code: &DivisionCode) -> Option<&str> {
        self.counties.get(code.as_str()).map(|c| c.name.as_str())
    }

    fn is_municipality(&self, code: &DivisionCode) -> bool {
        // 直辖市: the province-level name itself is a city (北京市, 天津市, 上海市, 重庆市).
        self.province_name(code).is_some_and(|n| n.ends_with('市'))
    }

    /// True for `000000`, every province (`xx0000`), every prefecture (`xxxx00`) and every
    /// county in the current table. Retired codes are not known (see [`Divisions::resolve`]).
    pub fn is_known(&self, code: &DivisionCode) -> bool {
        self.name(code).is_some()
    }

    /// The name of a known code: `全国` for `000000`; the GB/T 2260 name otherwise (a grouping
    /// such as `市辖区` keeps that name).
    pub fn name(&self, code: &DivisionCode) -> Option<&str> {
        match code.level() {
            DivisionLevel::Nation => Some("全国"),
            DivisionLevel::Province => self.province_name(code),
            DivisionLevel::Prefecture => self.prefecture_name(code).or_else(|| self.county_name(code)),
            DivisionLevel::County => self.county_name(code),
        }
    }

    /// Province + prefecture + county names, e.g. `江苏省南京市玄武区`. Placeholder groupings
    /// (`市辖区`, `县`, `省直辖县级行政区划`…) are skipped and a repeated name is written once.
    pub fn full_name(&self, code: &DivisionCode) -> Option<String> {
        let own = self.name(code)?;
        if code.is_nation() {
            return Some(own.to_owned());
        }
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        parts.extend(self.province_name(code));
        if code.level() != DivisionLevel::Province {
            parts.extend(self.prefecture_name(code).filter(|p| !PLACEHOLDER_PREFECTURES.contains(p)));
        }
        let county = (code.level() == DivisionLevel::County)
            .then(|| self.county_name(code))
            .flatten()
            .filter(|c| parts.last() != Some(c));
        parts.extend(county);
        Some(parts.concat())
    }

    /// The one-character 简称 of the province a code belongs to (`苏` for `32xxxx`), for every
    /// province-level division 11–65. `None` for the nation and unknown provinces.
    pub fn province_abbr(&self, code: &DivisionCode) -> Option<&'static str> {
        let prefix = &code.as_str()[..2];
        PROVINCE_ABBRS.iter().find(|(p, _)| *p == prefix).map(|(_, abbr)| *abbr)
    }

    /// The 市县名称 printed in a certificate number `苏(2026)南京市不动产权第0000001号`:
    ///
    /// - a district (区) of a prefecture-level city → the city (`320102` → `南京市`);
    /// - a 县级市, 县, 自治县 or 旗 → its own name (`320282` → `宜兴市`);
    /// - a prefecture → its own name;
    /// - a 直辖市 → its own name; a district of a 直辖市 → the district (`110105` → `朝阳区`),
    ///   following the usual local practice.
    ///
    /// `None` for the nation, an ordinary province, a placeholder grouping or an unknown (also a
    /// retired: resolve it first) code. Local practice varies (e.g. `南通开发区`), so callers may
    /// override this default.
    pub fn city_name_for_certificate(&self, code: &DivisionCode) -> Option<String> {
        if !self.is_known(code) {
            return None;
        }
        match code.level() {
            DivisionLevel::Nation => None,
            DivisionLevel::Province => {
                if self.is_municipality(code) {
                    self.province_name(code).map(str::to_owned)
                } else {
                    None
                }
            }
            DivisionLevel::Prefecture => match self.prefecture_name(code) {
                Some(p) if PLACEHOLDER_PREFECTURES.contains(&p) => {
                    if self.is_municipality(code) {
                        self.province_name(code).map(str::to_owned)
                    } else {
                        None
                    }
                }
                Some(p) => Some(p.to_owned()),
                None => self.county_name(code).map(str::to_owned),
            },
            DivisionLevel::County => {
                let own = self.county_name(code)?;
                if own.ends_with('市') || own.ends_with('县') || own.ends_with('旗') {
                    return Some(own.to_owned());
                }
                match self.prefecture_name(code) {
                    Some(p) if !PLACEHOLDER_PREFECTURES.contains(&p) && p.ends_with('市') => Some(p.to_owned()),
                    _ => Some(own.to_owned()),
                }
            }
        }
    }

    /// Whether the code is listed as retired in the successor table.
    pub fn is_retired(&self, code: &DivisionCode) -> bool {
        self.successors.contains_key(code.as_str())
    }

    /// The successor-table entry of a retired code.
    pub fn retirement(&self, code: &DivisionCode) -> Option<&Retirement> {
        self.successors.get(code.as_str())
    }

    /// Follows the successor table from `code` to the current code (`320103` → `320104`).
    /// Returns the input when it is not retired. A cycle in the table stops at the last code
    /// before it repeats.
    pub fn resolve(&self, code: &DivisionCode) -> DivisionCode {
        let mut current = code;
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        seen.insert(current.as_str());
        while let Some(r) = self.successors.get(current.as_str()) {
            if !seen.insert(r.successor.as_str()) {
                break;
            }
            current = &r.successor;
        }
        current.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn t() -> &'static Divisions {
        Divisions::builtin()
    }

    #[test]
    fn builtin_data_parses_completely() {
        let table = Divisions::from_csv(PROVINCES_CSV, CITIES_CSV, AREAS_CSV, SUCCESSORS_CSV).unwrap();
        let counts = table.counts();
        assert_eq!(counts.provinces, 31);
        assert_eq!(counts.prefectures, 342);
        assert_eq!(counts.counties, 2978);
        assert!(counts.retired >= 2);
        assert_eq!(t().counts(), counts);
    }

    #[test]
    fn xuanwu() {
        assert!(t().is_known(&d("320102")));
        assert_eq!(t().name(&d("320102")), Some("玄武区"));
        assert_eq!(t().full_name(&d("320102")).as_deref(), Some("江苏省南京市玄武区"));
    }

    #[test]
    fn known_and_unknown() {
        assert!(t().is_known(&d("000000")));
        assert!(t().is_known(&d("320000")));
        assert!(t().is_known(&d("320100")));
        assert!(!t().is_known(&d("999999")));
        assert!(!t().is_known(&d("320199")));
        assert!(!t().is_known(&d("329900")));
        assert!(!t().is_known(&d("990000")));
        assert!(!t().is_known(&d("320103")), "retired codes are not current");
        assert_eq!(t().name(&d("000000")), Some("全国"));
        assert_eq!(t().name(&d("320000")), Some("江苏省"));
        assert_eq!(t().name(&d("320100")), Some("南京市"));
        assert_eq!(t().name(&d("999999")), None);
    }

    #[test]
    fn every_province_prefecture_and_county_is_known() {
        let table = t();
        for p in table.provinces.keys() {
            assert!(table.is_known(&d(&format!("{p}0000"))), "{p}");
        }
        for p in table.prefectures.keys() {
            assert!(table.is_known(&d(&format!("{p}00"))), "{p}");
        }
        for c in table.counties.keys() {
            let code = d(c);
            assert!(table.is_known(&code), "{c}");
            assert!(table.full_name(&code).is_some(), "{c}");
            assert!(table.province_abbr(&code).is_some(), "{c}");
            assert!(table.city_name_for_certificate(&code).is_some(), "{c}");
        }
    }

    #[test]
    fn full_names() {
        assert_eq!(t().full_name(&d("000000")).as_deref(), Some("全国"));
        assert_eq!(t().full_name(&d("320000")).as_deref(), Some("江苏省"));
        assert_eq!(t().full_name(&d("320100")).as_deref(), Some("江苏省南京市"));
        // 直辖市 districts: the 市辖区 placeholder is skipped.
        assert_eq!(t().full_name(&d("110105")).as_deref(), Some("北京市朝阳区"));
        assert_eq!(t().full_name(&d("110100")).as_deref(), Some("北京市"));
        // 省直辖县级行政区划 is skipped.
        assert_eq!(t().full_name(&d("419001")).as_deref(), Some("河南省济源市"));
        // Prefecture-level cities without counties are not repeated.
        assert_eq!(t().full_name(&d("441900")).as_deref(), Some("广东省东莞市"));
        assert_eq!(t().full_name(&d("620201")).as_deref(), Some("甘肃省嘉峪关市"));
        assert_eq!(t().full_name(&d("999999")), None);
    }

    #[test]
    fn province_abbreviations() {
        assert_eq!(t().province_abbr(&d("320102")), Some("苏"));
        assert_eq!(t().province_abbr(&d("340000")), Some("皖"));
        assert_eq!(t().province_abbr(&d("510000")), Some("川"));
        assert_eq!(t().province_abbr(&d("520000")), Some("黔"));
        assert_eq!(t().province_abbr(&d("530000")), Some("滇"));
        assert_eq!(t().province_abbr(&d("000000")), None);
        assert_eq!(t().province_abbr(&d("990000")), None);
        // Every province in the data has one, and they are all distinct single characters.
        let mut seen = BTreeSet::new();
        for p in t().provinces.keys() {
            let abbr = t().province_abbr(&d(&format!("{p}0000"))).unwrap();
            assert_eq!(abbr.chars().count(), 1);
            assert!(seen.insert(abbr), "{abbr}");
        }
        assert_eq!(seen.len(), 31);
    }

    #[test]
    fn certificate_city_names() {
        let c = |s: &str| t().city_name_for_certificate(&d(s));
        assert_eq!(c("320102").as_deref(), Some("南京市"));
        assert_eq!(c("320100").as_deref(), Some("南京市"));
        assert_eq!(c("320282").as_deref(), Some("宜兴市"));
        assert_eq!(c("320322").as_deref(), Some("沛县"));
        assert_eq!(c("321282").as_deref(), Some("靖江市"));
        assert_eq!(c("340104").as_deref(), Some("合肥市"));
        assert_eq!(c("152201").as_deref(), Some("乌兰浩特市"));
        assert_eq!(c("441900").as_deref(), Some("东莞市"));
        assert_eq!(c("110000").as_deref(), Some("北京市"));
        assert_eq!(c("110105").as_deref(), Some("朝阳区"));
        assert_eq!(c("320000"), None);
        assert_eq!(c("000000"), None);
        assert_eq!(c("320103"), None);
    }

    #[test]
    fn successors_resolve() {
        assert!(t().is_retired(&d("320103")));
        assert!(t().is_retired(&d("320107")));
        assert!(!t().is_retired(&d("320102")));
        assert_eq!(t().resolve(&d("320103")), d("320104"));
        assert_eq!(t().resolve(&d("320107")), d("320106"));
        assert_eq!(t().resolve(&d("320102")), d("320102"));
        assert_eq!(t().resolve(&d("999999")), d("999999"));
        let r = t().retirement(&d("320103")).unwrap();
        assert_eq!(r.successor, d("320104"));
        assert_eq!(r.year, 2013);
        assert_eq!(r.note, "白下区并入秦淮区");
        assert_eq!(t().name(&t().resolve(&d("320103"))), Some("秦淮区"));
    }

    #[test]
    fn every_retired_code_is_gone_and_resolves_to_a_current_one() {
        let table = t();
        for r in table.successors.values() {
            assert!(!table.is_known(&r.retired), "{} still current", r.retired);
            let current = table.resolve(&r.retired);
            assert!(table.is_known(&current), "{} -> {current}", r.retired);
            assert_eq!(r.retired.level(), current.level(), "{}", r.retired);
        }
    }

    #[test]
    fn resolve_is_cycle_safe_and_follows_chains() {
        let header = "retired,successor,year,note\n";
        let table = Divisions::from_csv(
            PROVINCES_CSV,
            CITIES_CSV,
            AREAS_CSV,
            &format!(
                "{header}320198,320199,2020,a\n320199,320198,2021,b\n320197,320103,2020,c\n320103,320104,2013,d\n"
            ),
        )
        .unwrap();
        let r = table.resolve(&d("320198"));
        assert!(r == d("320198") || r == d("320199"));
        assert_eq!(table.resolve(&d("320199")), d("320198"));
        assert_eq!(table.resolve(&d("320197")), d("320104"));
    }

    #[test]
    fn bad_data_is_reported_with_file_and_line() {
        let err = Divisions::from_csv(
            "code,name\n11,\"北京市\"\n1x,\"坏\"\n",
            "code,name,provinceCode\n",
            "code,name,cityCode,provinceCode\n",
            "retired,successor,year,note\n",
        )
        .unwrap_err();
        assert_eq!(err.file, "provinces.csv");
        assert_eq!(err.line, 3);
        let err = Divisions::from_csv("name,code\n", "", "", "").unwrap_err();
        assert_eq!(err.file, "provinces.csv");
        let err = Divisions::from_csv(
            PROVINCES_CSV,
            CITIES_CSV,
            "code,name,cityCode,provinceCode\n320102,\"玄武区\",3202,32\n",
            "retired,successor,year,note\n",
        )
        .unwrap_err();
        assert_eq!(err.file, "areas.csv");
        assert!(err.to_string().contains("第2行"));
    }

    #[test]
    fn csv_line_splitting() {
        assert_eq!(split_csv_line("110101,\"东城区\",1101,11").unwrap(), vec!["110101", "东城区", "1101", "11"]);
        assert_eq!(split_csv_line("1,\"a,\"\"b\"\"\",c").unwrap(), vec!["1", "a,\"b\"", "c"]);
        assert!(split_csv_line("1,\"open").is_err());
        assert!(split_csv_line("1,\"a\"b").is_err());
    }
}
