//! Checkout callbacks end to end: a real server delivers to a receiver the
//! test runs, and the test moves the clock the retry schedule reads.
//! The test config retries after 10, 20, 40, 40... s, at most 5 attempts.

mod common;
mod receiver;

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::{test_invoice, TestApp};
use hmac::{Hmac, Mac};
use kassa_domain::CallbackState;
use kassa_engine::Clock;
use receiver::{Received, Receiver, Reply};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// `X-Signature`: base64(sha1(secret + body + secret)).
fn legacy_signature(secret: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(body);
    h.update(secret.as_bytes());
    STANDARD.encode(h.finalize())
}

/// `webhook-signature`: `v1,` base64(HMAC-SHA256(key, id.timestamp.body)),
/// the key being the base64 after `whsec_`.
fn standard_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("the secret is base64 after whsec_");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Checks both signatures of a callback against `secret`.
fn assert_signed_with(r: &Received, secret: &str) {
    assert_eq!(
        r.header("x-signature"),
        legacy_signature(secret, &r.body),
        "X-Signature"
    );
    let id = r.header("webhook-id");
    let timestamp = r.header("webhook-timestamp");
    assert!(!id.is_empty());
    timestamp
        .parse::<i64>()
        .expect("webhook-timestamp is unix seconds");
    let expected = standard_signature(secret, id, timestamp, &r.body);
    // The header may carry several space-separated signatures.
    assert!(
        r.header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "webhook-signature {} is not {expected}",
        r.header("webhook-signature")
    );
}

/// Creates a test invoice whose test provider moves it to `status`
/// (`process_pending`: it stays there), with callbacks to `callback_url`.
async fn create(app: &TestApp, status: &str, callback_url: &str) -> String {
    let mut attributes = test_invoice(status);
    attributes["callback_url"] = json!(callback_url);
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// `callback_logs` as (key, entry) in the order given; checks the shape:
/// keys are unix times, entries have the four fields of the spec.
fn logs(attributes: &Value) -> Vec<(i64, Value)> {
    let logs = &attributes["callback_logs"];
    if logs == &json!([]) {
        return Vec::new();
    }
    let map = logs
        .as_object()
        .unwrap_or_else(|| panic!("callback_logs is an object: {logs}"));
    let entries: Vec<(i64, Value)> = map
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let key: i64 = k
                .parse()
                .unwrap_or_else(|_| panic!("callback_logs key {k} is a unix time"));
            assert_eq!(key.to_string(), *k, "keys are plain integers");
            for field in ["status", "processed", "response_code", "transaction_status"] {
                assert!(
                    v.get(field).is_some(),
                    "callback_logs entry without {field}: {v}"
                );
            }
            // Attempts in one second take the next free second as their key,
            // so the i-th key may run ahead of its attempt by up to i seconds.
            assert!(
                v["processed"].as_i64().is_some_and(|p| p >= key - i as i64),
                "processed is set: {v}"
            );
            (key, v.clone())
        })
        .collect();
    assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "keys in order: {logs}"
    );
    entries
}

/// Waits until the invoice shows `n` callback attempts, and returns them.
async fn wait_for_logs(app: &TestApp, id: &str, n: usize) -> Vec<(i64, Value)> {
    let attributes = app
        .wait_for_invoice(id, &format!("{n} callback attempts"), |a| {
            logs(a).len() >= n
        })
        .await;
    let entries = logs(&attributes);
    assert_eq!(entries.len(), n, "{}", attributes["callback_logs"]);
    entries
}

fn assert_entry(
    entry: &(i64, Value),
    status: &str,
    response_code: Value,
    transaction_status: &str,
) {
    let v = &entry.1;
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["response_code"], response_code, "{v}");
    assert_eq!(v["transaction_status"], transaction_status, "{v}");
}

