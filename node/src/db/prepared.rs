//! Keep an UPDATE prepared.
//!
//! diesel never keeps an UPDATE in its prepared-statement cache (a changeset with optional fields
//! yields different SQL from run to run), so each run parses and plans the statement again. On
//! the busy write paths — counters, the audit head, an application's stage — that parsing ran
//! while holding SQLite's single writer and cost about a tenth of its time. [`Prepared`] marks
//! such a statement safe to keep: the cache then keys it by its SQL text and bind types (it has
//! no static query id), so two statements that differ in any way never share an entry.
//!
//! Use it only for statements whose SQL does not grow with the input (no `eq_any` lists), or
//! the cache fills with one-off entries.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement diesel would re-prepare on every run, kept prepared (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<Q>(pub Q);

impl<Q, DB> QueryFragment<DB> for Prepared<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    // No static id: the cache keys the statement by its SQL text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    use super::Prepared;

    diesel::table! {
        kv (k) {
            k -> Text,
            v -> BigInt,
        }
    }

    #[test]
    fn kept_statements_stay_distinct_and_correct() {
        let mut c = SqliteConnection::establish(":memory:").expect("open");
        c.batch_execute(
            "CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL); INSERT INTO kv VALUES ('a', 0), ('b', 0);",
        )
        .expect("schema");
        for _ in 0..3 {
            let a: i64 =
                Prepared(diesel::update(kv::table.filter(kv::k.eq("a"))).set(kv::v.eq(kv::v + 1)).returning(kv::v))
                    .get_result(&mut c)
                    .expect("bump a");
            // Same shape, other value: a different row, from the same kept statement.
            let n = Prepared(diesel::update(kv::table.filter(kv::k.eq("b"))).set(kv::v.eq(kv::v + 10)))
                .execute(&mut c)
                .expect("bump b");
            // Another statement of the same Rust type family but other SQL.
            let m =
                Prepared(diesel::update(kv::table.filter(kv::k.eq("b"))).set((kv::v.eq(kv::v + 100), kv::k.eq("b"))))
                    .execute(&mut c)
                    .expect("bump b twice");
            assert_eq!((n, m), (1, 1));
            assert!(a >= 1);
        }
        let rows: Vec<(String, i64)> = kv::table.order(kv::k).load(&mut c).expect("load");
        assert_eq!(rows, vec![("a".into(), 3), ("b".into(), 330)]);
    }
}
