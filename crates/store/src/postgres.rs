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
    Merchant, Method, Service, Trader, WebRealm, WebSession, WebUser,
};
use postgres::error::SqlState;
use postgres::types::{FromSql, ToSql};
use postgres::{Client, Config, NoTls, Row, Statement};
use serde_json::Value;

mod web;

use crate::{
    CallbackCounts, Cursor, InvoiceSearch, OpenP2p, Page, ReadJob, Store, StoreError, StoreResult,
    StoreStats, Tx, WriteJob,
};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../migrations/postgres/0002_callback_lines.sql"),
    ),
    (
        3,
        include_str!("../migrations/postgres/0003_callbacks_due_order.sql"),
    ),
    (
        4,
        include_str!("../migrations/postgres/0004_bank_messages.sql"),
    ),
    (5, include_str!("../migrations/postgres/0005_web_users.sql")),
    (6, include_str!("../migrations/postgres/0006_refunds.sql")),
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

struct PoolState {
    idle: Vec<Conn>,
    /// Connections open, idle or lent.
    open: usize,
    /// Callers waiting for one to come back.
    waiters: usize,
}

/// A bounded pool: connections are made on demand up to `max`; past that a
/// caller waits for one to come back, for at most `wait`.
struct Pool {
    config: Config,
    max: usize,
    wait: Duration,
    state: Mutex<PoolState>,
    returned: Condvar,
    /// How long callers waited for a connection (those that got one).
    waited: metrics::Histogram,
}

impl Pool {
    fn connect(&self) -> StoreResult<Conn> {
        let client = self.config.connect(NoTls).map_err(|e| backend(&e))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    fn get(self: &Arc<Self>) -> StoreResult<Lease> {
        let started = Instant::now();
        let lease = self.get_by(started + self.wait)?;
        self.waited.record(started.elapsed());
        Ok(lease)
    }

    fn get_by(self: &Arc<Self>, deadline: Instant) -> StoreResult<Lease> {
        let mut state = lock(&self.state);
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(self.lease(conn));
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(self.lease(conn)),
                    Err(e) => {
                        lock(&self.state).open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "no database connection came free within {} ms",
                    self.wait.as_millis()
                )));
            }
            state.waiters += 1;
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            state.waiters -= 1;
        }
    }

    /// Closes every idle connection; the next callers connect afresh.
    fn discard_idle(&self) {
        let idle = {
            let mut state = lock(&self.state);
            let idle = std::mem::take(&mut state.idle);
            state.open -= idle.len();
            idle
        };
        off_runtime(move || drop(idle));
        self.returned.notify_all();
    }

    fn lease(self: &Arc<Self>, conn: Conn) -> Lease {
        Lease {
            pool: self.clone(),
            conn: Some(conn),
            broken: false,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.state).idle);
        off_runtime(move || drop(idle));
    }
}

/// A lent connection; it goes back to the pool when dropped, unless broken.
struct Lease {
    pool: Arc<Pool>,
    conn: Option<Conn>,
    broken: bool,
}

impl Lease {
    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a lease holds its connection")
    }

    /// Runs a transaction-control statement; a failure leaves the connection
    /// in an unknown state, so it is not reused.
    fn control(&mut self, sql: &str) -> StoreResult<()> {
        let result = self
            .conn()
            .client
            .batch_execute(sql)
            .map_err(|e| backend(&e));
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = lock(&self.pool.state);
            if self.broken || conn.client.is_closed() {
                state.open -= 1;
            } else {
                state.idle.push(conn);
            }
            drop(state);
            self.pool.returned.notify_one();
        }
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

