//! Running the real `kassa` binary as a process on a test database, shared by
//! the tests of its operator commands (`cli.rs`, `p2p_cli.rs`, `reports.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `kassa args...` on the database `db` (the master key is read from
/// `master.key` beside it), from the database's directory so that no
/// `kassa.toml` of the checkout is picked up.
pub async fn kassa(db: &Path, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_kassa"));
    for (name, _) in std::env::vars() {
        if name.starts_with("KASSA_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(args)
        .current_dir(db.parent().expect("the database is in a directory"))
        .env("KASSA_DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("KASSA_LOG", "warn")
        .output()
        .await
        .expect("kassa runs");
    Run {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs a command that must succeed; returns its standard output.
pub async fn kassa_ok(db: &Path, args: &[&str]) -> String {
    let run = kassa(db, args).await;
    assert!(
        run.success,
        "kassa {args:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

/// Runs a command that must succeed and print a single JSON value.
pub async fn json_ok(db: &Path, args: &[&str]) -> Value {
    let stdout = kassa_ok(db, args).await;
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("kassa {args:?} printed no single JSON value ({e}):\n{stdout}"))
}

/// A path for a new database in a fresh temporary directory.
pub fn fresh_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kassa.sqlite");
    (dir, db)
}
