//! The harness of the integration tests: a real server on port 0 over a real
//! SQLite file in a temporary directory, with a clock the test moves.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kassa::{Config, Server};
use kassa_engine::merchants::{IssuedMerchant, NewMerchant};
use kassa_engine::ManualClock;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub struct TestApp {
    /// Dropped last: the PostgreSQL database of this app, when the suite runs
    /// on PostgreSQL (`KASSA_TEST_BACKEND=postgres`).
    pub server: Option<Server>,
    pub base_url: String,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub merchant: IssuedMerchant,
    pub pg: Option<PgDatabase>,
}

/// The PostgreSQL server the suite's second run uses.
fn pg_admin_url() -> String {
    std::env::var("KASSA_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether this run of the suite is on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("KASSA_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// A database of the test's own, dropped with it.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let name = format!(
            "kassa_t_{}",
            kassa_domain::ids::random_base62(12).to_lowercase()
        );
        let admin = pg_admin_url();
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("KASSA_TEST_POSTGRES names no database: {admin}"),
        };
        let statement = format!("CREATE DATABASE {name}");
        // The synchronous client runs a runtime of its own: off the test's.
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .expect("PostgreSQL for the test suite");
            client
                .batch_execute(&statement)
                .expect("create the test database");
        })
        .join()
        .expect("create thread");
        PgDatabase { name, url }
    }
}

impl PgDatabase {
    /// Points `config` at this database, with a master key of its own (every
    /// process given this config shares it).
    pub fn configure(&self, config: &mut Config) {
        config.database_url = self.url.clone();
        config.master_key = Some(random_master_key());
    }
}

/// A fresh master key: base64 of 32 random bytes.
pub fn random_master_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// The `kassa` binary on a database, with no `KASSA_*` setting of the test's
/// environment and quiet logs; callers add the command and the rest.
pub fn kassa_command(database_url: &str, master_key: Option<&str>) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"));
    for (name, _) in std::env::vars() {
        if name.starts_with("KASSA_") {
            command.env_remove(name);
        }
    }
    if let Some(key) = master_key {
        command.env("KASSA_MASTER_KEY", key);
    }
    command
        .env("KASSA_DATABASE_URL", database_url)
        .env("KASSA_LOG", "warn");
    command
}

/// A database for a test about PostgreSQL itself, whichever backend the
/// suite runs on. Where no server answers the test is skipped with a notice,
/// except on CI (`CI` set) or on the PostgreSQL run, where it fails.
pub fn postgres_only() -> Option<PgDatabase> {
    let admin = pg_admin_url();
    let reachable =
        std::thread::spawn(move || postgres::Client::connect(&admin, postgres::NoTls).map(drop))
            .join()
            .expect("connect thread");
    match reachable {
        Ok(()) => Some(PgDatabase::create()),
        Err(e) if std::env::var_os("CI").is_some() || on_postgres() => {
            panic!("PostgreSQL at {} is unreachable: {e}", pg_admin_url())
        }
        Err(e) => {
            eprintln!("notice: PostgreSQL is unreachable ({e}); test skipped");
            None
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = pg_admin_url();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = client.batch_execute(&statement);
            }
        })
        .join();
    }
}

