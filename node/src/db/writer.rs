//! The SQLite writer with group commit.
//!
//! SQLite has one writer at a time, and a commit is durable only once the WAL is on disk (an
//! fsync). Writers therefore take turns on one connection, each running its closure in a shared
//! transaction (the first of a batch directly, each later one in a savepoint); the batch commits
//! when nobody else is waiting to join it (or it is full). A caller gets its result only after the
//! commit that holds its changes is on disk; if that commit fails, every closure of the batch gets
//! the error and none of their changes exist. A closure that fails is rolled back (the first of a
//! batch with the whole transaction, a later one to its savepoint) and leaves the others' work
//! alone — each call stays all-or-nothing, as with its own transaction.
//!
//! **Queued closures.** A closure that owns what it uses ([`GroupWriter::write_owned`], the busy
//! request paths) does not wait for its turn: it joins a queue, and whichever thread holds the
//! turn runs it next, on the same warm connection. Handing the turn from one sleeping thread to
//! the next cost the time the next one took to wake (on a loaded 2-core machine a tenth of the
//! writer's time, measured with the register bench); a queue has no such gap. A closure that
//! borrows ([`GroupWriter::write`]) waits for the turn and runs on its own thread; a thread holding
//! the turn hands it over at the next closure boundary so that such writers are not starved. A
//! turn serves a bounded number of queued closures before it asks a queued writer to take over,
//! so no caller's answer waits on an endless queue of others.
//!
//! **Sync outside the writer.** With `synchronous = FULL` SQLite fsyncs inside `COMMIT`, so the
//! next batch waited for the disk too: a third of the time the writer was held went to fsync.
//! When the database has a WAL file, the writer's connection runs with `synchronous = NORMAL`
//! (COMMIT writes the WAL frames without syncing) and a syncer thread syncs the WAL file while the
//! next batch runs (one sync covers every batch committed before it began). Callers are answered
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

use std::any::Any;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::result::Error as DieselError;

use super::{AnyConnection, DbConn, DbError};

/// Closures committed together at most (bounds the wait of the first one).
const MAX_BATCH: usize = 64;

/// Failed batches remembered (see `Book::failed`); failures are rare, and a caller looks at its
/// batch's fate as soon as it is woken.
const FAILURES_KEPT: usize = 4096;

/// Queued closures one turn runs at most before it asks a queued writer to take over.
const MAX_SERVED: usize = 2 * MAX_BATCH;

