//! Storage: one code path over SQLite (embedded default) and PostgreSQL (production), through
//! diesel's `MultiConnection`. The backend is chosen by the database URL.

pub mod counters;
pub mod prepared;
pub mod schema;
mod writer;

pub use writer::WriterStats;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, result::Error as DieselError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<ConnectionManager<AnyConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<AnyConnection>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Query(#[from] DieselError),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("cannot open database {url}: {cause}")]
    Open { url: String, cause: String },
    #[error("migrations: {0}")]
    Migrate(String),
}

impl DbError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(DieselError::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
        )
    }
}

/// Run the same generic expression on whichever inner connection this is, for the few diesel
/// features that do not compile through the MultiConnection enum (on_conflict, skip_locked…),
/// and for the statements every registration runs inside SQLite's one writer: through the enum,
/// diesel builds a statement's whole SQL text on each run to find it in the prepared-statement
/// cache (a quarter of the writer's time went to that); on the inner connection a statement with
/// a static query id is found by its type.
#[macro_export]
macro_rules! with_inner {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<AnyConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut AnyConnection) -> Result<(), diesel::r2d2::Error> {
        if let AnyConnection::Sqlite(c) = conn {
            // journal_mode = WAL is a property of the file, set once in `Db::open`: setting it on
            // every new pooled connection needs a lock that another process's reader may hold.
            // wal_autocheckpoint = 0: a commit never pays for a checkpoint (copying the WAL back and
            // two fsyncs while holding the writer); `checkpointer` does that beside the writers.
            // temp_store = MEMORY: the group writer runs each later closure of a batch in a
            // savepoint, whose statement journal would otherwise be written to a temporary file.
            c.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA wal_autocheckpoint = 0; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -16000; \
                 PRAGMA temp_store = MEMORY;",
            )
            .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The node's database: a pool plus, on SQLite, the group-commit writer (SQLite has one writer at a
/// time; taking turns before `BEGIN` avoids "database is locked" when a transaction reads then
/// writes).
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    writer: Arc<writer::GroupWriter>,
    /// Held while any clone of this `Db` lives; the SQLite checkpointer stops when it goes.
    alive: Arc<()>,
}

/// What the linked SQLite lacks of the build `.cargo/config.toml` asks for (empty: all there):
/// the query planner stability guarantee (`SQLITE_ENABLE_QPSG`; without it every `LIMIT ?`
/// statement is re-prepared each time it is bound), and allocation without process-wide mutexes
/// (`SQLITE_DEFAULT_MEMSTATUS=0`, no `SQLITE_ENABLE_MEMORY_MANAGEMENT`).
pub fn missing_build_options(conn: &mut SqliteConnection) -> Vec<&'static str> {
    use diesel::RunQueryDsl;
    let has = |conn: &mut SqliteConnection, option: &str| {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "(SELECT count(*) FROM pragma_compile_options WHERE compile_options = '{option}')"
        )))
        .get_result::<i64>(conn)
        .is_ok_and(|n| n == 1)
    };
    let mut missing = vec![];
    if !has(conn, "ENABLE_QPSG") {
        missing.push("SQLITE_ENABLE_QPSG");
    }
    if !has(conn, "DEFAULT_MEMSTATUS=0") {
        missing.push("SQLITE_DEFAULT_MEMSTATUS=0");
    }
    if has(conn, "ENABLE_MEMORY_MANAGEMENT") {
        missing.push("-USQLITE_ENABLE_MEMORY_MANAGEMENT");
    }
    missing
}

/// Normalise `sqlite://path`, `sqlite:path` or a bare path; PostgreSQL URLs pass through.
pub fn classify_url(url: &str) -> (Backend, String) {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_owned())
    } else {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        (Backend::Sqlite, path.to_owned())
    }
}

