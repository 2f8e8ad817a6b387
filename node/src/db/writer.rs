//! The SQLite writer with group commit.
//!
//! SQLite has one writer at a time, and a commit is durable only once the WAL is on disk (an
//! fsync). Writers therefore take turns on one connection, each running its closure in a shared
//! transaction (the first of a batch directly, each later one in a savepoint); the last writer in
//! line (nobody else waiting, or the batch full) commits for all of them. A caller gets its result
//! only after the commit that holds its changes is on disk; if that commit fails, every closure of
//! the batch gets the error and none of their changes exist. A closure that fails is rolled back
//! (the first of a batch with the whole transaction, a later one to its savepoint) and leaves the
//! others' work alone — each call stays all-or-nothing, as with its own transaction.
//!
//! **Sync outside the writer.** With `synchronous = FULL` SQLite fsyncs inside `COMMIT`, so the
//! next batch waited for the disk too: a third of the time the writer was held went to fsync.
//! When the database has a WAL file, the writer's connection runs with `synchronous = NORMAL`
//! (COMMIT writes the WAL frames without syncing) and the committer syncs the WAL file itself
//! after handing the writer on: the next batch runs while the disk works. Callers are answered
//! only when a sync that began after their commit has finished, so an answer still means "on
//! disk". Readers can see a batch a moment before it is on disk; what leaves the node (the outbox,
//! signed tree heads) waits for [`GroupWriter::wait_durable`] first. A failed sync is treated as
//! PostgreSQL treats it: the writer refuses every later write until the node is restarted, since
//! what the disk holds is no longer known.
//!
//! **Keeping the WAL small.** The background checkpointer (`db::checkpointer`) copies the WAL back
//! PASSIVEly, but SQLite starts the WAL afresh only when a writer finds every frame copied back
//! and no reader using it — which under steady load never happens, so the file grew without bound
//! (468 MB after 4000 registrations), and every commit paid the file system for new blocks. The
//! writer's connection has `journal_size_limit` = the limit: once the WAL starts afresh, SQLite
//! cuts the file back to that size and then writes over the blocks it already has. When the file
//! passes the limit the writer, between two batches (nothing of its own is open and no other
//! write can start), runs `wal_checkpoint(RESTART)`: it copies the rest back and waits briefly for
//! readers on old snapshots, so that the next batch writes from the start of the file again.
//! Readers that outlast the wait leave it for a later try.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;

use diesel::RunQueryDsl;
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::result::Error as DieselError;

use super::{AnyConnection, DbConn, DbError};

/// Closures committed together at most (bounds the wait of the first one).
const MAX_BATCH: usize = 64;

/// WAL size past which the writer restarts it between batches (and the size SQLite cuts it back to).
pub const DEFAULT_WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a restarting checkpoint waits for readers on older snapshots (every write waits
/// meanwhile), and how long the writer leaves the WAL alone after a try they outlasted: at first
/// briefly, doubling while a long reader (an export, a backup) keeps outlasting it.
const RESTART_WAIT_MS: u32 = 100;
const RESTART_RETRY_FIRST: Duration = Duration::from_millis(50);
const RESTART_RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    conn: Option<DbConn>,
    /// A shared transaction is open.
    open: bool,
    /// Closures in the open batch.
    in_batch: usize,
    /// Number of the open (or last) batch.
    batch: u64,
    /// Highest batch number whose commit has finished, and whether it failed.
    finished: u64,
    failure: Option<(u64, String)>,
    /// Highest batch number committed successfully, and highest known to be on disk.
    committed_ok: u64,
    durable: u64,
    /// The WAL file, opened for syncing (None: commits sync inside SQLite).
    wal: Option<Arc<Wal>>,
    /// A sync failed: nothing more is written until restart.
    broken: Option<String>,
    /// The WAL passed the limit at the last sync: restart it before the next batch.
    wal_full: bool,
    /// No restarting checkpoint before this (a reader outlasted the last one), and the wait
    /// before the next try after that one fails too.
    restart_not_before: Option<Instant>,
    restart_backoff: Duration,
    /// The last batch before the WAL last restarted: a later sync of an earlier batch may still
    /// see the old file's size.
    restarted_after: u64,
    /// When the last hold ended with another writer waiting for its turn.
    idle_since: Option<Instant>,
}

/// The WAL file handle, with the inode it was opened on (SQLite recreates the file if every
/// connection closed; a handle on the old inode would sync nothing).
struct Wal {
    file: File,
    inode: u64,
}

#[derive(Default)]
pub struct GroupWriter {
    state: Mutex<State>,
    committed: Condvar,
    waiting: AtomicUsize,
    stats: Counters,
    /// The database's WAL file (`<db>-wal`); None for databases without one.
    wal_path: Option<PathBuf>,
    /// WAL size in bytes past which the writer restarts it (see the module's notes).
    wal_limit: AtomicU64,
}

