//! Configuration: defaults that work out of the box, then a TOML file, then
//! `KASSA_*` environment variables, each overriding the one before.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

/// Every setting, once: its type, its default and, for the engine's, the
/// `EngineConfig` field it feeds. From this table come the `Config` struct
/// read from TOML, its defaults, the `KASSA_<NAME>` variable of each, and
/// what `engine_config` copies.
macro_rules! settings {
    ($defaults:ident; $($(#[doc = $doc:literal])* $name:ident: $ty:ty = $default:expr $(=> $engine:ident)?,)*) => {
        #[derive(Clone, Debug, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Config {
            $($(#[doc = $doc])* pub $name: $ty,)*
        }

        impl Default for Config {
            fn default() -> Self {
                // The engine's defaults are its own; the table names them.
                let $defaults = kassa_engine::EngineConfig::default();
                Config { $($name: $default,)* }
            }
        }

        impl Config {
            /// Every setting's name, as TOML writes it.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name),)*];

            /// `KASSA_<NAME>` overrides each setting; an empty one is unset.
            fn apply_env(&mut self) -> anyhow::Result<()> {
                $(
                    let var = env_name(stringify!($name));
                    if let Some(text) = env(&var) {
                        self.$name = FromEnv::from_env(&text)
                            .with_context(|| format!("{var}={text}"))?;
                    }
                )*
                Ok(())
            }

            /// The engine's settings, copied into its configuration.
            fn feed_engine(&self, engine: &mut kassa_engine::EngineConfig) {
                $($(engine.$engine = self.$name.clone();)?)*
            }
        }
    };
}

settings! {
    engine;
    /// Address the HTTP server listens on.
    listen: String = "127.0.0.1:8080".into(),
    /// Address the admin API listens on, alone; when set, `listen` does not
    /// serve it. Absent: the admin API is served on `listen`.
    admin_listen: Option<String> = None,
    /// The longest a client may take to send a request head, counted from
    /// when the server waits for it; a kept-alive connection left idle as
    /// long is closed.
    http_header_timeout_ms: u64 = 10_000,
    /// The longest a client may take to send a request body after its head.
    http_body_timeout_ms: u64 = 30_000,
    /// Connections each listener serves at once; more wait to be accepted.
    http_max_connections: usize = 10_000,
    /// Base of the links handed out (`hpp_url`); defaults to `http://<listen>`.
    public_base_url: Option<String> = None,
    /// `sqlite://PATH` (or a plain path) for the embedded store, or a
    /// `postgres://` URL.
    database_url: String = "sqlite://kassa-data/kassa.sqlite".into(),
    /// 32 bytes in base64 sealing stored secrets; when absent, read from (or
    /// created as) `master.key` beside the SQLite file.
    master_key: Option<String> = None,
    /// Delay before each retry of a callback; the last one repeats.
    callback_retry_secs: Vec<i64> = engine.callback_retry_secs => callback_retry_secs,
    /// Attempts per callback; also the most a merchant's own setting may be.
    callback_max_attempts: u32 = engine.callback_max_attempts => callback_max_attempts,
    /// The bounds of a merchant's own retry delays.
    callback_retry_min_secs: i64 = engine.callback_retry_min_secs => callback_retry_min_secs,
    callback_retry_max_secs: i64 = engine.callback_retry_max_secs => callback_retry_max_secs,
    callback_timeout_ms: u64 = engine.callback_timeout_ms => callback_timeout_ms,
    /// Callback requests in flight at once on a node, and to one host.
    callback_max_in_flight: usize = engine.callback_max_in_flight => callback_max_in_flight,
    callback_per_host: usize = engine.callback_per_host => callback_per_host,
    allow_private_callback_urls: bool =
        engine.allow_private_callback_urls => allow_private_callback_urls,
    invoice_ttl_secs: i64 = engine.invoice_ttl_secs => invoice_ttl_secs,
    worker_poll_ms: u64 = engine.worker_poll_ms => worker_poll_ms,
    /// Lifetime of a `book_cabinet` hold.
    hold_ttl_secs: i64 = engine.hold_ttl_secs => hold_ttl_secs,
    /// Time a customer has to pay a P2P deal.
    deal_ttl_secs: i64 = engine.deal_ttl_secs => deal_ttl_secs,
    /// Expiry of a Merchant API invoice.
    p2p_invoice_ttl_secs: i64 = engine.p2p_invoice_ttl_secs => p2p_invoice_ttl_secs,
    /// Time a payout has to be taken and paid before it fails.
    payout_ttl_secs: i64 = engine.payout_ttl_secs => payout_ttl_secs,
    /// A cabinet whose devices are all silent longer is switched off; 0: never.
    cabinet_silent_secs: i64 = engine.cabinet_silent_secs => cabinet_silent_secs,
    /// A cabinet whose last this many deals all expired unpaid is switched
    /// off; 0: never.
    cabinet_expired_deals_max: u32 =
        engine.cabinet_expired_deals_max => cabinet_expired_deals_max,
    /// A trader takes new holds and deals only within its deposit (less what
    /// it holds and owes); off, traders are trusted without limit.
    trader_collateral_required: bool =
        engine.trader_collateral_required => trader_collateral_required,
    /// The currency of traders' deposits: the one rates are quoted against.
    settlement_currency: String = engine.settlement_currency.code().to_string(),
    /// A portal session ends after this long unused, and this long after sign-in.
    web_session_idle_secs: i64 = engine.web_session_idle_secs => web_session_idle_secs,
    web_session_absolute_secs: i64 =
        engine.web_session_absolute_secs => web_session_absolute_secs,
    /// Failed sign-ins in a row that lock a web account, and for how long.
    web_max_failed_sign_ins: u32 = engine.web_max_failed_sign_ins => web_max_failed_sign_ins,
    web_lock_secs: i64 = engine.web_lock_secs => web_lock_secs,
    /// Bearer token of the admin API (`/admin-api/`); absent: the admin API
    /// answers 401 to everyone.
    admin_token: Option<String> = None,
    /// Connections each node keeps to PostgreSQL at most.
    db_pool_size: usize = 16,
    /// The longest a request waits on the database (a connection, its
    /// transaction, the commit) before it is answered 503; also how long
    /// connecting to PostgreSQL may take.
    db_timeout_ms: u64 = engine.store_timeout_ms => store_timeout_ms,
    /// PostgreSQL cancels a statement that runs longer, and ends a session
    /// left idle inside a transaction as long.
    db_statement_timeout_ms: u64 = 5_000,
    /// `tracing` filter, e.g. `info` or `kassa=debug`.
    log: String = "info".into(),
    /// `text` (lines for people) or `json` (one JSON object per line).
    log_format: String = "text".into(),
    /// Record metrics and serve them at `GET /metrics` (admin token).
    metrics: bool = true,
}

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

fn env_name(setting: &str) -> String {
    format!("KASSA_{}", setting.to_ascii_uppercase())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A setting's value as a variable writes it: text, a number, `true` or
/// `false`, a list as `10,30,60`.
trait FromEnv: Sized {
    fn from_env(text: &str) -> anyhow::Result<Self>;
}

macro_rules! from_env_by_parse {
    ($($t:ty),*) => {$(
        impl FromEnv for $t {
            fn from_env(text: &str) -> anyhow::Result<Self> {
                text.trim().parse().map_err(|e| anyhow::anyhow!("{e}"))
            }
        }
    )*};
}

from_env_by_parse!(u32, u64, i64, usize, bool);

impl FromEnv for String {
    fn from_env(text: &str) -> anyhow::Result<Self> {
        Ok(text.to_string())
    }
}

impl<T: FromEnv> FromEnv for Option<T> {
    fn from_env(text: &str) -> anyhow::Result<Self> {
        T::from_env(text).map(Some)
    }
}

impl FromEnv for Vec<i64> {
    fn from_env(text: &str) -> anyhow::Result<Self> {
        text.split(',').map(i64::from_env).collect()
    }
}

impl Config {
    /// Loads `path` (or `kassa.toml` when present and no path is given), then
    /// applies the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| env("KASSA_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("kassa.toml")).filter(|p| p.exists()));
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
            }
            None => Config::default(),
        };
        config.apply_env()?;
        config.check()?;
        Ok(config)
    }

    /// Whether logs are written as JSON (`log_format = "json"`).
    pub fn json_logs(&self) -> bool {
        self.log_format == "json"
    }

    fn check(&self) -> anyhow::Result<()> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be text or json");
        }
        if self.callback_retry_secs.is_empty() || self.callback_retry_secs.iter().any(|s| *s < 0) {
            bail!("callback_retry_secs needs at least one delay, none negative");
        }
        if self.callback_max_attempts == 0 || self.callback_max_attempts > 100 {
            bail!("callback_max_attempts must be between 1 and 100");
        }
        if self.callback_retry_min_secs < 0
            || self.callback_retry_max_secs < self.callback_retry_min_secs
        {
            bail!(
                "callback_retry_min_secs must not be negative, nor above callback_retry_max_secs"
            );
        }
        if !(14 * 60..=2 * 24 * 3600).contains(&self.invoice_ttl_secs) {
            bail!("invoice_ttl_secs must be between 840 (14 min) and 172800 (2 days)");
        }
        if !(60..=self.web_session_absolute_secs).contains(&self.web_session_idle_secs)
            || self.web_session_absolute_secs > 30 * 24 * 3600
        {
            bail!("web_session_idle_secs must be at least 60 and at most web_session_absolute_secs, itself at most 30 days");
        }
        if !(1..=100).contains(&self.web_max_failed_sign_ins)
            || !(1..=24 * 3600).contains(&self.web_lock_secs)
        {
            bail!("web_max_failed_sign_ins must be between 1 and 100, and web_lock_secs between 1 s and 1 day");
        }
        if !(1..=3600).contains(&self.hold_ttl_secs) {
            bail!("hold_ttl_secs must be between 1 and 3600");
        }
        if !(60..=7 * 24 * 3600).contains(&self.deal_ttl_secs)
            || self.p2p_invoice_ttl_secs < self.deal_ttl_secs
        {
            bail!("deal_ttl_secs must be between 60 s and 7 days, and p2p_invoice_ttl_secs at least as long");
        }
        if !(60..=30 * 24 * 3600).contains(&self.payout_ttl_secs) {
            bail!("payout_ttl_secs must be between 60 s and 30 days");
        }
        if self.cabinet_silent_secs != 0
            && !(60..=7 * 24 * 3600).contains(&self.cabinet_silent_secs)
        {
            bail!("cabinet_silent_secs must be 0 (off) or between 60 s and 7 days");
        }
        if self.cabinet_expired_deals_max > 100 {
            bail!("cabinet_expired_deals_max must be between 0 (off) and 100");
        }
        if kassa_domain::Currency::from_code(&self.settlement_currency).is_none() {
            bail!(
                "settlement_currency must be a known currency code, not {:?}",
                self.settlement_currency
            );
        }
        if self.admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            bail!("admin_token must be at least 16 characters");
        }
        if !(1..=10_000).contains(&self.callback_max_in_flight)
            || !(1..=self.callback_max_in_flight).contains(&self.callback_per_host)
        {
            bail!("callback_max_in_flight must be 1 to 10000, callback_per_host 1 to callback_max_in_flight");
        }
        if !(100..=600_000).contains(&self.http_header_timeout_ms)
            || !(100..=600_000).contains(&self.http_body_timeout_ms)
        {
            bail!("http_header_timeout_ms and http_body_timeout_ms must be between 100 and 600000");
        }
        if !(1..=1_000_000).contains(&self.http_max_connections) {
            bail!("http_max_connections must be between 1 and 1000000");
        }
        if self.worker_poll_ms == 0 {
            bail!("worker_poll_ms must be positive");
        }
        if !(1..=1024).contains(&self.db_pool_size) {
            bail!("db_pool_size must be between 1 and 1024");
        }
        if !(100..=600_000).contains(&self.db_timeout_ms)
            || !(100..=600_000).contains(&self.db_statement_timeout_ms)
        {
            bail!("db_timeout_ms and db_statement_timeout_ms must be between 100 and 600000");
        }
        match self.database()? {
            Database::Postgres(_) if self.master_key.is_none() => {
                bail!("with PostgreSQL, every node needs the same master_key (KASSA_MASTER_KEY)")
            }
            _ => {}
        }
        Ok(())
    }

    /// The database `database_url` names.
    pub fn database(&self) -> anyhow::Result<Database> {
        let url = self.database_url.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_string()));
        }
        Ok(Database::Sqlite(self.sqlite_path()?))
    }

    /// The SQLite file of `database_url`.
    pub fn sqlite_path(&self) -> anyhow::Result<PathBuf> {
        let url = self.database_url.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            bail!("database_url names a PostgreSQL database, not a SQLite file");
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() {
            bail!("database_url names no file");
        }
        Ok(PathBuf::from(path))
    }

    /// The master key: configured, or kept in `master.key` beside the database
    /// (created on first use, readable by the owner only).
    pub fn master_key(&self) -> anyhow::Result<[u8; 32]> {
        let text = match &self.master_key {
            Some(k) => k.clone(),
            None => {
                let path = self.sqlite_path()?.with_file_name("master.key");
                if !path.exists() {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)?;
                    }
                    let key: [u8; 32] = rand::random();
                    write_private(&path, &STANDARD.encode(key))?;
                }
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
            }
        };
        let bytes = STANDARD
            .decode(text.trim())
            .context("master_key is not base64")?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("master_key must be 32 bytes"))
    }

    /// The HTTP server's limits.
    pub fn http_limits(&self) -> crate::serve::HttpLimits {
        crate::serve::HttpLimits {
            header_timeout: std::time::Duration::from_millis(self.http_header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(self.http_body_timeout_ms),
            max_connections: self.http_max_connections,
        }
    }

    pub fn engine_config(
        &self,
        public_base_url: String,
    ) -> anyhow::Result<kassa_engine::EngineConfig> {
        let mut engine = kassa_engine::EngineConfig {
            public_base_url,
            master_key: self.master_key()?,
            admin_token_sha256: self
                .admin_token
                .as_deref()
                .map(kassa_engine::secrets::sha256_hex),
            ..kassa_engine::EngineConfig::default()
        };
        self.feed_engine(&mut engine);
        engine.settlement_currency =
            kassa_domain::Currency::from_code(&self.settlement_currency)
                .with_context(|| format!("settlement_currency {:?}", self.settlement_currency))?;
        Ok(engine)
    }
}

