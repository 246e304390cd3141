//! Kassa's engine: every command the faces offer, run over the store, and the
//! background workers (callback delivery, expiry, the test provider). No face
//! dialect lives here; faces parse into these commands and render the results.

pub mod api_keys;
mod cache;
pub mod callbacks;
pub mod catalog;
pub mod clock;
pub mod console;
pub mod console_money;
pub mod delivery;
pub mod egress;
mod error;
pub mod evidence;
pub mod invoices;
pub mod ledger;
pub mod merchants;
pub mod p2p;
pub mod p2p_invoices;
mod page_tokens;
pub mod payouts;
pub mod portal;
pub mod refunds;
pub mod report;
pub mod secrets;
mod sweep;
pub mod telemetry;
pub mod web;
pub mod workers;

use std::sync::Arc;

use kassa_store::{Store, StoreError, Tx};
use tokio::sync::Notify;

pub use callbacks::{CallbackRenderer, CallbackSecrets, Rendered};
pub use clock::{Clock, DatabaseClock, ManualClock, SystemClock, TimeSample};
pub use error::{EngineError, EngineResult};
pub use invoices::NewInvoice;
pub use refunds::{CreatedRefund, NewRefund};
pub use secrets::Sealer;

/// The engine's settings; the binary fills them from its configuration.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Base of the links Kassa hands out (`hpp_url`), without a trailing slash.
    pub public_base_url: String,
    /// Delay before each retry of a callback, in seconds; the last one repeats
    /// until `callback_max_attempts` is reached.
    pub callback_retry_secs: Vec<i64>,
    /// Attempts per callback; also the most a merchant may ask for.
    pub callback_max_attempts: u32,
    /// The shortest and longest delay a merchant's own retry schedule may
    /// name (the operator's own schedule is not held to them).
    pub callback_retry_min_secs: i64,
    pub callback_retry_max_secs: i64,
    pub callback_timeout_ms: u64,
    /// Callback requests in flight at once on a node, and to one receiving
    /// host (scheme, name and port) at most.
    pub callback_max_in_flight: usize,
    pub callback_per_host: usize,
    /// Deliver callbacks to loopback and private addresses (tests, labs).
    pub allow_private_callback_urls: bool,
    /// Expiry of an invoice created without `expires`.
    pub invoice_ttl_secs: i64,
    /// How often the workers look for due work when nothing wakes them.
    pub worker_poll_ms: u64,
    /// Lifetime of a `book_cabinet` hold.
    pub hold_ttl_secs: i64,
    /// Time a customer has to transfer the money of a P2P deal.
    pub deal_ttl_secs: i64,
    /// Expiry of a Merchant API invoice (`expireAt`).
    pub p2p_invoice_ttl_secs: i64,
    /// Time a payout has to be taken and paid before it fails.
    pub payout_ttl_secs: i64,
    /// A cabinet whose devices are all silent longer is switched off; 0: never.
    pub cabinet_silent_secs: i64,
    /// A cabinet whose last this many deals all expired unpaid is switched
    /// off; 0: never.
    pub cabinet_expired_deals_max: u32,
    /// A trader takes new holds and deals only within its deposit; off, a
    /// trader is trusted without limit.
    pub trader_collateral_required: bool,
    /// The currency of traders' deposits, the one rates are quoted against.
    pub settlement_currency: kassa_domain::Currency,
    /// How long a request waits on the store before it is answered 503.
    pub store_timeout_ms: u64,
    pub master_key: [u8; 32],
    /// SHA-256 of the admin API's bearer token; `None`: no admin API access.
    pub admin_token_sha256: Option<String>,
    /// A web session ends after this long unused, and this long after sign-in.
    pub web_session_idle_secs: i64,
    pub web_session_absolute_secs: i64,
    /// Failed sign-ins in a row that lock a web account, and for how long.
    pub web_max_failed_sign_ins: u32,
    pub web_lock_secs: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            public_base_url: "http://127.0.0.1:8080".into(),
            callback_retry_secs: vec![10, 30, 60, 300, 900, 1800, 3600],
            callback_max_attempts: 12,
            callback_retry_min_secs: 5,
            callback_retry_max_secs: 86_400,
            callback_timeout_ms: 10_000,
            callback_max_in_flight: 256,
            callback_per_host: 32,
            allow_private_callback_urls: false,
            invoice_ttl_secs: 24 * 3600,
            worker_poll_ms: 500,
            hold_ttl_secs: 30,
            deal_ttl_secs: 30 * 60,
            p2p_invoice_ttl_secs: 60 * 60,
            payout_ttl_secs: 60 * 60,
            cabinet_silent_secs: 15 * 60,
            cabinet_expired_deals_max: 3,
            trader_collateral_required: false,
            settlement_currency: kassa_domain::Currency::from_code("USDT")
                .expect("USDT is a known currency"),
            store_timeout_ms: 5_000,
            master_key: [0u8; 32],
            admin_token_sha256: None,
            web_session_idle_secs: 30 * 60,
            web_session_absolute_secs: 12 * 3600,
            web_max_failed_sign_ins: 5,
            web_lock_secs: 15 * 60,
        }
    }
}

pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    sealer: Sealer,
    fingerprint_key: secrets::FingerprintKey,
    renderer: Arc<dyn CallbackRenderer>,
    http: reqwest::Client,
    /// The callback client's resolver, which drops blocked addresses.
    resolver: Arc<egress::CheckedResolver>,
    /// Pinged when a change leaves work for the workers: one for the invoice
    /// sweeps, one for callback delivery, so a slow receiver holds up neither.
    wake_sweeps: Notify,
    wake_callbacks: Notify,
    pipeline: Arc<delivery::Pipeline>,
    catalog_cache: cache::TtlCache<(), Arc<kassa_domain::Catalog>>,
    held_hints: Arc<p2p::HeldHints>,
    /// The bank message patterns, compiled.
    pattern_cache: p2p::PatternCache,
    /// Candidate cabinets by (method, currency, test mode).
    cabinet_cache: cache::TtlCache<(String, kassa_domain::Currency, bool), p2p::Cabinets>,
    /// Merchants by id, for the H2H signature check.
    merchant_cache: cache::TtlCache<String, kassa_domain::Merchant>,
    /// Credential lookups: (kind, key) to the merchant and its mode.
    credential_cache:
        cache::TtlCache<(kassa_domain::CredentialKind, String), (kassa_domain::Merchant, bool)>,
    /// When this node last judged the cabinets' health (engine clock).
    health_checked_at: std::sync::atomic::AtomicI64,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
        renderer: Arc<dyn CallbackRenderer>,
    ) -> Arc<Engine> {
        assert!(!config.callback_retry_secs.is_empty());
        assert!(config.callback_max_attempts > 0);
        let resolver = Arc::new(egress::CheckedResolver::new(
            config.allow_private_callback_urls,
        ));
        // No redirects and no proxy: a callback goes straight to an address
        // the resolver let through, never to one a receiver or a proxy picks.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(config.callback_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(resolver.clone())
            .user_agent(concat!("Kassa/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Arc::new(Engine {
            sealer: Sealer::new(&config.master_key),
            pipeline: Arc::new(delivery::Pipeline::new(
                config.callback_max_in_flight,
                config.callback_per_host,
            )),
            fingerprint_key: secrets::FingerprintKey::new(&config.master_key),
            store,
            clock,
            config,
            renderer,
            http,
            resolver,
            wake_sweeps: Notify::new(),
            wake_callbacks: Notify::new(),
            catalog_cache: cache::TtlCache::new(catalog::CATALOG_TTL, 1),
            cabinet_cache: cache::TtlCache::new(p2p::CABINETS_TTL, 1024),
            held_hints: Arc::default(),
            pattern_cache: p2p::PatternCache::default(),
            credential_cache: cache::TtlCache::new(merchants::CREDENTIALS_TTL, 10_000),
            merchant_cache: cache::TtlCache::new(merchants::CREDENTIALS_TTL, 10_000),
            health_checked_at: std::sync::atomic::AtomicI64::new(i64::MIN),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Replaces how callback host names are looked up (the system's
    /// resolver by default); the blocked addresses are dropped either way.
    pub fn set_dns(&self, dns: Arc<dyn egress::Dns>) {
        self.resolver.set_dns(dns);
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Checks the operator's admin API token.
    pub fn authenticate_admin(&self, token: &str) -> EngineResult<()> {
        match &self.config.admin_token_sha256 {
            Some(expected) if secrets::constant_time_eq(&secrets::sha256_hex(token), expected) => {
                Ok(())
            }
            _ => Err(EngineError::Unauthorized),
        }
    }

    /// Whether the store answers a read within the store timeout.
    pub async fn check_store(&self) -> EngineResult<()> {
        self.read(|tx| tx.setting("schema").map(drop).map_err(EngineError::from))
            .await
    }

    /// Wakes the workers: a change left them work.
    pub fn wake_workers(&self) {
        self.wake_sweeps.notify_one();
        self.wake_callbacks.notify_one();
    }

    async fn write<R, F>(&self, work: F) -> EngineResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Tx) -> EngineResult<R> + Send + 'static,
    {
        let journaled = move |tx: &mut dyn Tx| {
            let (result, changes) = telemetry::journaled(|| work(tx));
            result.map(|r| (r, changes))
        };
        let answer = self
            .bounded(kassa_store::write(&*self.store, journaled))
            .await;
        match answer {
            Ok((result, changes)) => {
                // Committed: only now are its changes counted.
                telemetry::committed(&changes);
                Ok(result)
            }
            Err(e) => Err(counted(e, "write")),
        }
    }

    async fn read<R, F>(&self, work: F) -> EngineResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Tx) -> EngineResult<R> + Send + 'static,
    {
        self.bounded(kassa_store::read(&*self.store, work))
            .await
            .map_err(|e| counted(e, "read"))
    }

    /// A store call that has not answered within `store_timeout_ms` is
    /// given up as unavailable. The store then skips the job if it has not
    /// begun; one already under way may still commit, so a client told 503
    /// repeats its request with the same idempotency key.
    async fn bounded<R>(
        &self,
        call: impl std::future::Future<Output = EngineResult<R>>,
    ) -> EngineResult<R> {
        let limit = std::time::Duration::from_millis(self.config.store_timeout_ms);
        tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(EngineError::Unavailable(format!(
                "no answer from the database within {} ms",
                limit.as_millis()
            )))
        })
    }
}

/// Counts a store call that failed for the store's reasons (a client's
/// mistake, a conflict or a refusal is no store failure).
fn counted(e: EngineError, op: &'static str) -> EngineError {
    match &e {
        EngineError::Unavailable(_) => telemetry::unavailable(op),
        EngineError::Store(_) => telemetry::store_error(op),
        _ => {}
    }
    e
}

impl From<EngineError> for StoreError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(e) => e,
            EngineError::Unavailable(why) => StoreError::Unavailable(why),
            other => StoreError::Backend(other.to_string()),
        }
    }
}