#[derive(Default)]
struct Counters {
    closures: AtomicU64,
    commits: AtomicU64,
    held_ns: AtomicU64,
    commit_ns: AtomicU64,
    restarts: AtomicU64,
    handoff_ns: AtomicU64,
}

/// What the writer has done since the node started: how busy the one writer is tells whether
/// writes queue behind it (a health figure, and what the register benchmark reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Closures run (each one `Db::write`).
    pub closures: u64,
    /// Commits (each one fsync, for a whole batch).
    pub commits: u64,
    /// Time the writer was held, from taking it to handing it on, in nanoseconds.
    pub held_ns: u64,
    /// Of that, time spent committing.
    pub commit_ns: u64,
    /// Times the WAL was started afresh after passing its limit.
    pub wal_restarts: u64,
    /// Time the writer stood free while another writer waited for it (waking that writer).
    pub handoff_ns: u64,
}

type Tm = <AnyConnection as Connection>::TransactionManager;

impl GroupWriter {
    /// A writer for the SQLite file at `db_path` (its WAL file is `<db_path>-wal`).
    pub fn new(db_path: &str) -> Self {
        let wal_path = (!db_path.is_empty() && !db_path.starts_with(':') && !db_path.starts_with("file:"))
            .then(|| PathBuf::from(format!("{db_path}-wal")));
        GroupWriter { wal_path, wal_limit: AtomicU64::new(DEFAULT_WAL_LIMIT), ..Default::default() }
    }

    /// Restart the WAL whenever it passes `bytes` (default [`DEFAULT_WAL_LIMIT`]); takes effect
    /// when the writer next opens its connection.
    pub fn set_wal_limit(&self, bytes: u64) {
        self.wal_limit.store(bytes, Ordering::Relaxed);
    }

    /// Block until every commit finished before this call is on disk. Call before sending
    /// anything read from the database out of the node.
    pub fn wait_durable(&self) {
        let mut g = self.lock();
        let target = g.committed_ok;
        while g.durable < target && g.broken.is_none() {
            g = match self.committed.wait(g) {
                Ok(g) => g,
                Err(poisoned) => self.recover(poisoned.into_inner()),
            };
        }
    }

    /// Why writes stopped, if a WAL sync failed.
    pub fn broken(&self) -> Option<String> {
        self.lock().broken.clone()
    }

