//! The SQLite store: the embedded default.
//!
//! One writer thread owns the only write connection and commits in groups:
//! it takes every write queued while the previous commit was syncing, runs
//! each inside its own savepoint (a failing write rolls back alone), and
//! commits them with one fsync. Readers use a small pool of connections on
//! blocking threads; WAL lets them read while the writer writes.

mod agents;
mod analysis;
mod campaign_rows;
mod campaigns;
mod conversations;
mod dialer;
mod identity;
mod queues;
mod routing;
mod rows;
mod store;
mod webhook_rows;
mod webhooks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{Semaphore, mpsc, oneshot};

pub use store::calls_page_sql;

use crate::{Result, StoreError};

/// Migrations, applied in order at open.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_core.sql")),
    (2, include_str!("../../migrations/sqlite/0002_webhooks.sql")),
    (3, include_str!("../../migrations/sqlite/0003_identity.sql")),
    (4, include_str!("../../migrations/sqlite/0004_campaigns.sql")),
    (5, include_str!("../../migrations/sqlite/0005_live_calls.sql")),
    (6, include_str!("../../migrations/sqlite/0006_webhook_log_age.sql")),
    (7, include_str!("../../migrations/sqlite/0007_org_cps.sql")),
    (8, include_str!("../../migrations/sqlite/0008_outbox_retention.sql")),
    (9, include_str!("../../migrations/sqlite/0009_conversations.sql")),
    (10, include_str!("../../migrations/sqlite/0010_user_email_per_org.sql")),
    (11, include_str!("../../migrations/sqlite/0011_intelligence.sql")),
    (12, include_str!("../../migrations/sqlite/0012_agents.sql")),
    (13, include_str!("../../migrations/sqlite/0013_call_list_indexes.sql")),
];

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 1024;

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync the WAL on every commit: committed data survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a process crash, not power loss.
    Normal,
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub durability: Durability,
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            readers: 4,
        }
    }
}

/// What the writer tells a waiting write once its batch is settled.
enum Settled {
    /// The batch committed (or failed to): here is the outcome.
    Done(Result<()>),
    /// Another write in the batch failed half-way, so the batch was rolled
    /// back; run again.
    Retry,
}

type Done = Box<dyn FnOnce(Settled) + Send>;

/// How a write ran: `Ok`, failed without changing anything, or failed
/// after changing rows (the batch must then be rolled back).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ran {
    Ok,
    FailedClean,
    FailedDirty,
}

/// A write: runs on the writer thread and answers how it ran and what to do
/// once the batch's fate is known. `isolated` writes run in a savepoint.
type Run = Box<dyn FnOnce(&Connection) -> (Ran, Done) + Send>;

struct Job {
    run: Run,
    isolated: bool,
}

#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Arc<Readers>,
    /// Rung by the writer after every commit (see `OutboxStore::outbox_bell`).
    bell: tokio::sync::watch::Receiver<u64>,
    /// Dropped with the last clone of the store, which stops the checkpointer.
    _checkpointer: Arc<std::sync::mpsc::Sender<()>>,
}

/// WAL pages after which the writer checkpoints by itself (a backstop: the
/// checkpointer thread normally keeps the WAL far smaller).
const WRITER_AUTOCHECKPOINT: i64 = 20_000;
/// How often the checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// Copies committed WAL pages into the database off the writer thread, so
/// the writer spends its time on writes. Stops when the store is dropped.
fn checkpointer(path: PathBuf, stop: std::sync::mpsc::Receiver<()>) {
    let conn = match Connection::open(&path).and_then(|c| configure(&c, Durability::Normal, READER_CACHE_KIB).map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpointer cannot open the database; the writer checkpoints instead");
            return;
        }
    };
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint failed");
        }
    }
}

struct Readers {
    idle: Mutex<Vec<Connection>>,
    slots: Semaphore,
    path: PathBuf,
}

/// Page cache of the writer (KiB): index pages of big tables stay hot.
const WRITER_CACHE_KIB: i64 = 16_384;
/// Page cache of each reader and the checkpointer (KiB); the OS page cache
/// serves the rest.
const READER_CACHE_KIB: i64 = 16_384;

fn configure(conn: &Connection, durability: Durability, cache_kib: i64) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // ANALYZE samples this many rows per index: statistics in milliseconds
    // at any table size.
    conn.pragma_update(None, "analysis_limit", ANALYSIS_LIMIT)?;
    Ok(())
}

/// Rows ANALYZE reads per index (SQLite's `analysis_limit`).
const ANALYSIS_LIMIT: i64 = 1000;

