//! PostgreSQL: several stateless nodes on one database. Each job runs in a
//! transaction of its own on a pooled connection (synchronous `postgres`
//! client, driven from `spawn_blocking`); the job's caller is answered only
//! after its COMMIT. Writes run at READ COMMITTED; the invariants that must
//! hold across nodes live in the schema (unique keys, the one-statement slot
//! upsert), rows a write decides on are read `FOR UPDATE`, and sweeps claim
//! their rows with `FOR UPDATE SKIP LOCKED`. Reads see one REPEATABLE READ,
//! READ ONLY snapshot.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kassa_domain::bank_message::{BankMessage, MessageKind, MessagePattern, TraderDevice};
use kassa_domain::ledger::Transaction;
use kassa_domain::merchant::CredentialKind;
use kassa_domain::payout::Payout;
use kassa_domain::refund::Refund;
use kassa_domain::{
    BankNotification, Cabinet, Callback, CallbackAttempt, Deal, DealStatus, Hold, Invoice,
    Merchant, Method, Service, Trader,
};
use postgres::error::SqlState;
use postgres::types::{FromSql, ToSql};
use postgres::{Client, Config, NoTls, Row, Statement};
use serde_json::Value;

mod pool;

use pool::{lock, Conn, Lease, Pool, PoolState};

use crate::{
    CallbackCounts, Cursor, HeldAmount, OpenP2p, Page, ReadJob, Store, StoreError, StoreResult,
    StoreStats, Tx, WriteJob,
};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_callback_lines.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_callbacks_due_order.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_bank_messages.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_web_users.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_refunds.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_audit_log.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_dispute_evidence.sql"),
    ),
];

/// The advisory lock nodes take while migrating ("kassa" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b_61_73_73_61;

type Param<'a> = &'a (dyn ToSql + Sync);

/// SQLSTATEs that say the database cannot serve now, not that the request
/// is wrong: connection exceptions (class 08), shutdowns, too many
/// connections, a statement timeout, lock waits, and conflicts PostgreSQL
/// asks a client to retry.
fn is_transient(state: &SqlState) -> bool {
    let code = state.code();
    code.starts_with("08")
        || code.starts_with("57P")
        || [
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::QUERY_CANCELED,
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(state)
}

/// Whether a client error is about the connection (lost, refused, timed
/// out) rather than about a statement.
fn is_connection_error(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    e.is_closed() || e.to_string().contains("timeout")
}

fn backend(e: &postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if is_transient(db.code()) {
            return StoreError::Unavailable(format!("{}: {}", db.code().code(), db.message()));
        }
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            return StoreError::Duplicate(db.message().to_string());
        }
        // Text PostgreSQL cannot hold (a NUL character): a client's key that
        // matches nothing stored, never a fault of the server.
        if *db.code() == SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || *db.code() == SqlState::UNTRANSLATABLE_CHARACTER
        {
            return StoreError::InvalidText;
        }
        return StoreError::Backend(format!("{}: {}", db.code().code(), db.message()));
    }
    if is_connection_error(e) {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Backend(e.to_string())
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("document: {e}"))
}

/// Runs blocking client work. The synchronous client drives a runtime of its
/// own, which may neither be entered nor dropped on an async runtime's
/// thread: there the work moves to a thread of its own.
fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(work)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        work()
    }
}

pub struct PgStore {
    pool: Arc<Pool>,
}

/// How many connections a node keeps and how long it waits on them.
#[derive(Clone, Copy, Debug)]
pub struct PgOptions {
    pub pool_size: usize,
    /// PostgreSQL cancels a statement that runs longer (`statement_timeout`),
    /// and ends a session left idle inside a transaction as long (a node that
    /// stopped mid-transaction must not keep its locks).
    pub statement_timeout: Duration,
    /// The longest wait for a connection: to connect, for a pooled one to
    /// come free, and for sent data to be acknowledged (`tcp_user_timeout`),
    /// so that a database gone silent fails a job instead of hanging it.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl PgStore {
    /// Connects to `url` (a libpq URL or key=value string). One connection is
    /// made now, so that a wrong address fails here rather than on the first
    /// request.
    pub fn open(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        off_runtime(|| Self::open_blocking(url, options))
    }

