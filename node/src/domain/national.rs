//! 国家层面登记 (《"互联网+不动产登记"建设指南》 三.3 "国家层面"): the Ministry's national portal
//! accepts online applications for 国务院批准的用海用岛项目 and 重点国有林区 registrations. An
//! application claims it (`details.jurisdiction`); the claim is checked here, at the edge, and a
//! claimed application goes to the national office (division `000000`, on the national node)
//! whatever its unit's division. Without the claim the same unit follows the county routing.
//!
//! Pure functions: values in, `Result` out. The key state forest regions are data
//! (`node/data/key_state_forests.toml`).

use std::sync::OnceLock;

use schemas::divisions::Divisions;
use schemas::ids::{DivisionCode, UnitCode};
use schemas::register::{Jurisdiction, RegistrationDetails};
use serde::Deserialize;

/// The default name of the national office, used where a refusal names it.
pub const NATIONAL_OFFICE_NAME: &str = "自然资源部不动产登记中心";

/// The certificate number of the national office: `国(2026)自然资源部不动产权第0000001号`.
///
/// STANDARDS §2.1 gives only the form `{省级简称}({年份}){市县名称}不动产权第{N}号` and no national
/// form; `国` in place of the province's 简称 and `自然资源部` in place of the 市县名称 are this
/// software's choice (it keeps the number parseable by the same rules).
pub const NATIONAL_CERTIFICATE_ABBR: char = '国';
pub const NATIONAL_CERTIFICATE_PLACE: &str = "自然资源部";

const FOREST_DATA: &str = include_str!("../../data/key_state_forests.toml");

/// One key state forest region: a prefecture (4 digits) or a county (6 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForestRegion {
    pub prefix: String,
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestFile {
    region: Vec<ForestEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestEntry {
    prefix: String,
    name: String,
}

fn parse_regions(text: &str) -> Result<Vec<ForestRegion>, String> {
    let file: ForestFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let divisions = Divisions::builtin();
    let mut out = Vec::with_capacity(file.region.len());
    for r in file.region {
        let padded = match r.prefix.len() {
            4 => format!("{}00", r.prefix),
            6 => r.prefix.clone(),
            _ => return Err(format!("prefix {:?} must be 4 or 6 digits", r.prefix)),
        };
        let known = DivisionCode::parse(&padded).ok().is_some_and(|d| !d.is_nation() && divisions.is_known(&d));
        if !known {
            return Err(format!("prefix {} is not a GB/T 2260 prefecture or county", r.prefix));
        }
        if r.name.trim().is_empty() {
            return Err(format!("prefix {} needs a name", r.prefix));
        }
        out.push(ForestRegion { prefix: r.prefix, name: r.name });
    }
    Ok(out)
}

/// The key state forest regions, read once.
pub fn forest_regions() -> Result<&'static [ForestRegion], ClaimError> {
    static REGIONS: OnceLock<Result<Vec<ForestRegion>, String>> = OnceLock::new();
    match REGIONS.get_or_init(|| parse_regions(FOREST_DATA)) {
        Ok(list) => Ok(list),
        Err(e) => Err(ClaimError::RegionsUnavailable(e.clone())),
    }
}

/// The region a division lies in (longest prefix), if any.
pub fn forest_region<'a>(regions: &'a [ForestRegion], division: &DivisionCode) -> Option<&'a ForestRegion> {
    regions.iter().filter(|r| division.as_str().starts_with(&r.prefix)).max_by_key(|r| r.prefix.len())
}

/// Why a national-level claim was refused (answered 422 `national_claim_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "国务院批准的用海用岛项目登记须为宗海或无居民海岛：不动产单元代码第13–14位应为 GH（海域）或 GG（无居民海岛），本单元为 {0}"
    )]
    NotSeaOrIsland(String),
    #[error("重点国有林区登记须为国有林地：不动产单元代码第13–14位应为 GL（林地）或 GE（林地承包经营），本单元为 {0}")]
    NotForestLand(String),
    #[error("权利类型 {code} 与{unit}不符，应为 {expected}")]
    RightTypeMismatch { code: u16, unit: &'static str, expected: &'static str },
    #[error("不动产单元所在行政区划 {0} 不在重点国有林区名录中，请向不动产所在地的登记机构申请")]
    OutsideKeyForest(String),
    #[error("重点国有林区名录无法读取：{0}")]
    RegionsUnavailable(String),
}

