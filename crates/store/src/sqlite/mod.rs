//! SQLite: one file in WAL mode. A single writer thread drains waiting jobs
//! into one transaction (each job in its own savepoint), commits once and
//! then answers every job: durable answers at the cost of one fsync per batch.
//! Readers use their own connections and never wait for the writer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use kassa_domain::bank_message::{BankMessage, MessageKind, MessagePattern, TraderDevice};
use kassa_domain::ledger::Transaction;
use kassa_domain::merchant::CredentialKind;
use kassa_domain::payout::Payout;
use kassa_domain::refund::Refund;
use kassa_domain::{
    BankNotification, Cabinet, Callback, CallbackAttempt, Deal, DealStatus, Hold, Invoice,
    Merchant, Method, Service, Trader,
};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use serde_json::Value;

use std::sync::atomic::{AtomicU64, Ordering};

mod callbacks;
mod console;
mod evidence;
mod invoices;
mod ledger;
mod merchants;
mod p2p;
mod payouts;
mod refunds;
mod web;

use crate::{
    CallbackCounts, Cursor, HeldAmount, OpenP2p, Page, ReadJob, Store, StoreError, StoreResult,
    StoreStats, Tx, WriteJob,
};

/// How many jobs one commit may carry: bounds the latency a batch adds.
const BATCH_MAX: usize = 1024;
/// Idle read connections kept for reuse.
const READERS_KEPT: usize = 16;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_p2p.sql")),
    (
        3,
        include_str!("../../migrations/sqlite/0003_ledger_payouts.sql"),
    ),
    (
        4,
        include_str!("../../migrations/sqlite/0004_callback_lines.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_callbacks_due_order.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_bank_messages.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_web_users.sql"),
    ),
    (8, include_str!("../../migrations/sqlite/0008_refunds.sql")),
    (
        9,
        include_str!("../../migrations/sqlite/0009_audit_log.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_dispute_evidence.sql"),
    ),
];

pub struct SqliteStore {
    /// Dropped with the store, which ends the checkpoint thread.
    _stop_checkpoints: Sender<()>,
    path: PathBuf,
    writer: Mutex<Sender<Box<dyn WriteJob>>>,
    /// Write jobs sent to the writer and not yet taken into a batch.
    queued: Arc<AtomicU64>,
    readers: Arc<Mutex<Vec<Connection>>>,
}

fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
        if f.code == ErrorCode::ConstraintViolation {
            return StoreError::Duplicate(msg.clone().unwrap_or_default());
        }
        // Another process kept the file locked past the busy timeout.
        if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) {
            return StoreError::Unavailable(e.to_string());
        }
    }
    StoreError::Backend(e.to_string())
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("document: {e}"))
}

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(backend)?;
    // FULL: a commit is on disk before it returns, even in WAL mode.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = ON;",
    )
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating when absent) the database file and starts its writer.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
            }
        }
        let conn = open(&path)?;
        // Checkpoints copy the WAL back into the database; a thread of their
        // own does it so that commits never wait for one.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(backend)?;
        let checkpoints = open(&path)?;
        let (sender, receiver) = mpsc::channel::<Box<dyn WriteJob>>();
        let queued = Arc::new(AtomicU64::new(0));
        let taken = queued.clone();
        std::thread::Builder::new()
            .name("kassa-sqlite-writer".into())
            .spawn(move || writer_loop(conn, receiver, &taken))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let (stop_checkpoints, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("kassa-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, stopped))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(SqliteStore {
            _stop_checkpoints: stop_checkpoints,
            path,
            writer: Mutex::new(sender),
            queued,
            readers: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

fn checkpoint_loop(conn: Connection, stop: Receiver<()>) {
    // PASSIVE never blocks the writer or readers; it copies what it can, and
    // the WAL is reused from its start once a checkpoint has caught up.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint");
        }
    }
}

