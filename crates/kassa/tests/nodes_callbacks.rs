//! A node killed mid-delivery: every callback it owed is delivered by
//! another node once its claim lapses, each attempt recorded once.

mod common;
mod nodes;
mod receiver;

use std::sync::Arc;
use std::time::Duration;

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
