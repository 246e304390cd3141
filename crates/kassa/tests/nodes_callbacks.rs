//! A node killed mid-delivery: every callback it owed is delivered by
//! another node once its claim lapses, each attempt recorded once; also in
//! the middle of a burst of hundreds, with an invoice's callbacks in order.

mod common;
mod nodes;
mod receiver;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kassa_domain::CallbackState;
use kassa_engine::merchants::NewMerchant;
use kassa_engine::{Clock, ManualClock};
use nodes::{free_port, spawn_server, wait_healthy, Servers};
use receiver::{Receiver, Reply};
use serde_json::{json, Value};

const NODE_ENV: &[(&str, &str)] = &[
    ("KASSA_CALLBACK_TIMEOUT_MS", "2000"),
    ("KASSA_CALLBACK_RETRY_SECS", "1"),
    ("KASSA_WORKER_POLL_MS", "50"),
    ("KASSA_ALLOW_PRIVATE_CALLBACK_URLS", "true"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_owed_by_a_killed_node_are_delivered_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    let pg = common::on_postgres().then(common::PgDatabase::create);
    if let Some(db) = &pg {
        db.configure(&mut config);
    }
    let merchant = {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
        let engine = kassa::open_engine(&config, Some(clock), "http://127.0.0.1".into())
            .await
            .expect("engine");
        engine
            .create_merchant(NewMerchant {
                name: "Two Nodes".into(),
                ..Default::default()
            })
            .await
            .unwrap()
    };
    // The first node's deliveries hang: it is killed in the middle of them.
    let receiver = Receiver::start(&[], 200);
    receiver.answer_with(Reply::Slow(Duration::from_secs(60), 200));
    let http = reqwest::Client::new();
    let mut first = Servers(Vec::new());
    let (port, log) = (free_port(), dir.path().join("a.log"));
    first
        .0
        .push(spawn_server(&config, dir.path(), port, &log, NODE_ENV));
    let a = format!("http://127.0.0.1:{port}");
    wait_healthy(&http, &a, &log).await;

    let c = &merchant.test;
    let mut ids = Vec::new();
    for n in 0..5 {
        let reply = http
            .post(format!("{a}/api/payment-invoices"))
            .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
            .json(&json!({"data": {"type": "payment-invoices", "attributes": {
                "reference_id": format!("two-nodes-{n}"), "amount": "10.00", "currency": "USD",
                "service": "test_usd_test", "service_fields": {"status": "process_pending"},
                "callback_url": receiver.url(),
            }}}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 201);
        let body: Value = reply.json().await.unwrap();
        ids.push(body["data"]["id"].as_str().unwrap().to_string());
    }
    // At least one delivery is under way (they run side by side).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first node delivered nothing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first); // SIGKILL, claims held
    receiver.answer_with(Reply::Status(200));

    let mut second = Servers(Vec::new());
    let (port, log) = (free_port(), dir.path().join("b.log"));
    second
        .0
        .push(spawn_server(&config, dir.path(), port, &log, NODE_ENV));
    let b = format!("http://127.0.0.1:{port}");
    wait_healthy(&http, &b, &log).await;

    // Every invoice's callback is delivered, by the second node, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    for id in &ids {
        loop {
            let body: Value = http
                .get(format!("{b}/api/payment-invoices/{id}"))
                .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let logs = body["data"]["attributes"]["callback_logs"].clone();
            let done: Vec<&Value> = logs.as_object().map_or(Vec::new(), |m| {
                m.values().filter(|e| e["status"] == "done").collect()
            });
            if !done.is_empty() {
                assert_eq!(done.len(), 1, "{id}: {logs}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} was not delivered: {logs}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // No callback was answered twice with 200: each webhook id reached the
    // receiver at most once from each node.
    let mut seen = std::collections::HashMap::new();
    for r in receiver.received() {
        *seen.entry(r.header("webhook-id").to_string()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), ids.len(), "{seen:?}");
    assert!(seen.values().all(|n| *n <= 2), "{seen:?}");
    drop(second);
}

/// Invoices of a burst; each owes two callbacks (`process_pending` when it is
/// made, `processed` when the test provider moves it).
const BURST_INVOICES: usize = 250;
/// Requests a node has out at once to the receiver, one host. Leases are
/// then at most a few attempts long (`callback_timeout_ms` each) plus the
/// margin: a dead node's claims lapse within seconds.
const BURST_IN_FLIGHT: usize = 32;
const BURST_ENV: &[(&str, &str)] = &[
    ("KASSA_CALLBACK_TIMEOUT_MS", "1000"),
    ("KASSA_CALLBACK_RETRY_SECS", "1"),
    ("KASSA_WORKER_POLL_MS", "50"),
    ("KASSA_CALLBACK_MAX_IN_FLIGHT", "32"),
    ("KASSA_CALLBACK_PER_HOST", "32"),
    ("KASSA_ALLOW_PRIVATE_CALLBACK_URLS", "true"),
];

/// A burst owed before any node runs, to a receiver slow enough that a node
/// has many requests in flight.
struct Burst {
    dir: tempfile::TempDir,
    config: kassa::Config,
    _pg: Option<common::PgDatabase>,
    receiver: Receiver,
    invoices: Vec<String>,
    http: reqwest::Client,
}

impl Burst {
    async fn owe(pg: Option<common::PgDatabase>) -> Burst {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::test_config(dir.path());
        if let Some(db) = &pg {
            db.configure(&mut config);
        }
        let receiver = Receiver::start(&[], 200);
        receiver.answer_with(Reply::Slow(Duration::from_millis(150), 200));
        let engine = kassa::open_engine(&config, None, "http://127.0.0.1".into())
            .await
            .expect("engine");
        let issued = engine
            .create_merchant(NewMerchant {
                name: "Burst".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let merchant = engine.merchant(issued.merchant_id).await.unwrap();
        let mut made = tokio::task::JoinSet::new();
        for n in 0..BURST_INVOICES {
            let (engine, merchant, url) = (engine.clone(), merchant.clone(), receiver.url());
            made.spawn(async move {
                let new = kassa_engine::NewInvoice {
                    reference_id: Some(format!("burst-{n}")),
                    service: "test_usd_test".into(),
                    currency: "USD".into(),
                    amount: "10.00".into(),
                    service_fields: Some(
                        json!({"status": "processed"}).as_object().unwrap().clone(),
                    ),
                    callback_url: Some(url),
                    test_mode: true,
                    ..Default::default()
                };
                let created = engine.create_invoice(merchant, true, new).await.unwrap();
                created.invoice.id
            });
        }
        let invoices = made.join_all().await;
        Burst {
            dir,
            config,
            _pg: pg,
            receiver,
            invoices,
            http: reqwest::Client::new(),
        }
    }

    async fn node(&self, name: &str) -> Servers {
        let (port, log) = (free_port(), self.dir.path().join(format!("{name}.log")));
        let child = spawn_server(&self.config, self.dir.path(), port, &log, BURST_ENV);
        let servers = Servers(vec![child]);
        wait_healthy(&self.http, &format!("http://127.0.0.1:{port}"), &log).await;
        servers
    }

    /// Waits until the receiver has had `n` requests; fails when the burst
    /// is over by then (the kill would not be in the middle of it).
    async fn wait_for_requests(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.receiver.count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} requests",
                self.receiver.count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let owed = 2 * BURST_INVOICES;
        assert!(self.receiver.count() < owed, "the burst is already over");
    }

    /// Waits until nothing is owed, then checks that every callback was
    /// delivered and recorded done once; that the receiver saw each at most
    /// twice, the second time only for an attempt under way at the kill
    /// (seen before it, never recorded, sent again after it); and that each
    /// invoice's first callback reached the receiver only before its second.
    async fn check_all_delivered(&self, killed_at: std::time::Instant) {
        let engine = kassa::open_engine(&self.config, None, "http://127.0.0.1".into())
            .await
            .expect("engine");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let counts = engine.callback_backlog().await.unwrap().counts;
            if counts.owed == 0 {
                assert_eq!(counts.failed, 0, "{counts:?}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still owed: {counts:?}, received {}",
                self.receiver.count()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut seen: HashMap<String, Vec<std::time::Instant>> = HashMap::new();
        for r in self.receiver.received() {
            seen.entry(r.header("webhook-id").to_string())
                .or_default()
                .push(r.at);
        }
        let mut lost = 0;
        for invoice in &self.invoices {
            let callbacks = engine.callbacks(invoice.clone()).await.unwrap();
            assert_eq!(callbacks.len(), 2, "{invoice}: {callbacks:?}");
            let attempts = engine.callback_attempts(invoice.clone()).await.unwrap();
            for cb in &callbacks {
                assert_eq!(cb.state, CallbackState::Done, "{cb:?}");
                let done = attempts
                    .iter()
                    .filter(|a| a.callback_id == cb.id && a.status == "done")
                    .count();
                assert_eq!(done, 1, "{cb:?}: {attempts:?}");
                let times = seen.get(&cb.id).map_or(&[][..], Vec::as_slice);
                assert!(
                    (1..=2).contains(&times.len()),
                    "{} received {} times",
                    cb.id,
                    times.len()
                );
                let unrecorded = times.len().checked_sub(cb.attempts as usize);
                match unrecorded.expect("every recorded attempt reached the receiver") {
                    0 => {}
                    1 => {
                        assert!(
                            times[0] < killed_at && killed_at < times[1],
                            "{} was sent twice, not across the kill",
                            cb.id
                        );
                        lost += 1;
                    }
                    _ => panic!("{cb:?} received {} times", times.len()),
                }
            }
            let (first, second) = (&seen[&callbacks[0].id], &seen[&callbacks[1].id]);
            assert!(
                first.iter().max() < second.iter().min(),
                "{invoice}: its second callback came before its first was done"
            );
        }
        // A lost attempt reached the receiver and was not recorded: it was
        // in flight, or answered and waiting for its record (a request's
        // slots go on the answer, before the record). Either way the dead
        // node held it claimed, and a node holds at most twice its pool.
        assert!(
            lost <= 2 * BURST_IN_FLIGHT,
            "{lost} attempts lost at the kill"
        );
        eprintln!(
            "{} callbacks, {} requests, {lost} in flight at the kill",
            2 * self.invoices.len(),
            self.receiver.count()
        );
    }
}

/// SQLite only (one node on a file): the node is killed in the middle of a
/// burst, a new one on the same file delivers the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_cut_by_kill_9_is_delivered_by_the_next_node_on_the_file() {
    if common::on_postgres() {
        return;
    }
    let burst = Burst::owe(None).await;
    let first = burst.node("a").await;
    burst.wait_for_requests(BURST_INVOICES / 2).await;
    drop(first); // SIGKILL, with requests in flight and claims held
    let killed_at = std::time::Instant::now();
    let _second = burst.node("b").await;
    burst.check_all_delivered(killed_at).await;
}

/// PostgreSQL only (nodes sharing a database): one of two nodes is killed in
/// the middle of a burst; the other takes its claims when their leases run
/// out and delivers everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_cut_by_kill_9_of_one_node_is_delivered_by_the_other() {
    if !common::on_postgres() {
        return;
    }
    let burst = Burst::owe(Some(common::PgDatabase::create())).await;
    let (first, _second) = (burst.node("a").await, burst.node("b").await);
    burst.wait_for_requests(BURST_INVOICES / 2).await;
    drop(first);
    let killed_at = std::time::Instant::now();
    burst.check_all_delivered(killed_at).await;
}