/// Settings for tests: loopback callbacks allowed, quick workers, short retries.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        database_url: format!("sqlite://{}", dir.join("kassa.sqlite").display()),
        allow_private_callback_urls: true,
        worker_poll_ms: 20,
        callback_retry_secs: vec![10, 20, 40],
        callback_max_attempts: 5,
        callback_timeout_ms: 2_000,
        log: "warn".into(),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with a config adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        let pg = on_postgres().then(PgDatabase::create);
        if let Some(db) = &pg {
            db.configure(&mut config);
            config.db_pool_size = 8;
        }
        adjust(&mut config);
        let clock = Arc::new(ManualClock::starting_now());
        let server = start(&config, clock.clone()).await;
        let merchant = server
            .engine
            .create_merchant(NewMerchant {
                name: "Test Shop".into(),
                ..Default::default()
            })
            .await
            .expect("merchant");
        TestApp {
            base_url: server.base_url.clone(),
            server: Some(server),
            clock,
            config,
            dir,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            merchant,
            pg,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("kassa.sqlite")
    }

    pub fn engine(&self) -> &Arc<kassa_engine::Engine> {
        &self.server.as_ref().expect("running").engine
    }

    /// Stops the server and starts a new one on the same database and port-0
    /// listener (a new port); the clock carries on.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let server = start(&self.config, self.clock.clone()).await;
        self.base_url = server.base_url.clone();
        self.server = Some(server);
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn test_public_key(&self) -> &str {
        &self.merchant.test.public_key
    }

    /// A request to the private API with the test key.
    pub fn private(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let c = &self.merchant.test;
        self.http
            .request(method, self.url(path))
            .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
    }

    /// Creates an invoice through the private API from attributes.
    pub async fn create_private(&self, attributes: Value) -> (u16, Value) {
        let response = self
            .private(reqwest::Method::POST, "/api/payment-invoices")
            .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_private(&self, path: &str) -> (u16, Value) {
        let response = self
            .private(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The invoice's private-API attributes.
    pub async fn invoice(&self, id: &str) -> Value {
        let (status, body) = self
            .get_private(&format!("/api/payment-invoices/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["attributes"].clone()
    }

    /// Polls until `check` holds on the invoice's attributes (the workers run
    /// in real time; only the clock they read is manual). Fails after 10 s.
    pub async fn wait_for_invoice(
        &self,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let attributes = self.invoice(id).await;
            if check(&attributes) {
                return attributes;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {attributes}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls until the deal is in `status`. A pass run by hand (say
    /// `expire_due_deals`) skips a row the node's own sweep holds at that
    /// moment, so its outcome is waited for, not assumed. Fails after 10 s.
    pub async fn wait_for_deal(
        &self,
        id: &str,
        status: kassa_domain::DealStatus,
    ) -> kassa_domain::Deal {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let deal = self.engine().deal(id.to_string()).await.expect("deal");
            if deal.status == status {
                return deal;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for the deal to be {status:?}: {deal:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A post of a hosted page's form at `path` (`/hpp/{id}/...`), with the
    /// token the page's forms carry.
    pub fn page_post(&self, path: &str) -> reqwest::RequestBuilder {
        let id = path
            .trim_start_matches("/hpp/")
            .split(['/', '?'])
            .next()
            .unwrap_or_default();
        let token = self.engine().page_token(id);
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
    }

    pub fn advance_secs(&self, secs: i64) {
        self.clock.advance_secs(secs);
        self.engine().wake_workers();
    }
}

async fn start(config: &Config, clock: Arc<ManualClock>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Server::start(config, Some(clock), listener)
        .await
        .expect("server starts")
}

/// The attributes of a minimal valid test invoice.
pub fn test_invoice(status: &str) -> Value {
    json!({
        "amount": "100.50",
        "currency": "USD",
        "service": "test_usd_test",
        "service_fields": { "status": status },
        "description": "Test order",
    })
}

/// A live trader named `name` with one active RUB cabinet of `method` at
/// "sberbank" (100 minor units and up); the trader and its API token.
pub async fn rub_trader(
    app: &TestApp,
    name: &str,
    method: &str,
    requisite: &str,
) -> (kassa_domain::Trader, String) {
    rub_trader_in(app, false, name, method, requisite).await
}

/// [`rub_trader`] in test or live mode.
pub async fn rub_trader_in(
    app: &TestApp,
    test_mode: bool,
    name: &str,
    method: &str,
    requisite: &str,
) -> (kassa_domain::Trader, String) {
    let (trader, token) = app
        .engine()
        .create_trader_in(name.into(), test_mode)
        .await
        .expect("trader");
    app.engine()
        .add_cabinet(rub_cabinet(&trader.id, method, requisite))
        .await
        .expect("cabinet");
    (trader, token)
}

/// An active RUB cabinet of `method` at "sberbank", 100 minor units and up,
/// with no other limit.
pub fn rub_cabinet(
    trader_id: &str,
    method: &str,
    requisite: &str,
) -> kassa_engine::p2p::NewCabinet {
    kassa_engine::p2p::NewCabinet {
        trader_id: trader_id.into(),
        method: method.into(),
        currency: kassa_domain::Currency::from_code("RUB").expect("RUB"),
        bank_name: "sberbank".into(),
        requisite: requisite.into(),
        holder: "Ivan I.".into(),
        min_amount_minor: 100,
        max_amount_minor: 0,
        daily_limit_minor: 0,
        max_open_deals: 0,
        active: true,
    }
}

/// A Merchant API pay-in of `amount` RUB paid by card at `bank`, in test or
/// live mode, that starts a deal; the deal.
pub async fn open_deal_in(
    app: &TestApp,
    test_mode: bool,
    amount: &str,
    bank: &str,
) -> kassa_domain::Deal {
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .expect("merchant");
    let created = engine
        .create_p2p_invoice(
            merchant,
            test_mode,
            kassa_engine::p2p_invoices::NewP2pInvoice {
                internal_id: Some(kassa_domain::ids::new_id("order")),
                amount: amount.into(),
                currency: "RUB".into(),
                notification_url: "http://127.0.0.1:9/callback".into(),
                notification_token: "token".into(),
                payment_method: Some(bank.into()),
                payment_option: Some("CARD".into()),
                start_deal: true,
                ..Default::default()
            },
        )
        .await
        .expect("invoice with a deal");
    engine
        .deal(created.invoice.deal_id.expect("a deal"))
        .await
        .expect("deal")
}