#[tokio::test]
async fn callbacks_announce_creation_and_each_status_change_signed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let id = create(&app, "processed", &receiver.url()).await;

    let received = receiver.wait_for(2).await;
    let statuses: Vec<String> = received.iter().map(Received::status).collect();
    assert_eq!(
        statuses,
        ["process_pending", "processed"],
        "one callback per status, in order"
    );
    let secret = &app.merchant.test.callback_secret;
    for r in &received {
        assert_eq!(r.path, "/callbacks");
        assert!(r.header("content-type").starts_with("application/json"));
        let body = r.json();
        assert_eq!(body["data"]["type"], "payment-invoices");
        assert_eq!(body["data"]["id"], id.as_str());
        assert_eq!(
            body["data"]["links"]["self"],
            format!("/api/payment-invoices/{id}")
        );
        assert_eq!(body["data"]["attributes"]["test_mode"], true);
        assert_eq!(body["data"]["attributes"]["amount"], json!(100.5));
        assert_eq!(body["data"]["attributes"]["callback_url"], receiver.url());
        assert_signed_with(r, secret);
        assert_ne!(
            r.header("x-signature"),
            legacy_signature(&app.merchant.live.callback_secret, &r.body),
            "a test invoice is signed with the test secret"
        );
        // The clock has not moved: every attempt is stamped with its time.
        assert_eq!(
            r.header("webhook-timestamp"),
            app.clock.now_secs().to_string()
        );
    }
    assert_ne!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id"),
        "two messages"
    );
    let processed = received[1].json();
    assert_eq!(processed["data"]["attributes"]["resolution"], "ok");
    assert_eq!(
        processed["data"]["attributes"]["processed_amount"],
        json!(100.5)
    );
    assert_eq!(
        received[0].json()["data"]["attributes"]["processed_amount"],
        Value::Null
    );

    let entries = wait_for_logs(&app, &id, 2).await;
    assert_entry(&entries[0], "done", json!(200), "process_pending");
    assert_entry(&entries[1], "done", json!(200), "processed");
    receiver.stays_at(2).await;
}

#[tokio::test]
async fn expiry_is_announced() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let id = create(&app, "process_pending", &receiver.url()).await;
    receiver.wait_for(1).await;
    wait_for_logs(&app, &id, 1).await;
    receiver.stays_at(1).await;

    app.advance_secs(app.config.invoice_ttl_secs + 1);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].status(), "expired");
    assert_eq!(
        received[1].json()["data"]["attributes"]["resolution"],
        "expired"
    );
    assert_signed_with(&received[1], &app.merchant.test.callback_secret);
    let entries = wait_for_logs(&app, &id, 2).await;
    assert_entry(&entries[1], "done", json!(200), "expired");
}

