//! Threads for work that is slow on purpose, run at a lower CPU priority.
//!
//! An applicant's proof (argon2id over name and ID number, `domain::parties`), made at submission
//! and checked by each progress query, costs about a millisecond of CPU by design — a fifth of a
//! registration's CPU on the register benchmark. Run on the request threads, it took the cores
//! from the one thread that holds SQLite's writer: that thread waited for a core for about 30 %
//! of its turn, and every write of the node waited behind it. Sign-in's argon2 runs here too. Here such work runs on a few threads of their own whose nice value is raised by
//! [`NICE`] (Linux's `setpriority` on the thread; an unprivileged process may always lower its
//! own priority): when the cores are busy the scheduler serves the writer and the request
//! threads first, and the proofs fill the gaps. When the machine is idle they run at full speed.
//!
//! **Never write to the database from here.** The thread that holds SQLite's writer runs every
//! queued write (`db::writer`): a low-priority thread holding it would run everyone's writes
//! slowly. Jobs only compute; reads stay on the ordinary threads too (a pooled connection and a
//! WAL snapshot held at low priority would hold up the writer's checkpoints).
//!
//! The queue is bounded ([`QUEUE_PER_THREAD`] jobs a thread, some tens of milliseconds of
//! proofs). A job that finds it full runs at normal priority instead (on tokio's blocking pool,
//! or on the waiting thread): slower work never turns into refused requests, and a backlog never
//! grows past what the threads clear quickly.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

/// How much lower the threads' priority is (nice +5: a weight of 335 against 1024).
pub const NICE: i32 = 5;

/// Jobs waiting at most, per thread, before new ones run at normal priority.
pub const QUEUE_PER_THREAD: usize = 32;

type Job = Box<dyn FnOnce() + Send>;

/// A handle on the threads (cheap to clone); they end when the last handle is dropped.
#[derive(Clone)]
pub struct LowPriority {
    jobs: SyncSender<Job>,
}

impl std::fmt::Debug for LowPriority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LowPriority").finish_non_exhaustive()
    }
}

/// The job panicked, or the threads are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost;

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a low-priority job did not finish")
    }
}

impl std::error::Error for Lost {}

impl LowPriority {
    /// Start `threads` threads (at least one).
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = sync_channel::<Job>(QUEUE_PER_THREAD * threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("low-prio-{i}")).spawn(move || worker(&queue))?;
        }
        Ok(LowPriority { jobs })
    }

    /// Run `f` on a low-priority thread and wait for its answer (on tokio's blocking pool when
    /// the queue is full).
    pub async fn run<T, F>(&self, f: F) -> Result<T, Lost>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller went away (a closed connection): the work is not wanted.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| Lost),
            Err(refused) => {
                let job = at_normal_priority(refused);
                // A panic there ends as a JoinError, and drops the sender: `Lost` either way.
                let _ = tokio::task::spawn_blocking(job).await;
                rx.await.map_err(|_| Lost)
            }
        }
    }

    /// Run `f` on a low-priority thread and wait for its answer, from a thread that may block
    /// (tokio's blocking pool); on this thread when the queue is full. Never from a job of these
    /// threads: it would wait for a thread that is itself.
    pub fn run_blocking<T, F>(&self, f: F) -> Result<T, Lost>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        if let Err(refused) = self.jobs.try_send(job) {
            // Here, on the caller's thread; a panic drops the sender, as on the pool.
            let _ = catch_unwind(AssertUnwindSafe(at_normal_priority(refused)));
        }
        rx.recv().map_err(|_| Lost)
    }
}

/// A job the queue did not take, to run at normal priority. The threads end only if the queue
/// is gone; that is said, since every job then runs at normal priority.
fn at_normal_priority(refused: TrySendError<Job>) -> Job {
    match refused {
        TrySendError::Full(job) => job,
        TrySendError::Disconnected(job) => {
            tracing::warn!("the low-priority threads are gone; slow work runs at normal priority");
            job
        }
    }
}

fn worker(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // A panicking job drops its sender: its caller gets `Lost`, the thread goes on.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Raise this thread's nice value by [`NICE`]; where that is refused, run at normal priority.
fn lower_priority() {
    let me = Some(rustix::thread::gettid());
    let raised = rustix::process::getpriority_process(me)
        .and_then(|now| rustix::process::setpriority_process(me, (now + NICE).min(19)));
    if let Err(e) = raised {
        tracing::debug!(error = %e, "low-priority thread runs at normal priority");
    }
}

/// This thread's nice value (for tests and diagnostics).
pub fn current_nice() -> std::io::Result<i32> {
    Ok(rustix::process::getpriority_process(Some(rustix::thread::gettid()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_lowered_threads_and_answer() {
        let pool = LowPriority::start(2).expect("start");
        let base = current_nice().expect("nice");
        let (sum, nice, name) = pool
            .run(|| {
                ((1..=10).sum::<i32>(), current_nice().expect("nice"), std::thread::current().name().map(str::to_owned))
            })
            .await
            .expect("answer");
        assert_eq!(sum, 55);
        assert_eq!(nice, (base + NICE).min(19));
        assert!(name.is_some_and(|n| n.starts_with("low-prio-")));
        // This thread is untouched.
        assert_eq!(current_nice().expect("nice"), base);
    }

    #[test]
    fn a_blocking_caller_waits_for_its_answer() {
        let pool = LowPriority::start(2).expect("start");
        let base = current_nice().expect("nice");
        let answers: Vec<i32> = (0..20).map(|i| pool.run_blocking(move || i * 2).expect("answer")).collect();
        assert_eq!(answers, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(pool.run_blocking(|| current_nice().expect("nice")), Ok((base + NICE).min(19)));
        assert_eq!(pool.run_blocking(|| -> i32 { panic!("boom") }), Err(Lost));
    }

    #[tokio::test]
    async fn a_panicking_job_is_lost_and_the_threads_go_on() {
        let pool = LowPriority::start(1).expect("start");
        let lost = pool.run(|| -> i32 { panic!("boom") }).await;
        assert_eq!(lost, Err(Lost));
        // Still on the pool's one thread (not on the fallback), which outlived the panic.
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.expect("answer");
        assert_eq!(name.as_deref(), Some("low-prio-0"));
    }

    #[tokio::test]
    async fn a_full_queue_runs_the_job_anyway() {
        let pool = LowPriority::start(1).expect("start");
        // Hold the only thread, then fill the queue.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = pool.clone();
        let blocker = tokio::spawn(async move { holder.run(move || held.recv().is_ok()).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut queued = 0;
        while pool.jobs.try_send(Box::new(|| {})).is_ok() {
            queued += 1;
        }
        assert!(queued >= QUEUE_PER_THREAD - 1, "{queued}");
        // No room left: this one runs on the blocking pool, at once.
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), pool.run(|| 42)).await;
        assert_eq!(answer.expect("not stuck"), Ok(42));
        release.send(()).expect("release");
        assert_eq!(blocker.await.expect("join"), Ok(true));
    }
}