    fn open_blocking(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let mut config: Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Backend(format!("database url: {e}")))?;
        let statement_ms = options.statement_timeout.as_millis().max(1);
        let server_options = format!(
            "{} -c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={statement_ms}",
            config.get_options().unwrap_or_default()
        );
        config
            .options(server_options.trim_start())
            .connect_timeout(options.connect_timeout)
            .tcp_user_timeout(options.connect_timeout)
            .keepalives_idle(options.connect_timeout.max(Duration::from_secs(1)));
        let pool = Arc::new(Pool {
            config,
            max: options.pool_size.max(1),
            wait: options.connect_timeout,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
                waiters: 0,
            }),
            returned: Condvar::new(),
            waited: metrics::histogram!("kassa_store_pool_wait_seconds"),
        });
        drop(pool.get()?);
        Ok(PgStore { pool })
    }

    /// The database's clock in microseconds since the Unix epoch: the one
    /// clock every node follows (`clock_timestamp()`, not the transaction's
    /// start, so that a reading is as fresh as its round trip).
    pub fn clock_micros(&self) -> StoreResult<i64> {
        off_runtime(|| {
            let mut lease = self.pool.get()?;
            let row = lease
                .conn()
                .client
                .query_one(
                    "SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT",
                    &[],
                )
                .map_err(|e| backend(&e))?;
            Ok(row.get(0))
        })
    }
}

/// A connection with a transaction begun on it. A pooled connection may have
/// been lost while idle (the server restarted); then a fresh one is tried
/// once before the job is refused.
fn begin(pool: &Arc<Pool>, sql: &str) -> StoreResult<Lease> {
    let mut lease = pool.get()?;
    match lease.control(sql) {
        Ok(()) => Ok(lease),
        Err(StoreError::Unavailable(_)) => {
            drop(lease);
            // The other idle connections were most likely lost with it.
            pool.discard_idle();
            let mut lease = pool.get()?;
            lease.control(sql)?;
            Ok(lease)
        }
        Err(e) => Err(e),
    }
}

fn run_write(pool: &Arc<Pool>, job: Box<dyn WriteJob>) {
    let mut lease = match begin(pool, "BEGIN") {
        Ok(lease) => lease,
        Err(e) => {
            tracing::error!(error = %e, "write transaction could not begin");
            return job.refuse(e);
        }
    };
    let mut tx = PgTx {
        conn: lease.conn(),
        read_only: false,
        failed: None,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&mut tx)));
    let failed = tx.failed.take();
    match outcome {
        Ok((true, done)) => {
            if let Some(first) = failed {
                // PostgreSQL aborts a transaction at its first failed
                // statement, and COMMIT of an aborted transaction silently
                // rolls back: never report that as committed.
                let _ = lease.control("ROLLBACK");
                done(Err(StoreError::Backend(format!(
                    "the transaction was aborted by an earlier error: {first}"
                ))));
                return;
            }
            let commit = lease.control("COMMIT");
            if commit.is_err() {
                let _ = lease.control("ROLLBACK");
            }
            done(commit);
        }
        Ok((false, done)) => {
            if let Err(e) = lease.control("ROLLBACK") {
                tracing::error!(error = %e, "rollback");
            }
            // Nothing was to be kept; the job's own answer stands.
            done(Ok(()));
        }
        Err(_) => {
            let _ = lease.control("ROLLBACK");
            tracing::error!("a write job panicked; its changes were rolled back");
        }
    }
}

fn run_read(pool: &Arc<Pool>, job: Box<dyn ReadJob>) {
    let mut lease = match begin(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
        Ok(lease) => lease,
        Err(e) => {
            tracing::error!(error = %e, "read transaction could not begin");
            return job.refuse(e);
        }
    };
    let mut tx = PgTx {
        conn: lease.conn(),
        read_only: true,
        failed: None,
    };
    if catch_unwind(AssertUnwindSafe(|| job.run(&mut tx))).is_err() {
        tracing::error!("a read job panicked");
    }
    let _ = lease.control("ROLLBACK");
}

impl Store for PgStore {
    fn submit_write(&self, job: Box<dyn WriteJob>) {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || run_write(&pool, job));
    }

    fn submit_read(&self, job: Box<dyn ReadJob>) {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || run_read(&pool, job));
    }

    fn migrate(&self) -> StoreResult<()> {
        off_runtime(|| self.migrate_blocking())
    }

    fn stats(&self) -> StoreStats {
        let state = lock(&self.pool.state);
        StoreStats {
            connections_open: state.open as u64,
            connections_idle: state.idle.len() as u64,
            connections_max: self.pool.max as u64,
            connection_waiters: state.waiters as u64,
            ..StoreStats::default()
        }
    }
}

impl PgStore {
    fn migrate_blocking(&self) -> StoreResult<()> {
        let mut lease = self.pool.get()?;
        lease.control("BEGIN")?;
        let result = (|| -> Result<(), postgres::Error> {
            let client = &mut lease.conn().client;
            // Held to the end of the transaction: a second node migrating at
            // the same time waits here, then finds the work done.
            client.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            client.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )?;
            for (version, sql) in MIGRATIONS {
                let seen = client.query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[version],
                )?;
                if seen.is_none() {
                    client.batch_execute(sql)?;
                    client.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
                        &[version],
                    )?;
                    tracing::info!(version, "migration applied");
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => lease.control("COMMIT"),
            Err(e) => {
                let _ = lease.control("ROLLBACK");
                Err(backend(&e))
            }
        }
    }
}