/// Gives the query planner statistics (`sqlite_stat1`) so that it picks the
/// index matching each list filter: a sampled `ANALYZE` when there are none
/// yet, else `PRAGMA optimize`, which re-analyses only the tables whose size
/// changed much since. Run at open and after bulk imports.
pub(crate) fn refresh_statistics(conn: &Connection) -> rusqlite::Result<()> {
    let has_stats: bool = conn.query_row("SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')", [], |r| {
        r.get(0)
    })?;
    if has_stats {
        conn.execute_batch("PRAGMA optimize=0x10002")
    } else {
        conn.execute_batch("ANALYZE")
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")?;
    for (version, sql) in MIGRATIONS {
        let done: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, chrono::Utc::now().timestamp_millis()],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied SQLite migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, applies
    /// migrations and starts the writer thread.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn, opts.durability, WRITER_CACHE_KIB)?;
        migrate(&mut conn)?;
        refresh_statistics(&conn)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)?;
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let (ring, bell) = tokio::sync::watch::channel(0u64);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, ring))
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let cp_path = path.to_owned();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpointer(cp_path, stopped))
            .map_err(|e| StoreError::Backend(format!("cannot start checkpoint thread: {e}")))?;
        let readers = Arc::new(Readers {
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(opts.readers.max(1)),
            path: path.to_owned(),
        });
        Ok(Self {
            writer: tx,
            readers,
            bell,
            _checkpointer: Arc::new(stop),
        })
    }

    /// Runs `f` on the writer thread; answers once the batch it joined has
    /// committed. Writes in a batch run without savepoints (they are costly:
    /// each copies every page it touches); a write that fails after changing
    /// rows rolls the batch back and every write in it runs again, the
    /// failing one alone in a savepoint.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Clone + Send + 'static,
    {
        let mut isolated = false;
        loop {
            let (tx, rx) = oneshot::channel::<(Settled, Option<Result<T>>)>();
            let f = f.clone();
            let run: Run = Box::new(move |conn: &Connection| {
                let before = conn.total_changes();
                let outcome =
                    catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| Err(StoreError::Backend("write panicked".into())));
                let ran = match &outcome {
                    Ok(_) => Ran::Ok,
                    Err(_) if conn.total_changes() == before => Ran::FailedClean,
                    Err(_) => Ran::FailedDirty,
                };
                let done: Done = Box::new(move |settled: Settled| {
                    let _ = tx.send((settled, Some(outcome)));
                });
                (ran, done)
            });
            self.writer
                .send(Job { run, isolated })
                .await
                .map_err(|_| StoreError::Backend("SQLite writer has stopped".into()))?;
            match rx.await.map_err(|_| StoreError::Backend("SQLite writer dropped a write".into()))? {
                (Settled::Retry, _) => {
                    isolated = true;
                    continue;
                }
                (Settled::Done(commit), Some(outcome)) => return commit.and(outcome),
                (Settled::Done(commit), None) => return commit.and(Err(StoreError::Backend("write lost".into()))),
            }
        }
    }

    /// Runs `f` on a pooled read connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let _permit = readers
            .slots
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let pool = readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match pool.idle.lock().expect("reader pool lock").pop() {
                Some(c) => c,
                None => {
                    let c = Connection::open(&pool.path)?;
                    configure(&c, Durability::Normal, READER_CACHE_KIB)?;
                    c.pragma_update(None, "query_only", "ON")?;
                    c
                }
            };
            let out = f(&conn);
            pool.idle.lock().expect("reader pool lock").push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

impl SqliteStore {
    /// The bell a tailer of the outbox waits on.
    pub(crate) fn bell(&self) -> tokio::sync::watch::Receiver<u64> {
        self.bell.clone()
    }
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Job>, bell: tokio::sync::watch::Sender<u64>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = exec_cached(&conn, "BEGIN IMMEDIATE") {
            // Dropping the jobs unrun tells every waiter the write failed.
            tracing::error!(error = %e, "cannot begin SQLite transaction");
            jobs.clear();
            continue;
        }
        let mut dones: Vec<Done> = Vec::with_capacity(jobs.len());
        let mut dirty = false;
        for job in jobs.drain(..) {
            if job.isolated {
                if let Err(e) = exec_cached(&conn, "SAVEPOINT job") {
                    tracing::error!(error = %e, "cannot open savepoint");
                    continue;
                }
                let (ran, done) = (job.run)(&conn);
                let end = if ran == Ran::Ok {
                    exec_cached(&conn, "RELEASE job")
                } else {
                    exec_cached(&conn, "ROLLBACK TO job").and_then(|_| exec_cached(&conn, "RELEASE job"))
                };
                if let Err(e) = end {
                    tracing::error!(error = %e, "cannot close savepoint");
                }
                dones.push(done);
            } else {
                let (ran, done) = (job.run)(&conn);
                dirty |= ran == Ran::FailedDirty;
                dones.push(done);
            }
        }
        if dirty {
            let _ = exec_cached(&conn, "ROLLBACK");
            for done in dones {
                done(Settled::Retry);
            }
            continue;
        }
        let commit = exec_cached(&conn, "COMMIT").map_err(StoreError::from);
        if commit.is_err() {
            let _ = exec_cached(&conn, "ROLLBACK");
        } else {
            // Before the writers hear back: a tailer woken now reads what
            // they were told is committed. Rung with no one listening is a
            // no-op.
            bell.send_modify(|n| *n = n.wrapping_add(1));
        }
        for done in dones {
            done(Settled::Done(commit.clone()));
        }
    }
}