impl Db {
    /// Open (creating the SQLite file if needed), check the connection and run migrations.
    pub fn open(url: &str, pool_size: u32) -> Result<Self, DbError> {
        let (backend, target) = classify_url(url);
        // Establish the inner connection first: the enum's own error hides the real cause.
        match backend {
            Backend::Postgres => {
                PgConnection::establish(&target)
                    .map_err(|e| DbError::Open { url: redact(url), cause: e.to_string() })?;
            }
            Backend::Sqlite => {
                if let Some(dir) = std::path::Path::new(&target).parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| DbError::Open { url: redact(url), cause: e.to_string() })?;
                }
                let mut first = SqliteConnection::establish(&target)
                    .map_err(|e| DbError::Open { url: redact(url), cause: e.to_string() })?;
                first
                    .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                    .map_err(|e| DbError::Open { url: redact(url), cause: e.to_string() })?;
                let missing = missing_build_options(&mut first);
                if !missing.is_empty() {
                    tracing::warn!(
                        missing = %missing.join(" "),
                        "SQLite was built without the options in .cargo/config.toml: the node runs slower"
                    );
                }
            }
        }
        let writer = match backend {
            Backend::Sqlite => writer::GroupWriter::new(&target),
            Backend::Postgres => writer::GroupWriter::default(),
        };
        let manager = ConnectionManager::<AnyConnection>::new(target);
        let pool = Pool::builder()
            // On SQLite the writer keeps one connection for itself: one more, so that `pool_size`
            // remain for readers.
            .max_size(pool_size.max(1) + u32::from(backend == Backend::Sqlite))
            .connection_timeout(Duration::from_secs(10))
            // No `SELECT 1` on every checkout: a broken connection is noticed by diesel and
            // dropped by the pool (`has_broken`).
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)
            .map_err(|e| DbError::Pool(e.to_string()))?;
        let db = Self { pool, backend, writer: Arc::new(writer), alive: Arc::new(()) };
        db.migrate()?;
        if backend == Backend::Sqlite {
            checkpointer(target_path(url), Arc::downgrade(&db.alive))?;
        }
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.conn()?;
        let migrations = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        conn.run_pending_migrations(migrations).map_err(|e| DbError::Migrate(e.to_string()))?;
        Ok(())
    }

    pub fn conn(&self) -> Result<DbConn, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Run `f` in a read transaction.
    pub fn read<T, E>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError> + From<DieselError>,
    {
        let mut conn = self.conn()?;
        let conn: &mut AnyConnection = &mut conn;
        conn.transaction(f)
    }

    /// Writers waiting for their turn on SQLite's single writer (0 on PostgreSQL).
    pub fn writers_waiting(&self) -> usize {
        match self.backend {
            Backend::Sqlite => self.writer.waiting(),
            Backend::Postgres => 0,
        }
    }

    /// Block until every write answered before this call is on disk. On SQLite a batch is
    /// visible to readers a moment before its WAL sync finishes (see `writer`); call this before
    /// sending what was read out of the node. PostgreSQL commits are on disk when visible.
    pub fn wait_durable(&self) {
        if self.backend == Backend::Sqlite {
            self.writer.wait_durable();
        }
    }

    /// Why this database takes no more writes (a failed WAL sync: restart after checking the disk).
    pub fn writes_stopped(&self) -> Option<String> {
        match self.backend {
            Backend::Sqlite => self.writer.broken(),
            Backend::Postgres => None,
        }
    }

    /// What SQLite's single writer has done since start (zeros on PostgreSQL).
    pub fn writer_stats(&self) -> WriterStats {
        match self.backend {
            Backend::Sqlite => self.writer.stats(),
            Backend::Postgres => WriterStats::default(),
        }
    }

    /// Restart SQLite's WAL whenever it passes `bytes` (default `writer::DEFAULT_WAL_LIMIT`; no
    /// effect on PostgreSQL). Set it before the first write.
    pub fn set_wal_limit(&self, bytes: u64) {
        self.writer.set_wal_limit(bytes);
    }

    /// Run `f` in a write transaction: all or nothing. For a closure that owns what it uses,
    /// prefer [`Db::write_owned`]: on SQLite it queues instead of waiting for its turn.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError> + From<DieselError>,
    {
        match self.backend {
            Backend::Sqlite => {
                // One writer connection with group commit (see `writer`): a connection that
                // alone writes keeps its page cache valid, and one fsync serves many writers.
                // Waiting writers hold no pooled connection that readers need.
                self.writer.write(|| self.conn(), f)
            }
            Backend::Postgres => {
                let mut conn = self.conn()?;
                let conn: &mut AnyConnection = &mut conn;
                conn.transaction(f)
            }
        }
    }

    /// [`Db::write`] for a closure that owns what it uses (`'static`, `Send`): on SQLite it is
    /// queued for whichever thread holds the writer's turn, on the same connection, with no
    /// thread to wake in between (see `writer`). The busy request paths use it.
    pub fn write_owned<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<DieselError> + Send + 'static,
    {
        match self.backend {
            Backend::Sqlite => self.writer.write_owned(|| self.conn(), f),
            // No single writer to queue for: a transaction of its own, as `write`.
            Backend::Postgres => self.write(f),
        }
    }
}

fn target_path(url: &str) -> String {
    classify_url(url).1
}

/// How often the WAL is checkpointed. A checkpoint ends in fsyncs that stall commits on the same
/// disk while they run; small, frequent checkpoints keep each stall short. Measured with the
/// federation bench on this kind of machine: every 100 ms gives a two-hop p99 of 4.6–5.3 ms at
/// 200 events/s, every 200 ms 7.9–9.9 ms, every 5 s 6.9–24 ms with stalls of up to 150 ms.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Checkpoint the SQLite WAL in the background (PASSIVE: never blocks writers or readers) every
/// `CHECKPOINT_EVERY`, on a connection of its own, until the last `Db` clone is dropped.
fn checkpointer(path: String, alive: std::sync::Weak<()>) -> Result<(), DbError> {
    let mut conn =
        SqliteConnection::establish(&path).map_err(|e| DbError::Open { url: path.clone(), cause: e.to_string() })?;
    conn.batch_execute("PRAGMA busy_timeout = 1000;").map_err(DbError::Query)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                }
            }
        })
        .map_err(|e| DbError::Pool(e.to_string()))?;
    Ok(())
}

/// Hide a password in a URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_sqlite_is_built_as_config_toml_asks() {
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        let missing = missing_build_options(&mut conn);
        assert!(
            missing.is_empty(),
            "LIBSQLITE3_FLAGS from .cargo/config.toml did not reach the SQLite build: {missing:?}"
        );
    }
}