/// 权利类型 (QLLX) a unit may carry, and the default when the application gives none.
struct Rights {
    unit: &'static str,
    allowed: &'static [u16],
    expected: &'static str,
    default: u16,
}

/// Check a national-level claim against the unit and the details (already checked by
/// `register::check_details`); returns the details with the right type filled in when it was
/// left out (a sea area's 海域使用权 rather than the house default).
pub fn check_claim(
    claim: Jurisdiction,
    unit: &UnitCode,
    details: &RegistrationDetails,
) -> Result<RegistrationDetails, ClaimError> {
    let (ownership, parcel) = unit.parcel_feature();
    let feature = format!("{ownership}{parcel}");
    // A structure (F/Q) on the parcel: the right includes its ownership.
    let with_structure = matches!(unit.fixture_feature(), 'F' | 'Q');
    let rights = match claim {
        Jurisdiction::StateCouncilSeaIsland => match (ownership, parcel) {
            // 海域、无居民海岛属于国家所有 (民法典 Arts. 247–248): the first letter is G.
            ('G', 'H') => Rights {
                unit: "海域",
                allowed: &[15, 16],
                expected: "15（海域使用权）或 16（海域使用权/构（建）筑物所有权）",
                default: if with_structure { 16 } else { 15 },
            },
            ('G', 'G') => Rights {
                unit: "无居民海岛",
                allowed: &[17, 18],
                expected: "17（无居民海岛使用权）或 18（无居民海岛使用权/构（建）筑物所有权）",
                default: if with_structure { 18 } else { 17 },
            },
            _ => return Err(ClaimError::NotSeaOrIsland(feature)),
        },
        Jurisdiction::KeyStateForest => {
            if !matches!((ownership, parcel), ('G', 'L' | 'E')) {
                return Err(ClaimError::NotForestLand(feature));
            }
            let regions = forest_regions()?;
            let division = unit.division();
            if forest_region(regions, &division).is_none() {
                return Err(ClaimError::OutsideKeyForest(division.to_string()));
            }
            Rights {
                unit: "林地",
                allowed: &[10, 11, 12],
                expected: "林权：10（土地承包经营权/森林、林木所有权）、11（林地使用权）或 12（林地使用权/森林、林木使用权）",
                default: if unit.fixture_feature() == 'L' { 12 } else { 11 },
            }
        }
    };
    let mut out = details.clone();
    match details.right_type {
        Some(code) if !rights.allowed.contains(&code) => {
            return Err(ClaimError::RightTypeMismatch { code, unit: rights.unit, expected: rights.expected });
        }
        Some(_) => {}
        None => out.right_type = Some(rights.default),
    }
    out.jurisdiction = Some(claim);
    Ok(out)
}

