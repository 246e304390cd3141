//! The Kassa program: configuration, the server with its workers, the
//! operator commands, the demo and the benchmark.

pub mod bench;
pub mod cli;
pub mod config;
mod sandbox_demo;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use kassa_engine::{Clock, DatabaseClock, Engine, SystemClock};
use kassa_store::{PgOptions, PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

/// Opens the store, applies migrations and installs the shipped catalog.
///
/// Time comes from `clock` when one is given (the tests move theirs by hand);
/// otherwise from the one clock every process on the database shares: the
/// machine's for SQLite (every process runs beside the file), the database
/// server's for PostgreSQL (nodes run on machines of their own).
pub async fn open_engine(
    config: &Config,
    clock: Option<Arc<dyn Clock>>,
    public_base_url: String,
) -> anyhow::Result<Arc<Engine>> {
    let (store, clock): (Arc<dyn Store>, Arc<dyn Clock>) = match config.database()? {
        config::Database::Sqlite(path) => (
            Arc::new(SqliteStore::open(&path).with_context(|| {
                format!(
                    "opening {}",
                    config::redacted_url(&path.display().to_string())
                )
            })?),
            clock.unwrap_or_else(|| Arc::new(SystemClock)),
        ),
        config::Database::Postgres(url) => {
            let store = Arc::new(
                PgStore::open(
                    &url,
                    PgOptions {
                        pool_size: config.db_pool_size,
                        statement_timeout: Duration::from_millis(config.db_statement_timeout_ms),
                        connect_timeout: Duration::from_millis(config.db_timeout_ms),
                    },
                )
                .context("connecting to PostgreSQL")?,
            );
            let clock = match clock {
                Some(clock) => clock,
                None => database_clock(store.clone())?,
            };
            (store, clock)
        }
    };
    store.migrate().context("migrating the database")?;
    let base = public_base_url.trim_end_matches('/').to_string();
    let renderer = Arc::new(kassa_http::FaceCallbacks {
        public_base_url: base.clone(),
    });
    let engine = Engine::new(store, clock, config.engine_config(base)?, renderer);
    engine
        .seed_catalog()
        .await
        .context("installing the catalog")?;
    Ok(engine)
}

fn database_clock(store: Arc<PgStore>) -> anyhow::Result<Arc<dyn Clock>> {
    let clock = DatabaseClock::start(Box::new(move || {
        store.clock_micros().map_err(|e| e.to_string())
    }))
    .map_err(|e| anyhow::anyhow!("reading the database's clock: {e}"))?;
    Ok(clock)
}

/// A running server and its workers.
pub struct Server {
    pub addr: SocketAddr,
    /// The admin API's own listener, when `admin_listen` is configured.
    pub admin_addr: Option<SocketAddr>,
    pub base_url: String,
    pub engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    workers: JoinHandle<()>,
}

impl Server {
    /// Starts serving on `listener` with the workers beside it.
    pub async fn start(
        config: &Config,
        clock: Option<Arc<dyn Clock>>,
        listener: TcpListener,
    ) -> anyhow::Result<Server> {
        let addr = listener.local_addr()?;
        if config.metrics {
            // Before the store opens: its metrics reach the recorder.
            kassa_http::telemetry::install();
        }
        let base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let engine = open_engine(config, clock, base_url.clone()).await?;
        let (stop, stopped) = watch::channel(false);
        let workers = tokio::spawn(engine.clone().run_workers(stopped.clone()));
        let admin = match &config.admin_listen {
            Some(at) => Some(
                TcpListener::bind(at)
                    .await
                    .with_context(|| format!("listening on {at} (admin_listen)"))?,
            ),
            None => None,
        };
        let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
        let limits = config.http_limits();
        let app = kassa_http::router(engine.clone(), admin.is_none());
        let mut servers = vec![tokio::spawn(serve::serve(
            listener,
            app,
            limits,
            stopped.clone(),
        ))];
        if let Some(admin) = admin {
            // A listener of its own, with connections of its own: a flood on
            // the public port does not lock the operator out.
            let app = kassa_http::admin_router(engine.clone());
            servers.push(tokio::spawn(serve::serve(
                admin,
                app,
                limits,
                stopped.clone(),
            )));
        }
        let http = tokio::spawn(async move {
            for server in servers {
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "server stopped");
                }
            }
        });
        Ok(Server {
            addr,
            admin_addr,
            base_url,
            engine,
            stop,
            http,
            workers,
        })
    }

    /// Stops accepting, lets requests in flight finish, stops the workers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.http.await;
        let _ = self.workers.await;
    }

    /// Waits until the server stops (on its own, or by Ctrl-C).
    pub async fn run_until_ctrl_c(self) -> anyhow::Result<()> {
        tokio::signal::ctrl_c().await?;
        tracing::info!("shutting down");
        self.shutdown().await;
        Ok(())
    }
}
