//! The callback pipeline under load: a receiver that hangs holds only its own
//! host's slots, and an invoice's callbacks still arrive in order, also when
//! one waits for its retry.

mod common;
mod receiver;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{test_invoice, TestApp};
use kassa_engine::merchants::{IssuedMerchant, NewMerchant};
use receiver::{Receiver, Reply};
use serde_json::{json, Value};

/// Creates a test invoice of `merchant` with callbacks to `url`.
async fn create(app: &TestApp, merchant: &IssuedMerchant, status: &str, url: &str) -> String {
    let mut attributes = test_invoice(status);
    attributes["callback_url"] = json!(url);
    let c = &merchant.test;
    let response = app
        .http
        .post(app.url("/api/payment-invoices"))
        .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
        .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    body["data"]["id"].as_str().unwrap().to_string()
}

/// A receiver that hangs for a minute, a healthy one, and a second merchant
/// whose callbacks go to the healthy one.
async fn hanging_beside_healthy(app: &TestApp) -> (Receiver, Receiver, IssuedMerchant) {
    let hanging = Receiver::start(&[], 200);
    hanging.answer_with(Reply::Slow(Duration::from_secs(60), 200));
    let healthy = Receiver::start(&[], 200);
    let other = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    (hanging, healthy, other)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_only_its_own_hosts_slots() {
    let app = TestApp::spawn_with(|c| {
        c.callback_timeout_ms = 30_000;
        c.callback_max_in_flight = 16;
        c.callback_per_host = 4;
    })
    .await;
    let (hanging, healthy, other) = hanging_beside_healthy(&app).await;

    for _ in 0..20 {
        create(&app, &app.merchant, "process_pending", &hanging.url()).await;
    }
    // Four requests hang there, and no more go out to that host.
    hanging.wait_for(4).await;
    hanging.stays_at(4).await;

    // The other merchant's callbacks go out at once all the same.
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(create(&app, &other, "process_pending", &healthy.url()).await);
    }
    let received = healthy.wait_for(10).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "delivered in {:?}",
        started.elapsed()
    );
    let mut announced: Vec<String> = received
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_string())
        .collect();
    announced.sort();
    ids.sort();
    assert_eq!(announced, ids);
    // Once the last attempt is recorded, only the hanging host's remain:
    // all 20, or fewer when it was seen to be backed up before the last were
    // owed (the rest are then held back).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = app.engine().pipeline_stats();
        let mut recorded = true;
        for id in &ids {
            let callbacks = app.engine().callbacks(id.clone()).await.unwrap();
            recorded &= callbacks[0].state == kassa_domain::CallbackState::Done;
        }
        if recorded && stats.in_flight == 4 && (8..=20).contains(&stats.queued) {
            break;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_queued_behind_a_failing_host_stop_when_its_circuit_opens() {
    // One slot at the host: the callbacks owed while its first attempt
    // hangs queue behind that attempt.
    let app = TestApp::spawn_with(|c| {
        c.callback_timeout_ms = 30_000;
        c.callback_per_host = 1;
    })
    .await;
    let failing = Receiver::start(&[], 500);
    failing.then(&[Reply::Slow(Duration::from_millis(800), 500)]);
    for _ in 0..10 {
        create(&app, &app.merchant, "process_pending", &failing.url()).await;
    }
    // The hanging attempt fails, then four quick ones: the circuit opens
    // at the fifth failure, and what still waited for the slot is put off
    // rather than sent to a host known to be failing.
    failing.wait_for(5).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(failing.count(), 5, "attempts after the circuit opened");
    let stats = app.engine().pipeline_stats();
    assert_eq!(stats.open_circuits.len(), 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backed_up_host_leaves_the_claim_room_to_the_others() {
    // Room for 8 claimed callbacks, 2 in flight to one host.
    let app = TestApp::spawn_with(|c| {
        c.callback_timeout_ms = 30_000;
        c.callback_max_in_flight = 4;
        c.callback_per_host = 2;
    })
    .await;
    let (hanging, healthy, other) = hanging_beside_healthy(&app).await;
    for _ in 0..2 {
        create(&app, &app.merchant, "process_pending", &hanging.url()).await;
    }
    hanging.wait_for(2).await;
    // Its attempts have hung for over a second: what more it is owed is
    // held back rather than queued, so it cannot fill the room.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..30 {
        create(&app, &app.merchant, "process_pending", &hanging.url()).await;
    }
    let started = Instant::now();
    for _ in 0..10 {
        create(&app, &other, "process_pending", &healthy.url()).await;
    }
    healthy.wait_for(10).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "delivered in {:?}",
        started.elapsed()
    );
    // Once the healthy attempts are recorded, the hanging host holds twice
    // its slots and no more.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = app.engine().pipeline_stats();
        if (stats.in_flight, stats.queued) == (2, 4) {
            break;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoices_callbacks_arrive_in_order_under_the_pool() {
    let app = TestApp::spawn_with(|c| c.callback_per_host = 8).await;
    let receiver = Receiver::start(&[], 200);
    receiver.answer_with(Reply::Slow(Duration::from_millis(15), 200));
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(create(&app, &app.merchant, "processed", &receiver.url()).await);
    }
    let received = receiver.wait_for(80).await;
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for r in &received {
        let body = r.json();
        seen.entry(body["data"]["id"].as_str().unwrap().to_string())
            .or_default()
            .push(r.status());
    }
    for id in &ids {
        assert_eq!(seen[id], ["process_pending", "processed"], "{id}");
    }
}

/// The webhook ids of the requests, in the order they came.
fn webhook_ids(received: &[receiver::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.header("webhook-id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_waiting_for_its_retry_is_not_overtaken() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[500], 200);
    let invoice = create(&app, &app.merchant, "processed", &receiver.url()).await;
    receiver.wait_for(1).await;
    // The first callback waits for its retry; the second, due all along,
    // waits behind it.
    receiver.stays_at(1).await;
    let callbacks = app.engine().callbacks(invoice.clone()).await.unwrap();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    assert_eq!(
        (callbacks[0].attempts, callbacks[1].attempts),
        (1, 0),
        "{callbacks:?}"
    );
    assert!(callbacks[1].next_attempt_at_secs < callbacks[0].next_attempt_at_secs);

    app.advance_secs(10);
    let received = receiver.wait_for(3).await;
    let (first, second) = (callbacks[0].id.clone(), callbacks[1].id.clone());
    assert_eq!(webhook_ids(&received), [first.clone(), first, second]);
    assert_eq!(received[2].status(), "processed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_failed_for_good_holds_back_no_other() {
    let app = TestApp::spawn_with(|c| c.callback_max_attempts = 1).await;
    let receiver = Receiver::start(&[500], 200);
    let invoice = create(&app, &app.merchant, "processed", &receiver.url()).await;
    let received = receiver.wait_for(2).await;
    let callbacks = app.engine().callbacks(invoice).await.unwrap();
    assert_eq!(
        webhook_ids(&received),
        [callbacks[0].id.clone(), callbacks[1].id.clone()]
    );
    assert_eq!(callbacks[0].state, kassa_domain::CallbackState::Failed);
}

const ADMIN_TOKEN: &str = "admin-token-for-the-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_shows_what_is_owed_and_which_hosts_fail() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    let down = Receiver::reserve();
    let healthy = Receiver::start(&[], 200);
    for _ in 0..3 {
        create(&app, &app.merchant, "process_pending", &down.url()).await;
    }
    create(&app, &app.merchant, "process_pending", &healthy.url()).await;
    healthy.wait_for(1).await;

    // Each callback to the host that is down fails once and waits for its
    // retry; the one delivered is owed no more once its attempt is recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let response = app
            .http
            .get(app.url("/admin-api/callbacks/stats"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let stats: Value = response.json().await.unwrap();
        if stats["waiting_hosts"][0]["waiting"] == 3 && stats["counts"]["owed"] == 3 {
            break stats;
        }
        assert!(Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        stats["counts"],
        json!({"owed": 3, "due": 0, "leased": 0, "failed": 0}),
        "{stats}"
    );
    let host = format!("{}", down.addr);
    assert_eq!(stats["waiting_hosts"][0]["host"], host.as_str(), "{stats}");
    assert_eq!(
        stats["waiting_hosts"].as_array().unwrap().len(),
        1,
        "{stats}"
    );
    assert_eq!(stats["node"]["queued"], 0, "{stats}");

    // The operator's command reads the same from the database.
    let output = common::kassa_command(&app.config.database_url, app.config.master_key.as_deref())
        .args(["callback", "stats", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cli: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cli["counts"], stats["counts"]);
    assert_eq!(cli["waiting_hosts"], stats["waiting_hosts"]);

    // Without the admin token: 401, nothing shown.
    let response = app
        .http
        .get(app.url("/admin-api/callbacks/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_sent_final_statuses_only_gets_only_those() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let kassa = |args: &[&str]| {
        common::kassa_command(&app.config.database_url, app.config.master_key.as_deref())
            .args(args)
            .output()
            .unwrap()
    };
    let id = &app.merchant.merchant_id;
    let refused = kassa(&["merchant", "set", id, "--callback-statuses", "some"]);
    assert!(!refused.status.success());
    let set = kassa(&["merchant", "set", id, "--callback-statuses", "final"]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("callback_statuses=final"));

    // The merchant is read on delivery: the change applies at once, from
    // this server as from any other.
    let invoice = create(&app, &app.merchant, "processed", &receiver.url()).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].status(), "processed");
    receiver.stays_at(1).await;
    let attributes = app.invoice(&invoice).await;
    let logs = attributes["callback_logs"].as_object().unwrap();
    assert_eq!(logs.len(), 1, "{attributes}");
    let callbacks = app.engine().callbacks(invoice.clone()).await.unwrap();
    assert!(
        callbacks
            .iter()
            .all(|c| c.state == kassa_domain::CallbackState::Done),
        "{callbacks:?}"
    );

    // Back to every status.
    let set = kassa(&["merchant", "set", id, "--callback-statuses", "all"]);
    assert!(set.status.success());
    create(&app, &app.merchant, "processed", &receiver.url()).await;
    let received = receiver.wait_for(3).await;
    let mut statuses: Vec<String> = received[1..].iter().map(|r| r.status()).collect();
    statuses.sort();
    assert_eq!(statuses, ["process_pending", "processed"]);
}
