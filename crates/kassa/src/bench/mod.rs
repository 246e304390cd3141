//! `kassa bench`: Kassa's hot paths over loopback, each beside a baseline
//! measured in the same run: the same HTTP stack answering a JSON echo of the
//! same bodies. Prints requests per second, p50 and p99 latency and the ratio.
//!
//! Scenarios: `invoices` (invoice creation through the Checkout private API,
//! every answer durable) and `book` (`book_cabinet` over many cabinets with
//! requests concentrated on a few hot amounts, then a check that no amount
//! was ever held twice on a cabinet at once).
//!
//! `callbacks` (`bench/callbacks.rs`) has no baseline: the callback pipeline
//! drains a backlog owed at once to receivers answering in 0 ms, 50 ms and
//! 1 s, without and with one that never answers; it prints deliveries per
//! second beside each receiver's slot limit, the latency from owed to
//! delivered, and checks that every callback was delivered exactly once.
//!
//! With `--postgres`, they run on PostgreSQL instead, on `kassa serve`
//! processes (`bench/pg_nodes.rs`), `invoices` and `book` beside `pgbench`
//! running the same writes (`bench/postgres.rs`).

mod callbacks;
mod pg_nodes;
mod postgres;
mod receivers;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use kassa_domain::Currency;
use kassa_engine::merchants::{IssuedMerchant, NewMerchant};
use kassa_engine::p2p::{BookAnswer, NewCabinet};
use kassa_engine::Engine;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::{Config, Server};

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Seconds measured per target, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2)]
    pub warmup_secs: u64,
    /// Concurrent keep-alive connections; a comma-separated list measures
    /// each level in turn.
    #[arg(long, value_delimiter = ',', default_values_t = [64, 256])]
    pub connections: Vec<usize>,
    /// `invoices`, `book`, `callbacks`, or several (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("invoices"), String::from("book")])]
    pub scenarios: Vec<String>,
    /// Cabinets of the `book` scenario.
    #[arg(long, default_value_t = 1000)]
    pub cabinets: usize,
    /// Distinct amounts the `book` scenario's requests ask for.
    #[arg(long, default_value_t = 5)]
    pub hot_amounts: u64,
    /// Run the scenarios on PostgreSQL: the URL of a database on the server
    /// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`), through which
    /// the bench creates and drops databases of its own.
    #[arg(long)]
    pub postgres: Option<String>,
    /// With `--postgres`: how many `kassa serve` processes share the
    /// database; a comma-separated list measures each in turn.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    pub nodes: Vec<usize>,
    /// With `--postgres`: connections each node keeps to the database.
    #[arg(long, default_value_t = 16)]
    pub db_pool_size: usize,
    /// The `callbacks` scenario: callbacks owed to the receiver that answers
    /// at once; the slower ones are owed as many seconds' worth at their
    /// slot limit as this is at 10 000 a second.
    #[arg(long, default_value_t = 20_000)]
    pub callbacks: usize,
    /// The `callbacks` scenario: the percentage of callbacks owed to the
    /// receiver that never answers, in the run that has it.
    #[arg(long, default_value_t = 10)]
    pub dead_share: u32,
    /// Serve without metrics (`metrics = false`): what the request metrics
    /// and the rest cost, measured against a run with them.
    #[arg(long)]
    pub no_metrics: bool,
}

type BodyFn = Arc<dyn Fn(u64) -> Bytes + Send + Sync>;

#[derive(Clone)]
struct Target {
    /// Connections are spread over these round robin.
    addrs: Vec<std::net::SocketAddr>,
    path: &'static str,
    authorization: Option<String>,
    body: BodyFn,
    /// Statuses that count as answers; anything else is an error.
    accept: &'static [u16],
}

impl Target {
    /// The baseline: the same bodies to the JSON echo.
    fn echo(addr: std::net::SocketAddr, body: &BodyFn) -> Target {
        Target {
            addrs: vec![addr],
            path: "/echo",
            authorization: None,
            body: body.clone(),
            accept: &[201],
        }
    }
}