struct PgTx<'c> {
    conn: &'c mut Conn,
    /// Reads may not lock rows.
    read_only: bool,
    /// The first statement that failed: PostgreSQL has aborted the
    /// transaction since, and it must not be reported as committed.
    failed: Option<String>,
}

fn col<T: for<'a> FromSql<'a>>(row: &Row, i: usize) -> StoreResult<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Backend(format!("column {i}: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(json_err)
}

impl PgTx<'_> {
    fn fail(&mut self, e: postgres::Error) -> StoreError {
        let err = backend(&e);
        self.failed.get_or_insert_with(|| err.to_string());
        err
    }

    fn statement(&mut self, sql: &str) -> StoreResult<Statement> {
        if let Some(stmt) = self.conn.statements.get(sql) {
            return Ok(stmt.clone());
        }
        match self.conn.client.prepare(sql) {
            Ok(stmt) => {
                self.conn.statements.insert(sql.to_string(), stmt.clone());
                Ok(stmt)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn query(&mut self, sql: &str, params: &[Param]) -> StoreResult<Vec<Row>> {
        let stmt = self.statement(sql)?;
        match self.conn.client.query(&stmt, params) {
            Ok(rows) => Ok(rows),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn query_opt(&mut self, sql: &str, params: &[Param]) -> StoreResult<Option<Row>> {
        let stmt = self.statement(sql)?;
        match self.conn.client.query_opt(&stmt, params) {
            Ok(row) => Ok(row),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> StoreResult<u64> {
        let stmt = self.statement(sql)?;
        match self.conn.client.execute(&stmt, params) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// An `INSERT ... ON CONFLICT DO NOTHING`: a taken unique key answers
    /// Duplicate without aborting the transaction, as SQLite does.
    fn insert(&mut self, what: &str, sql: &str, params: &[Param]) -> StoreResult<()> {
        match self.exec(sql, params)? {
            0 => Err(StoreError::Duplicate(format!(
                "{what}: a unique key is taken"
            ))),
            _ => Ok(()),
        }
    }

    fn scalar<T: for<'a> FromSql<'a>>(&mut self, sql: &str, params: &[Param]) -> StoreResult<T> {
        let stmt = self.statement(sql)?;
        match self.conn.client.query_one(&stmt, params) {
            Ok(row) => col(&row, 0),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn docs<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> StoreResult<Vec<T>> {
        self.query(sql, params)?
            .iter()
            .map(|row| parse(&col::<String>(row, 0)?))
            .collect()
    }

    fn doc<T: serde::de::DeserializeOwned>(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> StoreResult<Option<T>> {
        self.query_opt(sql, params)?
            .map(|row| parse(&col::<String>(&row, 0)?))
            .transpose()
    }

    fn control(&mut self, sql: &str) -> StoreResult<()> {
        match self.conn.client.batch_execute(sql) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn exists(&mut self, sql: &str, params: &[Param]) -> StoreResult<bool> {
        Ok(self.query_opt(sql, params)?.is_some())
    }

    /// Inside a write, the claiming or locking form of a query (a sweep
    /// claims its rows, skipping those another node holds; a single row is
    /// locked); a read only looks.
    fn claim(&self, sql: &'static str, claiming: &'static str) -> &'static str {
        if self.read_only {
            sql
        } else {
            claiming
        }
    }
}

fn to_doc<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(json_err)
}

/// See the SQLite store: an invoice carried by a P2P deal ends with its deal.
fn sweep_at(i: &Invoice) -> i64 {
    if i.deal_id.is_some() {
        i64::MAX
    } else {
        i.expires_at_secs
    }
}

fn expect_one(changed: u64, what: &str) -> StoreResult<()> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "{what}: {changed} rows changed, expected 1"
        )))
    }
}

/// A LIKE pattern matching the strings that start with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Appends `FOR UPDATE SKIP LOCKED` to a literal.
macro_rules! claiming {
    ($sql:literal) => {
        concat!($sql, " FOR UPDATE SKIP LOCKED")
    };
}

/// Appends `FOR UPDATE` to a literal: inside a write, a row whose state the
/// engine decides on is read locked, so two transactions never both act on
/// the same "pending". At READ COMMITTED the second waits for the first to
/// end, then reads the row as the first left it (or no row, when the first
/// made it miss the query's condition).
macro_rules! locking {
    ($sql:literal) => {
        concat!($sql, " FOR UPDATE")
    };
}

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

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix(""), "%");
        assert_eq!(like_prefix("merchant:m_1:"), "merchant:m\\_1:%");
        assert_eq!(like_prefix("a%b\\"), "a\\%b\\\\%");
    }
}
