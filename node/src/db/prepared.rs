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
//!
//! **Run it with [`Prepared::count`] (or `get_result`/`load`), never `execute`.** diesel's
//! `execute` hands the statement on by reference, and its `QueryFragment` for `&T` does not pass
//! `is_safe_to_cache_prepared` on: the question is answered by walking the inner UPDATE, which
//! says "do not keep". An executed `Prepared` was prepared anew on every run (perf showed
//! `sqlite3_prepare_v3` under every such UPDATE in the writer). The load path takes the
//! statement by value and asks `Prepared` itself, so an `UPDATE … RETURNING` is kept. `Prepared`
//! shadows `execute` with a deprecated method, so a new use fails `clippy -D warnings`.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::LoadQuery;
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

impl<Q> Prepared<Q> {
    /// diesel's `execute`, shadowed so that using it warns (and fails `clippy -D warnings`): an
    /// executed `Prepared` is prepared anew on every run. Use [`Prepared::count`].
    #[deprecated(note = "an executed Prepared is not kept prepared: use Prepared::count (UPDATE … RETURNING)")]
    pub fn execute<Conn>(self, conn: &mut Conn) -> QueryResult<usize>
    where
        Conn: diesel::connection::Connection,
        Self: diesel::query_dsl::methods::ExecuteDsl<Conn>,
    {
        RunQueryDsl::execute(self, conn)
    }

    /// Run a statement that returns a row per row it changed (`UPDATE … RETURNING key`) and
    /// count them: how to run a kept UPDATE for its effect (see the module docs).
    pub fn count<'q, Conn, U>(self, conn: &mut Conn) -> QueryResult<usize>
    where
        Self: LoadQuery<'q, Conn, U>,
    {
        Ok(RunQueryDsl::load::<U>(self, conn)?.len())
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;

    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;

    use super::Prepared;

    /// The SQL of every statement the connection put into its prepared-statement cache.
    fn record_cached(c: &mut SqliteConnection) -> Arc<Mutex<Vec<String>>> {
        let cached = Arc::new(Mutex::new(vec![]));
        let sink = Arc::clone(&cached);
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                sink.lock().expect("sink").push(sql.to_owned());
            }
        });
        cached
    }

    diesel::table! {
        kv (k) {
            k -> Text,
            v -> BigInt,
        }
    }

    #[test]
    #[allow(deprecated)] // shows that executed statements still run correctly
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

    #[test]
    #[allow(deprecated)] // executes one on purpose
    fn counted_updates_are_prepared_once_and_executed_ones_every_time() {
        let mut c = SqliteConnection::establish(":memory:").expect("open");
        c.batch_execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT NOT NULL); INSERT INTO kv VALUES ('a', 0);")
            .expect("schema");
        let cached = record_cached(&mut c);
        for _ in 0..5 {
            let n = Prepared(diesel::update(kv::table.filter(kv::k.eq("a"))).set(kv::v.eq(kv::v + 1)).returning(kv::k))
                .count::<_, String>(&mut c)
                .expect("bump");
            assert_eq!(n, 1);
            let none =
                Prepared(diesel::update(kv::table.filter(kv::k.eq("zz"))).set(kv::v.eq(kv::v + 1)).returning(kv::k))
                    .count::<_, String>(&mut c)
                    .expect("bump nothing");
            assert_eq!(none, 0);
            // What the module docs warn about: executed, the same statement is never kept.
            Prepared(diesel::update(kv::table.filter(kv::k.eq("a"))).set(kv::v.eq(kv::v + 100)))
                .execute(&mut c)
                .expect("execute");
        }
        let cached = cached.lock().expect("cached").clone();
        let counted: Vec<_> = cached.iter().filter(|sql| sql.contains("RETURNING")).collect();
        // One entry per distinct statement (the two RETURNING updates differ only in a bind value).
        assert_eq!(counted.len(), 1, "{cached:?}");
        assert!(!cached.iter().any(|sql| sql.starts_with("UPDATE") && !sql.contains("RETURNING")), "{cached:?}");
        let v: i64 = kv::table.select(kv::v).first(&mut c).expect("v");
        assert_eq!(v, 505);
    }
}