fn writer_loop(conn: Connection, jobs: Receiver<Box<dyn WriteJob>>, queued: &AtomicU64) {
    let batch_jobs = metrics::histogram!("kassa_store_write_batch_jobs");
    let mut batch = Vec::with_capacity(BATCH_MAX);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < BATCH_MAX {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        queued.fetch_sub(batch.len() as u64, Ordering::Relaxed);
        batch_jobs.record(batch.len() as f64);
        run_batch(&conn, &mut batch);
        assert!(batch.is_empty());
    }
}

/// Runs a statement that returns no rows, prepared once per connection.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn run_batch(conn: &Connection, batch: &mut Vec<Box<dyn WriteJob>>) {
    if let Err(e) = run(conn, "BEGIN IMMEDIATE") {
        let err = backend(e);
        tracing::error!(error = %err, "write transaction could not begin");
        for job in batch.drain(..) {
            job.refuse(err.clone());
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        if let Err(e) = run(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint");
            job.refuse(backend(e));
            continue;
        }
        let mut tx = SqliteTx { conn };
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&mut tx)));
        let keep = matches!(outcome, Ok((true, _)));
        let finish = if keep {
            run(conn, "RELEASE job")
        } else {
            run(conn, "ROLLBACK TO job").and_then(|_| run(conn, "RELEASE job"))
        };
        if let Err(e) = finish {
            tracing::error!(error = %e, "savepoint end");
        }
        match outcome {
            Ok((_, reply)) => done.push(reply),
            Err(_) => tracing::error!("a write job panicked; its changes were rolled back"),
        }
    }
    let commit = run(conn, "COMMIT").map_err(backend);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for reply in done {
        reply(commit.clone());
    }
}

impl Store for SqliteStore {
    fn submit_write(&self, job: Box<dyn WriteJob>) {
        // A send fails only when the writer has stopped.
        self.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = self.writer.lock().expect("writer lock").send(job) {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            job.refuse(StoreError::Closed);
        }
    }

    fn submit_read(&self, job: Box<dyn ReadJob>) {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match readers.lock().expect("readers lock").pop() {
                Some(conn) => conn,
                None => match open(&path) {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::error!(error = %e, "read connection");
                        return job.refuse(e);
                    }
                },
            };
            if let Err(e) = conn.execute_batch("BEGIN") {
                return job.refuse(backend(e));
            }
            job.run(&mut SqliteTx { conn: &conn });
            let _ = conn.execute_batch("COMMIT");
            let mut idle = readers.lock().expect("readers lock");
            if idle.len() < READERS_KEPT {
                idle.push(conn);
            }
        });
    }

    fn stats(&self) -> StoreStats {
        StoreStats {
            write_queue: self.queued.load(Ordering::Relaxed),
            ..StoreStats::default()
        }
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut conn = open(&self.path)?;
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(backend)?;
        for (version, sql) in MIGRATIONS {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT version FROM schema_migrations WHERE version = ?1",
                    [version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if seen.is_none() {
                tx.execute_batch(sql).map_err(backend)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
                    [version],
                )
                .map_err(backend)?;
                tracing::info!(version, "migration applied");
            }
        }
        tx.commit().map_err(backend)
    }
}

struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl SqliteTx<'_> {
    fn docs<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt
            .query_map(params, |r| r.get::<_, String>(0))
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row.map_err(backend)?).map_err(json_err)?);
        }
        Ok(out)
    }

    fn doc<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> StoreResult<Option<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let text: Option<String> = stmt
            .query_row(params, |r| r.get(0))
            .optional()
            .map_err(backend)?;
        text.map(|t| serde_json::from_str(&t).map_err(json_err))
            .transpose()
    }

    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        stmt.execute(params).map_err(backend)
    }

    fn exists(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<bool> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        stmt.exists(params).map_err(backend)
    }
}

fn to_doc<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(json_err)
}

/// When the expiry sweeper should look at an invoice: an invoice carried by a
/// P2P deal ends with its deal (whose deadline is swept), never on its own.
fn sweep_at(i: &Invoice) -> i64 {
    if i.deal_id.is_some() {
        i64::MAX
    } else {
        i.expires_at_secs
    }
}

fn expect_one(changed: usize, what: &str) -> StoreResult<()> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "{what}: {changed} rows changed, expected 1"
        )))
    }
}
