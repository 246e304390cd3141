//! Running the real `kassa` binary as a process on a test database, shared by
//! the tests of its operator commands (`cli.rs`, `p2p_cli.rs`, `reports.rs`):
//! a SQLite file in a temporary directory or, when the suite runs on
//! PostgreSQL (`KASSA_TEST_BACKEND=postgres`), a database of the test's own.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

use crate::common::{self, PgDatabase, TestApp};

pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A database the binary runs on, and the directory it runs in.
pub struct TestDb {
    /// The processes' working directory, so that no `kassa.toml` of the
    /// checkout is picked up; on SQLite it also holds the database file.
    pub dir: tempfile::TempDir,
    pub url: String,
    /// `None` on SQLite: the key is then `master.key` beside the file, made by
    /// whichever process opens the database first.
    pub master_key: Option<String>,
    /// The PostgreSQL database, dropped with this handle when it made it.
    pub pg: Option<PgDatabase>,
}

/// A new, empty database on the backend of this run.
pub fn fresh_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let pg = common::on_postgres().then(PgDatabase::create);
    let (url, master_key) = match &pg {
        Some(db) => (db.url.clone(), Some(common::random_master_key())),
        None => (
            format!("sqlite://{}", dir.path().join("kassa.sqlite").display()),
            None,
        ),
    };
    TestDb {
        dir,
        url,
        master_key,
        pg,
    }
}

impl TestDb {
    /// The database of a running test server (which keeps it alive).
    pub fn of(app: &TestApp) -> TestDb {
        TestDb {
            dir: tempfile::tempdir().unwrap(),
            url: app.config.database_url.clone(),
            master_key: app.config.master_key.clone(),
            pg: None,
        }
    }

    /// The SQLite file, when the database is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    /// Settings for a server or engine in the test's process on this database.
    pub fn config(&self) -> kassa::Config {
        kassa::Config {
            database_url: self.url.clone(),
            master_key: self.master_key.clone(),
            ..common::test_config(self.dir.path())
        }
    }

    /// Runs `kassa args...` on this database with nothing else configured.
    pub async fn kassa(&self, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::from(common::kassa_command(
            &self.url,
            self.master_key.as_deref(),
        ));
        let output = command
            .args(args)
            .current_dir(self.dir.path())
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
    pub async fn kassa_ok(&self, args: &[&str]) -> String {
        let run = self.kassa(args).await;
        assert!(
            run.success,
            "kassa {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run.stdout
    }

    /// Runs a command that must succeed and print a single JSON value.
    pub async fn json_ok(&self, args: &[&str]) -> Value {
        let stdout = self.kassa_ok(args).await;
        serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("kassa {args:?} printed no single JSON value ({e}):\n{stdout}")
        })
    }

    /// Everything stored, to search for secrets kept in clear: on SQLite every
    /// byte of the file, its WAL, shared memory and journal; on PostgreSQL
    /// every column of every table, cast to text, one value a line.
    pub fn contents(&self) -> Vec<u8> {
        let bytes = match self.sqlite_path() {
            Some(path) => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    if let Ok(b) = std::fs::read(format!("{}{suffix}", path.display())) {
                        bytes.extend_from_slice(&b);
                    }
                }
                bytes
            }
            None => postgres_values(self.url.clone()).into_bytes(),
        };
        assert!(!bytes.is_empty(), "nothing stored in {}", self.url);
        bytes
    }

    /// Whether `needle` is anywhere in the stored data.
    pub fn contains(&self, needle: &str) -> bool {
        contains(&self.contents(), needle)
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every non-null value of every column of every table in the database at
/// `url`, as text.
fn postgres_values(url: String) -> String {
    // The synchronous client runs a runtime of its own: off the test's.
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let columns = client
            .query(
                "SELECT quote_ident(c.table_name), quote_ident(c.column_name)
                 FROM information_schema.columns c
                 JOIN information_schema.tables t USING (table_schema, table_name)
                 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'",
                &[],
            )
            .expect("list the columns");
        let mut values = String::new();
        for column in columns {
            let (table, name): (String, String) = (column.get(0), column.get(1));
            let sql = format!("SELECT {name}::text FROM {table} WHERE {name} IS NOT NULL");
            for row in client.query(sql.as_str(), &[]).expect("read a column") {
                values.push_str(row.get::<_, &str>(0));
                values.push('\n');
            }
        }
        values
    })
    .join()
    .expect("dump thread")
}