/// WAL size past which the writer restarts it between batches (and the size SQLite cuts it back to).
pub const DEFAULT_WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a restarting checkpoint waits for readers on older snapshots (every write waits
/// meanwhile), and how long the writer leaves the WAL alone after a try they outlasted: at first
/// briefly, doubling while a long reader (an export, a backup) keeps outlasting it.
const RESTART_WAIT_MS: u32 = 100;
const RESTART_RETRY_FIRST: Duration = Duration::from_millis(50);
const RESTART_RETRY_MAX: Duration = Duration::from_secs(5);

/// How a closure ended.
enum Outcome {
    Done,
    Failed,
    Panicked(Box<dyn Any + Send>),
}

/// A closure waiting to run, with where its result goes.
trait Work {
    /// Run with the writer's connection: `first` = it opens its batch (no savepoint), `batch` =
    /// the batch's number.
    fn run(self: Box<Self>, conn: &mut AnyConnection, first: bool, batch: u64) -> Outcome;
    /// It cannot run (no connection, writes stopped).
    fn refuse(self: Box<Self>, why: DbError);
}

/// A closure's result and the batch that holds it (0: nothing to wait for).
type Slot<T, E> = Arc<Mutex<Option<(Result<T, E>, u64)>>>;

struct Closure<F, T, E> {
    f: F,
    slot: Slot<T, E>,
    /// The caller's span: a queued closure may run on another thread, and logs as its caller.
    span: tracing::Span,
}

impl<F, T, E> Closure<F, T, E> {
    fn new(f: F, slot: &Slot<T, E>) -> Self {
        Closure { f, slot: Arc::clone(slot), span: tracing::Span::current() }
    }
}

impl<F, T, E> Work for Closure<F, T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DbError> + From<DieselError>,
{
    fn run(self: Box<Self>, conn: &mut AnyConnection, first: bool, batch: u64) -> Outcome {
        let Closure { f, slot, span } = *self;
        let _in_span = span.enter();
        // The first closure of a batch has the transaction to itself: on failure the whole
        // transaction is rolled back, so it needs no savepoint (a savepoint costs two statements
        // and a copy of every page it touches). Later ones run in a savepoint of the shared
        // transaction, so that a failure undoes only their own work.
        let ran = catch_unwind(AssertUnwindSafe(|| if first { f(conn) } else { conn.transaction(f) }));
        let (result, outcome) = match ran {
            Ok(Ok(v)) => (Ok(v), Outcome::Done),
            Ok(Err(e)) => (Err(e), Outcome::Failed),
            Err(panic) => (
                Err(DbError::Pool("a writer panicked; the batch was rolled back".into()).into()),
                Outcome::Panicked(panic),
            ),
        };
        *lock(&slot) = Some((result, batch));
        outcome
    }

    fn refuse(self: Box<Self>, why: DbError) {
        *lock(&self.slot) = Some((Err(why.into()), 0));
    }
}

type Job<'a> = Box<dyn Work + 'a>;
type Queued = Box<dyn Work + Send>;

/// What writers and waiters share; every hold of it is short.
#[derive(Default)]
struct Book {
    /// Closures waiting for the thread that holds the turn.
    queue: VecDeque<Queued>,
    /// A thread holds the turn (it looks at the queue before it gives the turn up).
    busy: bool,
    /// Writers with borrowing closures waiting for the turn.
    waiting_turn: usize,
    /// The turn is kept for one of those (a queued writer does not take it meanwhile).
    reserved: bool,
    /// The turn was given up with closures still queued: a queued writer takes it over.
    runner_wanted: bool,
    /// Number of the open (or last) batch.
    batch: u64,
    /// Batches that failed (a commit that did not happen, a panic), and why; the most recent
    /// `FAILURES_KEPT`. A caller whose closure succeeded is told its batch failed from here.
    failed: std::collections::BTreeMap<u64, String>,
    /// Highest batch number committed successfully, and highest known to be on disk.
    committed_ok: u64,
    durable: u64,
    /// The latest committed batch the syncer has yet to sync, with the WAL it is in.
    to_sync: Option<(u64, Arc<Wal>)>,
    /// The writer is being dropped: the syncer ends.
    closing: bool,
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
    /// When the turn was last given up with a writer waiting for it.
    idle_since: Option<Instant>,
}

/// What the thread holding the turn works with.
#[derive(Default)]
struct Turn {
    conn: Option<DbConn>,
    /// A shared transaction is open, with this many closures in it, as batch `batch`.
    open: bool,
    in_batch: usize,
    batch: u64,
    /// The WAL file, opened for syncing (None: commits sync inside SQLite).
    wal: Option<Arc<Wal>>,
}

/// The WAL file handle, with the inode it was opened on (SQLite recreates the file if every
/// connection closed; a handle on the old inode would sync nothing).
struct Wal {
    file: File,
    inode: u64,
}

struct Shared {
    book: Mutex<Book>,
    /// A batch finished, was synced or failed; the turn came free; a result is in.
    changed: Condvar,
    /// The syncer has work.
    sync_wanted: Condvar,
    stats: Counters,
    /// The database's WAL file (`<db>-wal`); None for databases without one.
    wal_path: Option<PathBuf>,
    /// WAL size in bytes past which the writer restarts it (see the module's notes).
    wal_limit: AtomicU64,
}

pub struct GroupWriter {
    shared: Arc<Shared>,
    turn: Mutex<Turn>,
    /// The syncer thread has been started.
    syncer: Mutex<bool>,
}

impl Default for GroupWriter {
    fn default() -> Self {
        GroupWriter::new("")
    }
}

impl Drop for GroupWriter {
    fn drop(&mut self) {
        lock(&self.shared.book).closing = true;
        self.shared.sync_wanted.notify_all();
    }
}

#[derive(Default)]
struct Counters {
    closures: AtomicU64,
    commits: AtomicU64,
    held_ns: AtomicU64,
    commit_ns: AtomicU64,
    restarts: AtomicU64,
    handoff_ns: AtomicU64,
    held_cpu_ns: AtomicU64,
    syncs: AtomicU64,
    sync_ns: AtomicU64,
}

/// What the writer has done since the node started: how busy the one writer is tells whether
/// writes queue behind it (a health figure, and what the register benchmark reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Closures run (each one `Db::write`).
    pub closures: u64,
    /// Commits (each one fsync, for a whole batch).
    pub commits: u64,
    /// Time a thread held the writer's turn (running closures, opening and committing batches),
    /// in nanoseconds.
    pub held_ns: u64,
    /// Of that, time spent committing.
    pub commit_ns: u64,
    /// Times the WAL was started afresh after passing its limit.
    pub wal_restarts: u64,
    /// Time the writer stood free while another writer waited for it (waking that writer).
    pub handoff_ns: u64,
    /// Of `held_ns`, time the holding thread was on a CPU: the writer's own work. The rest it
    /// waited — for a core, for I/O, or when opening a batch for a connection or another
    /// process's lock on the file.
    pub held_cpu_ns: u64,
    /// WAL syncs by the syncer thread (each covers every batch committed before it), and their
    /// time: what every caller waits for after its commit.
    pub syncs: u64,
    pub sync_ns: u64,
}