#[tokio::test]
async fn live_invoices_are_signed_with_the_live_secret() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let live = &app.merchant.live;
    // A live invoice on a real service (the test service takes test invoices only).
    let attributes = json!({
        "amount": "100.50",
        "currency": "USD",
        "service": "payment_card_usd_hpp",
        "callback_url": receiver.url(),
    });
    let response = app
        .http
        .post(app.url("/api/payment-invoices"))
        .basic_auth(&live.private_key_id, Some(&live.private_key_secret))
        .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["attributes"]["test_mode"], false);

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["data"]["attributes"]["test_mode"], false);
    assert_signed_with(&received[0], &live.callback_secret);
    assert_ne!(
        received[0].header("x-signature"),
        legacy_signature(&app.merchant.test.callback_secret, &received[0].body)
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_schedule_until_it_answers_200() {
    let app = TestApp::spawn().await;
    // Only 200 counts: 201, 204 and a redirect are failures too.
    let receiver = Receiver::start(&[500, 201, 204, 302], 200);
    let id = create(&app, "process_pending", &receiver.url()).await;
    let t0 = app.clock.now_secs();

    receiver.wait_for(1).await;
    let entries = wait_for_logs(&app, &id, 1).await;
    assert_eq!(entries[0].0, t0);
    assert_entry(&entries[0], "failed", json!(500), "process_pending");

    // Retried after 10 s, not before.
    app.advance_secs(9);
    receiver.stays_at(1).await;
    app.advance_secs(1);
    receiver.wait_for(2).await;
    let entries = wait_for_logs(&app, &id, 2).await;
    assert_eq!(entries[1].0, t0 + 10);
    assert_entry(&entries[1], "failed", json!(201), "process_pending");

    // Then after 20 s.
    app.advance_secs(19);
    receiver.stays_at(2).await;
    app.advance_secs(1);
    receiver.wait_for(3).await;
    let entries = wait_for_logs(&app, &id, 3).await;
    assert_eq!(entries[2].0, t0 + 30);
    assert_entry(&entries[2], "failed", json!(204), "process_pending");

    // Then after 40 s (a redirect is not followed), and 40 s again, the last
    // delay of the schedule repeating; the fifth and last allowed attempt is
    // answered 200.
    app.advance_secs(39);
    receiver.stays_at(3).await;
    app.advance_secs(1);
    receiver.wait_for(4).await;
    let entries = wait_for_logs(&app, &id, 4).await;
    assert_eq!(entries[3].0, t0 + 70);
    assert_entry(&entries[3], "failed", json!(302), "process_pending");
    app.advance_secs(39);
    receiver.stays_at(4).await;
    app.advance_secs(1);
    let received = receiver.wait_for(5).await;
    let entries = wait_for_logs(&app, &id, 5).await;
    assert_eq!(entries[4].0, t0 + 110);
    assert_entry(&entries[4], "done", json!(200), "process_pending");
    for (key, entry) in &entries {
        assert_eq!(
            entry["processed"],
            json!(key),
            "the manual clock stood still during each attempt"
        );
    }

    // One message, tried five times: the same webhook-id, a fresh timestamp
    // and valid signatures on every attempt.
    let secret = &app.merchant.test.callback_secret;
    for (r, (key, _)) in received.iter().zip(&entries) {
        assert_eq!(r.header("webhook-id"), received[0].header("webhook-id"));
        assert_eq!(r.header("webhook-timestamp"), key.to_string());
        assert_eq!(r.status(), "process_pending");
        assert_signed_with(r, secret);
    }

    // Delivered: nothing more, however far the clock moves.
    app.advance_secs(3600);
    receiver.stays_at(5).await;
    let callbacks = app.engine().callbacks(id.clone()).await.unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].state, CallbackState::Done);
    assert_eq!(callbacks[0].attempts, 5);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 503);
    let id = create(&app, "process_pending", &receiver.url()).await;
    let max = app.config.callback_max_attempts as usize;
    assert_eq!(max, 5);

    receiver.wait_for(1).await;
    wait_for_logs(&app, &id, 1).await;
    for n in 2..=max {
        app.advance_secs(40); // the longest delay of the schedule
        receiver.wait_for(n).await;
        wait_for_logs(&app, &id, n).await;
    }
    // (Below the invoice's lifetime: its expiry would owe a new callback.)
    for secs in [40, 3600, 12 * 3600] {
        app.advance_secs(secs);
        receiver.stays_at(max).await;
    }
    let entries = wait_for_logs(&app, &id, max).await;
    for entry in &entries {
        assert_entry(entry, "failed", json!(503), "process_pending");
    }
    let callbacks = app.engine().callbacks(id.clone()).await.unwrap();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].state, CallbackState::Failed);
    assert_eq!(callbacks[0].attempts, max as u32);

    // Given up on, a callback can still be sent again by hand.
    receiver.answer_with(Reply::Status(200));
    let response = app
        .private(
            reqwest::Method::POST,
            &format!("/api/payment-invoices/{id}/callbacks"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    receiver.wait_for(max + 1).await;
    let entries = wait_for_logs(&app, &id, max + 1).await;
    assert_entry(&entries[max], "done", json!(200), "process_pending");
}

#[tokio::test]
async fn delivery_resumes_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let receiver = Receiver::start(&[500], 200);
    let id = create(&app, "process_pending", &receiver.url()).await;
    receiver.wait_for(1).await;
    let entries = wait_for_logs(&app, &id, 1).await;
    assert_entry(&entries[0], "failed", json!(500), "process_pending");

    // Down while the retry falls due; the new server finds it owed.
    app.stop().await;
    app.clock.advance_secs(10);
    app.restart().await;
    let received = receiver.wait_for(2).await;
    assert_signed_with(&received[1], &app.merchant.test.callback_secret);
    assert_eq!(
        received[1].header("webhook-id"),
        received[0].header("webhook-id")
    );
    let entries = wait_for_logs(&app, &id, 2).await;
    assert_entry(&entries[0], "failed", json!(500), "process_pending");
    assert_entry(&entries[1], "done", json!(200), "process_pending");
    app.advance_secs(3600);
    receiver.stays_at(2).await;
}

