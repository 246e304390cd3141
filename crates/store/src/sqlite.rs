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
    Merchant, Method, Service, Trader, WebRealm, WebSession, WebUser,
};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use serde_json::Value;

use std::sync::atomic::{AtomicU64, Ordering};

mod web;

use crate::{
    CallbackCounts, Cursor, InvoiceSearch, OpenP2p, Page, ReadJob, Store, StoreError, StoreResult,
    StoreStats, Tx, WriteJob,
};

/// How many jobs one commit may carry: bounds the latency a batch adds.
const BATCH_MAX: usize = 1024;
/// Idle read connections kept for reuse.
const READERS_KEPT: usize = 16;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_p2p.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_ledger_payouts.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_callback_lines.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_callbacks_due_order.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_bank_messages.sql"),
    ),
    (7, include_str!("../migrations/sqlite/0007_web_users.sql")),
    (8, include_str!("../migrations/sqlite/0008_refunds.sql")),
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

impl Tx for SqliteTx<'_> {
    fn insert_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        self.exec(
            "INSERT INTO merchants (id, site_id, site_login, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![m.id, m.site_id, m.site_login, m.created_at_secs, to_doc(m)?],
        )?;
        for (test_mode, creds) in [(true, &m.test), (false, &m.live)] {
            for (kind, key) in [
                (CredentialKind::PublicKey, &creds.public_key),
                (CredentialKind::PrivateKeyId, &creds.private_key_id),
                (CredentialKind::MerchantApiKey, &creds.merchant_api_key),
            ] {
                if key.is_empty() {
                    continue;
                }
                self.exec(
                    "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES (?1, ?2, ?3, ?4)",
                    params![key, kind.as_str(), m.id, test_mode],
                )?;
            }
        }
        Ok(())
    }

    fn update_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE merchants SET site_login = ?2, doc = ?3 WHERE id = ?1",
            params![m.id, m.site_login, to_doc(m)?],
        )?;
        expect_one(n, "update merchant")
    }

    fn merchant(&mut self, id: &str) -> StoreResult<Option<Merchant>> {
        self.doc("SELECT doc FROM merchants WHERE id = ?1", [id])
    }

    fn merchants(&mut self) -> StoreResult<Vec<Merchant>> {
        self.docs("SELECT doc FROM merchants ORDER BY site_id", [])
    }

    fn merchant_by_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
    ) -> StoreResult<Option<(Merchant, bool)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.doc, c.test_mode FROM credentials c JOIN merchants m ON m.id = c.merchant_id
                 WHERE c.lookup_key = ?1 AND c.kind = ?2",
            )
            .map_err(backend)?;
        let row: Option<(String, bool)> = stmt
            .query_row(params![key, kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        row.map(|(doc, test)| Ok((serde_json::from_str(&doc).map_err(json_err)?, test)))
            .transpose()
    }

    fn next_site_id(&mut self) -> StoreResult<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(site_id), 1000) + 1 FROM merchants",
                [],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn put_method(&mut self, method: &Method) -> StoreResult<()> {
        self.exec(
            "INSERT INTO methods (code, doc) VALUES (?1, ?2) ON CONFLICT (code) DO UPDATE SET doc = excluded.doc",
            params![method.code, to_doc(method)?],
        )
        .map(drop)
    }

    fn methods(&mut self) -> StoreResult<Vec<Method>> {
        self.docs("SELECT doc FROM methods ORDER BY code", [])
    }

    fn put_service(&mut self, s: &Service) -> StoreResult<()> {
        self.exec(
            "INSERT INTO services (code, currency, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (code) DO UPDATE SET currency = excluded.currency, doc = excluded.doc",
            params![s.code, s.currency.code(), to_doc(s)?],
        )
        .map(drop)
    }

    fn service(&mut self, code: &str) -> StoreResult<Option<Service>> {
        self.doc("SELECT doc FROM services WHERE code = ?1", [code])
    }

    fn services(&mut self) -> StoreResult<Vec<Service>> {
        self.docs("SELECT doc FROM services ORDER BY rowid", [])
    }

    fn insert_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        self.exec(
            "INSERT INTO invoices (id, merchant_id, test_mode, reference_id, status, is_open, expires_at, test_pending, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                i.id,
                i.merchant_id,
                i.test_mode,
                i.reference_id,
                i.status.as_str(),
                i.status.is_open(),
                sweep_at(i),
                i.test_outcome.is_some(),
                to_doc(i)?
            ],
        )
        .map(drop)
    }

    fn update_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE invoices SET status = ?2, is_open = ?3, expires_at = ?4, test_pending = ?5, doc = ?6 WHERE id = ?1",
            params![
                i.id,
                i.status.as_str(),
                i.status.is_open(),
                sweep_at(i),
                i.test_outcome.is_some(),
                to_doc(i)?
            ],
        )?;
        expect_one(n, "update invoice")
    }

    fn invoice(&mut self, id: &str) -> StoreResult<Option<Invoice>> {
        self.doc("SELECT doc FROM invoices WHERE id = ?1", [id])
    }

    fn invoice_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Invoice>> {
        self.doc(
            "SELECT doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND reference_id = ?3",
            params![merchant_id, test_mode, reference_id],
        )
    }

    fn invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        cursor: &Cursor,
        limit: usize,
    ) -> StoreResult<Page<Invoice>> {
        assert!(limit > 0);
        let seq_of = |id: &str| -> StoreResult<Option<i64>> {
            self.conn
                .prepare_cached("SELECT seq FROM invoices WHERE id = ?1 AND merchant_id = ?2 AND test_mode = ?3")
                .map_err(backend)?
                .query_row(params![id, merchant_id, test_mode], |r| r.get(0))
                .optional()
                .map_err(backend)
        };
        let mut rows: Vec<(i64, String)> = Vec::new();
        let mut collect = |sql: &str, bound: i64| -> StoreResult<()> {
            let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
            let it = stmt
                .query_map(params![merchant_id, test_mode, bound, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(backend)?;
            for row in it {
                rows.push(row.map_err(backend)?);
            }
            Ok(())
        };
        let newest_first = "SELECT seq, doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
        let bound = match cursor {
            Cursor::First => {
                collect(newest_first, i64::MAX)?;
                i64::MAX
            }
            Cursor::After(id) => {
                let seq = seq_of(id)?.unwrap_or(i64::MIN);
                collect(newest_first, seq)?;
                seq
            }
            Cursor::Before(id) => {
                let seq = seq_of(id)?.unwrap_or(i64::MAX);
                collect(
                    "SELECT seq, doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq > ?3 ORDER BY seq ASC LIMIT ?4",
                    seq,
                )?;
                rows.reverse();
                seq
            }
        };
        let newest = rows.first().map_or(bound, |r| r.0);
        let oldest = rows.last().map_or(bound, |r| r.0);
        let has_newer = match (cursor, rows.is_empty()) {
            (Cursor::First, true) => false,
            _ => self.exists(
                "SELECT 1 FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq > ?3",
                params![merchant_id, test_mode, newest.max(oldest)],
            )?,
        };
        let has_older = self.exists(
            "SELECT 1 FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq < ?3",
            params![merchant_id, test_mode, oldest.min(newest)],
        )?;
        let items = rows
            .into_iter()
            .map(|(_, doc)| serde_json::from_str(&doc).map_err(json_err))
            .collect::<StoreResult<Vec<Invoice>>>()?;
        Ok(Page {
            items,
            has_newer,
            has_older,
        })
    }

    fn count_invoices(&mut self, merchant_id: &str) -> StoreResult<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM invoices WHERE merchant_id = ?1",
                [merchant_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
    }

    fn invoices_due_to_expire(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Invoice>> {
        self.docs(
            "SELECT doc FROM invoices WHERE is_open = 1 AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn invoices_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Invoice>> {
        self.docs(
            "SELECT doc FROM invoices WHERE test_pending = 1 ORDER BY seq LIMIT ?1",
            params![limit as i64],
        )
    }

    fn insert_callback(&mut self, c: &Callback) -> StoreResult<()> {
        self.exec(
            "INSERT INTO callbacks (id, invoice_id, state, next_attempt_at, lease_until, created_seq, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM callbacks), ?6)",
            params![
                c.id,
                c.invoice_id,
                c.state.as_str(),
                c.next_attempt_at_secs,
                c.lease_until_secs,
                to_doc(c)?
            ],
        )
        .map(drop)
    }

    fn update_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE callbacks SET state = ?2, next_attempt_at = ?3, lease_until = ?4, doc = ?5 WHERE id = ?1",
            params![
                c.id,
                c.state.as_str(),
                c.next_attempt_at_secs,
                c.lease_until_secs,
                to_doc(c)?
            ],
        )?;
        expect_one(n, "update callback")
    }

    fn callback(&mut self, id: &str) -> StoreResult<Option<Callback>> {
        self.doc("SELECT doc FROM callbacks WHERE id = ?1", [id])
    }

    fn callbacks_for_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE invoice_id = ?1 ORDER BY created_seq",
            [invoice_id],
        )
    }

    fn due_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        // The head of each invoice's line only: one behind an earlier pending
        // callback of its invoice waits for that one (callbacks_line).
        self.docs(
            "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= ?1 AND c.lease_until <= ?1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn callback_counts(&mut self, now_secs: i64) -> StoreResult<CallbackCounts> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
                        AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                                        AND e.state = 'pending' AND e.created_seq < c.created_seq)
                        THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'pending' AND lease_until > ?1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
             FROM callbacks c",
            )
            .map_err(backend)?;
        stmt.query_row(params![now_secs], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok(CallbackCounts {
                owed: n(0)?,
                due: n(1)?,
                leased: n(2)?,
                failed: n(3)?,
            })
        })
        .map_err(backend)
    }

    fn waiting_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE state = 'pending' AND next_attempt_at > ?1
             ORDER BY next_attempt_at LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn open_p2p(&mut self, now_secs: i64) -> StoreResult<Vec<OpenP2p>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT currency, test_mode, SUM(holds), SUM(deals) FROM (
                    SELECT c.currency AS currency,
                        COALESCE(json_extract(c.doc, '$.test_mode'), 0) AS test_mode,
                        1 AS holds, 0 AS deals
                    FROM slots s JOIN cabinets c ON c.id = s.cabinet_id
                    WHERE s.deal_id IS NULL AND s.expires_at > ?1
                  UNION ALL
                    SELECT c.currency, COALESCE(json_extract(c.doc, '$.test_mode'), 0), 0, 1
                    FROM deals d JOIN cabinets c ON c.id = d.cabinet_id
                    WHERE d.is_open = 1)
                 GROUP BY currency, test_mode ORDER BY currency, test_mode",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now_secs], |r| {
                Ok(OpenP2p {
                    currency: r.get(0)?,
                    test_mode: r.get::<_, i64>(1)? != 0,
                    holds: r.get::<_, i64>(2)?.max(0) as u64,
                    deals: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn unmatched_notifications(&mut self) -> StoreResult<Vec<(bool, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(json_extract(t.doc, '$.test_mode'), 0) AS test_mode, COUNT(*)
                 FROM bank_notifications n JOIN traders t ON t.id = n.trader_id
                 WHERE n.matched = 0 GROUP BY test_mode ORDER BY test_mode",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? != 0, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn insert_callback_attempt(&mut self, a: &CallbackAttempt) -> StoreResult<()> {
        self.exec(
            "INSERT INTO callback_attempts (callback_id, invoice_id, doc) VALUES (?1, ?2, ?3)",
            params![a.callback_id, a.invoice_id, to_doc(a)?],
        )
        .map(drop)
    }

    fn callback_attempts(&mut self, invoice_id: &str) -> StoreResult<Vec<CallbackAttempt>> {
        self.docs(
            "SELECT doc FROM callback_attempts WHERE invoice_id = ?1 ORDER BY seq",
            [invoice_id],
        )
    }

    fn insert_trader(&mut self, t: &Trader) -> StoreResult<()> {
        self.exec(
            "INSERT INTO traders (id, token_sha256, doc) VALUES (?1, ?2, ?3)",
            params![t.id, t.token_sha256, to_doc(t)?],
        )
        .map(drop)
    }

    fn update_trader(&mut self, t: &Trader) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE traders SET token_sha256 = ?2, doc = ?3 WHERE id = ?1",
            params![t.id, t.token_sha256, to_doc(t)?],
        )?;
        expect_one(n, "update trader")
    }

    fn trader(&mut self, id: &str) -> StoreResult<Option<Trader>> {
        self.doc("SELECT doc FROM traders WHERE id = ?1", [id])
    }

    fn trader_by_token(&mut self, token_sha256: &str) -> StoreResult<Option<Trader>> {
        self.doc(
            "SELECT doc FROM traders WHERE token_sha256 = ?1",
            [token_sha256],
        )
    }

    fn traders(&mut self) -> StoreResult<Vec<Trader>> {
        self.docs("SELECT doc FROM traders ORDER BY rowid", [])
    }

    fn insert_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        self.exec(
            "INSERT INTO cabinets (id, trader_id, method, currency, active, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.trader_id, c.method, c.currency.code(), c.active, to_doc(c)?],
        )
        .map(drop)
    }

    fn update_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE cabinets SET method = ?2, currency = ?3, active = ?4, doc = ?5 WHERE id = ?1",
            params![c.id, c.method, c.currency.code(), c.active, to_doc(c)?],
        )?;
        expect_one(n, "update cabinet")
    }

    fn cabinet(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        self.doc("SELECT doc FROM cabinets WHERE id = ?1", [id])
    }

    // One writer at a time: the row read in a write is the current one.
    fn cabinet_to_switch(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        self.cabinet(id)
    }

    fn all_active_cabinets(&mut self) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE active = 1 ORDER BY rowid",
            [],
        )
    }

    fn cabinets_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE trader_id = ?1 ORDER BY rowid",
            [trader_id],
        )
    }

    fn active_cabinets(&mut self, method: &str, currency: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE method = ?1 AND currency = ?2 AND active = 1 ORDER BY rowid",
            params![method, currency],
        )
    }

    fn open_deal_counts(&mut self) -> StoreResult<Vec<(String, u32)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT cabinet_id, COUNT(*) FROM deals WHERE is_open = 1 GROUP BY cabinet_id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn turnover_since(&mut self, cabinet_id: &str, since_secs: i64) -> StoreResult<i64> {
        self.conn
            .prepare_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM deals WHERE cabinet_id = ?1 AND created_at >= ?2 AND status != ?3",
            )
            .map_err(backend)?
            .query_row(params![cabinet_id, since_secs, DealStatus::Canceled.as_str()], |r| r.get(0))
            .map_err(backend)
    }

    fn take_slot(&mut self, h: &Hold, now_secs: i64) -> StoreResult<bool> {
        assert!(
            h.deal_id.is_none() && h.expires_at_secs.is_some(),
            "a slot is taken by a hold"
        );
        let n = self.exec(
            "INSERT INTO slots (cabinet_id, amount_minor, hold_id, merchant_id, expires_at, deal_id, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)
             ON CONFLICT (cabinet_id, amount_minor) DO UPDATE SET
                hold_id = excluded.hold_id, merchant_id = excluded.merchant_id,
                expires_at = excluded.expires_at, deal_id = NULL, doc = excluded.doc
             WHERE slots.deal_id IS NULL AND slots.expires_at <= ?7",
            params![h.cabinet_id, h.amount_minor, h.id, h.merchant_id, h.expires_at_secs, to_doc(h)?, now_secs],
        )?;
        Ok(n == 1)
    }

    fn slots_in_use(&mut self, cabinet_id: &str, now_secs: i64) -> StoreResult<u32> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM slots WHERE cabinet_id = ?1 AND (deal_id IS NOT NULL OR expires_at > ?2)",
            )
            .and_then(|mut stmt| stmt.query_row(params![cabinet_id, now_secs], |r| r.get(0)))
            .map_err(backend)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn cabinets_holding(&mut self, amount_minor: i64, now_secs: i64) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT cabinet_id FROM slots WHERE amount_minor = ?1 AND (deal_id IS NOT NULL OR expires_at > ?2)",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![amount_minor, now_secs], |r| r.get::<_, String>(0))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn hold(&mut self, hold_id: &str) -> StoreResult<Option<Hold>> {
        self.doc("SELECT doc FROM slots WHERE hold_id = ?1", [hold_id])
    }

    fn update_hold(&mut self, h: &Hold) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE slots SET expires_at = ?2, deal_id = ?3, doc = ?4 WHERE hold_id = ?1",
            params![h.id, h.expires_at_secs, h.deal_id, to_doc(h)?],
        )?;
        expect_one(n, "update hold")
    }

    fn release_hold(&mut self, hold_id: &str) -> StoreResult<()> {
        self.exec("DELETE FROM slots WHERE hold_id = ?1", [hold_id])
            .map(drop)
    }

    fn live_holds_of_merchant(
        &mut self,
        merchant_id: &str,
        amount_minor: i64,
        now_secs: i64,
    ) -> StoreResult<Vec<Hold>> {
        self.docs(
            "SELECT doc FROM slots WHERE merchant_id = ?1 AND amount_minor = ?2 AND deal_id IS NULL AND expires_at > ?3
             ORDER BY expires_at",
            params![merchant_id, amount_minor, now_secs],
        )
    }

    fn hold_request(&mut self, merchant_id: &str, request_id: &str) -> StoreResult<Option<Value>> {
        self.doc(
            "SELECT doc FROM hold_requests WHERE merchant_id = ?1 AND request_id = ?2",
            params![merchant_id, request_id],
        )
    }

    fn hold_requests(&mut self, merchant_id: &str) -> StoreResult<Vec<Value>> {
        self.docs(
            "SELECT doc FROM hold_requests WHERE merchant_id = ?1",
            [merchant_id],
        )
    }

    fn insert_hold_request(
        &mut self,
        merchant_id: &str,
        request_id: &str,
        answer: &Value,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO hold_requests (merchant_id, request_id, doc) VALUES (?1, ?2, ?3)",
            params![merchant_id, request_id, to_doc(answer)?],
        )
        .map(drop)
    }

    fn insert_deal(&mut self, d: &Deal) -> StoreResult<()> {
        self.exec(
            "INSERT INTO deals (id, invoice_id, cabinet_id, trader_id, amount_minor, status, is_open, deadline, created_at, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                d.id,
                d.invoice_id,
                d.cabinet_id,
                d.trader_id,
                d.amount_minor,
                d.status.as_str(),
                d.status.is_open(),
                d.deadline_secs,
                d.created_at_secs,
                to_doc(d)?
            ],
        )
        .map(drop)
    }

    fn update_deal(&mut self, d: &Deal) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE deals SET status = ?2, is_open = ?3, deadline = ?4, doc = ?5 WHERE id = ?1",
            params![
                d.id,
                d.status.as_str(),
                d.status.is_open(),
                d.deadline_secs,
                to_doc(d)?
            ],
        )?;
        expect_one(n, "update deal")
    }

    fn deal(&mut self, id: &str) -> StoreResult<Option<Deal>> {
        self.doc("SELECT doc FROM deals WHERE id = ?1", [id])
    }

    fn open_deal_at(&mut self, cabinet_id: &str, amount_minor: i64) -> StoreResult<Option<Deal>> {
        self.doc(
            "SELECT doc FROM deals WHERE cabinet_id = ?1 AND amount_minor = ?2 AND is_open = 1",
            params![cabinet_id, amount_minor],
        )
    }

    fn deals_of_trader(
        &mut self,
        trader_id: &str,
        open_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE trader_id = ?1 AND (is_open = 1 OR ?2 = 0) ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, open_only, limit as i64],
        )
    }

    fn recent_deals_of_cabinet(
        &mut self,
        cabinet_id: &str,
        since_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE cabinet_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![cabinet_id, since_secs, limit as i64],
        )
    }

    fn deals_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE is_open = 1 AND deadline <= ?1 ORDER BY deadline LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn insert_notification(&mut self, n: &BankNotification) -> StoreResult<()> {
        self.exec(
            "INSERT INTO bank_notifications (id, trader_id, external_id, matched, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![n.id, n.trader_id, n.external_id, n.deal_id.is_some(), n.created_at_secs, to_doc(n)?],
        )
        .map(drop)
    }

    fn notification_by_external(
        &mut self,
        trader_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<BankNotification>> {
        self.doc(
            "SELECT doc FROM bank_notifications WHERE trader_id = ?1 AND external_id = ?2",
            params![trader_id, external_id],
        )
    }

    fn notifications(
        &mut self,
        trader_id: Option<&str>,
        unmatched_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<BankNotification>> {
        self.docs(
            "SELECT doc FROM bank_notifications WHERE (?1 IS NULL OR trader_id = ?1) AND (matched = 0 OR ?2 = 0)
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, unmatched_only, limit as i64],
        )
    }

    fn insert_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        self.exec(
            "INSERT INTO trader_devices (id, trader_id, token_hash, doc) VALUES (?1, ?2, ?3, ?4)",
            params![d.id, d.trader_id, d.token_hash, to_doc(d)?],
        )
        .map(drop)
    }

    fn update_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE trader_devices SET token_hash = ?2, doc = ?3 WHERE id = ?1",
            params![d.id, d.token_hash, to_doc(d)?],
        )?;
        expect_one(n, "update device")
    }

    fn device(&mut self, id: &str) -> StoreResult<Option<TraderDevice>> {
        self.doc("SELECT doc FROM trader_devices WHERE id = ?1", [id])
    }

    fn device_by_token(&mut self, token_hash: &str) -> StoreResult<Option<TraderDevice>> {
        self.doc(
            "SELECT doc FROM trader_devices WHERE token_hash = ?1",
            [token_hash],
        )
    }

    fn devices_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<TraderDevice>> {
        self.docs(
            "SELECT doc FROM trader_devices WHERE trader_id = ?1 ORDER BY rowid",
            [trader_id],
        )
    }

    fn insert_bank_message(&mut self, m: &BankMessage) -> StoreResult<()> {
        self.exec(
            "INSERT INTO bank_messages (id, trader_id, device_id, dedup_key, kind, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m.id, m.trader_id, m.device_id, m.dedup_key, m.reading.kind.as_str(), m.created_at_secs, to_doc(m)?],
        )
        .map(drop)
    }

    fn bank_message_by_key(
        &mut self,
        device_id: &str,
        dedup_key: &str,
    ) -> StoreResult<Option<BankMessage>> {
        self.doc(
            "SELECT doc FROM bank_messages WHERE device_id = ?1 AND dedup_key = ?2",
            params![device_id, dedup_key],
        )
    }

    fn bank_messages(
        &mut self,
        trader_id: Option<&str>,
        kind: Option<MessageKind>,
        limit: usize,
    ) -> StoreResult<Vec<BankMessage>> {
        self.docs(
            "SELECT doc FROM bank_messages WHERE (?1 IS NULL OR trader_id = ?1) AND (?2 IS NULL OR kind = ?2)
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, kind.map(MessageKind::as_str), limit as i64],
        )
    }

    fn insert_message_pattern(&mut self, p: &MessagePattern) -> StoreResult<()> {
        self.exec(
            "INSERT INTO message_patterns (id, doc) VALUES (?1, ?2)",
            params![p.id, to_doc(p)?],
        )
        .map(drop)
    }

    fn message_patterns(&mut self) -> StoreResult<Vec<MessagePattern>> {
        self.docs("SELECT doc FROM message_patterns ORDER BY rowid", [])
    }

    fn delete_message_pattern(&mut self, id: &str) -> StoreResult<bool> {
        Ok(self.exec("DELETE FROM message_patterns WHERE id = ?1", [id])? > 0)
    }

    fn put_setting(&mut self, key: &str, value: &Value) -> StoreResult<()> {
        self.exec(
            "INSERT INTO settings (key, doc) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
            params![key, to_doc(value)?],
        )
        .map(drop)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<Value>> {
        self.doc("SELECT doc FROM settings WHERE key = ?1", [key])
    }

    fn search_invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        search: &InvoiceSearch,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Invoice>> {
        web::search_invoices(self, merchant_id, test_mode, search, offset, limit)
    }

    fn payouts_of_merchant(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        web::payouts_of_merchant(self, merchant_id, test_mode, status, offset, limit)
    }

    fn transactions_of(&mut self, reference: &str) -> StoreResult<Vec<Transaction>> {
        web::transactions_of(self, reference)
    }

    fn insert_web_user(&mut self, user: &WebUser) -> StoreResult<()> {
        web::insert_user(self, user)
    }

    fn update_web_user(&mut self, user: &WebUser) -> StoreResult<()> {
        web::update_user(self, user)
    }

    fn web_user(&mut self, id: &str) -> StoreResult<Option<WebUser>> {
        web::user(self, id)
    }

    fn web_user_by_email(&mut self, realm: WebRealm, email: &str) -> StoreResult<Option<WebUser>> {
        web::user_by_email(self, realm, email)
    }

    fn web_users_of(&mut self, realm: WebRealm, subject_id: &str) -> StoreResult<Vec<WebUser>> {
        web::users_of(self, realm, subject_id)
    }

    fn insert_web_session(&mut self, session: &WebSession) -> StoreResult<()> {
        web::insert_session(self, session)
    }

    fn web_session(&mut self, token_hash: &str) -> StoreResult<Option<WebSession>> {
        web::session(self, token_hash)
    }

    fn touch_web_session(&mut self, token_hash: &str, now_secs: i64) -> StoreResult<()> {
        web::touch_session(self, token_hash, now_secs)
    }

    fn delete_web_session(&mut self, token_hash: &str) -> StoreResult<()> {
        web::delete_session(self, token_hash)
    }

    fn delete_web_sessions_of(&mut self, user_id: &str) -> StoreResult<()> {
        web::delete_sessions_of(self, user_id)
    }

    fn lock_account(&mut self, _key: &str) -> StoreResult<()> {
        // One writer thread, one write transaction at a time: nothing to lock.
        Ok(())
    }

    fn try_lock(&mut self, _key: &str) -> StoreResult<bool> {
        Ok(true)
    }

    fn apart(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> StoreResult<bool> {
        run(self.conn, "SAVEPOINT item").map_err(backend)?;
        let keep = work(self);
        if keep {
            run(self.conn, "RELEASE item").map_err(backend)?;
        } else {
            run(self.conn, "ROLLBACK TO item")
                .and_then(|_| run(self.conn, "RELEASE item"))
                .map_err(backend)?;
        }
        Ok(keep)
    }

    fn insert_transaction(&mut self, t: &Transaction) -> StoreResult<()> {
        self.exec(
            "INSERT INTO ledger_transactions (id, kind, currency, reference, at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.id, t.kind.as_str(), t.currency.code(), t.reference, t.at_secs, to_doc(t)?],
        )?;
        for p in &t.postings {
            self.exec(
                "INSERT INTO ledger_postings (txn_id, account, currency, amount_minor, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.id, t.account_key(&p.account), t.currency.code(), p.amount_minor, t.at_secs],
            )?;
        }
        Ok(())
    }

    fn balance(
        &mut self,
        account: &str,
        currency: &str,
        before_secs: Option<i64>,
    ) -> StoreResult<i64> {
        self.conn
            .prepare_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_postings
                 WHERE account = ?1 AND currency = ?2 AND at < ?3",
            )
            .map_err(backend)?
            .query_row(
                params![account, currency, before_secs.unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn balances(&mut self, account_prefix: &str) -> StoreResult<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, currency, SUM(amount_minor) FROM ledger_postings
                 WHERE account >= ?1 AND account < ?1 || x'ff' GROUP BY account, currency ORDER BY account, currency",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([account_prefix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn transactions_touching(
        &mut self,
        account_prefix: &str,
        from_secs: i64,
        to_secs: i64,
    ) -> StoreResult<Vec<Transaction>> {
        self.docs(
            "SELECT doc FROM ledger_transactions WHERE id IN (
                SELECT txn_id FROM ledger_postings WHERE account >= ?1 AND account < ?1 || x'ff' AND at >= ?2 AND at < ?3
             ) ORDER BY at, rowid",
            params![account_prefix, from_secs, to_secs],
        )
    }

    fn insert_reserve(
        &mut self,
        id: &str,
        merchant_id: &str,
        release_at_secs: i64,
        doc: &Value,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO reserves (id, merchant_id, release_at, released, doc) VALUES (?1, ?2, ?3, 0, ?4)",
            params![id, merchant_id, release_at_secs, to_doc(doc)?],
        )
        .map(drop)
    }

    fn due_reserves(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<(String, Value)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, doc FROM reserves WHERE released = 0 AND release_at <= ?1 ORDER BY release_at LIMIT ?2")
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now_secs, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row.map_err(backend)?;
            out.push((id, serde_json::from_str(&doc).map_err(json_err)?));
        }
        Ok(out)
    }

    fn mark_reserve_released(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE reserves SET released = 1 WHERE id = ?1 AND released = 0",
            [id],
        )?;
        expect_one(n, "release reserve")
    }

    fn insert_payout(&mut self, p: &Payout) -> StoreResult<()> {
        self.exec(
            "INSERT INTO payouts (id, merchant_id, test_mode, request_id, status, method, currency, trader_id, deadline, test_pending, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                p.id,
                p.merchant_id,
                p.test_mode,
                p.request_id,
                p.status.as_str(),
                p.method,
                p.currency.code(),
                p.trader_id,
                p.deadline_secs,
                p.test_outcome.is_some(),
                to_doc(p)?
            ],
        )
        .map(drop)
    }

    fn update_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE payouts SET status = ?2, trader_id = ?3, deadline = ?4, test_pending = ?5, doc = ?6 WHERE id = ?1",
            params![p.id, p.status.as_str(), p.trader_id, p.deadline_secs, p.test_outcome.is_some(), to_doc(p)?],
        )?;
        expect_one(n, "update payout")
    }

    fn payout(&mut self, id: &str) -> StoreResult<Option<Payout>> {
        self.doc("SELECT doc FROM payouts WHERE id = ?1", [id])
    }

    fn payout_by_request(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        request_id: &str,
    ) -> StoreResult<Option<Payout>> {
        self.doc(
            "SELECT doc FROM payouts WHERE merchant_id = ?1 AND test_mode = ?2 AND request_id = ?3",
            params![merchant_id, test_mode, request_id],
        )
    }

    fn offered_payouts(
        &mut self,
        method: &str,
        currency: &str,
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE status = 'pending' AND method = ?1 AND currency = ?2 AND test_mode = 0
             ORDER BY seq LIMIT ?3",
            params![method, currency, limit as i64],
        )
    }

    fn payouts_of_trader(&mut self, trader_id: &str, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE trader_id = ?1 ORDER BY seq DESC LIMIT ?2",
            params![trader_id, limit as i64],
        )
    }

    fn payouts_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE status IN ('pending', 'in_progress') AND deadline <= ?1 ORDER BY deadline LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn payouts_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE test_pending = 1 ORDER BY seq LIMIT ?1",
            params![limit as i64],
        )
    }

    fn insert_refund(&mut self, r: &Refund) -> StoreResult<()> {
        self.exec(
            "INSERT INTO refunds (id, invoice_id, merchant_id, test_mode, reference_id, status, test_due, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                r.id,
                r.invoice_id,
                r.merchant_id,
                r.test_mode,
                r.reference_id,
                r.status.as_str(),
                r.test_due_secs(),
                to_doc(r)?
            ],
        )
        .map(drop)
    }

    fn update_refund(&mut self, r: &Refund) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE refunds SET status = ?2, test_due = ?3, doc = ?4 WHERE id = ?1",
            params![r.id, r.status.as_str(), r.test_due_secs(), to_doc(r)?],
        )?;
        expect_one(n, "update refund")
    }

    fn refund(&mut self, id: &str) -> StoreResult<Option<Refund>> {
        self.doc("SELECT doc FROM refunds WHERE id = ?1", [id])
    }

    fn refund_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Refund>> {
        self.doc(
            "SELECT doc FROM refunds WHERE merchant_id = ?1 AND test_mode = ?2 AND reference_id = ?3",
            params![merchant_id, test_mode, reference_id],
        )
    }

    fn refunds_of_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE invoice_id = ?1 ORDER BY seq",
            [invoice_id],
        )
    }

    fn refunds_due_for_test(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE test_due IS NOT NULL AND test_due <= ?1 ORDER BY test_due LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }
}