type Tm = <AnyConnection as Connection>::TransactionManager;

/// Lock a mutex whatever an earlier holder did: every holder leaves the data consistent (closures
/// run under `catch_unwind`), so a poisoned lock holds nothing half-done.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Book {
    fn fail(&mut self, batch: u64, why: String) {
        self.failed.insert(batch, why);
        while self.failed.len() > FAILURES_KEPT {
            self.failed.pop_first();
        }
    }
}

impl GroupWriter {
    /// A writer for the SQLite file at `db_path` (its WAL file is `<db_path>-wal`).
    pub fn new(db_path: &str) -> Self {
        let wal_path = (!db_path.is_empty() && !db_path.starts_with(':') && !db_path.starts_with("file:"))
            .then(|| PathBuf::from(format!("{db_path}-wal")));
        let shared = Shared {
            book: Mutex::default(),
            changed: Condvar::new(),
            sync_wanted: Condvar::new(),
            stats: Counters::default(),
            wal_path,
            wal_limit: AtomicU64::new(DEFAULT_WAL_LIMIT),
        };
        GroupWriter { shared: Arc::new(shared), turn: Mutex::default(), syncer: Mutex::new(false) }
    }

    /// Restart the WAL whenever it passes `bytes` (default [`DEFAULT_WAL_LIMIT`]); takes effect
    /// when the writer next opens its connection.
    pub fn set_wal_limit(&self, bytes: u64) {
        self.shared.wal_limit.store(bytes, Ordering::Relaxed);
    }

    /// Block until every commit finished before this call is on disk. Call before sending
    /// anything read from the database out of the node.
    pub fn wait_durable(&self) {
        let mut b = self.book();
        let target = b.committed_ok;
        while b.durable < target && b.broken.is_none() {
            b = self.wait(b);
        }
    }

    /// Why writes stopped, if a WAL sync failed.
    pub fn broken(&self) -> Option<String> {
        self.book().broken.clone()
    }

    /// Writers waiting for the writer: queued closures and writers waiting for the turn (a
    /// health figure; tests use it to order writers).
    pub fn waiting(&self) -> usize {
        let b = self.book();
        b.queue.len() + b.waiting_turn
    }

    pub fn stats(&self) -> WriterStats {
        let s = &self.shared.stats;
        WriterStats {
            closures: s.closures.load(Ordering::Relaxed),
            commits: s.commits.load(Ordering::Relaxed),
            held_ns: s.held_ns.load(Ordering::Relaxed),
            commit_ns: s.commit_ns.load(Ordering::Relaxed),
            wal_restarts: s.restarts.load(Ordering::Relaxed),
            handoff_ns: s.handoff_ns.load(Ordering::Relaxed),
            held_cpu_ns: s.held_cpu_ns.load(Ordering::Relaxed),
            syncs: s.syncs.load(Ordering::Relaxed),
            sync_ns: s.sync_ns.load(Ordering::Relaxed),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.shared.book)
    }