#[tokio::test]
async fn delivery_resumes_after_a_restart_when_the_receiver_was_down() {
    let mut app = TestApp::spawn().await;
    let reserved = Receiver::reserve();
    let url = reserved.url();
    let id = create(&app, "processed", &url).await;
    // Stop at once: the callbacks are owed, and any attempt made so far found
    // the receiver down.
    app.stop().await;

    let receiver = reserved.start(&[], 200);
    app.restart().await;
    app.advance_secs(3600);
    let received = receiver.wait_for(2).await;
    // In the order they were owed, whatever waited for a retry.
    let statuses: Vec<String> = received.iter().map(Received::status).collect();
    assert_eq!(statuses, ["process_pending", "processed"]);
    for r in &received {
        assert_signed_with(r, &app.merchant.test.callback_secret);
    }
    let attributes = app
        .wait_for_invoice(&id, "both callbacks delivered", |a| {
            logs(a)
                .iter()
                .filter(|(_, e)| e["status"] == "done")
                .count()
                == 2
        })
        .await;
    let entries = logs(&attributes);
    let (done, failed): (Vec<_>, Vec<_>) = entries.iter().partition(|(_, e)| e["status"] == "done");
    assert_eq!(done.len(), 2);
    // At most the first was tried before the stop: the second waited for it.
    assert!(failed.len() <= 1, "{entries:?}");
    for (_, entry) in failed {
        // Refused connections: failed, with no response code.
        assert_eq!(entry["response_code"], Value::Null, "{entry}");
    }
    let mut delivered: Vec<&str> = done
        .iter()
        .map(|(_, e)| e["transaction_status"].as_str().unwrap())
        .collect();
    delivered.sort();
    assert_eq!(delivered, ["process_pending", "processed"]);
    for (_, entry) in done {
        assert_eq!(entry["response_code"], 200, "{entry}");
    }
}

#[tokio::test]
async fn an_invoices_callbacks_wait_behind_one_that_waits_for_its_retry() {
    let app = TestApp::spawn().await;
    let reserved = Receiver::reserve();
    let id = create(&app, "processed", &reserved.url()).await;
    // The first announcement fails against the receiver that is down; the
    // second is not tried while the first waits for its retry.
    let entries = wait_for_logs(&app, &id, 1).await;
    assert_entry(&entries[0], "failed", Value::Null, "process_pending");
    let receiver = reserved.start(&[], 200);
    receiver.stays_at(0).await;
    wait_for_logs(&app, &id, 1).await;

    app.advance_secs(10);
    let received = receiver.wait_for(2).await;
    let statuses: Vec<String> = received.iter().map(Received::status).collect();
    assert_eq!(statuses, ["process_pending", "processed"]);
    let entries = wait_for_logs(&app, &id, 3).await;
    assert_entry(&entries[1], "done", json!(200), "process_pending");
    assert_entry(&entries[2], "done", json!(200), "processed");
}

#[tokio::test]
async fn a_timeout_is_a_failure() {
    let app = TestApp::spawn_with(|c| c.callback_timeout_ms = 300).await;
    let receiver = Receiver::start(&[], 200);
    receiver.then(&[Reply::Slow(std::time::Duration::from_secs(3), 200)]);
    let started = Instant::now();
    let id = create(&app, "process_pending", &receiver.url()).await;

    receiver.wait_for(1).await;
    let entries = wait_for_logs(&app, &id, 1).await;
    assert!(
        started.elapsed().as_millis() < 2_500,
        "the attempt was cut off at the timeout"
    );
    assert_entry(&entries[0], "failed", Value::Null, "process_pending");

    app.advance_secs(10);
    receiver.wait_for(2).await;
    let entries = wait_for_logs(&app, &id, 2).await;
    assert_entry(&entries[1], "done", json!(200), "process_pending");
}