impl Tx for PgTx<'_> {
    fn insert_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let doc = to_doc(m)?;
        self.insert(
            "merchant",
            "INSERT INTO merchants (id, site_id, site_login, created_at, doc) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&m.id, &m.site_id, &m.site_login, &m.created_at_secs, &doc],
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
                self.insert(
                    "credential",
                    "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[key, &kind.as_str(), &m.id, &test_mode],
                )?;
            }
        }
        Ok(())
    }

    fn update_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let doc = to_doc(m)?;
        let n = self.exec(
            "UPDATE merchants SET site_login = $2, doc = $3 WHERE id = $1",
            &[&m.id, &m.site_login, &doc],
        )?;
        expect_one(n, "update merchant")
    }

    fn merchant(&mut self, id: &str) -> StoreResult<Option<Merchant>> {
        self.doc("SELECT doc FROM merchants WHERE id = $1", &[&id])
    }

    fn merchants(&mut self) -> StoreResult<Vec<Merchant>> {
        self.docs("SELECT doc FROM merchants ORDER BY site_id", &[])
    }

    fn merchant_by_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
    ) -> StoreResult<Option<(Merchant, bool)>> {
        let row = self.query_opt(
            "SELECT m.doc, c.test_mode FROM credentials c JOIN merchants m ON m.id = c.merchant_id
             WHERE c.lookup_key = $1 AND c.kind = $2",
            &[&key, &kind.as_str()],
        )?;
        row.map(|row| Ok((parse(&col::<String>(&row, 0)?)?, col(&row, 1)?)))
            .transpose()
    }

    fn next_site_id(&mut self) -> StoreResult<i64> {
        self.scalar(
            "SELECT COALESCE(MAX(site_id), 1000) + 1 FROM merchants",
            &[],
        )
    }

    fn put_method(&mut self, method: &Method) -> StoreResult<()> {
        let doc = to_doc(method)?;
        self.exec(
            "INSERT INTO methods (code, doc) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET doc = excluded.doc",
            &[&method.code, &doc],
        )
        .map(drop)
    }

    fn methods(&mut self) -> StoreResult<Vec<Method>> {
        self.docs("SELECT doc FROM methods ORDER BY code", &[])
    }

    fn put_service(&mut self, s: &Service) -> StoreResult<()> {
        let doc = to_doc(s)?;
        self.exec(
            "INSERT INTO services (code, currency, doc) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO UPDATE SET currency = excluded.currency, doc = excluded.doc",
            &[&s.code, &s.currency.code(), &doc],
        )
        .map(drop)
    }

    fn service(&mut self, code: &str) -> StoreResult<Option<Service>> {
        self.doc("SELECT doc FROM services WHERE code = $1", &[&code])
    }

    fn services(&mut self) -> StoreResult<Vec<Service>> {
        self.docs("SELECT doc FROM services ORDER BY seq", &[])
    }

    fn insert_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let doc = to_doc(i)?;
        self.insert(
            "invoice",
            "INSERT INTO invoices (id, merchant_id, test_mode, reference_id, status, is_open, expires_at, test_pending, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &[
                &i.id,
                &i.merchant_id,
                &i.test_mode,
                &i.reference_id,
                &i.status.as_str(),
                &i.status.is_open(),
                &sweep_at(i),
                &i.test_outcome.is_some(),
                &doc,
            ],
        )
    }

    fn update_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let doc = to_doc(i)?;
        let n = self.exec(
            "UPDATE invoices SET status = $2, is_open = $3, expires_at = $4, test_pending = $5, doc = $6 WHERE id = $1",
            &[
                &i.id,
                &i.status.as_str(),
                &i.status.is_open(),
                &sweep_at(i),
                &i.test_outcome.is_some(),
                &doc,
            ],
        )?;
        expect_one(n, "update invoice")
    }

    fn invoice(&mut self, id: &str) -> StoreResult<Option<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE id = $1",
            locking!("SELECT doc FROM invoices WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn invoice_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Invoice>> {
        self.doc(
            "SELECT doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND reference_id = $3",
            &[&merchant_id, &test_mode, &reference_id],
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
        let limit = limit as i64;
        let seq_of = |tx: &mut Self, id: &str| -> StoreResult<Option<i64>> {
            tx.query_opt(
                "SELECT seq FROM invoices WHERE id = $1 AND merchant_id = $2 AND test_mode = $3",
                &[&id, &merchant_id, &test_mode],
            )?
            .map(|row| col(&row, 0))
            .transpose()
        };
        let newest_first = "SELECT seq, doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
        let (sql, bound, reverse) = match cursor {
            Cursor::First => (newest_first, i64::MAX, false),
            Cursor::After(id) => (
                newest_first,
                seq_of(self, id)?.unwrap_or(i64::MIN),
                false,
            ),
            Cursor::Before(id) => (
                "SELECT seq, doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq > $3 ORDER BY seq ASC LIMIT $4",
                seq_of(self, id)?.unwrap_or(i64::MAX),
                true,
            ),
        };
        let mut rows = self
            .query(sql, &[&merchant_id, &test_mode, &bound, &limit])?
            .iter()
            .map(|row| Ok((col::<i64>(row, 0)?, col::<String>(row, 1)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        if reverse {
            rows.reverse();
        }
        let newest = rows.first().map_or(bound, |r| r.0);
        let oldest = rows.last().map_or(bound, |r| r.0);
        let has_newer = match (cursor, rows.is_empty()) {
            (Cursor::First, true) => false,
            _ => self.exists(
                "SELECT 1 FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq > $3 LIMIT 1",
                &[&merchant_id, &test_mode, &newest.max(oldest)],
            )?,
        };
        let has_older = self.exists(
            "SELECT 1 FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq < $3 LIMIT 1",
            &[&merchant_id, &test_mode, &oldest.min(newest)],
        )?;
        let items = rows
            .into_iter()
            .map(|(_, doc)| parse(&doc))
            .collect::<StoreResult<Vec<Invoice>>>()?;
        Ok(Page {
            items,
            has_newer,
            has_older,
        })
    }

    fn count_invoices(&mut self, merchant_id: &str) -> StoreResult<u64> {
        let n: i64 = self.scalar(
            "SELECT COUNT(*) FROM invoices WHERE merchant_id = $1",
            &[&merchant_id],
        )?;
        Ok(n as u64)
    }

    fn invoices_due_to_expire(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE is_open AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
            claiming!("SELECT doc FROM invoices WHERE is_open AND expires_at <= $1 ORDER BY expires_at LIMIT $2"),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn invoices_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE test_pending ORDER BY seq LIMIT $1",
            claiming!("SELECT doc FROM invoices WHERE test_pending ORDER BY seq LIMIT $1"),
        );
        self.docs(sql, &[&(limit as i64)])
    }

    fn insert_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let doc = to_doc(c)?;
        self.insert(
            "callback",
            "INSERT INTO callbacks (id, invoice_id, state, next_attempt_at, lease_until, doc)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &c.id,
                &c.invoice_id,
                &c.state.as_str(),
                &c.next_attempt_at_secs,
                &c.lease_until_secs,
                &doc,
            ],
        )
    }

    fn update_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let doc = to_doc(c)?;
        let n = self.exec(
            "UPDATE callbacks SET state = $2, next_attempt_at = $3, lease_until = $4, doc = $5 WHERE id = $1",
            &[
                &c.id,
                &c.state.as_str(),
                &c.next_attempt_at_secs,
                &c.lease_until_secs,
                &doc,
            ],
        )?;
        expect_one(n, "update callback")
    }

    fn callback(&mut self, id: &str) -> StoreResult<Option<Callback>> {
        let sql = self.claim(
            "SELECT doc FROM callbacks WHERE id = $1",
            locking!("SELECT doc FROM callbacks WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn callbacks_for_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE invoice_id = $1 ORDER BY created_seq",
            &[&invoice_id],
        )
    }

    fn due_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        // The head of each invoice's line only: one behind an earlier pending
        // callback of its invoice waits for that one (callbacks_line). The
        // earlier ones are read unlocked, and a row another node holds is
        // still seen as pending: a callback leaves `pending` only for good,
        // so a claim that finds none before it cannot be overtaken.
        let sql = self.claim(
            "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.lease_until <= $1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT $2",
            claiming!(
                "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.lease_until <= $1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT $2"
            ),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn callback_counts(&mut self, now_secs: i64) -> StoreResult<CallbackCounts> {
        let row = self
            .query_opt(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1
                        AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                                        AND e.state = 'pending' AND e.created_seq < c.created_seq)
                        THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'pending' AND lease_until > $1 THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)::BIGINT
             FROM callbacks c",
                &[&now_secs],
            )?
            .ok_or_else(|| StoreError::Backend("callback counts: no row".into()))?;
        let n = |i: usize| col::<i64>(&row, i).map(|v| v.max(0) as u64);
        Ok(CallbackCounts {
            owed: n(0)?,
            due: n(1)?,
            leased: n(2)?,
            failed: n(3)?,
        })
    }

    fn waiting_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE state = 'pending' AND next_attempt_at > $1
             ORDER BY next_attempt_at LIMIT $2",
            &[&now_secs, &(limit as i64)],
        )
    }

    fn open_p2p(&mut self, now_secs: i64) -> StoreResult<Vec<OpenP2p>> {
        let rows = self.query(
            "SELECT currency, test_mode, SUM(holds)::BIGINT, SUM(deals)::BIGINT FROM (
                SELECT c.currency AS currency,
                    COALESCE((c.doc::jsonb ->> 'test_mode')::BOOLEAN, FALSE) AS test_mode,
                    1 AS holds, 0 AS deals
                FROM slots s JOIN cabinets c ON c.id = s.cabinet_id
                WHERE s.deal_id IS NULL AND s.expires_at > $1
              UNION ALL
                SELECT c.currency, COALESCE((c.doc::jsonb ->> 'test_mode')::BOOLEAN, FALSE), 0, 1
                FROM deals d JOIN cabinets c ON c.id = d.cabinet_id
                WHERE d.is_open) AS open
             GROUP BY currency, test_mode ORDER BY currency, test_mode",
            &[&now_secs],
        )?;
        rows.iter()
            .map(|row| {
                Ok(OpenP2p {
                    currency: col(row, 0)?,
                    test_mode: col(row, 1)?,
                    holds: col::<i64>(row, 2)?.max(0) as u64,
                    deals: col::<i64>(row, 3)?.max(0) as u64,
                })
            })
            .collect()
    }

    fn unmatched_notifications(&mut self) -> StoreResult<Vec<(bool, u64)>> {
        let rows = self.query(
            "SELECT COALESCE((t.doc::jsonb ->> 'test_mode')::BOOLEAN, FALSE) AS test_mode, COUNT(*)
             FROM bank_notifications n JOIN traders t ON t.id = n.trader_id
             WHERE NOT n.matched GROUP BY 1 ORDER BY 1",
            &[],
        )?;
        rows.iter()
            .map(|row| Ok((col(row, 0)?, col::<i64>(row, 1)?.max(0) as u64)))
            .collect()
    }

    fn insert_callback_attempt(&mut self, a: &CallbackAttempt) -> StoreResult<()> {
        let doc = to_doc(a)?;
        self.exec(
            "INSERT INTO callback_attempts (callback_id, invoice_id, doc) VALUES ($1, $2, $3)",
            &[&a.callback_id, &a.invoice_id, &doc],
        )
        .map(drop)
    }

    fn callback_attempts(&mut self, invoice_id: &str) -> StoreResult<Vec<CallbackAttempt>> {
        self.docs(
            "SELECT doc FROM callback_attempts WHERE invoice_id = $1 ORDER BY seq",
            &[&invoice_id],
        )
    }

    fn insert_trader(&mut self, t: &Trader) -> StoreResult<()> {
        let doc = to_doc(t)?;
        self.insert(
            "trader",
            "INSERT INTO traders (id, token_sha256, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&t.id, &t.token_sha256, &doc],
        )
    }

    fn update_trader(&mut self, t: &Trader) -> StoreResult<()> {
        let doc = to_doc(t)?;
        let n = self.exec(
            "UPDATE traders SET token_sha256 = $2, doc = $3 WHERE id = $1",
            &[&t.id, &t.token_sha256, &doc],
        )?;
        expect_one(n, "update trader")
    }

    fn trader(&mut self, id: &str) -> StoreResult<Option<Trader>> {
        self.doc("SELECT doc FROM traders WHERE id = $1", &[&id])
    }

    fn trader_by_token(&mut self, token_sha256: &str) -> StoreResult<Option<Trader>> {
        self.doc(
            "SELECT doc FROM traders WHERE token_sha256 = $1",
            &[&token_sha256],
        )
    }

    fn traders(&mut self) -> StoreResult<Vec<Trader>> {
        self.docs("SELECT doc FROM traders ORDER BY seq", &[])
    }

    fn insert_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        let doc = to_doc(c)?;
        self.insert(
            "cabinet",
            "INSERT INTO cabinets (id, trader_id, method, currency, active, doc) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            &[&c.id, &c.trader_id, &c.method, &c.currency.code(), &c.active, &doc],
        )
    }

    fn update_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        let doc = to_doc(c)?;
        let n = self.exec(
            "UPDATE cabinets SET method = $2, currency = $3, active = $4, doc = $5 WHERE id = $1",
            &[&c.id, &c.method, &c.currency.code(), &c.active, &doc],
        )?;
        expect_one(n, "update cabinet")
    }

    fn cabinet(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        self.doc("SELECT doc FROM cabinets WHERE id = $1", &[&id])
    }

    fn cabinet_to_switch(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        let sql = self.claim(
            "SELECT doc FROM cabinets WHERE id = $1",
            locking!("SELECT doc FROM cabinets WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn all_active_cabinets(&mut self) -> StoreResult<Vec<Cabinet>> {
        self.docs("SELECT doc FROM cabinets WHERE active ORDER BY seq", &[])
    }

    fn cabinets_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE trader_id = $1 ORDER BY seq",
            &[&trader_id],
        )
    }

    fn active_cabinets(&mut self, method: &str, currency: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE method = $1 AND currency = $2 AND active ORDER BY seq",
            &[&method, &currency],
        )
    }

    fn open_deal_counts(&mut self) -> StoreResult<Vec<(String, u32)>> {
        self.query(
            "SELECT cabinet_id, COUNT(*) FROM deals WHERE is_open GROUP BY cabinet_id",
            &[],
        )?
        .iter()
        .map(|row| {
            let n: i64 = col(row, 1)?;
            Ok((col(row, 0)?, u32::try_from(n).unwrap_or(u32::MAX)))
        })
        .collect()
    }

    fn turnover_since(&mut self, cabinet_id: &str, since_secs: i64) -> StoreResult<i64> {
        self.scalar(
            "SELECT COALESCE(SUM(amount_minor), 0)::BIGINT FROM deals WHERE cabinet_id = $1 AND created_at >= $2 AND status != $3",
            &[&cabinet_id, &since_secs, &DealStatus::Canceled.as_str()],
        )
    }

    fn take_slot(&mut self, h: &Hold, now_secs: i64) -> StoreResult<bool> {
        assert!(
            h.deal_id.is_none() && h.expires_at_secs.is_some(),
            "a slot is taken by a hold"
        );
        let doc = to_doc(h)?;
        // One statement: of racing holds exactly one inserts or takes over a
        // lapsed row; the others wait on the row and then find it live.
        let n = self.exec(
            "INSERT INTO slots (cabinet_id, amount_minor, hold_id, merchant_id, expires_at, deal_id, doc)
             VALUES ($1, $2, $3, $4, $5, NULL, $6)
             ON CONFLICT (cabinet_id, amount_minor) DO UPDATE SET
                hold_id = excluded.hold_id, merchant_id = excluded.merchant_id,
                expires_at = excluded.expires_at, deal_id = NULL, doc = excluded.doc
             WHERE slots.deal_id IS NULL AND slots.expires_at <= $7",
            &[
                &h.cabinet_id,
                &h.amount_minor,
                &h.id,
                &h.merchant_id,
                &h.expires_at_secs,
                &doc,
                &now_secs,
            ],
        )?;
        Ok(n == 1)
    }

    fn slots_in_use(&mut self, cabinet_id: &str, now_secs: i64) -> StoreResult<u32> {
        let n: i64 = self.scalar(
            "SELECT COUNT(*) FROM slots WHERE cabinet_id = $1 AND (deal_id IS NOT NULL OR expires_at > $2)",
            &[&cabinet_id, &now_secs],
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn cabinets_holding(&mut self, amount_minor: i64, now_secs: i64) -> StoreResult<Vec<String>> {
        self.query(
            "SELECT cabinet_id FROM slots WHERE amount_minor = $1 AND (deal_id IS NOT NULL OR expires_at > $2)
             ORDER BY cabinet_id",
            &[&amount_minor, &now_secs],
        )?
        .iter()
        .map(|row| col(row, 0))
        .collect()
    }

    fn hold(&mut self, hold_id: &str) -> StoreResult<Option<Hold>> {
        let sql = self.claim(
            "SELECT doc FROM slots WHERE hold_id = $1",
            locking!("SELECT doc FROM slots WHERE hold_id = $1"),
        );
        self.doc(sql, &[&hold_id])
    }

    fn update_hold(&mut self, h: &Hold) -> StoreResult<()> {
        let doc = to_doc(h)?;
        let n = self.exec(
            "UPDATE slots SET expires_at = $2, deal_id = $3, doc = $4 WHERE hold_id = $1",
            &[&h.id, &h.expires_at_secs, &h.deal_id, &doc],
        )?;
        expect_one(n, "update hold")
    }

    fn release_hold(&mut self, hold_id: &str) -> StoreResult<()> {
        self.exec("DELETE FROM slots WHERE hold_id = $1", &[&hold_id])
            .map(drop)
    }

    fn live_holds_of_merchant(
        &mut self,
        merchant_id: &str,
        amount_minor: i64,
        now_secs: i64,
    ) -> StoreResult<Vec<Hold>> {
        self.docs(
            "SELECT doc FROM slots WHERE merchant_id = $1 AND amount_minor = $2 AND deal_id IS NULL AND expires_at > $3
             ORDER BY expires_at",
            &[&merchant_id, &amount_minor, &now_secs],
        )
    }

    fn hold_request(&mut self, merchant_id: &str, request_id: &str) -> StoreResult<Option<Value>> {
        self.doc(
            "SELECT doc FROM hold_requests WHERE merchant_id = $1 AND request_id = $2",
            &[&merchant_id, &request_id],
        )
    }

    fn hold_requests(&mut self, merchant_id: &str) -> StoreResult<Vec<Value>> {
        self.docs(
            "SELECT doc FROM hold_requests WHERE merchant_id = $1 ORDER BY request_id",
            &[&merchant_id],
        )
    }

    fn insert_hold_request(
        &mut self,
        merchant_id: &str,
        request_id: &str,
        answer: &Value,
    ) -> StoreResult<()> {
        let doc = to_doc(answer)?;
        self.insert(
            "hold request",
            "INSERT INTO hold_requests (merchant_id, request_id, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&merchant_id, &request_id, &doc],
        )
    }

    fn insert_deal(&mut self, d: &Deal) -> StoreResult<()> {
        let doc = to_doc(d)?;
        self.insert(
            "deal",
            "INSERT INTO deals (id, invoice_id, cabinet_id, trader_id, amount_minor, status, is_open, deadline, created_at, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &d.id,
                &d.invoice_id,
                &d.cabinet_id,
                &d.trader_id,
                &d.amount_minor,
                &d.status.as_str(),
                &d.status.is_open(),
                &d.deadline_secs,
                &d.created_at_secs,
                &doc,
            ],
        )
    }

    fn update_deal(&mut self, d: &Deal) -> StoreResult<()> {
        let doc = to_doc(d)?;
        let n = self.exec(
            "UPDATE deals SET status = $2, is_open = $3, deadline = $4, doc = $5 WHERE id = $1",
            &[
                &d.id,
                &d.status.as_str(),
                &d.status.is_open(),
                &d.deadline_secs,
                &doc,
            ],
        )?;
        expect_one(n, "update deal")
    }

    fn deal(&mut self, id: &str) -> StoreResult<Option<Deal>> {
        let sql = self.claim(
            "SELECT doc FROM deals WHERE id = $1",
            locking!("SELECT doc FROM deals WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn open_deal_at(&mut self, cabinet_id: &str, amount_minor: i64) -> StoreResult<Option<Deal>> {
        let sql = self.claim(
            "SELECT doc FROM deals WHERE cabinet_id = $1 AND amount_minor = $2 AND is_open",
            locking!(
                "SELECT doc FROM deals WHERE cabinet_id = $1 AND amount_minor = $2 AND is_open"
            ),
        );
        self.doc(sql, &[&cabinet_id, &amount_minor])
    }

    fn deals_of_trader(
        &mut self,
        trader_id: &str,
        open_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE trader_id = $1 AND (is_open OR NOT $2) ORDER BY created_at DESC, seq DESC LIMIT $3",
            &[&trader_id, &open_only, &(limit as i64)],
        )
    }

    fn recent_deals_of_cabinet(
        &mut self,
        cabinet_id: &str,
        since_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE cabinet_id = $1 AND created_at >= $2 ORDER BY created_at DESC, seq DESC LIMIT $3",
            &[&cabinet_id, &since_secs, &(limit as i64)],
        )
    }

    fn deals_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Deal>> {
        let sql = self.claim(
            "SELECT doc FROM deals WHERE is_open AND deadline <= $1 ORDER BY deadline LIMIT $2",
            claiming!(
                "SELECT doc FROM deals WHERE is_open AND deadline <= $1 ORDER BY deadline LIMIT $2"
            ),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn insert_notification(&mut self, n: &BankNotification) -> StoreResult<()> {
        let doc = to_doc(n)?;
        self.insert(
            "bank notification",
            "INSERT INTO bank_notifications (id, trader_id, external_id, matched, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            &[
                &n.id,
                &n.trader_id,
                &n.external_id,
                &n.deal_id.is_some(),
                &n.created_at_secs,
                &doc,
            ],
        )
    }

    fn notification_by_external(
        &mut self,
        trader_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<BankNotification>> {
        self.doc(
            "SELECT doc FROM bank_notifications WHERE trader_id = $1 AND external_id = $2",
            &[&trader_id, &external_id],
        )
    }

    fn notifications(
        &mut self,
        trader_id: Option<&str>,
        unmatched_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<BankNotification>> {
        self.docs(
            "SELECT doc FROM bank_notifications WHERE ($1::TEXT IS NULL OR trader_id = $1) AND (NOT matched OR NOT $2)
             ORDER BY created_at DESC, seq DESC LIMIT $3",
            &[&trader_id, &unmatched_only, &(limit as i64)],
        )
    }

    fn lock_account(&mut self, key: &str) -> StoreResult<()> {
        // Held until commit or rollback: a second transaction posting to the
        // same account waits here, then sees the first one's postings.
        self.query_opt(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
        .map(drop)
    }

    fn try_lock(&mut self, key: &str) -> StoreResult<bool> {
        self.scalar(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
    }

    fn apart(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> StoreResult<bool> {
        if let Some(first) = &self.failed {
            return Err(StoreError::Backend(format!(
                "the transaction was aborted by an earlier error: {first}"
            )));
        }
        self.control("SAVEPOINT item")?;
        let keep = work(self) && self.failed.is_none();
        if keep {
            self.control("RELEASE SAVEPOINT item")?;
        } else {
            // Rolling back to the savepoint also ends an abort that began in
            // it: the transaction is usable again.
            self.control("ROLLBACK TO SAVEPOINT item")?;
            self.control("RELEASE SAVEPOINT item")?;
            self.failed = None;
        }
        Ok(keep)
    }

    fn insert_transaction(&mut self, t: &Transaction) -> StoreResult<()> {
        let doc = to_doc(t)?;
        self.insert(
            "ledger transaction",
            "INSERT INTO ledger_transactions (id, kind, currency, reference, at, doc) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            &[
                &t.id,
                &t.kind.as_str(),
                &t.currency.code(),
                &t.reference,
                &t.at_secs,
                &doc,
            ],
        )?;
        for p in &t.postings {
            self.exec(
                "INSERT INTO ledger_postings (txn_id, account, currency, amount_minor, at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &t.id,
                    &t.account_key(&p.account),
                    &t.currency.code(),
                    &p.amount_minor,
                    &t.at_secs,
                ],
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
        self.scalar(
            "SELECT COALESCE(SUM(amount_minor), 0)::BIGINT FROM ledger_postings
             WHERE account = $1 AND currency = $2 AND at < $3",
            &[&account, &currency, &before_secs.unwrap_or(i64::MAX)],
        )
    }

    fn balances(&mut self, account_prefix: &str) -> StoreResult<Vec<(String, String, i64)>> {
        self.query(
            "SELECT account, currency, SUM(amount_minor)::BIGINT FROM ledger_postings
             WHERE account LIKE $1 GROUP BY account, currency ORDER BY account, currency",
            &[&like_prefix(account_prefix)],
        )?
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?)))
        .collect()
    }

    fn transactions_touching(
        &mut self,
        account_prefix: &str,
        from_secs: i64,
        to_secs: i64,
    ) -> StoreResult<Vec<Transaction>> {
        self.docs(
            "SELECT doc FROM ledger_transactions WHERE id IN (
                SELECT txn_id FROM ledger_postings WHERE account LIKE $1 AND at >= $2 AND at < $3
             ) ORDER BY at, seq",
            &[&like_prefix(account_prefix), &from_secs, &to_secs],
        )
    }

    fn insert_reserve(
        &mut self,
        id: &str,
        merchant_id: &str,
        release_at_secs: i64,
        doc: &Value,
    ) -> StoreResult<()> {
        let doc = to_doc(doc)?;
        self.insert(
            "reserve",
            "INSERT INTO reserves (id, merchant_id, release_at, released, doc) VALUES ($1, $2, $3, FALSE, $4)
             ON CONFLICT DO NOTHING",
            &[&id, &merchant_id, &release_at_secs, &doc],
        )
    }

    fn due_reserves(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<(String, Value)>> {
        let sql = self.claim(
            "SELECT id, doc FROM reserves WHERE NOT released AND release_at <= $1 ORDER BY release_at LIMIT $2",
            claiming!("SELECT id, doc FROM reserves WHERE NOT released AND release_at <= $1 ORDER BY release_at LIMIT $2"),
        );
        self.query(sql, &[&now_secs, &(limit as i64)])?
            .iter()
            .map(|row| Ok((col(row, 0)?, parse(&col::<String>(row, 1)?)?)))
            .collect()
    }

    fn mark_reserve_released(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE reserves SET released = TRUE WHERE id = $1 AND NOT released",
            &[&id],
        )?;
        expect_one(n, "release reserve")
    }

    fn insert_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let doc = to_doc(p)?;
        self.insert(
            "payout",
            "INSERT INTO payouts (id, merchant_id, test_mode, request_id, status, method, currency, trader_id, deadline, test_pending, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            &[
                &p.id,
                &p.merchant_id,
                &p.test_mode,
                &p.request_id,
                &p.status.as_str(),
                &p.method,
                &p.currency.code(),
                &p.trader_id,
                &p.deadline_secs,
                &p.test_outcome.is_some(),
                &doc,
            ],
        )
    }

    fn update_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let doc = to_doc(p)?;
        let n = self.exec(
            "UPDATE payouts SET status = $2, trader_id = $3, deadline = $4, test_pending = $5, doc = $6 WHERE id = $1",
            &[
                &p.id,
                &p.status.as_str(),
                &p.trader_id,
                &p.deadline_secs,
                &p.test_outcome.is_some(),
                &doc,
            ],
        )?;
        expect_one(n, "update payout")
    }

    fn payout(&mut self, id: &str) -> StoreResult<Option<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE id = $1",
            locking!("SELECT doc FROM payouts WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn payout_by_request(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        request_id: &str,
    ) -> StoreResult<Option<Payout>> {
        self.doc(
            "SELECT doc FROM payouts WHERE merchant_id = $1 AND test_mode = $2 AND request_id = $3",
            &[&merchant_id, &test_mode, &request_id],
        )
    }

    fn offered_payouts(
        &mut self,
        method: &str,
        currency: &str,
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE status = 'pending' AND method = $1 AND currency = $2 AND NOT test_mode
             ORDER BY seq LIMIT $3",
            &[&method, &currency, &(limit as i64)],
        )
    }

    fn payouts_of_trader(&mut self, trader_id: &str, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE trader_id = $1 ORDER BY seq DESC LIMIT $2",
            &[&trader_id, &(limit as i64)],
        )
    }

    fn payouts_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE status IN ('pending', 'in_progress') AND deadline <= $1 ORDER BY deadline LIMIT $2",
            claiming!("SELECT doc FROM payouts WHERE status IN ('pending', 'in_progress') AND deadline <= $1 ORDER BY deadline LIMIT $2"),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn payouts_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE test_pending ORDER BY seq LIMIT $1",
            claiming!("SELECT doc FROM payouts WHERE test_pending ORDER BY seq LIMIT $1"),
        );
        self.docs(sql, &[&(limit as i64)])
    }

    fn insert_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        let doc = to_doc(d)?;
        self.insert(
            "device",
            "INSERT INTO trader_devices (id, trader_id, token_hash, doc) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&d.id, &d.trader_id, &d.token_hash, &doc],
        )
    }

    fn update_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        let doc = to_doc(d)?;
        let n = self.exec(
            "UPDATE trader_devices SET token_hash = $2, doc = $3 WHERE id = $1",
            &[&d.id, &d.token_hash, &doc],
        )?;
        expect_one(n, "update device")
    }

    fn device(&mut self, id: &str) -> StoreResult<Option<TraderDevice>> {
        let sql = self.claim(
            "SELECT doc FROM trader_devices WHERE id = $1",
            locking!("SELECT doc FROM trader_devices WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn device_by_token(&mut self, token_hash: &str) -> StoreResult<Option<TraderDevice>> {
        self.doc(
            "SELECT doc FROM trader_devices WHERE token_hash = $1",
            &[&token_hash],
        )
    }

    fn devices_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<TraderDevice>> {
        self.docs(
            "SELECT doc FROM trader_devices WHERE trader_id = $1 ORDER BY seq",
            &[&trader_id],
        )
    }

    fn insert_bank_message(&mut self, m: &BankMessage) -> StoreResult<()> {
        let doc = to_doc(m)?;
        self.insert(
            "bank message",
            "INSERT INTO bank_messages (id, trader_id, device_id, dedup_key, kind, created_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT DO NOTHING",
            &[
                &m.id,
                &m.trader_id,
                &m.device_id,
                &m.dedup_key,
                &m.reading.kind.as_str(),
                &m.created_at_secs,
                &doc,
            ],
        )
    }

    fn bank_message_by_key(
        &mut self,
        device_id: &str,
        dedup_key: &str,
    ) -> StoreResult<Option<BankMessage>> {
        self.doc(
            "SELECT doc FROM bank_messages WHERE device_id = $1 AND dedup_key = $2",
            &[&device_id, &dedup_key],
        )
    }

    fn bank_messages(
        &mut self,
        trader_id: Option<&str>,
        kind: Option<MessageKind>,
        limit: usize,
    ) -> StoreResult<Vec<BankMessage>> {
        let kind = kind.map(MessageKind::as_str);
        self.docs(
            "SELECT doc FROM bank_messages WHERE ($1::TEXT IS NULL OR trader_id = $1) AND ($2::TEXT IS NULL OR kind = $2)
             ORDER BY created_at DESC, seq DESC LIMIT $3",
            &[&trader_id, &kind, &(limit as i64)],
        )
    }

    fn insert_message_pattern(&mut self, p: &MessagePattern) -> StoreResult<()> {
        let doc = to_doc(p)?;
        self.insert(
            "message pattern",
            "INSERT INTO message_patterns (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&p.id, &doc],
        )
    }

    fn message_patterns(&mut self) -> StoreResult<Vec<MessagePattern>> {
        self.docs("SELECT doc FROM message_patterns ORDER BY seq", &[])
    }

    fn delete_message_pattern(&mut self, id: &str) -> StoreResult<bool> {
        Ok(self.exec("DELETE FROM message_patterns WHERE id = $1", &[&id])? > 0)
    }

    fn insert_refund(&mut self, r: &Refund) -> StoreResult<()> {
        let doc = to_doc(r)?;
        self.insert(
            "refund",
            "INSERT INTO refunds (id, invoice_id, merchant_id, test_mode, reference_id, status, test_due, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &r.id,
                &r.invoice_id,
                &r.merchant_id,
                &r.test_mode,
                &r.reference_id,
                &r.status.as_str(),
                &r.test_due_secs(),
                &doc,
            ],
        )
    }

    fn update_refund(&mut self, r: &Refund) -> StoreResult<()> {
        let doc = to_doc(r)?;
        let n = self.exec(
            "UPDATE refunds SET status = $2, test_due = $3, doc = $4 WHERE id = $1",
            &[&r.id, &r.status.as_str(), &r.test_due_secs(), &doc],
        )?;
        expect_one(n, "update refund")
    }

    fn refund(&mut self, id: &str) -> StoreResult<Option<Refund>> {
        let sql = self.claim(
            "SELECT doc FROM refunds WHERE id = $1",
            locking!("SELECT doc FROM refunds WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn refund_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Refund>> {
        self.doc(
            "SELECT doc FROM refunds WHERE merchant_id = $1 AND test_mode = $2 AND reference_id = $3",
            &[&merchant_id, &test_mode, &reference_id],
        )
    }

    fn refunds_of_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE invoice_id = $1 ORDER BY seq",
            &[&invoice_id],
        )
    }

    fn refunds_due_for_test(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Refund>> {
        // Not claimed here: the engine takes each refund's invoice, then the
        // refund, in the order every refund change takes them.
        self.docs(
            "SELECT doc FROM refunds WHERE test_due IS NOT NULL AND test_due <= $1 ORDER BY test_due LIMIT $2",
            &[&now_secs, &(limit as i64)],
        )
    }

    fn put_setting(&mut self, key: &str, value: &Value) -> StoreResult<()> {
        let doc = to_doc(value)?;
        self.exec(
            "INSERT INTO settings (key, doc) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
            &[&key, &doc],
        )
        .map(drop)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<Value>> {
        self.doc("SELECT doc FROM settings WHERE key = $1", &[&key])
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
}

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