    fn wait<'a>(&self, b: MutexGuard<'a, Book>) -> MutexGuard<'a, Book> {
        self.shared.changed.wait(b).unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` atomically, on this thread; `connect` gives the writer its connection when it has
    /// none. `f` may borrow: it waits for the turn (see the module's notes).
    pub fn write<T, E>(
        &self,
        connect: impl Fn() -> Result<DbConn, DbError>,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError> + From<DieselError>,
    {
        let mut b = self.book();
        if let Some(why) = &b.broken {
            return Err(DbError::Pool(format!("writes stopped after a failed sync: {why}")).into());
        }
        if b.busy {
            b.waiting_turn += 1;
            while b.busy {
                b = self.wait(b);
            }
            b.waiting_turn -= 1;
        }
        self.take_turn(&mut b);
        drop(b);
        let slot: Slot<T, E> = Arc::default();
        let job: Job<'_> = Box::new(Closure::new(f, &slot));
        if let Some(panic) = self.serve(&connect, Some(job)) {
            resume_unwind(panic);
        }
        self.answer(&slot)
    }

    /// Run `f` atomically: queued for whichever thread holds the turn, or on this thread if none
    /// does (see the module's notes). For closures that own what they use.
    pub fn write_owned<T, E, F>(&self, connect: impl Fn() -> Result<DbConn, DbError>, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<DieselError> + Send + 'static,
    {
        let slot: Slot<T, E> = Arc::default();
        let mut b = self.book();
        if let Some(why) = &b.broken {
            return Err(DbError::Pool(format!("writes stopped after a failed sync: {why}")).into());
        }
        b.queue.push_back(Box::new(Closure::new(f, &slot)));
        loop {
            if lock(&slot).as_ref().is_some_and(|(r, batch)| r.is_err() || self.settled(&b, *batch)) {
                drop(b);
                return self.answer(&slot);
            }
            if !b.busy && !b.reserved && (b.runner_wanted || !b.queue.is_empty()) {
                self.take_turn(&mut b);
                drop(b);
                // Closures that panic there are answered with an error; none is ours to raise.
                if let Some(panic) = self.serve(&connect, None) {
                    drop(panic);
                }
                b = self.book();
                continue;
            }
            b = self.wait(b);
        }
    }

    fn take_turn(&self, b: &mut Book) {
        b.busy = true;
        b.reserved = false;
        b.runner_wanted = false;
        if let Some(since) = b.idle_since.take() {
            self.shared.stats.handoff_ns.fetch_add(elapsed_ns(since), Ordering::Relaxed);
        }
    }

    /// Whether batch `batch`'s fate is known: on disk, failed, or unknowable.
    fn settled(&self, b: &Book, batch: u64) -> bool {
        b.durable >= batch || b.broken.is_some() || b.failed.contains_key(&batch)
    }

    /// Wait until the closure behind `slot` has run and its batch is on disk (or failed); its answer.
    fn answer<T, E>(&self, slot: &Slot<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut b = self.book();
        loop {
            let ready = lock(slot).as_ref().map(|(r, batch)| r.is_err() || self.settled(&b, *batch));
            if ready == Some(true) {
                break;
            }
            b = self.wait(b);
        }
        let Some((result, batch)) = lock(slot).take() else {
            return Err(DbError::Pool("the writer lost a result".into()).into());
        };
        let value = result?;
        match (b.failed.get(&batch), &b.broken) {
            (Some(why), _) => Err(DbError::Pool(format!("commit failed: {why}")).into()),
            (_, Some(why)) if b.durable < batch => {
                Err(DbError::Pool(format!("commit not known to be on disk: {why}")).into())
            }
            _ => Ok(value),
        }
    }

    /// Hold the turn: run `own` (if any), then queued closures, committing each batch when
    /// nobody waits to join it; give the turn up when the queue is empty, a borrowing writer
    /// waits for it, or this turn has served its share. Answers `own`'s panic, to be raised.
    /// Whatever happens in here, the turn is given up: a panic outside the closures (a bug in
    /// the writer itself) fails the open batch and is raised after.
    fn serve(
        &self,
        connect: &dyn Fn() -> Result<DbConn, DbError>,
        own: Option<Job<'_>>,
    ) -> Option<Box<dyn Any + Send>> {
        match catch_unwind(AssertUnwindSafe(|| self.serve_turn(connect, own))) {
            Ok(own_panic) => own_panic,
            Err(panic) => {
                let mut turn = lock(&self.turn);
                if turn.open {
                    self.end_batch(&mut turn, Some("the writer failed; the batch was rolled back".into()));
                }
                drop(turn);
                let mut b = self.book();
                b.busy = false;
                self.shared.changed.notify_all();
                drop(b);
                resume_unwind(panic)
            }
        }
    }

    fn serve_turn(
        &self,
        connect: &dyn Fn() -> Result<DbConn, DbError>,
        mut own: Option<Job<'_>>,
    ) -> Option<Box<dyn Any + Send>> {
        let mut turn = lock(&self.turn);
        // The whole turn, whichever way it ends: two clock reads per turn rather than per closure
        // (the thread's CPU clock is a system call, not a vDSO read).
        let _held = Held::start(&self.shared.stats);
        let mut own_panic = None;
        let mut served = 0usize;
        loop {
            let (job, is_own) = match own.take() {
                Some(job) => (job, true),
                None => {
                    let mut b = self.book();
                    // A borrowing writer waiting for the turn goes next (joining the open batch),
                    // but only once this turn has run a queued closure, if any is queued: two
                    // borrowing writers passing the turn between them do not starve the queue.
                    let give_up = if b.waiting_turn > 0 && (served > 0 || b.queue.is_empty()) {
                        b.reserved = true;
                        true
                    } else if served >= MAX_SERVED && !b.queue.is_empty() {
                        b.runner_wanted = true;
                        true
                    } else {
                        false
                    };
                    let next = if give_up { None } else { b.queue.pop_front() };
                    match next {
                        Some(job) => (job as Job<'_>, false),
                        None if turn.open && !give_up => {
                            // Nobody to join the batch: commit it, then look again.
                            drop(b);
                            self.commit(&mut turn);
                            continue;
                        }
                        None => {
                            b.busy = false;
                            // Wake only if someone is to take the turn (the callers of closures
                            // already run wait for their sync, which wakes them).
                            if b.waiting_turn > 0 || b.runner_wanted || !b.queue.is_empty() {
                                b.idle_since = Some(Instant::now());
                                self.shared.changed.notify_all();
                            }
                            return own_panic;
                        }
                    }
                }
            };
            served += usize::from(!is_own);
            if !turn.open
                && let Err(why) = self.open_batch(&mut turn, connect)
            {
                // Nothing can be written now: refuse this closure and every one queued (each
                // would wait out the same timeout), and tell their callers.
                let why = why.to_string();
                job.refuse(DbError::Pool(why.clone()));
                let mut b = self.book();
                for queued in std::mem::take(&mut b.queue) {
                    queued.refuse(DbError::Pool(why.clone()));
                }
                self.shared.changed.notify_all();
                continue;
            }
            let (first, batch) = (turn.in_batch == 0, turn.batch);
            let outcome = match turn.conn.as_deref_mut() {
                Some(conn) => job.run(conn, first, batch),
                None => {
                    job.refuse(DbError::Pool("no writer connection".into()));
                    Outcome::Failed
                }
            };
            self.shared.stats.closures.fetch_add(1, Ordering::Relaxed);
            // The closure must leave the shared transaction as it found it, open at depth 1. An
            // error on which SQLite rolls the whole transaction back (a full disk, an I/O error)
            // leaves none: later closures would then commit on their own.
            let intact = turn.conn.as_deref_mut().is_some_and(|conn| {
                matches!(Tm::transaction_manager_status_mut(conn).transaction_depth(), Ok(Some(d)) if d.get() == 1)
            });
            match outcome {
                Outcome::Panicked(panic) => {
                    // Nothing of the batch can be trusted: roll it all back, on a new connection after.
                    self.end_batch(&mut turn, Some("a writer panicked; the batch was rolled back".into()));
                    if is_own {
                        own_panic = Some(panic);
                    }
                }
                Outcome::Failed if first => {
                    // Its work is the whole transaction: roll it back.
                    self.end_batch(&mut turn, None);
                }
                _ if !intact => {
                    self.end_batch(
                        &mut turn,
                        Some("the shared transaction was lost; the batch was rolled back".into()),
                    );
                }
                Outcome::Done => turn.in_batch += 1,
                Outcome::Failed => {
                    // Rolled back to its savepoint; the batch goes on. Its caller may go now.
                    let _b = self.book();
                    self.shared.changed.notify_all();
                }
            }
            if turn.open && turn.in_batch >= MAX_BATCH {
                self.commit(&mut turn);
            }
        }
    }

    /// Open a batch: the connection (opened if need be), a restart of the WAL if it is due,
    /// `BEGIN IMMEDIATE`.
    fn open_batch(&self, turn: &mut Turn, connect: &dyn Fn() -> Result<DbConn, DbError>) -> Result<(), DbError> {
        let restart_due = {
            let b = self.book();
            if let Some(why) = &b.broken {
                return Err(DbError::Pool(format!("writes stopped after a failed sync: {why}")));
            }
            b.wal_full && b.restart_not_before.is_none_or(|t| Instant::now() >= t)
        };
        if restart_due {
            // Between batches: nothing of the writer's own is open. (If this drops the
            // connection, the next lines open a new one.)
            self.restart_wal(turn);
        }
        if turn.conn.is_none() {
            let mut conn = connect()?;
            turn.wal = self.open_wal(&mut conn);
            if turn.wal.is_some() && !self.start_syncer() {
                // Nobody would sync: let SQLite sync inside COMMIT instead.
                turn.wal = None;
                conn.batch_execute("PRAGMA synchronous = FULL;").map_err(DbError::Query)?;
            }
            turn.conn = Some(conn);
        }
        let conn: &mut AnyConnection = turn.conn.as_mut().ok_or_else(|| DbError::Pool("no writer".into()))?;
        if let Err(e) = begin(conn) {
            release(turn);
            return Err(DbError::Query(e));
        }
        let mut b = self.book();
        b.batch += 1;
        turn.batch = b.batch;
        turn.open = true;
        turn.in_batch = 0;
        Ok(())
    }

    /// Roll the open batch back; with `failure`, its closures that had succeeded are told, and
    /// the writer starts afresh on a new connection.
    fn end_batch(&self, turn: &mut Turn, failure: Option<String>) {
        let rolled_back = match turn.conn.as_deref_mut() {
            Some(conn) => {
                if failure.is_some() {
                    // diesel's own bookkeeping is not to be trusted after a panic: roll back at
                    // the SQLite level, so the file's write lock is released before the connection goes.
                    conn.batch_execute("ROLLBACK").map_err(|e| e.to_string())
                } else {
                    Tm::rollback_transaction(conn).map_err(|e| e.to_string())
                }
            }
            None => Ok(()),
        };
        turn.open = false;
        turn.in_batch = 0;
        let start_afresh = failure.is_some() || rolled_back.is_err();
        if start_afresh {
            // After a failure (or a rollback that failed) the connection's state is unknown:
            // start afresh on a new one.
            release(turn);
        }
        let mut b = self.book();
        if let Some(why) = failure {
            b.fail(turn.batch, why);
        }
        self.shared.changed.notify_all();
    }

    /// Commit the open batch, and have it synced (or, without a WAL handle, mark it on disk:
    /// SQLite synced inside COMMIT with `synchronous = FULL`).
    fn commit(&self, turn: &mut Turn) {
        let t = Instant::now();
        let outcome = match turn.conn.as_deref_mut() {
            Some(conn) => Tm::commit_transaction(conn).map_err(|e| {
                let _ = Tm::rollback_transaction(conn);
                e.to_string()
            }),
            None => Err("no writer connection".into()),
        };
        let ns = elapsed_ns(t);
        let stats = &self.shared.stats;
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.commit_ns.fetch_add(ns, Ordering::Relaxed);
        turn.open = false;
        turn.in_batch = 0;
        if outcome.is_err() {
            // Start afresh on a new connection.
            release(turn);
        }
        let mut b = self.book();
        match outcome {
            Ok(()) => {
                b.committed_ok = turn.batch;
                match &turn.wal {
                    Some(wal) => {
                        // Its callers wait for the sync, not for this: nobody to wake yet.
                        b.to_sync = Some((turn.batch, Arc::clone(wal)));
                        self.shared.sync_wanted.notify_one();
                        return;
                    }
                    None => b.durable = b.durable.max(turn.batch),
                }
            }
            Err(why) => {
                tracing::error!(error = %why, "group commit failed; the batch was rolled back");
                b.fail(turn.batch, why);
            }
        }
        self.shared.changed.notify_all();
    }

    /// Start the thread that syncs committed batches (once); whether it runs.
    fn start_syncer(&self) -> bool {
        let mut started = lock(&self.syncer);
        if !*started {
            let shared = Arc::clone(&self.shared);
            match std::thread::Builder::new().name("sqlite-sync".into()).spawn(move || sync_loop(&shared)) {
                Ok(_) => *started = true,
                Err(e) => tracing::error!(error = %e, "the WAL syncer did not start; SQLite syncs inside COMMIT"),
            }
        }
        *started
    }

    /// Switch the writer's connection to syncing outside SQLite, if the database has a WAL file
    /// this process can open; otherwise it keeps `synchronous = FULL` (set for every connection).
    fn open_wal(&self, conn: &mut AnyConnection) -> Option<Arc<Wal>> {
        let path = self.shared.wal_path.as_deref()?;
        // The WAL file exists once a connection has read the database in WAL mode.
        let _ = conn.batch_execute("SELECT count(*) FROM sqlite_master;");
        let wal = Wal::open(path)
            .map_err(|e| tracing::warn!(error = %e, "WAL file not opened; syncing inside SQLite"))
            .ok()?;
        let limit = self.shared.wal_limit.load(Ordering::Relaxed);
        if let Err(e) =
            conn.batch_execute(&format!("PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = {limit};"))
        {
            // Whatever of it took: commits sync inside SQLite again.
            tracing::warn!(error = %e, "WAL settings not taken; syncing inside SQLite");
            let _ = conn.batch_execute("PRAGMA synchronous = FULL;");
            return None;
        }
        Some(Arc::new(wal))
    }

    /// Copy the whole WAL back so that the next batch writes from its start; called between
    /// batches, holding the turn. A failure costs nothing but the file's size: the next batch
    /// goes on as usual.
    fn restart_wal(&self, turn: &mut Turn) {
        self.book().wal_full = false;
        let Some(AnyConnection::Sqlite(conn)) = turn.conn.as_deref_mut() else { return };
        let outcome = conn
            .batch_execute(&format!("PRAGMA busy_timeout = {RESTART_WAIT_MS};"))
            .and_then(|()| diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Checkpoint>(conn));
        let restored = conn.batch_execute("PRAGMA busy_timeout = 5000;");
        let mut b = self.book();
        let failed = match outcome {
            Ok(c) if c.busy == 0 => {
                b.restart_not_before = None;
                b.restart_backoff = Duration::ZERO;
                b.restarted_after = b.batch;
                self.shared.stats.restarts.fetch_add(1, Ordering::Relaxed);
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
            b.restart_backoff = (b.restart_backoff * 2).clamp(RESTART_RETRY_FIRST, RESTART_RETRY_MAX);
            b.restart_not_before = Some(Instant::now() + b.restart_backoff);
            // Try again once the wait is over, whatever the next sync sees.
            b.wal_full = true;
        }
        drop(b);
        if restored.is_err() {
            release(turn);
        }
    }
}

/// The syncer: sync the WAL after each commit (one sync for every batch committed before it
/// began), then mark those batches on disk; a failed sync stops all writes.
fn sync_loop(shared: &Shared) {
    let mut b = lock(&shared.book);
    loop {
        let Some((batch, wal)) = b.to_sync.take() else {
            if b.closing {
                return;
            }
            b = shared.sync_wanted.wait(b).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        drop(b);
        let t = Instant::now();
        let synced = wal.sync(shared.wal_path.as_deref());
        shared.stats.syncs.fetch_add(1, Ordering::Relaxed);
        shared.stats.sync_ns.fetch_add(elapsed_ns(t), Ordering::Relaxed);
        let full = wal.len() > shared.wal_limit.load(Ordering::Relaxed);
        b = lock(&shared.book);
        match synced {
            Ok(()) => {
                b.durable = b.durable.max(batch);
                b.wal_full |= full && batch > b.restarted_after;
            }
            Err(why) => {
                tracing::error!(error = %why, "syncing the WAL failed; writes stop until restart");
                b.broken = Some(why);
            }
        }
        shared.changed.notify_all();
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
fn release(turn: &mut Turn) {
    if let (Some(conn), Some(_)) = (turn.conn.as_mut(), turn.wal.as_ref()) {
        let conn: &mut AnyConnection = conn;
        let _ = conn.batch_execute("PRAGMA synchronous = FULL;");
    }
    turn.conn = None;
    turn.wal = None;
    turn.open = false;
    turn.in_batch = 0;
}

fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// CPU time of the calling thread.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// Counts one turn's hold of the writer when dropped (whichever way the turn ends).
struct Held<'a> {
    stats: &'a Counters,
    since: Instant,
    cpu: u64,
}

impl<'a> Held<'a> {
    fn start(stats: &'a Counters) -> Self {
        Held { stats, since: Instant::now(), cpu: thread_cpu_ns() }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.stats.held_ns.fetch_add(elapsed_ns(self.since), Ordering::Relaxed);
        self.stats.held_cpu_ns.fetch_add(thread_cpu_ns().saturating_sub(self.cpu), Ordering::Relaxed);
    }
}