#[derive(Debug, Default)]
struct Report {
    /// Answers by status in the measured window.
    per_status: BTreeMap<u16, u64>,
    /// Accepted answers over the whole run, warm-up included.
    accepted_all: u64,
    errors: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Numbers the requests of the whole run, so that every idempotency key is new.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// `--no-metrics`: the SQLite servers of the run record no metrics.
static NO_METRICS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    NO_METRICS.store(args.no_metrics, Ordering::Relaxed);
    let levels_ok =
        !args.connections.is_empty() && args.connections.iter().all(|c| (1..=4096).contains(c));
    if !levels_ok || args.seconds == 0 || args.seconds > 3600 || args.warmup_secs > 600 {
        bail!("connections must be 1..=4096, seconds 1..=3600, warm-up at most 600");
    }
    if !(1..=100_000).contains(&args.cabinets) || !(1..=1000).contains(&args.hot_amounts) {
        bail!("cabinets must be 1..=100000 and hot amounts 1..=1000");
    }
    for s in &args.scenarios {
        if !["invoices", "book", "callbacks"].contains(&s.as_str()) {
            bail!("unknown scenario {s}: use invoices, book, callbacks");
        }
    }
    let store = match &args.postgres {
        Some(url) => postgres::check(&args, url)?,
        None => "SQLite (WAL, synchronous=FULL)".to_string(),
    };
    println!(
        "kassa bench: {} s measured after {} s warm-up per target and level, {} cores, {store}",
        args.seconds,
        args.warmup_secs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    // The baseline: the same router stack, parsing and writing the JSON back.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let echo_addr = listener.local_addr()?;
    let (_keep_serving, serving) = tokio::sync::watch::channel(false);
    let limits = crate::Config::default().http_limits();
    let echo = tokio::spawn(crate::serve::serve(
        listener,
        kassa_http::echo_router(),
        limits,
        serving,
    ));
    let mut failed = false;
    for scenario in &args.scenarios {
        let result = match (scenario.as_str(), &args.postgres) {
            ("callbacks", pg) => callbacks::run(&args, pg.as_deref()).await,
            ("invoices", None) => invoices(&args, echo_addr).await,
            ("invoices", Some(url)) => postgres::invoices(&args, url, echo_addr).await,
            (_, None) => book(&args, echo_addr).await,
            (_, Some(url)) => postgres::book(&args, url, echo_addr).await,
        };
        if let Err(e) = result {
            eprintln!("{scenario}: {e:#}");
            failed = true;
        }
    }
    echo.abort();
    if failed {
        bail!("a scenario failed");
    }
    Ok(())
}

/// A server on a fresh database in a directory of its own, and a merchant.
async fn fresh_server(
    name: &str,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<(Server, IssuedMerchant, std::path::PathBuf)> {
    let dir = std::env::temp_dir().join(format!("kassa-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut config = Config {
        database_url: format!("sqlite://{}", dir.join("kassa.sqlite").display()),
        log: "warn".into(),
        metrics: !NO_METRICS.load(Ordering::Relaxed),
        ..Config::default()
    };
    adjust(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(&config, None, listener).await?;
    let merchant = bench_merchant(&server.engine).await?;
    Ok((server, merchant, dir))
}

/// A merchant with the defaults: no callback URL, so no callback is owed.
async fn bench_merchant(engine: &Engine) -> anyhow::Result<IssuedMerchant> {
    engine
        .create_merchant(NewMerchant {
            name: "Bench".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn print_header() {
    println!(
        "{:>5}  {:<34} {:>9} {:>8} {:>8} {:>7}  answers",
        "conns", "target", "req/s", "p50 ms", "p99 ms", "errors"
    );
}

fn print_row(connections: usize, name: &str, r: &Report, extra: String) {
    println!(
        "{:>5}  {:<34} {:>9.0} {:>8.2} {:>8.2} {:>7}  {}",
        connections, name, r.per_sec, r.p50_ms, r.p99_ms, r.errors, extra
    );
}

fn print_rows(title: &str, rows: &[(usize, Report, Report)], extra: impl Fn(&Report) -> String) {
    println!();
    println!("{title}");
    print_header();
    for (connections, baseline, kassa) in rows {
        for (name, r) in [("baseline: JSON echo", baseline), ("kassa", kassa)] {
            print_row(*connections, name, r, extra(r));
        }
        println!(
            "{:>5}  ratio: {:.1}% of the baseline's requests per second",
            connections,
            100.0 * kassa.per_sec / baseline.per_sec.max(1.0)
        );
    }
}

fn statuses(r: &Report) -> String {
    r.per_status
        .iter()
        .map(|(s, n)| format!("{s}:{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The same body for both targets; only `reference_id` changes per request.
fn invoice_body() -> BodyFn {
    Arc::new(|n| {
        Bytes::from(format!(
            r#"{{"data":{{"type":"payment-invoices","attributes":{{"reference_id":"bench-{n}","amount":"100.50","currency":"USD","service":"payment_card_usd_hpp","description":"Benchmark order","metadata":{{"order":"{n}"}}}}}}}}"#
        ))
    })
}

/// Invoice `n` of [`invoice_body`] as the private API parses it, for the
/// engine to create directly.
fn private_api_invoice(n: u64) -> anyhow::Result<kassa_engine::NewInvoice> {
    let body: Value = serde_json::from_slice(&invoice_body()(n))?;
    let Some(attributes) = body.pointer("/data/attributes") else {
        bail!("the invoice body has no attributes");
    };
    let attributes = kassa_http::checkout::parse::json_body(&serde_json::to_vec(attributes)?)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut new = kassa_http::checkout::request::new_invoice(attributes, true)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    new.source = Some(kassa_domain::invoice::Source::PrivateApi);
    Ok(new)
}

/// The private API's Basic authorization of the merchant's test keys.
fn basic_auth(merchant: &IssuedMerchant) -> String {
    let basic = STANDARD.encode(format!(
        "{}:{}",
        merchant.test.private_key_id, merchant.test.private_key_secret
    ));
    format!("Basic {basic}")
}

/// Invoice creation through the private API; every 201 must be stored.
async fn invoices(args: &BenchArgs, echo_addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let (server, merchant, dir) = fresh_server("invoices", |_| {}).await?;
    let body = invoice_body();
    let mut rows = Vec::new();
    for &connections in &args.connections {
        let echo = Target::echo(echo_addr, &body);
        let kassa = Target {
            addrs: vec![server.addr],
            path: "/api/payment-invoices",
            authorization: Some(basic_auth(&merchant)),
            body: body.clone(),
            accept: &[201],
        };
        rows.push((
            connections,
            load(args, connections, echo).await?,
            load(args, connections, kassa).await?,
        ));
    }
    let stored = server
        .engine
        .count_invoices(merchant.merchant_id.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    print_rows(
        "invoices: create an invoice (Checkout private API, answered after its commit)",
        &rows,
        statuses,
    );
    let answered: u64 = rows.iter().map(|(_, _, k)| k.accepted_all).sum();
    println!("durability: {answered} invoices answered 201 (warm-ups included), {stored} stored");
    if rows.iter().any(|(_, b, k)| b.errors + k.errors > 0) || stored != answered {
        bail!("some requests failed, or answers and stored invoices differ");
    }
    Ok(())
}

/// Seeds `count` card cabinets in RUB over traders of 100 cabinets each.
async fn seed_cabinets(engine: &Arc<Engine>, count: usize) -> anyhow::Result<()> {
    let rub = Currency::from_code("RUB").expect("RUB");
    let mut trader = None;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        if i % 100 == 0 {
            let (t, _) = engine
                .create_trader(format!("Trader {}", i / 100))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            trader = Some(t.id);
        }
        let new = NewCabinet {
            trader_id: trader.clone().expect("made above"),
            method: "card".into(),
            currency: rub,
            bank_name: ["Sber", "Tinkoff", "Alfa", "VTB"][i % 4].into(),
            requisite: format!("2200{:012}", i),
            holder: format!("Holder {i}"),
            min_amount_minor: 100,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        };
        let engine = engine.clone();
        tasks.spawn(async move { engine.add_cabinet(new).await });
    }
    while let Some(r) = tasks.join_next().await {
        r?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// Holds of the `book` scenario last 2 s, so that amounts keep coming free
/// and being taken over.
const HOLD_TTL_SECS: i64 = 2;

/// Signed `book_cabinet` bodies, each with a new `request_id`, asking for one
/// of `hot` amounts.
fn book_body(merchant: &IssuedMerchant, hot: u64) -> BodyFn {
    let secret = merchant.h2h_secret.clone();
    let (merchant_id, site_id, site_login) = (
        merchant.merchant_id.clone(),
        merchant.site_id,
        merchant.site_login.clone(),
    );
    Arc::new(move |n| {
        let mut map = match json!({
            "request_id": format!("book-{n}"),
            "merchant_id": merchant_id,
            "site_id": site_id,
            "site_login": site_login,
            "method": "card",
            "currency": "RUB",
            "amount": 900_000 + 10_000 * (n % hot) as i64,
        }) {
            Value::Object(m) => m,
            _ => unreachable!("an object literal"),
        };
        let signature = kassa_http::h2h::sign(&secret, &map);
        map.insert("signature".into(), Value::String(signature));
        Bytes::from(serde_json::to_vec(&map).expect("JSON"))
    })
}

/// The distinct (cabinet, amount) slots among `answers`, and the double
/// holds: two answers for one slot whose lifetimes overlap.
fn count_double_holds(answers: &[BookAnswer]) -> (usize, usize) {
    let mut by_slot: HashMap<(&str, i64), Vec<(i64, i64)>> = HashMap::new();
    for a in answers {
        by_slot
            .entry((&a.cabinet_id, a.amount_minor))
            .or_default()
            .push((a.created_at_secs, a.expires_at_secs));
    }
    let mut double_holds = 0;
    for spans in by_slot.values_mut() {
        spans.sort_unstable();
        double_holds += spans.windows(2).filter(|w| w[1].0 < w[0].1).count();
    }
    (by_slot.len(), double_holds)
}

/// `book_cabinet` over many cabinets, requests on a few hot amounts.
async fn book(args: &BenchArgs, echo_addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let (server, merchant, dir) = fresh_server("book", |c| c.hold_ttl_secs = HOLD_TTL_SECS).await?;
    seed_cabinets(&server.engine, args.cabinets).await?;
    let body = book_body(&merchant, args.hot_amounts);
    let mut rows = Vec::new();
    for &connections in &args.connections {
        let echo = Target::echo(echo_addr, &body);
        let kassa = Target {
            addrs: vec![server.addr],
            path: "/api/book_cabinet",
            authorization: None,
            body: body.clone(),
            accept: &[200, 404],
        };
        rows.push((
            connections,
            load(args, connections, echo).await?,
            load(args, connections, kassa).await?,
        ));
    }
    let answers = server
        .engine
        .book_answers(merchant.merchant_id.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let (slots, double_holds) = count_double_holds(&answers);
    print_rows(
        &format!(
            "book: book_cabinet over {} cabinets, {} hot amounts, holds of {HOLD_TTL_SECS} s (200: held, 404: every amount taken)",
            args.cabinets, args.hot_amounts
        ),
        &rows,
        statuses,
    );
    println!(
        "holds: {} granted over {} (cabinet, amount) slots; double holds: {double_holds}",
        answers.len(),
        slots
    );
    if rows.iter().any(|(_, b, k)| b.errors + k.errors > 0) || double_holds > 0 {
        bail!("some requests failed, or an amount was held twice");
    }
    Ok(())
}

/// Drives `target` from a runtime of its own (so that the client does not
/// share the server's scheduler), with `connections` keep-alive connections.
async fn load(args: &BenchArgs, connections: usize, target: Target) -> anyhow::Result<Report> {
    let args = args.clone();
    tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
            .enable_all()
            .build()?;
        runtime.block_on(load_inner(args, connections, target))
    })
    .await?
}

async fn load_inner(args: BenchArgs, connections: usize, target: Target) -> anyhow::Result<Report> {
    let target = Arc::new(target);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_secs);
    let until = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..connections {
        let target = target.clone();
        let addr = target.addrs[i % target.addrs.len()];
        tasks.spawn(async move { connection(target, addr, measure_from, until).await });
    }
    let mut latencies_us: Vec<u32> = Vec::new();
    let mut report = Report::default();
    while let Some(joined) = tasks.join_next().await {
        let (lat, statuses, accepted_all) = joined?.context("connection")?;
        latencies_us.extend(lat);
        report.accepted_all += accepted_all;
        for (status, n) in statuses {
            if target.accept.contains(&status) {
                *report.per_status.entry(status).or_default() += n;
            } else {
                report.errors += n;
            }
        }
    }
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((latencies_us.len() as f64 * p) as usize).min(latencies_us.len() - 1);
        latencies_us[i] as f64 / 1000.0
    };
    report.per_sec = latencies_us.len() as f64 / args.seconds as f64;
    report.p50_ms = pct(0.50);
    report.p99_ms = pct(0.99);
    Ok(report)
}

/// One keep-alive connection sending requests back to back. Returns the
/// latencies of accepted answers and the count of each status, both from the
/// measured window only.
async fn connection(
    target: Arc<Target>,
    addr: std::net::SocketAddr,
    measure_from: Instant,
    until: Instant,
) -> anyhow::Result<(Vec<u32>, BTreeMap<u16, u64>, u64)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut accepted_all = 0;
    while Instant::now() < until {
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        let mut request = hyper::Request::post(target.path)
            .header("host", addr.to_string())
            .header("content-type", "application/json");
        if let Some(auth) = &target.authorization {
            request = request.header("authorization", auth);
        }
        let request = request.body(Full::new((target.body)(n)))?;
        let sent = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        let elapsed = sent.elapsed();
        if target.accept.contains(&status) {
            accepted_all += 1;
        }
        if sent >= measure_from {
            *statuses.entry(status).or_default() += 1;
            if target.accept.contains(&status) {
                latencies.push(elapsed.as_micros().min(u32::MAX as u128) as u32);
            }
        }
    }
    Ok((latencies, statuses, accepted_all))
}