#[tokio::test]
async fn manual_resend_through_the_private_api() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let id = create(&app, "processed", &receiver.url()).await;
    receiver.wait_for(2).await;
    wait_for_logs(&app, &id, 2).await;

    let path = format!("/api/payment-invoices/{id}/callbacks");
    let response = app
        .private(reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["type"], "callbacks");
    assert_eq!(
        body["data"]["attributes"]["transaction_status"],
        "processed"
    );
    assert_eq!(body["data"]["attributes"]["status"], "pending");
    assert_eq!(body["data"]["attributes"]["url"], receiver.url());

    let received = receiver.wait_for(3).await;
    let resent = &received[2];
    assert_eq!(resent.status(), "processed");
    assert_eq!(
        resent.header("webhook-id"),
        body["data"]["id"].as_str().unwrap()
    );
    assert_ne!(
        resent.header("webhook-id"),
        received[1].header("webhook-id"),
        "a new message"
    );
    assert_signed_with(resent, &app.merchant.test.callback_secret);
    let entries = wait_for_logs(&app, &id, 3).await;
    assert_entry(&entries[2], "done", json!(200), "processed");

    // Errors: no credentials, an unknown invoice, another merchant's
    // invoice, an invoice without a callback URL.
    let anonymous = app.http.post(app.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let unknown = app
        .private(
            reqwest::Method::POST,
            "/api/payment-invoices/cpi_nosuchinvoice00/callbacks",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    let other = app
        .engine()
        .create_merchant(kassa_engine::merchants::NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let foreign = app
        .http
        .post(app.url(&path))
        .basic_auth(
            &other.test.private_key_id,
            Some(&other.test.private_key_secret),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 404);
    let (code, body) = app.create_private(test_invoice("process_pending")).await;
    assert_eq!(code, 201, "{body}");
    let silent = body["data"]["id"].as_str().unwrap();
    let response = app
        .private(
            reqwest::Method::POST,
            &format!("/api/payment-invoices/{silent}/callbacks"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"]["callback_url"].is_string(), "{body}");
    receiver.stays_at(3).await;
}

#[tokio::test]
async fn private_callback_urls_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(|c| c.allow_private_callback_urls = false).await;
    for url in [
        "http://127.0.0.1:9/callbacks",
        "http://localhost:9/callbacks",
        "http://LOCALHOST/",
        "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
    ] {
        let mut attributes = test_invoice("process_pending");
        attributes["callback_url"] = json!(url);
        let (code, body) = app.create_private(attributes).await;
        assert_eq!(code, 422, "{url}: {body}");
        assert!(body["errors"]["callback_url"].is_string(), "{url}: {body}");
    }
    let (code, body) = app.get_private("/api/payment-invoices").await;
    assert_eq!(code, 200);
    assert_eq!(body["data"], json!([]), "a refused request creates nothing");

    // A public address is fine.
    let mut attributes = test_invoice("process_pending");
    attributes["callback_url"] = json!("http://203.0.113.10/callbacks");
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn delivery_refuses_private_addresses_unless_allowed() {
    // Owed while loopback was allowed, due after the operator stopped
    // allowing it: the address is checked again at delivery.
    let mut app = TestApp::spawn().await;
    let reserved = Receiver::reserve();
    let id = create(&app, "process_pending", &reserved.url()).await;
    let entries = wait_for_logs(&app, &id, 1).await;
    assert_entry(&entries[0], "failed", Value::Null, "process_pending");
    app.stop().await;

    let receiver = reserved.start(&[], 200);
    app.config.allow_private_callback_urls = false;
    app.clock.advance_secs(10);
    app.restart().await;
    let entries = wait_for_logs(&app, &id, 2).await;
    assert_entry(&entries[1], "failed", Value::Null, "process_pending");
    receiver.stays_at(0).await;
    let attempts = app.engine().callback_attempts(id.clone()).await.unwrap();
    let error = attempts[1].error.as_deref().unwrap_or_default();
    assert!(error.contains("refused"), "{error}");
}

#[tokio::test]
async fn a_failed_attempt_keeps_no_credential_of_its_url() {
    let app = TestApp::spawn().await;
    // Nothing listens there: the attempt fails to connect.
    let reserved = Receiver::reserve();
    let url = reserved
        .url()
        .replacen("http://", "http://hook:s3cret-pass@", 1)
        + "?token=t0ken-in-query";
    let id = create(&app, "process_pending", &url).await;
    let entries = wait_for_logs(&app, &id, 1).await;
    assert_entry(&entries[0], "failed", Value::Null, "process_pending");
    let attempts = app.engine().callback_attempts(id.clone()).await.unwrap();
    // The error is what the attempt keeps and what the log line shows.
    let error = attempts[0].error.as_deref().unwrap_or_default();
    assert!(!error.is_empty());
    assert!(
        !error.contains("s3cret-pass") && !error.contains("t0ken-in-query"),
        "{error}"
    );
    drop(reserved);
}
