//! What the PostgreSQL runs share: databases of their own on the server,
//! `kassa serve` processes of this executable on them, and an engine in the
//! bench's process to seed and check them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::Empty;
use hyper::body::Bytes;
use kassa_engine::Engine;
use tokio::net::TcpStream;

use crate::Config;

pub(super) fn nodes_label(nodes: usize) -> String {
    if nodes == 1 {
        "1 node".into()
    } else {
        format!("{nodes} nodes")
    }
}

/// An engine in this process on `db`, to seed it and to check it afterwards;
/// opening it applies the migrations. It runs no workers, so it never
/// delivers: the callback URLs it is given may name loopback receivers.
pub(super) async fn open(db: &Database, key: &str, pool: usize) -> anyhow::Result<Arc<Engine>> {
    let config = Config {
        database_url: db.url.clone(),
        master_key: Some(key.to_string()),
        db_pool_size: pool,
        log: "warn".into(),
        allow_private_callback_urls: true,
        ..Config::default()
    };
    crate::open_engine(&config, None, "http://127.0.0.1".into()).await
}

/// The key every process on one database shares: secrets sealed while
/// seeding are unsealed by the nodes.
pub(super) fn master_key() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

/// Numbers the databases of this run.
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A database of this run on the server, dropped with the value (whoever is
/// still connected is cut off).
pub(super) struct Database {
    admin: String,
    pub(super) name: String,
    pub(super) url: String,
}

impl Database {
    pub(super) fn create(admin: &str) -> anyhow::Result<Database> {
        let name = format!(
            "kassa_bench_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let url = database_url(admin, &name)?;
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        Ok(Database {
            admin: admin.to_string(),
            name,
            url,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin, &drop) {
            eprintln!("{e:#}");
        }
    }
}

/// Runs one statement with psql; its output, unaligned.
pub(super) fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!(
            "psql: {sql}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `admin` naming the database `name` instead of its own.
pub(super) fn database_url(admin: &str, name: &str) -> anyhow::Result<String> {
    let Some((scheme, rest)) = admin.split_once("://") else {
        bail!("--postgres takes a postgres:// URL");
    };
    if scheme != "postgres" && scheme != "postgresql" {
        bail!("--postgres takes a postgres:// URL");
    }
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// The host and port of a URL, without credentials.
pub(super) fn server_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// A directory of this run (the pgbench script, the nodes' logs), removed
/// when dropped.
pub(super) struct WorkDir(pub(super) PathBuf);

impl WorkDir {
    pub(super) fn create(name: &str) -> anyhow::Result<WorkDir> {
        let dir =
            std::env::temp_dir().join(format!("kassa-bench-{}-pg-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `kassa serve` processes of this executable on one database, killed when
/// dropped.
pub(super) struct Nodes {
    children: Vec<Child>,
    pub(super) addrs: Vec<SocketAddr>,
    logs: Vec<PathBuf>,
}

impl Nodes {
    pub(super) async fn start(
        count: usize,
        db: &Database,
        key: &str,
        pool: usize,
        env: &[(&str, String)],
        dir: &Path,
    ) -> anyhow::Result<Nodes> {
        let exe = std::env::current_exe().context("this executable")?;
        let mut nodes = Nodes {
            children: Vec::new(),
            addrs: Vec::new(),
            logs: Vec::new(),
        };
        for i in 0..count {
            // A free port: bound, read and let go for the node to take.
            let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            let log = dir.join(format!("{}-node{i}.log", db.name));
            let mut command = Command::new(&exe);
            // The node is configured by what is set here only (and run where
            // no kassa.toml is).
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("KASSA_") {
                    command.env_remove(name);
                }
            }
            command
                .arg("serve")
                .current_dir(dir)
                .env("KASSA_DATABASE_URL", &db.url)
                .env("KASSA_MASTER_KEY", key)
                .env("KASSA_LISTEN", addr.to_string())
                .env("KASSA_DB_POOL_SIZE", pool.to_string())
                .env("KASSA_LOG", "warn")
                .envs(env.iter().cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log)?);
            nodes
                .children
                .push(command.spawn().context("starting kassa serve")?);
            nodes.addrs.push(addr);
            nodes.logs.push(log);
        }
        nodes.wait_ready().await?;
        Ok(nodes)
    }

    /// Waits until every node answers `GET /health`.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for i in 0..self.children.len() {
            loop {
                let log = || std::fs::read_to_string(&self.logs[i]).unwrap_or_default();
                if let Some(status) = self.children[i].try_wait()? {
                    bail!("node {i} exited ({status}):\n{}", log());
                }
                if healthy(self.addrs[i]).await {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("node {i} did not answer on {}:\n{}", self.addrs[i], log());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `addr` answers `GET /health` with a success.
async fn healthy(addr: SocketAddr) -> bool {
    let probe = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let request = hyper::Request::get("/health")
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        anyhow::Ok(response.status().is_success())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Ok(true))
    )
}

#[cfg(test)]
mod tests {
    use super::{database_url, server_of};

    #[test]
    fn database_urls() {
        let admin = "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable";
        assert_eq!(
            database_url(admin, "kassa_bench_1_0").unwrap(),
            "postgres://u:p@127.0.0.1:5432/kassa_bench_1_0?sslmode=disable"
        );
        assert_eq!(
            database_url("postgresql://h", "d").unwrap(),
            "postgresql://h/d"
        );
        assert!(database_url("host=h dbname=d", "d").is_err());
        assert_eq!(server_of(admin), "127.0.0.1:5432");
    }
}
