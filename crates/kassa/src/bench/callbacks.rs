//! `kassa bench --scenarios callbacks`: the callback pipeline draining a
//! backlog owed all at once, to four receivers on loopback (`receivers.rs`):
//! one answering at once, one after 50 ms, one after 1 s, and one that never
//! answers (its attempts time out after `callback_timeout_ms`).
//!
//! What is measured is the pipeline, not invoice creation. An engine of the
//! bench's own, with no workers, creates the invoices (one merchant per
//! receiver, its `callback_url` the receiver's), each owing one callback,
//! and puts every callback off by a day. Then the delivering server starts
//! (in process on SQLite; `kassa serve` processes with `--postgres`) with
//! nothing due. One transaction makes every callback due again; its commit
//! is the moment they are all owed, and each delivery's latency runs from
//! there to the receiver's answer. One invoice created through the API on
//! each node wakes its pipeline, as any change a node makes does (those few
//! callbacks go to the 0 ms receiver and are counted with its own).
//!
//! Each healthy receiver is owed what takes `--callbacks` ÷ 10 000 seconds
//! at its limit: the 0 ms one `--callbacks` (the target is 10 000 a second),
//! the others their per-host slots ÷ latency times as many seconds. Each
//! setup runs twice, without and with the receiver that never answers, which
//! takes `--dead-share` percent of the callbacks, interleaved with the
//! others in the order they are owed. A run ends when the healthy receivers
//! have everything and the store has recorded it; the dead receiver's
//! attempts are not waited for. Then the count check: every healthy
//! callback was answered exactly once per attempt recorded, and delivered
//! once; none to the dead receiver is recorded as delivered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use kassa_domain::{Callback, CallbackAttempt, CallbackState};
use kassa_engine::merchants::{IssuedMerchant, NewMerchant};
use kassa_engine::Engine;
use kassa_store::StoreError;
use tokio::net::{TcpListener, TcpStream};

use super::pg_nodes::{master_key, nodes_label, open, Database, Nodes, WorkDir};
use super::receivers::{Receiver, Receivers, DEAD};
use super::{basic_auth, invoice_body, private_api_invoice, BenchArgs};
use crate::{Config, Server};

/// The 0 ms receiver's target, deliveries a second.
const TARGET_PER_SEC: usize = 10_000;
/// How far off the seeded callbacks are put until the run begins.
const PUT_OFF_SECS: i64 = 24 * 3600;
/// Invoices created at once while seeding.
const SEEDING: usize = 128;
/// How long the healthy receivers may take to get everything.
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

/// Numbers the runs, for their SQLite directories.
static RUNS: AtomicUsize = AtomicUsize::new(0);

/// Where a run's store is, and who delivers.
#[derive(Clone, Copy)]
enum Setup<'a> {
    Sqlite,
    Postgres { admin: &'a str, nodes: usize },
}

impl Setup<'_> {
    fn nodes(&self) -> usize {
        match self {
            Setup::Sqlite => 1,
            Setup::Postgres { nodes, .. } => *nodes,
        }
    }
}

