//! `kassa bench --postgres URL`: the scenarios on PostgreSQL. For each node
//! count a fresh database is made on the server and seeded from this process,
//! then served by that many `kassa serve` processes of this executable; the
//! load generator spreads its connections over them round robin.
//!
//! Beside the HTTP echo, each scenario measures the database's own limit in
//! the same run: `pgbench` running the statements of Kassa's write for one
//! request as one transaction, on as many connections as the nodes keep.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use kassa_engine::merchants::IssuedMerchant;
use kassa_engine::p2p::BookRequest;
use kassa_engine::Engine;

use super::pg_nodes::{
    database_url, master_key, nodes_label, open, psql, server_of, Database, Nodes, WorkDir,
};
use super::{
    basic_auth, bench_merchant, book_body, count_double_holds, invoice_body, load, print_header,
    print_row, private_api_invoice, seed_cabinets, statuses, BenchArgs, BodyFn, Report, Target,
    HOLD_TTL_SECS,
};

/// Kassa's write for one created invoice: BEGIN, the INSERT, COMMIT
/// (`insert_invoice` in the PostgreSQL store). The unique key settles
/// repeats, so the reference is looked up only after a conflict, and the
/// bench's merchant has no callback URL, so no callback row is written.
/// Keys are unique per transaction and grow with time, as Kassa's ids do.
const INVOICE_SCRIPT: &str = r"\set n :n + 1
\set key :n * 100000 + :client_id
BEGIN;
INSERT INTO invoices (id, merchant_id, test_mode, reference_id, status, is_open, expires_at, test_pending, doc)
    VALUES ('cpi_' || lpad(:key, 16, '0'), :merchant, :test_mode, 'bench-' || :key, :status, :is_open, :expires_at, :test_pending, :doc)
    ON CONFLICT DO NOTHING;
COMMIT;
";

/// Kassa's write for one `book_cabinet` that takes its first candidate: the
/// answer kept for the request id looked up, the currency's amount rule, the
/// open deals per cabinet (to prefer the least busy), the slot upsert and
/// the answer kept. Amounts are spread over a million values so that the
/// upsert nearly always finds its slot free.
const BOOK_SCRIPT: &str = r"\set n :n + 1
\set key :n * 100000 + :client_id
\set cabinet random(1, :cabinets)
\set amount 100 * random(1, 1000000)
BEGIN;
SELECT doc FROM hold_requests WHERE merchant_id = :merchant AND request_id = 'book-' || :key;
SELECT doc FROM settings WHERE key = :rule_key;
SELECT cabinet_id, COUNT(*) FROM deals WHERE is_open GROUP BY cabinet_id;
INSERT INTO slots (cabinet_id, amount_minor, hold_id, merchant_id, expires_at, deal_id, doc)
    VALUES ('cab_' || lpad(:cabinet, 16, '0'), :amount, 'hold_' || lpad(:key, 16, '0'), :merchant, :expires_at, NULL, :slot_doc)
    ON CONFLICT (cabinet_id, amount_minor) DO UPDATE SET
        hold_id = excluded.hold_id, merchant_id = excluded.merchant_id,
        expires_at = excluded.expires_at, deal_id = NULL, doc = excluded.doc
    WHERE slots.deal_id IS NULL AND slots.expires_at <= :now;
INSERT INTO hold_requests (merchant_id, request_id, doc) VALUES (:merchant, 'book-' || :key, :answer_doc)
    ON CONFLICT DO NOTHING;
COMMIT;
";

