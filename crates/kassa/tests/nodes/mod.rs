//! Several `kassa serve` processes on one database, for the tests of what
//! must hold across nodes.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// `kassa serve` processes, killed when dropped.
pub struct Servers(pub Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `kassa serve` process on the database of `config` (a SQLite file, or
/// PostgreSQL with the shared master key).
pub fn spawn_server(
    config: &kassa::Config,
    dir: &Path,
    port: u16,
    log: &Path,
    env: &[(&str, &str)],
) -> Child {
    let mut command =
        crate::common::kassa_command(&config.database_url, config.master_key.as_deref());
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .arg("serve")
        .current_dir(dir)
        .env("KASSA_LISTEN", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("kassa serve starts")
}

pub async fn wait_healthy(http: &reqwest::Client, base: &str, log: &Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} did not come up:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
