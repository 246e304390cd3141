//! Configuration: defaults that work out of the box, then a TOML file, then
//! `KASSA_*` environment variables, each overriding the one before.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// Address the admin API listens on, alone; when set, `listen` does not
    /// serve it. Absent: the admin API is served on `listen`.
    pub admin_listen: Option<String>,
    /// The longest a client may take to send a request head, counted from
    /// when the server waits for it; a kept-alive connection left idle as
    /// long is closed.
    pub http_header_timeout_ms: u64,
    /// The longest a client may take to send a request body after its head.
    pub http_body_timeout_ms: u64,
    /// Connections each listener serves at once; more wait to be accepted.
    pub http_max_connections: usize,
    /// Base of the links handed out (`hpp_url`); defaults to `http://<listen>`.
    pub public_base_url: Option<String>,
    /// `sqlite://PATH` (or a plain path) for the embedded store.
    pub database_url: String,
    /// 32 bytes in base64 sealing stored secrets; when absent, read from (or
    /// created as) `master.key` beside the SQLite file.
    pub master_key: Option<String>,
    pub callback_retry_secs: Vec<i64>,
    /// Attempts per callback; also the most a merchant's own setting may be.
    pub callback_max_attempts: u32,
    /// The bounds of a merchant's own retry delays.
    pub callback_retry_min_secs: i64,
    pub callback_retry_max_secs: i64,
    pub callback_timeout_ms: u64,
    /// Callback requests in flight at once on a node, and to one host.
    pub callback_max_in_flight: usize,
    pub callback_per_host: usize,
    pub allow_private_callback_urls: bool,
    pub invoice_ttl_secs: i64,
    pub worker_poll_ms: u64,
    /// Lifetime of a `book_cabinet` hold.
    pub hold_ttl_secs: i64,
    /// Time a customer has to pay a P2P deal.
    pub deal_ttl_secs: i64,
    /// Expiry of a Merchant API invoice.
    pub p2p_invoice_ttl_secs: i64,
    /// Time a payout has to be taken and paid before it fails.
    pub payout_ttl_secs: i64,
    /// Bearer token of the admin API (`/admin-api/`); absent: the admin API
    /// answers 401 to everyone.
    pub admin_token: Option<String>,
    /// Connections each node keeps to PostgreSQL at most.
    pub db_pool_size: usize,
    /// The longest a request waits on the database (a connection, its
    /// transaction, the commit) before it is answered 503; also how long
    /// connecting to PostgreSQL may take.
    pub db_timeout_ms: u64,
    /// PostgreSQL cancels a statement that runs longer, and ends a session
    /// left idle inside a transaction as long.
    pub db_statement_timeout_ms: u64,
    /// `tracing` filter, e.g. `info` or `kassa=debug`.
    pub log: String,
}

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Default for Config {
    fn default() -> Self {
        let engine = kassa_engine::EngineConfig::default();
        Config {
            listen: "127.0.0.1:8080".into(),
            admin_listen: None,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 30_000,
            http_max_connections: 10_000,
            public_base_url: None,
            database_url: "sqlite://kassa-data/kassa.sqlite".into(),
            master_key: None,
            callback_retry_secs: engine.callback_retry_secs,
            callback_max_attempts: engine.callback_max_attempts,
            callback_retry_min_secs: engine.callback_retry_min_secs,
            callback_retry_max_secs: engine.callback_retry_max_secs,
            callback_timeout_ms: engine.callback_timeout_ms,
            callback_max_in_flight: engine.callback_max_in_flight,
            callback_per_host: engine.callback_per_host,
            allow_private_callback_urls: engine.allow_private_callback_urls,
            invoice_ttl_secs: engine.invoice_ttl_secs,
            worker_poll_ms: engine.worker_poll_ms,
            hold_ttl_secs: engine.hold_ttl_secs,
            deal_ttl_secs: engine.deal_ttl_secs,
            p2p_invoice_ttl_secs: engine.p2p_invoice_ttl_secs,
            payout_ttl_secs: engine.payout_ttl_secs,
            admin_token: None,
            db_pool_size: 16,
            db_timeout_ms: engine.store_timeout_ms,
            db_statement_timeout_ms: 5_000,
            log: "info".into(),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_env<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    env(name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| anyhow::anyhow!("{name}={v}: {e}"))
        })
        .transpose()
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

    fn apply_env(&mut self) -> anyhow::Result<()> {
        if let Some(v) = env("KASSA_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("KASSA_ADMIN_LISTEN") {
            self.admin_listen = Some(v);
        }
        if let Some(v) = parse_env("KASSA_HTTP_HEADER_TIMEOUT_MS")? {
            self.http_header_timeout_ms = v;
        }
        if let Some(v) = parse_env("KASSA_HTTP_BODY_TIMEOUT_MS")? {
            self.http_body_timeout_ms = v;
        }
        if let Some(v) = parse_env("KASSA_HTTP_MAX_CONNECTIONS")? {
            self.http_max_connections = v;
        }
        if let Some(v) = env("KASSA_PUBLIC_BASE_URL") {
            self.public_base_url = Some(v);
        }
        if let Some(v) = env("KASSA_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = env("KASSA_MASTER_KEY") {
            self.master_key = Some(v);
        }
        if let Some(v) = env("KASSA_CALLBACK_RETRY_SECS") {
            self.callback_retry_secs = v
                .split(',')
                .map(|s| s.trim().parse::<i64>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("KASSA_CALLBACK_RETRY_SECS={v}"))?;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_MAX_ATTEMPTS")? {
            self.callback_max_attempts = v;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_RETRY_MIN_SECS")? {
            self.callback_retry_min_secs = v;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_RETRY_MAX_SECS")? {
            self.callback_retry_max_secs = v;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_TIMEOUT_MS")? {
            self.callback_timeout_ms = v;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_MAX_IN_FLIGHT")? {
            self.callback_max_in_flight = v;
        }
        if let Some(v) = parse_env("KASSA_CALLBACK_PER_HOST")? {
            self.callback_per_host = v;
        }
        if let Some(v) = parse_env("KASSA_ALLOW_PRIVATE_CALLBACK_URLS")? {
            self.allow_private_callback_urls = v;
        }
        if let Some(v) = parse_env("KASSA_INVOICE_TTL_SECS")? {
            self.invoice_ttl_secs = v;
        }
        if let Some(v) = parse_env("KASSA_WORKER_POLL_MS")? {
            self.worker_poll_ms = v;
        }
        if let Some(v) = parse_env("KASSA_HOLD_TTL_SECS")? {
            self.hold_ttl_secs = v;
        }
        if let Some(v) = parse_env("KASSA_DEAL_TTL_SECS")? {
            self.deal_ttl_secs = v;
        }
        if let Some(v) = parse_env("KASSA_P2P_INVOICE_TTL_SECS")? {
            self.p2p_invoice_ttl_secs = v;
        }
        if let Some(v) = parse_env("KASSA_PAYOUT_TTL_SECS")? {
            self.payout_ttl_secs = v;
        }
        if let Some(v) = env("KASSA_ADMIN_TOKEN") {
            self.admin_token = Some(v);
        }
        if let Some(v) = parse_env("KASSA_DB_POOL_SIZE")? {
            self.db_pool_size = v;
        }
        if let Some(v) = parse_env("KASSA_DB_TIMEOUT_MS")? {
            self.db_timeout_ms = v;
        }
        if let Some(v) = parse_env("KASSA_DB_STATEMENT_TIMEOUT_MS")? {
            self.db_statement_timeout_ms = v;
        }
        if let Some(v) = env("KASSA_LOG") {
            self.log = v;
        }
        Ok(())
    }

    fn check(&self) -> anyhow::Result<()> {
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
        Ok(kassa_engine::EngineConfig {
            public_base_url,
            callback_retry_secs: self.callback_retry_secs.clone(),
            callback_max_attempts: self.callback_max_attempts,
            callback_retry_min_secs: self.callback_retry_min_secs,
            callback_retry_max_secs: self.callback_retry_max_secs,
            callback_timeout_ms: self.callback_timeout_ms,
            callback_max_in_flight: self.callback_max_in_flight,
            callback_per_host: self.callback_per_host,
            allow_private_callback_urls: self.allow_private_callback_urls,
            invoice_ttl_secs: self.invoice_ttl_secs,
            worker_poll_ms: self.worker_poll_ms,
            hold_ttl_secs: self.hold_ttl_secs,
            deal_ttl_secs: self.deal_ttl_secs,
            p2p_invoice_ttl_secs: self.p2p_invoice_ttl_secs,
            payout_ttl_secs: self.payout_ttl_secs,
            store_timeout_ms: self.db_timeout_ms,
            master_key: self.master_key()?,
            admin_token_sha256: self
                .admin_token
                .as_deref()
                .map(kassa_engine::secrets::sha256_hex),
        })
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
