//! The SQLite writer with group commit.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` every commit waits for an
//! fsync. Writers therefore take turns on one connection, each running its closure in a shared
//! transaction (the first of a batch directly, each later one in a savepoint); the last writer in
//! line (nobody else waiting, or the batch full) commits for all of them with one fsync. A caller
//! gets its result only after the commit that holds its changes has succeeded; if that commit
//! fails, every closure of the batch gets the error and none of their changes exist. A closure
//! that fails is rolled back (the first of a batch with the whole transaction, a later one to its
//! savepoint) and leaves the others' work alone — each call stays all-or-nothing, as with its own
//! transaction.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use diesel::connection::{Connection, TransactionManager};
use diesel::result::Error as DieselError;

use super::{AnyConnection, DbConn, DbError};

/// Closures committed together at most (bounds the wait of the first one).
const MAX_BATCH: usize = 64;

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
}

#[derive(Default)]
pub struct GroupWriter {
    state: Mutex<State>,
    committed: Condvar,
    waiting: AtomicUsize,
}

type Tm = <AnyConnection as Connection>::TransactionManager;

impl GroupWriter {
    /// Writers queued for their turn (a health figure; tests use it to order writers).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
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
        g.conn = None;
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
        if g.conn.is_none() {
            g.conn = Some(connect()?);
        }
        if !g.open {
            let conn: &mut AnyConnection = g.conn.as_mut().ok_or_else(|| DbError::Pool("no writer".into()))?;
            Tm::begin_transaction(conn)?;
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
                g.conn = None;
            }
            self.committed.notify_all();
            return result;
        }
        g.in_batch += 1;
        if self.waiting.load(Ordering::SeqCst) == 0 || g.in_batch >= MAX_BATCH {
            self.commit(&mut g);
        } else {
            // The next writer in line carries the batch on; wait for the commit.
            while g.finished < mine {
                g = match self.committed.wait(g) {
                    Ok(g) => g,
                    Err(poisoned) => self.recover(poisoned.into_inner()),
                };
            }
        }
        let value = result?;
        match &g.failure {
            Some((batch, why)) if *batch == mine => Err(DbError::Pool(format!("commit failed: {why}")).into()),
            _ => Ok(value),
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
            g.conn = None;
        }
        self.committed.notify_all();
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
