//! Shared by the node's storage-level suites: every backend available (SQLite always, a fresh
//! PostgreSQL database per call when `TEST_PG_URL` is set, as CI sets it) and a sample office.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use bdc_node::db::{Backend, Db};
use bdc_node::settings::OfficeSettings;
use schemas::ids::DivisionCode;

pub fn fresh_pg() -> Option<String> {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection};
    let url = std::env::var("TEST_PG_URL").ok()?;
    let mut admin = PgConnection::establish(&url).unwrap_or_else(|e| panic!("TEST_PG_URL is set but unreachable: {e}"));
    let name = format!("bdc_store_{}", ulid::Ulid::new().to_string().to_lowercase());
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    Some(format!("{base}/{name}"))
}

/// Every backend available: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::open(&format!("sqlite://{}", dir.path().join("t.db").display()), 8).unwrap();
    assert_eq!(sqlite.backend(), Backend::Sqlite);
    let mut all = vec![(sqlite, Some(dir))];
    match fresh_pg() {
        Some(url) => {
            let pg = Db::open(&url, 8).unwrap();
            assert_eq!(pg.backend(), Backend::Postgres);
            all.push((pg, None));
        }
        None => eprintln!("TEST_PG_URL not set: PostgreSQL variant skipped"),
    }
    all
}

pub fn office() -> OfficeSettings {
    OfficeSettings {
        division: DivisionCode::parse("320102").unwrap(),
        name: "南京市玄武区不动产登记中心".into(),
        time_limit_days: 30,
        time_limits: Default::default(),
        auto_approve: vec![],
    }
}