/// A database URL as it may be shown (printed, logged, put in an error): the
/// password of `postgres://user:password@host/db` and the value of any
/// `password=` (a key=value string's, a URL query's) replaced by `***`.
pub fn redacted_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let rest = &out[start..];
        let authority = &rest[..rest.find('?').unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            if let Some(colon) = authority[..at].find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    redacted_password_values(&out)
}

/// `text` with the value of every `password=` (spaces allowed around `=`,
/// the value quoted or up to the next space or `&`) replaced by `***`.
fn redacted_password_values(text: &str) -> String {
    const KEY: &str = "password";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find(KEY) {
        let after_key = &rest[i + KEY.len()..];
        let trimmed = after_key.trim_start();
        let Some(value) = trimmed.strip_prefix('=') else {
            out.push_str(&rest[..i + KEY.len()]);
            rest = after_key;
            continue;
        };
        let value = value.trim_start();
        let value_at = rest.len() - value.len();
        let len = match value.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(value.len(), |q| q + 2),
            None => value
                .find(|c: char| c == '&' || c.is_whitespace())
                .unwrap_or(value.len()),
        };
        out.push_str(&rest[..value_at]);
        out.push_str("***");
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{redacted_url, Config};

    #[test]
    fn a_merchants_retry_bounds_must_make_a_range() {
        assert!(Config::default().check().is_ok());
        for (min, max) in [(10, 5), (-1, 60)] {
            let config = Config {
                callback_retry_min_secs: min,
                callback_retry_max_secs: max,
                ..Config::default()
            };
            assert!(config.check().is_err(), "{min}..{max}");
        }
    }

    /// The table of docs/configuration.md has a row for every setting, with
    /// its variable, and no row for a setting that is gone.
    #[test]
    fn every_setting_is_documented() {
        let doc = include_str!("../../../docs/configuration.md");
        let rows: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        for name in Config::NAMES {
            let row = format!("| `{name}` | `{}`", super::env_name(name));
            assert!(doc.contains(&row), "docs/configuration.md lacks {row}");
        }
        for row in rows {
            assert!(
                Config::NAMES.contains(&row),
                "docs/configuration.md names `{row}`, which is no setting"
            );
        }
    }

    #[test]
    fn passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://kassa:s3cret@db:5432/kassa?sslmode=disable",
                "postgres://kassa:***@db:5432/kassa?sslmode=disable",
            ),
            ("postgresql://u:p@ss@h/d", "postgresql://u:***@h/d"),
            ("postgres://kassa@db/kassa", "postgres://kassa@db/kassa"),
            (
                "postgres://db/kassa?user=u&password=s3cret&x=1",
                "postgres://db/kassa?user=u&password=***&x=1",
            ),
            (
                "host=db password = 's3 cret' dbname=kassa",
                "host=db password = *** dbname=kassa",
            ),
            ("host=db PASSWORD=s3cret", "host=db PASSWORD=***"),
            (
                "sqlite:///var/lib/kassa/passwords.sqlite",
                "sqlite:///var/lib/kassa/passwords.sqlite",
            ),
        ] {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
    }
}