/// Checks the PostgreSQL options and the tools the run needs, and describes
/// the setup for the report's first line.
pub(super) fn check(args: &BenchArgs, admin: &str) -> anyhow::Result<String> {
    database_url(admin, "kassa_bench")?;
    if args.nodes.is_empty() || args.nodes.iter().any(|n| !(1..=16).contains(n)) {
        bail!("nodes must be 1..=16");
    }
    if !(1..=1024).contains(&args.db_pool_size) {
        bail!("db pool size must be 1..=1024");
    }
    let max: usize = psql(admin, "SHOW max_connections")?
        .parse()
        .context("max_connections")?;
    let most = args.nodes.iter().max().expect("checked") * args.db_pool_size;
    // A few connections stay free for psql and the server's own reserve.
    if most + 5 > max {
        bail!("{most} connections for the nodes, but the server allows {max} (max_connections): lower --db-pool-size");
    }
    Command::new("pgbench")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .context("pgbench, needed with --postgres")?;
    Ok(format!(
        "PostgreSQL at {}, {} connections per node (max_connections {max})",
        server_of(admin),
        args.db_pool_size
    ))
}

/// Invoice creation on PostgreSQL; every 201 must be stored.
pub(super) async fn invoices(
    args: &BenchArgs,
    admin: &str,
    echo_addr: SocketAddr,
) -> anyhow::Result<()> {
    let work = WorkDir::create("invoices")?;
    let key = master_key();
    let script = work.0.join("invoice.sql");
    std::fs::write(&script, INVOICE_SCRIPT)?;
    let mut limits = Vec::new();
    for &nodes in &args.nodes {
        let db = Database::create(admin)?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let merchant = bench_merchant(&engine).await?;
        sample_invoice(&engine, &merchant).await?;
        drop(engine);
        // The columns and document of the invoice Kassa stored, for rows of
        // the same size.
        let row = psql(
            &db.url,
            "SELECT test_mode || ',' || status || ',' || is_open || ',' || expires_at || ',' || test_pending FROM invoices",
        )?;
        let [test_mode, status, is_open, expires_at, test_pending] = row
            .split(',')
            .collect::<Vec<_>>()
            .try_into()
            .map_err(|_| anyhow::anyhow!("the sample invoice's columns: {row}"))?;
        let vars = [
            ("merchant", merchant.merchant_id.clone()),
            ("test_mode", test_mode.into()),
            ("status", status.into()),
            ("is_open", is_open.into()),
            ("expires_at", expires_at.into()),
            ("test_pending", test_pending.into()),
            ("doc", psql(&db.url, "SELECT doc FROM invoices")?),
        ];
        limits.push(pgbench(args, &db, &script, nodes, &vars).await?);
    }
    let body = invoice_body();
    let echo = echo_reports(args, echo_addr, &body).await?;
    let mut runs = Vec::new();
    let mut durable = true;
    for &nodes in &args.nodes {
        let db = Database::create(admin)?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let merchant = bench_merchant(&engine).await?;
        drop(engine);
        let target = Target {
            addrs: Vec::new(),
            path: "/api/payment-invoices",
            authorization: Some(basic_auth(&merchant)),
            body: body.clone(),
            accept: &[201],
        };
        let reports = measure(args, &db, &key, nodes, &[], &work.0, target).await?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let stored = engine
            .count_invoices(merchant.merchant_id.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(engine);
        let answered: u64 = reports.iter().map(|r| r.accepted_all).sum();
        durable &= answered == stored;
        runs.push(Run {
            nodes,
            reports,
            check: format!("{answered} invoices answered 201 (warm-ups included), {stored} stored"),
        });
    }
    print_results(
        "invoices on PostgreSQL: create an invoice (Checkout private API, answered after its commit)",
        args,
        &limits,
        &echo,
        &runs,
    );
    if failed(&echo, &runs) || !durable {
        bail!("some requests failed, or answers and stored invoices differ");
    }
    Ok(())
}

/// `book_cabinet` on PostgreSQL: no amount may be held twice on a cabinet at
/// once, whichever node answered.
pub(super) async fn book(
    args: &BenchArgs,
    admin: &str,
    echo_addr: SocketAddr,
) -> anyhow::Result<()> {
    let work = WorkDir::create("book")?;
    let key = master_key();
    let script = work.0.join("book.sql");
    std::fs::write(&script, BOOK_SCRIPT)?;
    let mut limits = Vec::new();
    // The echo's bodies are signed for one of these merchants: there only
    // their size matters.
    let mut echo_body = None;
    for &nodes in &args.nodes {
        let db = Database::create(admin)?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let merchant = bench_merchant(&engine).await?;
        echo_body = Some(book_body(&merchant, args.hot_amounts));
        seed_cabinets(&engine, 1).await?;
        sample_hold(&engine, &merchant).await?;
        drop(engine);
        let now = chrono::Utc::now().timestamp();
        let vars = [
            ("merchant", merchant.merchant_id.clone()),
            ("cabinets", args.cabinets.to_string()),
            // Bound, as Kassa binds it (and pgbench would read a variable in
            // a literal's colon).
            ("rule_key", "amount_rule:RUB".to_string()),
            ("now", now.to_string()),
            ("expires_at", (now + HOLD_TTL_SECS).to_string()),
            ("slot_doc", psql(&db.url, "SELECT doc FROM slots")?),
            (
                "answer_doc",
                psql(&db.url, "SELECT doc FROM hold_requests")?,
            ),
        ];
        limits.push(pgbench(args, &db, &script, nodes, &vars).await?);
    }
    let echo_body = echo_body.expect("at least one node count");
    let echo = echo_reports(args, echo_addr, &echo_body).await?;
    let mut runs = Vec::new();
    let mut doubles = 0;
    for &nodes in &args.nodes {
        let db = Database::create(admin)?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let merchant = bench_merchant(&engine).await?;
        seed_cabinets(&engine, args.cabinets).await?;
        drop(engine);
        let target = Target {
            addrs: Vec::new(),
            path: "/api/book_cabinet",
            authorization: None,
            body: book_body(&merchant, args.hot_amounts),
            accept: &[200, 404],
        };
        let ttl = [("KASSA_HOLD_TTL_SECS", HOLD_TTL_SECS.to_string())];
        let reports = measure(args, &db, &key, nodes, &ttl, &work.0, target).await?;
        let engine = open(&db, &key, args.db_pool_size).await?;
        let answers = engine
            .book_answers(merchant.merchant_id.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(engine);
        let (slots, double_holds) = count_double_holds(&answers);
        doubles += double_holds;
        runs.push(Run {
            nodes,
            reports,
            check: format!(
                "{} holds granted over {slots} (cabinet, amount) slots; double holds: {double_holds}",
                answers.len()
            ),
        });
    }
    print_results(
        &format!(
            "book on PostgreSQL: book_cabinet over {} cabinets, {} hot amounts, holds of {HOLD_TTL_SECS} s (200: held, 404: every amount taken)",
            args.cabinets, args.hot_amounts
        ),
        args,
        &limits,
        &echo,
        &runs,
    );
    if failed(&echo, &runs) || doubles > 0 {
        bail!("some requests failed, or an amount was held twice");
    }
    Ok(())
}

/// One invoice made as a request makes it, so that the database holds the
/// row Kassa writes.
async fn sample_invoice(engine: &Engine, merchant: &IssuedMerchant) -> anyhow::Result<()> {
    let new = private_api_invoice(0)?;
    let owner = engine
        .merchant(merchant.merchant_id.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    engine
        .create_invoice(owner, new.test_mode, new)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// One hold taken as a request takes it, so that the database holds the
/// slot and the answer Kassa writes.
async fn sample_hold(engine: &Engine, merchant: &IssuedMerchant) -> anyhow::Result<()> {
    let owner = engine
        .merchant(merchant.merchant_id.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = BookRequest {
        request_id: "book-0".into(),
        method: "card".into(),
        currency: "RUB".into(),
        amount_minor: 900_000,
        bank_name: None,
    };
    engine
        .book_cabinet(&owner, request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// The database's limit at one node count's connections.
struct Limit {
    nodes: usize,
    clients: usize,
    tps: f64,
    latency_ms: Option<f64>,
}

/// Runs `script` under pgbench for the measured seconds on as many
/// connections as `nodes` nodes keep, statements prepared once per
/// connection as Kassa's are.
async fn pgbench(
    args: &BenchArgs,
    db: &Database,
    script: &Path,
    nodes: usize,
    vars: &[(&str, String)],
) -> anyhow::Result<Limit> {
    let clients = nodes * args.db_pool_size;
    let mut command = tokio::process::Command::new("pgbench");
    command
        .args(["-n", "-M", "prepared", "-f"])
        .arg(script)
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-T", &args.seconds.to_string()])
        // Each client numbers its transactions from here.
        .args(["-D", "n=0"]);
    for (name, value) in vars {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let out = command
        .arg(&db.url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let figure = |prefix: &str, suffix: &str| -> Option<f64> {
        stdout.lines().find_map(|line| {
            line.strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .trim()
                .parse()
                .ok()
        })
    };
    let tps = figure("tps = ", "(without initial connection time)")
        .with_context(|| format!("no tps in pgbench's output:\n{stdout}"))?;
    Ok(Limit {
        nodes,
        clients,
        tps,
        latency_ms: figure("latency average = ", "ms"),
    })
}

/// The echo at every connection level.
async fn echo_reports(
    args: &BenchArgs,
    echo_addr: SocketAddr,
    body: &BodyFn,
) -> anyhow::Result<Vec<Report>> {
    let mut reports = Vec::new();
    for &connections in &args.connections {
        let echo = Target::echo(echo_addr, body);
        reports.push(load(args, connections, echo).await?);
    }
    Ok(reports)
}

/// `nodes` nodes on `db`, loaded at every connection level in turn, then
/// stopped.
async fn measure(
    args: &BenchArgs,
    db: &Database,
    key: &str,
    nodes: usize,
    env: &[(&str, String)],
    dir: &Path,
    target: Target,
) -> anyhow::Result<Vec<Report>> {
    let nodes = Nodes::start(nodes, db, key, args.db_pool_size, env, dir).await?;
    let mut reports = Vec::new();
    for &connections in &args.connections {
        let target = Target {
            addrs: nodes.addrs.clone(),
            ..target.clone()
        };
        reports.push(load(args, connections, target).await?);
    }
    Ok(reports)
}

/// Kassa's figures at one node count, one report per connection level.
struct Run {
    nodes: usize,
    reports: Vec<Report>,
    /// What the database holds afterwards, checked.
    check: String,
}

fn failed(echo: &[Report], runs: &[Run]) -> bool {
    echo.iter()
        .chain(runs.iter().flat_map(|r| &r.reports))
        .any(|r| r.errors > 0)
}

fn print_results(title: &str, args: &BenchArgs, limits: &[Limit], echo: &[Report], runs: &[Run]) {
    println!();
    println!("{title}");
    println!(
        "database limit: pgbench, the write's statements as one transaction per request, {} s:",
        args.seconds
    );
    for l in limits {
        let latency = l
            .latency_ms
            .map_or(String::new(), |ms| format!(", latency average {ms:.2} ms"));
        println!(
            "  {} clients ({} of {}): {:.0} tps{latency}",
            l.clients,
            nodes_label(l.nodes),
            args.db_pool_size,
            l.tps
        );
    }
    print_header();
    for (level, &connections) in args.connections.iter().enumerate() {
        print_row(
            connections,
            "baseline: JSON echo",
            &echo[level],
            statuses(&echo[level]),
        );
        for run in runs {
            let r = &run.reports[level];
            print_row(
                connections,
                &format!("kassa, {}", nodes_label(run.nodes)),
                r,
                statuses(r),
            );
        }
        for run in runs {
            let r = &run.reports[level];
            let limit = limits.iter().find(|l| l.nodes == run.nodes);
            let of_limit = limit.map_or(String::new(), |l| {
                format!(
                    ", {:.1}% of pgbench at {} clients",
                    100.0 * r.per_sec / l.tps.max(1.0),
                    l.clients
                )
            });
            println!(
                "{:>5}  ratio, {}: {:.1}% of the echo{of_limit}",
                connections,
                nodes_label(run.nodes),
                100.0 * r.per_sec / echo[level].per_sec.max(1.0),
            );
        }
    }
    for run in runs {
        println!("{}: {}", nodes_label(run.nodes), run.check);
    }
}
