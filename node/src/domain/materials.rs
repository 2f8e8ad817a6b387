//! 申请材料清单 as data (`node/data/materials.toml`): which materials each kind requires, in which
//! formats and up to which size. Read once; a test checks that every kind has a list.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemas::register::Material;
use schemas::registration::RegistrationKind;
use serde::Deserialize;

const DATA: &str = include_str!("../../data/materials.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    defaults: Defaults,
    kind: Vec<KindList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    formats: Vec<String>,
    max_size_mb: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindList {
    kind: RegistrationKind,
    materials: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    name: String,
    required: bool,
    formats: Option<Vec<String>>,
    max_size_mb: Option<u32>,
}

fn parse(text: &str) -> Result<BTreeMap<RegistrationKind, Vec<Material>>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for k in file.kind {
        let list = k
            .materials
            .into_iter()
            .map(|e| Material {
                id: e.id,
                name: e.name,
                required: e.required,
                formats: e.formats.unwrap_or_else(|| file.defaults.formats.clone()),
                max_size_mb: e.max_size_mb.unwrap_or(file.defaults.max_size_mb),
            })
            .collect();
        if out.insert(k.kind, list).is_some() {
            return Err(format!("kind {} is listed twice", k.kind.as_str()));
        }
    }
    Ok(out)
}

fn lists() -> &'static BTreeMap<RegistrationKind, Vec<Material>> {
    static LISTS: OnceLock<BTreeMap<RegistrationKind, Vec<Material>>> = OnceLock::new();
    LISTS.get_or_init(|| {
        parse(DATA).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the built-in materials list does not parse");
            BTreeMap::new()
        })
    })
}

/// The checklist of a kind (empty if the data has none).
pub fn for_kind(kind: RegistrationKind) -> Vec<Material> {
    lists().get(&kind).cloned().unwrap_or_default()
}

/// One item of a kind's checklist.
pub fn item(kind: RegistrationKind, id: &str) -> Option<Material> {
    lists().get(&kind).and_then(|l| l.iter().find(|m| m.id == id)).cloned()
}

/// The largest file any item of any kind takes, in bytes (the body limit of the upload route).
pub fn largest_file_bytes() -> usize {
    lists().values().flatten().map(super::material_files::max_bytes).max().unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_list_with_required_materials() {
        let lists = parse(DATA).unwrap();
        for kind in RegistrationKind::ALL {
            let list = lists.get(kind).unwrap_or_else(|| panic!("no list for {}", kind.as_str()));
            assert!(list.iter().any(|m| m.required), "{}", kind.as_str());
            assert!(list.iter().all(|m| !m.formats.is_empty() && m.max_size_mb > 0));
            for m in list {
                for f in &m.formats {
                    assert!(crate::domain::material_files::FileFormat::parse(f).is_some(), "{}: {f}", m.id);
                }
            }
        }
        assert_eq!(for_kind(RegistrationKind::Mortgage).iter().filter(|m| m.id == "mortgage_contract").count(), 1);
        assert_eq!(item(RegistrationKind::First, "tax").unwrap().formats, ["pdf", "ofd"]);
        assert!(item(RegistrationKind::First, "nonsense").is_none());
        assert_eq!(largest_file_bytes(), 20 * 1024 * 1024);
    }
}