/// The refusal naming the national office, for a node that cannot pass a claimed application on.
pub fn competent_national_office(claim: Jurisdiction) -> String {
    format!(
        "{}由{NATIONAL_OFFICE_NAME}办理，请通过全国不动产登记网上“一窗办事”平台（国家级节点）申请",
        claim.label_zh()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn unit(s: &str) -> UnitCode {
        UnitCode::parse(s).expect("unit code")
    }

    fn none() -> RegistrationDetails {
        RegistrationDetails::default()
    }

    const SEA: &str = "320102005001GH00001W00000000";
    const ISLAND: &str = "330902005001GG00002W00000000";
    const FOREST: &str = "230724001001GL00001L00000001";

    #[test]
    fn sea_and_island_units_pass_and_get_their_right_type() {
        let d = check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(SEA), &none()).unwrap();
        assert_eq!((d.right_type, d.jurisdiction), (Some(15), Some(Jurisdiction::StateCouncilSeaIsland)));
        let d = check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(ISLAND), &none()).unwrap();
        assert_eq!(d.right_type, Some(17));
        // A structure on the sea area: 海域使用权/构（建）筑物所有权.
        let d =
            check_claim(Jurisdiction::StateCouncilSeaIsland, &unit("320102005001GH00001F00010001"), &none()).unwrap();
        assert_eq!(d.right_type, Some(16));
        let given = RegistrationDetails { right_type: Some(16), ..none() };
        assert_eq!(check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(SEA), &given).unwrap().right_type, Some(16));
    }

    #[test]
    fn a_sea_claim_on_land_or_with_a_land_right_is_refused() {
        let e = check_claim(Jurisdiction::StateCouncilSeaIsland, &unit("320102003001GB00012F00010203"), &none())
            .unwrap_err();
        assert_eq!(e, ClaimError::NotSeaOrIsland("GB".into()));
        assert!(e.to_string().contains("GH"), "{e}");
        // Forest land is not sea either.
        assert!(check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(FOREST), &none()).is_err());
        let house = RegistrationDetails { right_type: Some(4), ..none() };
        let e = check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(SEA), &house).unwrap_err();
        assert!(matches!(e, ClaimError::RightTypeMismatch { code: 4, .. }), "{e}");
        // An island is not a sea area: 海域使用权 on GG is refused.
        let sea_right = RegistrationDetails { right_type: Some(15), ..none() };
        assert!(check_claim(Jurisdiction::StateCouncilSeaIsland, &unit(ISLAND), &sea_right).is_err());
    }

    #[test]
    fn key_forest_needs_forest_land_a_forest_right_and_a_listed_region() {
        let d = check_claim(Jurisdiction::KeyStateForest, &unit(FOREST), &none()).unwrap();
        assert_eq!((d.right_type, d.jurisdiction), (Some(12), Some(Jurisdiction::KeyStateForest)));
        // 大兴安岭地区 (2327) and 延边 (2224).
        assert!(check_claim(Jurisdiction::KeyStateForest, &unit("232721001001GL00001W00000000"), &none()).is_ok());
        let right = RegistrationDetails { right_type: Some(11), ..none() };
        let d = check_claim(Jurisdiction::KeyStateForest, &unit("222401001001GL00001W00000000"), &right).unwrap();
        assert_eq!(d.right_type, Some(11));
        // Outside the listed regions: 南京市玄武区.
        let e = check_claim(Jurisdiction::KeyStateForest, &unit("320102001001GL00001L00000001"), &none()).unwrap_err();
        assert_eq!(e, ClaimError::OutsideKeyForest("320102".into()));
        // Not forest land; not a forest right; collective forest land.
        assert!(matches!(
            check_claim(Jurisdiction::KeyStateForest, &unit("230724001001GB00001F00010001"), &none()),
            Err(ClaimError::NotForestLand(_))
        ));
        let house = RegistrationDetails { right_type: Some(4), ..none() };
        assert!(matches!(
            check_claim(Jurisdiction::KeyStateForest, &unit(FOREST), &house),
            Err(ClaimError::RightTypeMismatch { code: 4, .. })
        ));
        assert!(matches!(
            check_claim(Jurisdiction::KeyStateForest, &unit("230724001001JE00001W00000000"), &none()),
            Err(ClaimError::NotForestLand(_))
        ));
        // A sea area is no forest.
        assert!(check_claim(Jurisdiction::KeyStateForest, &unit(SEA), &none()).is_err());
    }

    #[test]
    fn the_forest_region_list_is_valid_data() {
        let regions = forest_regions().unwrap();
        assert!(regions.len() >= 10);
        for needed in ["1507", "1522", "2224", "2206", "2307", "2327"] {
            assert!(regions.iter().any(|r| r.prefix == needed), "{needed}");
        }
        let d = DivisionCode::parse("230724").unwrap();
        assert_eq!(forest_region(regions, &d).map(|r| r.prefix.as_str()), Some("2307"));
        assert!(parse_regions("[[region]]\nprefix = \"3299\"\nname = \"x\"\n").is_err());
        assert!(parse_regions("[[region]]\nprefix = \"23\"\nname = \"x\"\n").is_err());
        assert!(parse_regions("[[region]]\nprefix = \"2307\"\nname = \"x\"\nextra = 1\n").is_err());
    }
}