/// One receiver's figures in one run.
struct Figures {
    name: &'static str,
    latency: Option<Duration>,
    owed: usize,
    /// Healthy: answered; dead: attempts that reached it.
    seen: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Outcome {
    figures: Vec<Figures>,
    /// What the count check found wrong; empty when every count matched.
    faults: Vec<String>,
    check: String,
    /// Seconds taken to create the invoices and put their callbacks off.
    seeded_secs: f64,
}

pub(super) async fn run(args: &BenchArgs, postgres: Option<&str>) -> anyhow::Result<()> {
    if !(100..=1_000_000).contains(&args.callbacks) || args.dead_share >= 100 {
        bail!("callbacks must be 100..=1000000, dead share below 100 (percent)");
    }
    let setups: Vec<Setup> = match postgres {
        None => vec![Setup::Sqlite],
        Some(admin) => args
            .nodes
            .iter()
            .map(|&nodes| Setup::Postgres { admin, nodes })
            .collect(),
    };
    let mut failed = false;
    for setup in setups {
        let alone = run_once(args, setup, false).await?;
        let with_dead = run_once(args, setup, true).await?;
        failed |= !alone.faults.is_empty() || !with_dead.faults.is_empty();
        print_setup(args, setup, &alone, &with_dead);
    }
    if failed {
        bail!("the count check failed");
    }
    Ok(())
}

/// Callbacks owed to each receiver, in the order of [`Receivers::list`].
fn owed_counts(args: &BenchArgs, receivers: &[Receiver]) -> Vec<usize> {
    let per_host = Config::default().callback_per_host;
    let mut counts: Vec<usize> = receivers
        .iter()
        .filter_map(|r| r.latency)
        .map(|latency| {
            if latency.is_zero() {
                return args.callbacks;
            }
            let limit = per_host as f64 / latency.as_secs_f64();
            ((args.callbacks as f64 * limit / TARGET_PER_SEC as f64).round() as usize).max(1)
        })
        .collect();
    if receivers.iter().any(|r| r.latency.is_none()) {
        let healthy: usize = counts.iter().sum();
        let share = args.dead_share as usize;
        counts.push((healthy * share).div_ceil(100 - share));
    }
    counts
}

/// Receiver indices in the order their invoices are created: each spread
/// evenly over the whole sequence.
fn interleaved(counts: &[usize]) -> Vec<usize> {
    let mut order: Vec<(f64, usize)> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| (0..n).map(move |k| ((k as f64 + 0.5) / n as f64, i)))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

async fn run_once(args: &BenchArgs, setup: Setup<'_>, with_dead: bool) -> anyhow::Result<Outcome> {
    let receivers = Receivers::start(with_dead)?;
    let counts = owed_counts(args, &receivers.list);
    let total: usize = counts.iter().sum();
    let work = WorkDir::create(&format!(
        "callbacks-{}",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ))?;
    let key = master_key();
    let (seeder, db, config) = match setup {
        Setup::Sqlite => {
            let config = Config {
                database_url: format!("sqlite://{}", work.0.join("kassa.sqlite").display()),
                log: "warn".into(),
                allow_private_callback_urls: true,
                ..Config::default()
            };
            let engine = crate::open_engine(&config, None, "http://127.0.0.1".into()).await?;
            (engine, None, Some(config))
        }
        Setup::Postgres { admin, .. } => {
            let db = Database::create(admin)?;
            let engine = open(&db, &key, args.db_pool_size).await?;
            (engine, Some(db), None)
        }
    };
    let seeding = Instant::now();
    let (merchants, invoices) = seed(&seeder, &receivers.list, &counts).await?;
    let put_off = put_all_off(&seeder, total).await?;
    if put_off != total {
        bail!("{total} callbacks owed, {put_off} found to put off");
    }
    let seeded_secs = seeding.elapsed().as_secs_f64();
    // The delivering side, with nothing due yet.
    let (server, nodes, engine) = match (setup, &db, config) {
        (Setup::Sqlite, _, Some(config)) => {
            drop(seeder);
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let server = Server::start(&config, None, listener).await?;
            let engine = server.engine.clone();
            (Some(server), None, engine)
        }
        (Setup::Postgres { nodes, .. }, Some(db), _) => {
            let private = [("KASSA_ALLOW_PRIVATE_CALLBACK_URLS", "true".to_string())];
            let nodes = Nodes::start(nodes, db, &key, args.db_pool_size, &private, &work.0).await?;
            (None, Some(nodes), seeder)
        }
        _ => unreachable!("a store for each setup"),
    };
    let addrs: Vec<SocketAddr> = match (&server, &nodes) {
        (Some(server), _) => vec![server.addr],
        (_, Some(nodes)) => nodes.addrs.clone(),
        _ => unreachable!("a server or nodes"),
    };
    let released = release(&engine, total).await?;
    let t0 = Instant::now();
    if released != total {
        bail!("{total} callbacks put off, {released} made due");
    }
    // Waking each node: an invoice created there, owing a callback to the
    // 0 ms receiver.
    let auth = basic_auth(&merchants[0]);
    let mut wakers = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        wakers.push(create_invoice(*addr, &auth, (total + i) as u64).await?);
    }
    let mut expected = counts.clone();
    expected[0] += wakers.len();
    let healthy: Vec<usize> = (0..receivers.list.len())
        .filter(|&i| receivers.list[i].latency.is_some())
        .collect();
    let deadline = t0 + DRAIN_DEADLINE;
    while healthy
        .iter()
        .any(|&i| receivers.list[i].seen() < expected[i])
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every healthy callback's attempt recorded: only the dead one's owed.
    let dead_owed = (counts.len() > healthy.len()).then(|| counts[healthy.len()]);
    let store_deadline = Instant::now() + Duration::from_secs(15);
    while owed(&engine).await? > dead_owed.unwrap_or(0) as u64 && Instant::now() < store_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records: Vec<Vec<(String, Instant)>> =
        receivers.list.iter().map(Receiver::records).collect();
    let kinds: Vec<(&'static str, Option<Duration>)> =
        receivers.list.iter().map(|r| (r.name, r.latency)).collect();
    // Closing the receivers ends the attempts still waiting on the dead one.
    drop(receivers);
    if let Some(server) = server {
        server.shutdown().await;
    }
    drop(nodes);
    let mut invoices = invoices;
    invoices[0].extend(wakers);
    let stored = stored_callbacks(&engine, invoices).await?;
    let (faults, check) = count_check(&kinds, &records, &stored);
    let figures = kinds
        .iter()
        .zip(&records)
        .zip(&expected)
        .map(|((&(name, latency), seen), &owed)| figures(name, latency, owed, seen, t0))
        .collect();
    drop(engine);
    drop(db);
    Ok(Outcome {
        figures,
        faults,
        check,
        seeded_secs,
    })
}

/// One merchant per receiver, and its invoices, each owing one callback:
/// the merchants, and the invoice ids by receiver.
async fn seed(
    engine: &Arc<Engine>,
    receivers: &[Receiver],
    counts: &[usize],
) -> anyhow::Result<(Vec<IssuedMerchant>, Vec<Vec<String>>)> {
    let mut merchants = Vec::new();
    let mut owners = Vec::new();
    for r in receivers {
        let issued = engine
            .create_merchant(NewMerchant {
                name: format!("Receiver {}", r.name),
                callback_url: Some(r.url.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        owners.push(
            engine
                .merchant(issued.merchant_id.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        merchants.push(issued);
    }
    let mut invoices: Vec<Vec<String>> = vec![Vec::new(); receivers.len()];
    let mut tasks = tokio::task::JoinSet::new();
    for (n, i) in interleaved(counts).into_iter().enumerate() {
        if tasks.len() >= SEEDING {
            let (i, id): (usize, String) = tasks.join_next().await.expect("tasks")??;
            invoices[i].push(id);
        }
        let (engine, owner, new) = (
            engine.clone(),
            owners[i].clone(),
            private_api_invoice(n as u64)?,
        );
        tasks.spawn(async move {
            let created = engine
                .create_invoice(owner, true, new)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::Ok((i, created.invoice.id))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, id) = joined??;
        invoices[i].push(id);
    }
    Ok((merchants, invoices))
}

/// Puts every due callback off by [`PUT_OFF_SECS`]; how many.
async fn put_all_off(engine: &Engine, total: usize) -> anyhow::Result<usize> {
    let now = engine.now_secs();
    let n = kassa_store::write(engine.store(), move |tx| {
        let due = tx.due_callbacks(now, total + 1)?;
        for mut cb in due.iter().cloned() {
            cb.next_attempt_at_secs = now + PUT_OFF_SECS;
            tx.update_callback(&cb)?;
        }
        Ok::<_, StoreError>(due.len())
    })
    .await?;
    Ok(n)
}

/// Makes every put-off callback due, in one transaction; how many.
async fn release(engine: &Engine, total: usize) -> anyhow::Result<usize> {
    // A second early, so that no node's clock finds them not yet due.
    let now = engine.now_secs();
    let n = kassa_store::write(engine.store(), move |tx| {
        let waiting = tx.waiting_callbacks(now, total + 1)?;
        for mut cb in waiting.iter().cloned() {
            cb.next_attempt_at_secs = now - 1;
            tx.update_callback(&cb)?;
        }
        Ok::<_, StoreError>(waiting.len())
    })
    .await?;
    Ok(n)
}

/// Callbacks still owed, over every node.
async fn owed(engine: &Engine) -> anyhow::Result<u64> {
    let now = engine.now_secs();
    let counts = kassa_store::read(engine.store(), move |tx| tx.callback_counts(now)).await?;
    Ok(counts.owed)
}

/// Every callback of each receiver's invoices, with its recorded attempts.
async fn stored_callbacks(
    engine: &Engine,
    invoices: Vec<Vec<String>>,
) -> anyhow::Result<Vec<Vec<(Callback, Vec<CallbackAttempt>)>>> {
    let stored = kassa_store::read(engine.store(), move |tx| {
        let mut all = Vec::new();
        for ids in &invoices {
            let mut of_receiver = Vec::new();
            for id in ids {
                let attempts = tx.callback_attempts(id)?;
                for cb in tx.callbacks_for_invoice(id)? {
                    let own = attempts
                        .iter()
                        .filter(|a| a.callback_id == cb.id)
                        .cloned()
                        .collect();
                    of_receiver.push((cb, own));
                }
            }
            all.push(of_receiver);
        }
        Ok::<_, StoreError>(all)
    })
    .await?;
    Ok(stored)
}

/// Healthy receivers: each callback delivered once, answered once per
/// recorded attempt, and nothing answered that the store does not know.
/// The dead receiver: nothing recorded as delivered.
fn count_check(
    kinds: &[(&'static str, Option<Duration>)],
    records: &[Vec<(String, Instant)>],
    stored: &[Vec<(Callback, Vec<CallbackAttempt>)>],
) -> (Vec<String>, String) {
    let mut faults = Vec::new();
    let mut summary = Vec::new();
    for ((&(name, latency), seen), callbacks) in kinds.iter().zip(records).zip(stored) {
        let mut times: HashMap<&str, usize> = HashMap::new();
        for (id, _) in seen {
            *times.entry(id.as_str()).or_default() += 1;
        }
        let mut attempts = 0;
        let mut delivered = 0;
        for (cb, tries) in callbacks {
            let done = tries.iter().filter(|a| a.status == "done").count();
            attempts += tries.len();
            delivered += done;
            let answered = times.remove(cb.id.as_str()).unwrap_or(0);
            if latency.is_none() {
                if done > 0 || cb.state == CallbackState::Done {
                    faults.push(format!("{name}: {} recorded as delivered", cb.id));
                }
            } else if cb.state != CallbackState::Done || done != 1 || answered != tries.len() {
                faults.push(format!(
                    "{name}: {} is {}, {} attempts recorded ({done} delivered), answered {answered} times",
                    cb.id,
                    cb.state.as_str(),
                    tries.len()
                ));
            }
        }
        if latency.is_some() && !times.is_empty() {
            faults.push(format!(
                "{name}: {} callbacks answered that the store does not hold",
                times.len()
            ));
        }
        summary.push(format!(
            "{name}: {} owed, {attempts} attempts recorded, {delivered} delivered, {} requests received",
            callbacks.len(),
            seen.len()
        ));
    }
    let verdict = if faults.is_empty() {
        "every count matches".to_string()
    } else {
        format!("{} faults, first: {}", faults.len(), faults[0])
    };
    (faults, format!("{}; {verdict}", summary.join("; ")))
}

fn figures(
    name: &'static str,
    latency: Option<Duration>,
    owed: usize,
    seen: &[(String, Instant)],
    t0: Instant,
) -> Figures {
    let mut ms: Vec<f64> = seen
        .iter()
        .map(|(_, at)| at.saturating_duration_since(t0).as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 * p) as usize).min(ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let last_secs = ms.last().copied().unwrap_or(0.0) / 1000.0;
    Figures {
        name,
        latency,
        owed,
        seen: ms.len(),
        per_sec: if last_secs > 0.0 {
            ms.len() as f64 / last_secs
        } else {
            0.0
        },
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// Creates invoice `n` of the merchant of `auth` through the private API
/// of the node at `addr`; its id.
async fn create_invoice(addr: SocketAddr, auth: &str, n: u64) -> anyhow::Result<String> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = hyper::Request::post("/api/payment-invoices")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header("authorization", auth)
        .body(Full::new(invoice_body()(n)))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    if status != 201 {
        bail!(
            "creating an invoice on {addr}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let body: serde_json::Value = serde_json::from_slice(&body)?;
    body.pointer("/data/id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .context("the created invoice's id")
}

fn print_setup(args: &BenchArgs, setup: Setup<'_>, alone: &Outcome, with_dead: &Outcome) {
    let nodes = setup.nodes();
    let per_host = Config::default().callback_per_host * nodes;
    let timeout = Config::default().callback_timeout_ms as f64 / 1000.0;
    let store = match setup {
        Setup::Sqlite => "SQLite, in-process server".to_string(),
        Setup::Postgres { .. } => format!("PostgreSQL, {}", nodes_label(nodes)),
    };
    println!();
    println!(
        "callbacks on {store}: owed at once (--callbacks {}), the dead receiver taking {}% in the second run; per-host slots {per_host} ({} × {}), timeout {timeout} s",
        args.callbacks,
        args.dead_share,
        nodes_label(nodes),
        Config::default().callback_per_host,
    );
    println!(
        "{:<14} {:<10} {:>7} {:>9} {:>9} {:>12} {:>9} {:>9} {:>9}",
        "receiver", "run", "owed", "answered", "per s", "limit/s", "of limit", "p50 ms", "p99 ms"
    );
    for (run, outcome) in [("alone", alone), ("with dead", with_dead)] {
        for f in &outcome.figures {
            let (limit, of_limit) = match f.latency {
                Some(l) if l.is_zero() => (
                    format!("target {TARGET_PER_SEC}"),
                    format!("{:.0}%", 100.0 * f.per_sec / TARGET_PER_SEC as f64),
                ),
                Some(l) => {
                    let limit = per_host as f64 / l.as_secs_f64();
                    (
                        format!("{limit:.0}"),
                        format!("{:.0}%", 100.0 * f.per_sec / limit),
                    )
                }
                None => (format!("{:.1}", per_host as f64 / timeout), String::new()),
            };
            if f.latency.is_none() {
                println!(
                    "{:<14} {:<10} {:>7} {:>9} {:>9} {:>12}  (attempts that reached it; not waited for)",
                    DEAD, run, f.owed, f.seen, "", limit
                );
                continue;
            }
            println!(
                "{:<14} {:<10} {:>7} {:>9} {:>9.0} {:>12} {:>9} {:>9.1} {:>9.1}",
                f.name, run, f.owed, f.seen, f.per_sec, limit, of_limit, f.p50_ms, f.p99_ms
            );
        }
    }
    for (a, d) in alone.figures.iter().zip(&with_dead.figures) {
        println!(
            "p99 of {} with the dead receiver: {:+.1}% ({:.1} ms to {:.1} ms)",
            a.name,
            100.0 * (d.p99_ms - a.p99_ms) / a.p99_ms.max(0.001),
            a.p99_ms,
            d.p99_ms
        );
    }
    println!("count check, alone: {}", alone.check);
    println!("count check, with dead: {}", with_dead.check);
    println!(
        "seeding (invoices created by the engine, callbacks put off): {:.1} s alone, {:.1} s with dead",
        alone.seeded_secs, with_dead.seeded_secs
    );
}
