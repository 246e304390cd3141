//! The Kassa program: configuration, the server with its workers, the
//! operator commands, the demo and the benchmark.

pub mod bench;
pub mod cli;
pub mod config;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use kassa_engine::{Clock, Engine};
use kassa_store::{PgStore, SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

/// Opens the store, applies migrations and installs the shipped catalog.
pub async fn open_engine(
    config: &Config,
    clock: Arc<dyn Clock>,
    public_base_url: String,
) -> anyhow::Result<Arc<Engine>> {
    let store: Arc<dyn Store> = match config.database()? {
        config::Database::Sqlite(path) => Arc::new(
            SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?,
        ),
        config::Database::Postgres(url) => {
            Arc::new(PgStore::open(&url, config.db_pool_size).context("connecting to PostgreSQL")?)
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

/// A running server and its workers.
pub struct Server {
    pub addr: SocketAddr,
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
        clock: Arc<dyn Clock>,
        listener: TcpListener,
    ) -> anyhow::Result<Server> {
        let addr = listener.local_addr()?;
        let base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let engine = open_engine(config, clock, base_url.clone()).await?;
        let (stop, stopped) = watch::channel(false);
        let workers = tokio::spawn(engine.clone().run_workers(stopped.clone()));
        let app = kassa_http::router(engine.clone());
        let mut shutdown = stopped;
        let http = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "server stopped");
            }
        });
        Ok(Server {
            addr,
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