    /// Writers queued for their turn (a health figure; tests use it to order writers).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> WriterStats {
        let s = &self.stats;
        WriterStats {
            closures: s.closures.load(Ordering::Relaxed),
            commits: s.commits.load(Ordering::Relaxed),
            held_ns: s.held_ns.load(Ordering::Relaxed),
            commit_ns: s.commit_ns.load(Ordering::Relaxed),
            wal_restarts: s.restarts.load(Ordering::Relaxed),
            handoff_ns: s.handoff_ns.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| self.recover(poisoned.into_inner()))
    }

    /// A closure panicked while holding the writer: its batch cannot be trusted. Fail it (the
    /// connection, with its open transaction, is dropped and so rolled back) and wake its waiters.
    fn recover<'a>(&self, mut g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if g.open {
            g.open = false;
            g.in_batch = 0;
            g.finished = g.batch;
            g.failure = Some((g.batch, "a writer panicked; the batch was rolled back".into()));
            // Roll back at the SQLite level (diesel's own bookkeeping is not to be trusted after
            // the panic), so the file's write lock is released before the connection goes.
            if let Some(conn) = g.conn.as_mut() {
                let conn: &mut AnyConnection = conn;
                let _ = diesel::connection::SimpleConnection::batch_execute(conn, "ROLLBACK");
            }
        }
        release(&mut g);
        self.state.clear_poison();
        self.committed.notify_all();
        g
    }

    /// Run `f` atomically; `connect` gives the writer its connection when it has none.
    pub fn write<T, E>(
        &self,
        connect: impl FnOnce() -> Result<DbConn, DbError>,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError> + From<DieselError>,
    {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut g = self.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let held = Held::start(&self.stats);
        if let Some(since) = g.idle_since.take() {
            self.stats.handoff_ns.fetch_add(elapsed_ns(since), Ordering::Relaxed);
        }
        if let Some(why) = &g.broken {
            return Err(DbError::Pool(format!("writes stopped after a failed sync: {why}")).into());
        }
        if !g.open && g.wal_full && g.restart_not_before.is_none_or(|t| Instant::now() >= t) {
            // Between batches: nothing of the writer's own is open. (If this drops the
            // connection, the next lines open a new one.)
            self.restart_wal(&mut g);
        }
        if g.conn.is_none() {
            let mut conn = connect()?;
            g.wal = self.open_wal(&mut conn);
            g.conn = Some(conn);
        }
        if !g.open {
            let conn: &mut AnyConnection = g.conn.as_mut().ok_or_else(|| DbError::Pool("no writer".into()))?;
            begin(conn)?;
            g.open = true;
            g.in_batch = 0;
            g.batch += 1;
        }
        let mine = g.batch;
        let first = g.in_batch == 0;
        let conn: &mut AnyConnection = g.conn.as_mut().ok_or_else(|| DbError::Pool("no writer".into()))?;
        let wake = WakeOnPanic(&self.committed);
        // The first closure of a batch has the transaction to itself: on failure the whole
        // transaction is rolled back, so it needs no savepoint (a savepoint costs two statements
        // and a copy of every page it touches). Later ones run in a savepoint of the shared
        // transaction, so that a failure undoes only their own work.
        let result = if first { f(conn) } else { conn.transaction(f) };
        drop(wake);
        if first && result.is_err() {
            let rolled_back = Tm::rollback_transaction(conn);
            g.open = false;
            g.in_batch = 0;
            g.finished = g.batch;
            if rolled_back.is_err() {
                // The connection's state is unknown: start afresh on a new one.
                release(&mut g);
            }
            self.end_hold(&mut g, held);
            self.committed.notify_all();
            return result;
        }
        g.in_batch += 1;
        if self.waiting.load(Ordering::SeqCst) == 0 || g.in_batch >= MAX_BATCH {
            let t = Instant::now();
            self.commit(&mut g);
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats.commit_ns.fetch_add(elapsed_ns(t), Ordering::Relaxed);
            self.end_hold(&mut g, held);
            let committed = !matches!(&g.failure, Some((batch, _)) if *batch == mine);
            if committed {
                g.committed_ok = mine;
            }
            match g.wal.clone() {
                Some(wal) if committed => {
                    // Hand the writer on and sync while the next batch runs.
                    drop(g);
                    let synced = wal.sync(self.wal_path.as_deref());
                    let full = wal.len() > self.wal_limit.load(Ordering::Relaxed);
                    g = self.lock();
                    match synced {
                        Ok(()) => {
                            g.durable = g.durable.max(mine);
                            g.wal_full |= full && mine > g.restarted_after;
                        }
                        Err(why) => {
                            tracing::error!(error = %why, "syncing the WAL failed; writes stop until restart");
                            g.broken = Some(why);
                        }
                    }
                    self.committed.notify_all();
                }
                _ if committed => {
                    // No WAL handle: SQLite synced inside COMMIT (`synchronous = FULL`).
                    g.durable = g.durable.max(mine);
                    self.committed.notify_all();
                }
                // The commit failed: its waiters see the failure. `durable` stays where it is, for
                // an earlier batch may still be syncing.
                _ => self.committed.notify_all(),
            }
        } else {
            self.end_hold(&mut g, held);
        }
        // Wait until the batch's commit is on disk (or failed).
        while g.durable < mine && g.broken.is_none() && !matches!(&g.failure, Some((b, _)) if *b == mine) {
            g = match self.committed.wait(g) {
                Ok(g) => g,
                Err(poisoned) => self.recover(poisoned.into_inner()),
            };
        }
        let value = result?;
        match (&g.failure, &g.broken) {
            (Some((batch, why)), _) if *batch == mine => Err(DbError::Pool(format!("commit failed: {why}")).into()),
            (_, Some(why)) if g.durable < mine => {
                Err(DbError::Pool(format!("commit not known to be on disk: {why}")).into())
            }
            _ => Ok(value),
        }
    }

    /// End a closure's hold; if another writer already waits, the writer is idle from now
    /// until that one has woken and taken it.
    fn end_hold(&self, g: &mut State, held: Held<'_>) {
        drop(held);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            g.idle_since = Some(Instant::now());
        }
    }

    /// Switch the writer's connection to syncing outside SQLite, if the database has a WAL file
    /// this process can open; otherwise it keeps `synchronous = FULL` (set for every connection).
    fn open_wal(&self, conn: &mut AnyConnection) -> Option<Arc<Wal>> {
        let path = self.wal_path.as_deref()?;
        // The WAL file exists once a connection has read the database in WAL mode.
        let _ = conn.batch_execute("SELECT count(*) FROM sqlite_master;");
        let wal = Wal::open(path)
            .map_err(|e| tracing::warn!(error = %e, "WAL file not opened; syncing inside SQLite"))
            .ok()?;
        let limit = self.wal_limit.load(Ordering::Relaxed);
        conn.batch_execute(&format!("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = {limit};")).ok()?;
        Some(Arc::new(wal))
    }

    /// Copy the whole WAL back so that the next batch writes from its start; called between
    /// batches, holding the writer. A failure costs nothing but the file's size: the next batch
    /// goes on as usual.
    fn restart_wal(&self, g: &mut MutexGuard<'_, State>) {
        g.wal_full = false;
        let Some(AnyConnection::Sqlite(conn)) = g.conn.as_deref_mut() else { return };
        let outcome = conn
            .batch_execute(&format!("PRAGMA busy_timeout = {RESTART_WAIT_MS};"))
            .and_then(|()| diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Checkpoint>(conn));
        let restored = conn.batch_execute("PRAGMA busy_timeout = 5000;");
        let failed = match outcome {
            Ok(c) if c.busy == 0 => {
                g.restart_not_before = None;
                g.restart_backoff = Duration::ZERO;
                g.restarted_after = g.batch;
                self.stats.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(frames = c.log, "WAL copied back; it restarts with the next batch");
                false
            }
            Ok(_) => {
                tracing::info!("WAL past its limit but readers held it; trying again shortly");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "restarting the WAL failed; trying again shortly");
                true
            }
        };
        if failed {
            g.restart_backoff = (g.restart_backoff * 2).clamp(RESTART_RETRY_FIRST, RESTART_RETRY_MAX);
            g.restart_not_before = Some(Instant::now() + g.restart_backoff);
            // Try again once the wait is over, whatever the next sync sees.
            g.wal_full = true;
        }
        if restored.is_err() {
            release(g);
        }
    }

    fn commit(&self, g: &mut MutexGuard<'_, State>) {
        let outcome = match g.conn.as_mut() {
            Some(conn) => {
                let conn: &mut AnyConnection = conn;
                Tm::commit_transaction(conn).map_err(|e| {
                    let _ = Tm::rollback_transaction(conn);
                    e.to_string()
                })
            }
            None => Err("no writer connection".into()),
        };
        g.open = false;
        g.in_batch = 0;
        g.finished = g.batch;
        if let Err(why) = outcome {
            tracing::error!(error = %why, "group commit failed; the batch was rolled back");
            g.failure = Some((g.batch, why));
            // Start afresh on a new connection.
            release(g);
        }
        self.committed.notify_all();
    }
}

