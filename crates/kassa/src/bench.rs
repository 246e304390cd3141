//! `kassa bench`: invoice creation through the private API over loopback,
//! beside a baseline measured in the same run: the same HTTP stack answering
//! a JSON echo of the same body. Prints requests per second, p50 and p99
//! latency, and the ratio of the two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use kassa_engine::merchants::NewMerchant;
use kassa_engine::SystemClock;
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
}

struct Target {
    addr: std::net::SocketAddr,
    path: &'static str,
    authorization: Option<String>,
    /// Status every answer must have.
    expect: u16,
}

#[derive(Debug)]
struct Report {
    requests: u64,
    errors: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// The same body for both targets; only `reference_id` changes per request.
fn body(n: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"data":{{"type":"payment-invoices","attributes":{{"reference_id":"bench-{n}","amount":"100.50","currency":"USD","service":"payment_card_usd_hpp","description":"Benchmark order","metadata":{{"order":"{n}"}}}}}}}}"#
    ))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let levels_ok =
        !args.connections.is_empty() && args.connections.iter().all(|c| (1..=4096).contains(c));
    if !levels_ok || args.seconds == 0 || args.seconds > 3600 || args.warmup_secs > 600 {
        bail!("connections must be 1..=4096, seconds 1..=3600, warm-up at most 600");
    }
    let dir = tempfile_dir()?;
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("kassa.sqlite").display()),
        log: "warn".into(),
        ..Config::default()
    };
    println!(
        "kassa bench: {} s measured after {} s warm-up per target and level, {} cores, SQLite in {} (WAL, synchronous=FULL)",
        args.seconds,
        args.warmup_secs,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        dir.display()
    );

    // The baseline: the same router stack, parsing and writing the JSON back.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let echo_addr = listener.local_addr()?;
    let echo = tokio::spawn(async move { axum::serve(listener, kassa_http::echo_router()).await });

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(&config, Arc::new(SystemClock), listener).await?;
    let merchant = server
        .engine
        .create_merchant(NewMerchant {
            name: "Bench".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let basic = STANDARD.encode(format!(
        "{}:{}",
        merchant.test.private_key_id, merchant.test.private_key_secret
    ));

    let mut rows = Vec::new();
    let mut answered = 0;
    for &connections in &args.connections {
        let baseline = load(
            &args,
            connections,
            Target {
                addr: echo_addr,
                path: "/echo",
                authorization: None,
                expect: 201,
            },
        )
        .await?;
        let kassa = load(
            &args,
            connections,
            Target {
                addr: server.addr,
                path: "/api/payment-invoices",
                authorization: Some(format!("Basic {basic}")),
                expect: 201,
            },
        )
        .await?;
        answered += kassa.requests;
        rows.push((connections, baseline, kassa));
    }

    let stored = server
        .engine
        .count_invoices(merchant.merchant_id.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    server.shutdown().await;
    echo.abort();
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!(
        "{:>5}  {:<36} {:>9} {:>8} {:>8} {:>7}",
        "conns", "target", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut failed = false;
    for (connections, baseline, kassa) in &rows {
        for (name, r) in [
            ("baseline: JSON echo", baseline),
            ("kassa: create invoice (private API)", kassa),
        ] {
            println!(
                "{:>5}  {:<36} {:>9.0} {:>8.2} {:>8.2} {:>7}",
                connections, name, r.per_sec, r.p50_ms, r.p99_ms, r.errors
            );
            failed |= r.errors > 0;
        }
        println!(
            "{:>5}  ratio: invoice creation at {:.1}% of the baseline's requests per second",
            connections,
            100.0 * kassa.per_sec / baseline.per_sec.max(1.0)
        );
    }
    println!();
    println!("durability: {answered} invoices answered 201 (warm-ups included), {stored} stored");
    if failed || answered != stored {
        bail!("some requests failed, or answers and stored invoices differ");
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("kassa-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
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

/// Numbers the requests of the whole run, so that every `reference_id` is new.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

async fn load_inner(args: BenchArgs, connections: usize, target: Target) -> anyhow::Result<Report> {
    let target = Arc::new(target);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_secs);
    let until = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let target = target.clone();
        tasks.spawn(async move { connection(target, measure_from, until).await });
    }
    let mut latencies_us: Vec<u32> = Vec::new();
    let (mut errors, mut total) = (0u64, 0u64);
    while let Some(joined) = tasks.join_next().await {
        let (lat, errs, all) = joined?.context("connection")?;
        latencies_us.extend(lat);
        errors += errs;
        total += all;
    }
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((latencies_us.len() as f64 * p) as usize).min(latencies_us.len() - 1);
        latencies_us[i] as f64 / 1000.0
    };
    Ok(Report {
        requests: total,
        errors,
        per_sec: latencies_us.len() as f64 / args.seconds as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

/// One keep-alive connection sending requests back to back. Returns the
/// latencies measured after `measure_from`, the errors, and all successes.
async fn connection(
    target: Arc<Target>,
    measure_from: Instant,
    until: Instant,
) -> anyhow::Result<(Vec<u32>, u64, u64)> {
    let stream = TcpStream::connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let (mut errors, mut ok) = (0u64, 0u64);
    while Instant::now() < until {
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        let mut request = hyper::Request::post(target.path)
            .header("host", target.addr.to_string())
            .header("content-type", "application/json");
        if let Some(auth) = &target.authorization {
            request = request.header("authorization", auth);
        }
        let request = request.body(Full::new(body(n)))?;
        let sent = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        let elapsed = sent.elapsed();
        if status == target.expect {
            ok += 1;
            if sent >= measure_from {
                latencies.push(elapsed.as_micros().min(u32::MAX as u128) as u32);
            }
        } else {
            errors += 1;
        }
    }
    Ok((latencies, errors, ok))
}
