//! Which office handles a division: longest-prefix match over local offices and children, after
//! resolving retired codes through the successor table (GB/T 2260 changes).

use schemas::api::NavigationMode;
use schemas::divisions::Divisions;
use schemas::ids::{DivisionCode, DivisionLevel, NodeId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// An office hosted by this node.
    Local(DivisionCode),
    /// A child node serves it.
    Child { node_id: NodeId, division: DivisionCode, navigation: NavigationMode },
    /// Nothing below this node serves the division.
    NotServed,
}

#[derive(Debug, Clone, Default)]
pub struct Router {
    offices: Vec<DivisionCode>,
    children: Vec<(DivisionCode, NodeId, NavigationMode)>,
}

fn specificity(d: &DivisionCode) -> u8 {
    match d.level() {
        DivisionLevel::Nation => 0,
        DivisionLevel::Province => 1,
        DivisionLevel::Prefecture => 2,
        DivisionLevel::County => 3,
    }
}

impl Router {
    pub fn new(offices: Vec<DivisionCode>, children: Vec<(DivisionCode, NodeId, NavigationMode)>) -> Self {
        Self { offices, children }
    }

    /// Route a division (e.g. the first six digits of a unit code).
    pub fn route(&self, division: &DivisionCode) -> Route {
        let target = Divisions::builtin().resolve(division);
        let mut best: Option<(u8, Route)> = None;
        for office in &self.offices {
            if office.contains(&target) {
                let s = specificity(office);
                if best.as_ref().is_none_or(|(b, _)| s > *b) {
                    best = Some((s, Route::Local(office.clone())));
                }
            }
        }
        for (div, node, nav) in &self.children {
            if div.contains(&target) {
                let s = specificity(div);
                if best.as_ref().is_none_or(|(b, _)| s > *b) {
                    best = Some((s, Route::Child { node_id: node.clone(), division: div.clone(), navigation: *nav }));
                }
            }
        }
        best.map(|(_, r)| r).unwrap_or(Route::NotServed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> DivisionCode {
        DivisionCode::parse(s).expect("division")
    }

    fn n(s: &str) -> NodeId {
        NodeId::parse(s).expect("node id")
    }

    #[test]
    fn longest_prefix_and_successors() {
        let province = Router::new(
            vec![d("320000")],
            vec![
                (d("320102"), n("xuanwu"), NavigationMode::Interface),
                (d("320104"), n("qinhuai"), NavigationMode::Link),
            ],
        );
        assert_eq!(
            province.route(&d("320102")),
            Route::Child { node_id: n("xuanwu"), division: d("320102"), navigation: NavigationMode::Interface }
        );
        // 白下区 320103 was merged into 秦淮区 320104 in 2013.
        assert!(matches!(province.route(&d("320103")), Route::Child { node_id, .. } if node_id == n("qinhuai")));
        assert_eq!(province.route(&d("320105")), Route::Local(d("320000")));
        assert_eq!(province.route(&d("110101")), Route::NotServed);

        let nation = Router::new(vec![], vec![(d("320000"), n("js"), NavigationMode::Interface)]);
        assert!(matches!(nation.route(&d("320104")), Route::Child { node_id, .. } if node_id == n("js")));
        assert_eq!(nation.route(&d("330102")), Route::NotServed);
    }
}