/// The row `PRAGMA wal_checkpoint` answers.
#[derive(diesel::QueryableByName)]
struct Checkpoint {
    /// 1 when readers kept it from finishing.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    /// Frames in the WAL before it.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
}

impl Wal {
    /// The file's size now (0 when it cannot be read: no restart on a guess).
    fn len(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }

    fn open(path: &std::path::Path) -> std::io::Result<Wal> {
        let file = File::open(path)?;
        let inode = file.metadata()?.ino();
        Ok(Wal { file, inode })
    }

    /// fsync the WAL (data only: its size changes are covered by SQLite's own header writes,
    /// and `sync_data` still flushes a size change). Refuses if the file at `path` is no longer
    /// the one this handle holds.
    fn sync(&self, path: Option<&std::path::Path>) -> Result<(), String> {
        if let Some(path) = path {
            let now = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.ino();
            if now != self.inode {
                return Err(format!("{} was replaced while the writer held it", path.display()));
            }
        }
        self.file.sync_data().map_err(|e| e.to_string())
    }
}

/// Open the batch's transaction. On SQLite with `BEGIN IMMEDIATE`: the file's write lock is
/// taken at once (waiting up to the busy timeout for another process, such as a `bdc-node keys`
/// command, to finish its write). A deferred `BEGIN` takes it only at the first write, and if
/// another process committed after this transaction's first read SQLite refuses at once with
/// "database is locked" — the failure `keys drop-old` met beside a running node.
fn begin(conn: &mut AnyConnection) -> Result<(), DieselError> {
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        other => Tm::begin_transaction(other),
    }
}

/// Give the writer's connection back to the pool (it starts afresh on a new one). It goes back
/// with `synchronous = FULL`, as every other pooled connection has it; a connection that cannot
/// take even that is broken, and the pool drops it.
fn release(g: &mut State) {
    if let (Some(conn), Some(_)) = (g.conn.as_mut(), g.wal.as_ref()) {
        let conn: &mut AnyConnection = conn;
        let _ = conn.batch_execute("PRAGMA synchronous = FULL;");
    }
    g.conn = None;
    g.wal = None;
}

fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Counts one closure's hold of the writer when dropped (whichever way the closure ends).
struct Held<'a> {
    stats: &'a Counters,
    since: Instant,
}

impl<'a> Held<'a> {
    fn start(stats: &'a Counters) -> Self {
        Held { stats, since: Instant::now() }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.stats.closures.fetch_add(1, Ordering::Relaxed);
        self.stats.held_ns.fetch_add(elapsed_ns(self.since), Ordering::Relaxed);
    }
}

/// Wakes the waiters of a batch when the closure running it panics, so that they find the
/// writer poisoned and fail the batch instead of waiting for a commit that will not come.
struct WakeOnPanic<'a>(&'a Condvar);

impl Drop for WakeOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.notify_all();
        }
    }
}
