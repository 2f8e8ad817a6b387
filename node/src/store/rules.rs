//! An office's rule settings (`office_rules`): overrides of built-in rules and its own rules.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use schemas::register::RuleConfig;

use crate::db::AnyConnection;
use crate::db::schema::office_rules;
use crate::domain::rules::{self, Rule};

/// The office's rows: (rule id, configuration as stored).
fn rows(conn: &mut AnyConnection, division: &str) -> QueryResult<Vec<(String, String)>> {
    office_rules::table
        .filter(office_rules::division.eq(division))
        .order(office_rules::rule_id.asc())
        .select((office_rules::rule_id, office_rules::config))
        .load(conn)
}

/// The office's settings, by rule id. A row that no longer parses is skipped with a warning
/// (the built-in default then applies), never a failed review.
pub fn settings(conn: &mut AnyConnection, division: &str) -> QueryResult<BTreeMap<String, RuleConfig>> {
    Ok(parse(rows(conn, division)?))
}

fn parse(rows: Vec<(String, String)>) -> BTreeMap<String, RuleConfig> {
    rows.into_iter()
        .filter_map(|(id, text)| match serde_json::from_str::<RuleConfig>(&text) {
            Ok(c) => Some((id, c)),
            Err(e) => {
                tracing::warn!(rule = %id, error = %e, "office rule setting does not parse; using the default");
                None
            }
        })
        .collect()
}

/// Rule lists already built, by the office rows they were built from. Every action reads the
/// office's rows (inside its own transaction, so a change applies to the next action); only
/// building the list again from the same rows is saved.
type Built = HashMap<String, (Vec<(String, String)>, Arc<Vec<Rule>>)>;
static BUILT: Mutex<Option<Built>> = Mutex::new(None);

/// The rules the office runs, in order.
pub fn effective(conn: &mut AnyConnection, division: &str) -> QueryResult<Arc<Vec<Rule>>> {
    let rows = rows(conn, division)?;
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let built = built.get_or_insert_with(HashMap::new);
    if let Some((from, list)) = built.get(division)
        && *from == rows
    {
        return Ok(Arc::clone(list));
    }
    let list = Arc::new(rules::effective(&parse(rows.clone())).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "office rules do not combine; using the built-in set");
        rules::builtin()
    }));
    built.insert(division.to_owned(), (rows, Arc::clone(&list)));
    Ok(list)
}

/// Store one rule's setting (already validated).
pub fn put(conn: &mut AnyConnection, division: &str, id: &str, config: &RuleConfig, by: &str) -> QueryResult<()> {
    let text = serde_json::to_string(config).unwrap_or_default();
    let now = super::now();
    let n = diesel::update(
        office_rules::table.filter(office_rules::division.eq(division)).filter(office_rules::rule_id.eq(id)),
    )
    .set((office_rules::config.eq(&text), office_rules::updated_by.eq(by), office_rules::updated_at.eq(now)))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(office_rules::table)
            .values((
                office_rules::division.eq(division),
                office_rules::rule_id.eq(id),
                office_rules::config.eq(&text),
                office_rules::updated_by.eq(by),
                office_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Remove the office's setting: a built-in rule returns to its default, an own rule is deleted.
pub fn reset(conn: &mut AnyConnection, division: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(office_rules::table.filter(office_rules::division.eq(division)).filter(office_rules::rule_id.eq(id)))
        .execute(conn)
}
