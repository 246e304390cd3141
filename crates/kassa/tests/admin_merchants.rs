//! Merchants' settings through the admin API and the command line, and a
//! merchant's own callback retry schedule as delivery follows it. The test
//! config retries the operator's way after 10, 20, 40, 40... s, at most 5
//! attempts; a merchant's delays may be 1 s to 1 h here.

mod common;
mod receiver;

use std::time::Duration;

use common::{test_invoice, TestApp};
use kassa_domain::{CallbackAttempt, CallbackState};
use kassa_engine::merchants::{IssuedMerchant, NewMerchant};
use kassa_engine::Clock;
use receiver::Receiver;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "admin-token-for-the-tests";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.callback_retry_min_secs = 1;
        c.callback_retry_max_secs = 3600;
    })
    .await
}

/// An admin API request with the token.
async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let path = format!("/admin-api/merchants/{id}");
    admin(app, reqwest::Method::PATCH, &path, Some(body)).await
}

async fn get(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin-api/merchants/{id}");
    let (status, body) = admin(app, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The `kassa` binary on the app's database, with the app's bounds (the
/// command line checks a schedule against its own configuration).
fn kassa(app: &TestApp, args: &[&str]) -> std::process::Output {
    let c = &app.config;
    common::kassa_command(&c.database_url, c.master_key.as_deref())
        .env(
            "KASSA_CALLBACK_RETRY_MIN_SECS",
            c.callback_retry_min_secs.to_string(),
        )
        .env(
            "KASSA_CALLBACK_RETRY_MAX_SECS",
            c.callback_retry_max_secs.to_string(),
        )
        .env(
            "KASSA_CALLBACK_MAX_ATTEMPTS",
            c.callback_max_attempts.to_string(),
        )
        .args(args)
        .output()
        .unwrap()
}

/// Creates a test invoice of `merchant` that stays pending, with callbacks
/// to `url`.
async fn create(app: &TestApp, merchant: &IssuedMerchant, url: &str) -> String {
    let mut attributes = test_invoice("process_pending");
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

/// Waits until `n` attempts of the invoice's callbacks are recorded (the
/// next retry is scheduled as each is), and returns them.
async fn attempts(app: &TestApp, invoice: &str, n: usize) -> Vec<CallbackAttempt> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = app
            .engine()
            .callback_attempts(invoice.to_string())
            .await
            .unwrap();
        if found.len() >= n {
            assert_eq!(found.len(), n, "{found:?}");
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchants_own_schedule_spaces_and_bounds_its_retries() {
    let app = spawn().await;
    let own = &app.merchant;
    let other = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let (status, body) = patch(
        &app,
        &own.merchant_id,
        json!({"callback_retry_secs": [1, 2], "callback_max_attempts": 3}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["callback_retry_secs"], json!([1, 2]));
    assert_eq!(body["callback_max_attempts"], 3);

    // Both receivers always fail (each its own host, so that no circuit
    // opens between them).
    let own_receiver = Receiver::start(&[], 503);
    let other_receiver = Receiver::start(&[], 503);
    let t0 = app.clock.now_secs();
    let own_invoice = create(&app, own, &own_receiver.url()).await;
    let other_invoice = create(&app, &other, &other_receiver.url()).await;
    attempts(&app, &own_invoice, 1).await;
    attempts(&app, &other_invoice, 1).await;

    // The merchant's spacing: 1 s, then 2 s.
    app.advance_secs(1);
    attempts(&app, &own_invoice, 2).await;
    app.advance_secs(1);
    own_receiver.stays_at(2).await;
    app.advance_secs(1);
    let own_attempts = attempts(&app, &own_invoice, 3).await;
    let at: Vec<i64> = own_attempts.iter().map(|a| a.at_secs - t0).collect();
    assert_eq!(at, [0, 1, 3]);
    // The other merchant's waits for the operator's 10 s all along.
    other_receiver.stays_at(1).await;
    app.advance_secs(7);
    let other_attempts = attempts(&app, &other_invoice, 2).await;
    assert_eq!(other_attempts[1].at_secs - t0, 10);

    // Three attempts and no more: the merchant's callback has failed, the
    // other one is still retried.
    app.advance_secs(20);
    let other_attempts = attempts(&app, &other_invoice, 3).await;
    assert_eq!(other_attempts[2].at_secs - t0, 30);
    app.advance_secs(3600);
    attempts(&app, &other_invoice, 4).await;
    own_receiver.stays_at(3).await;
    let callbacks = app.engine().callbacks(own_invoice).await.unwrap();
    assert_eq!(callbacks[0].state, CallbackState::Failed);
    assert_eq!(callbacks[0].attempts, 3);
    let callbacks = app.engine().callbacks(other_invoice).await.unwrap();
    assert_eq!(callbacks[0].state, CallbackState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_lists_shows_and_changes_merchants() {
    let app = spawn().await;
    let id = app.merchant.merchant_id.as_str();
    let (status, list) = admin(&app, reqwest::Method::GET, "/admin-api/merchants", None).await;
    assert_eq!(status, 200, "{list}");
    let listed = &list["data"][0];
    assert_eq!(listed["merchant_id"], id);
    assert_eq!(listed["name"], "Test Shop");
    assert_eq!(listed["test_public_key"], app.merchant.test.public_key);
    assert_eq!(listed["callback_statuses"], "all");
    assert_eq!(listed["callback_retry_secs"], Value::Null);
    assert_eq!(listed["callback_max_attempts"], Value::Null);
    let text = list.to_string();
    for secret in [
        &app.merchant.test.private_key_secret,
        &app.merchant.test.callback_secret,
        &app.merchant.live.merchant_api_secret,
        &app.merchant.h2h_secret,
    ] {
        assert!(!text.contains(secret.as_str()), "a secret is shown: {text}");
    }
    assert_eq!(&get(&app, id).await, listed);

    let (status, changed) = patch(
        &app,
        id,
        json!({
            "callback_statuses": "final",
            "callback_retry_secs": [30, 60, 600],
            "callback_max_attempts": 4,
            "callback_url": "https://shop.example/callbacks",
            "return_url": "https://shop.example/thanks",
            "url_hosts": ["Shop.Example"],
            "frame_ancestors": ["https://shop.example"],
            "forbid_public_api": true,
        }),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["callback_statuses"], "final");
    assert_eq!(changed["callback_retry_secs"], json!([30, 60, 600]));
    assert_eq!(changed["callback_max_attempts"], 4);
    assert_eq!(changed["callback_url"], "https://shop.example/callbacks");
    assert_eq!(changed["url_hosts"], json!(["shop.example"]));
    assert_eq!(changed["frame_ancestors"], json!(["https://shop.example"]));
    assert_eq!(changed["forbid_public_api"], true);
    assert_eq!(get(&app, id).await, changed);
    // The command line reads the same.
    let listed = kassa(&app, &["merchant", "list", "--json"]);
    assert!(listed.status.success());
    let cli: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(cli[0], changed);
    let human = kassa(&app, &["merchant", "list"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("callback_retry_secs=30,60,600 callback_max_attempts=4"),
        "{human}"
    );

    // Bad fields: 422 naming each, and nothing changes.
    let (status, error) = patch(
        &app,
        id,
        json!({
            "callback_statuses": "some",
            "callback_retry_secs": "30",
            "callback_max_attempts": -1,
            "colour": "red",
        }),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    let fields = error["error"]["fields"].as_object().unwrap();
    for field in [
        "callback_statuses",
        "callback_retry_secs",
        "callback_max_attempts",
        "colour",
    ] {
        assert!(fields.contains_key(field), "{error}");
    }
    let (status, error) = patch(&app, id, json!({"callback_url": "ftp://x"})).await;
    assert_eq!(status, 422, "{error}");
    assert!(error["error"]["fields"]["callback_url"].is_string());
    assert_eq!(get(&app, id).await, changed);

    // null gives back the operator's schedule and clears a URL.
    let (status, cleared) = patch(
        &app,
        id,
        json!({"callback_retry_secs": null, "callback_max_attempts": null, "return_url": null}),
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert_eq!(cleared["callback_retry_secs"], Value::Null);
    assert_eq!(cleared["callback_max_attempts"], Value::Null);
    assert_eq!(cleared["return_url"], Value::Null);
    assert_eq!(cleared["callback_statuses"], "final");

    // Unknown merchants: 404; no token or a wrong one: 401, nothing shown.
    let (status, error) = patch(&app, "mer_unknown", json!({"callback_max_attempts": 0})).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["code"], "not_found");
    let (status, _) = admin(
        &app,
        reqwest::Method::GET,
        "/admin-api/merchants/mer_unknown",
        None,
    )
    .await;
    assert_eq!(status, 404);
    for path in [
        "/admin-api/merchants",
        &format!("/admin-api/merchants/{id}"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth("not-the-admin-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let body = response.text().await.unwrap();
        assert!(!body.contains(&app.merchant.test.public_key), "{body}");
    }
    let response = app
        .http
        .patch(app.url(&format!("/admin-api/merchants/{id}")))
        .json(&json!({"callback_statuses": "all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(get(&app, id).await, cleared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_outside_the_operators_bounds_is_refused_everywhere() {
    let app = spawn().await;
    let id = app.merchant.merchant_id.as_str();
    let before = get(&app, id).await;
    // Below 1 s, above 1 h, none at all, more delays than the operator's
    // 5 attempts; more attempts than the operator's, or none.
    for (field, value, cli) in [
        ("callback_retry_secs", json!([0, 60]), "0,60"),
        ("callback_retry_secs", json!([60, 3601]), "60,3601"),
        ("callback_retry_secs", json!([]), ""),
        (
            "callback_retry_secs",
            json!([1, 2, 3, 4, 5, 6]),
            "1,2,3,4,5,6",
        ),
        ("callback_max_attempts", json!(6), "6"),
        ("callback_max_attempts", json!(0), "0"),
    ] {
        let (status, error) = patch(&app, id, json!({ field: value })).await;
        assert_eq!(status, 422, "{field} {value}: {error}");
        let message = error["error"]["fields"][field].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{error}");

        let flag = format!("--{}", field.replace('_', "-"));
        let run = kassa(&app, &["merchant", "set", id, &flag, cli]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{flag} {cli}");
        assert!(stderr.contains(field), "{flag} {cli}: {stderr}");
    }
    let run = kassa(
        &app,
        &["merchant", "set", id, "--callback-retry-secs", "ten"],
    );
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("ten"));
    // The messages say what is allowed.
    let (_, error) = patch(&app, id, json!({"callback_retry_secs": [0]})).await;
    assert_eq!(
        error["error"]["fields"]["callback_retry_secs"],
        "Each delay must be from 1 to 3600 seconds; 0 is not."
    );
    let (_, error) = patch(&app, id, json!({"callback_max_attempts": 6})).await;
    assert_eq!(
        error["error"]["fields"]["callback_max_attempts"],
        "This value should be from 1 to 5."
    );
    // A bad setting beside good ones changes none of them.
    let run = kassa(
        &app,
        &[
            "merchant",
            "set",
            id,
            "--callback-statuses",
            "final",
            "--callback-retry-secs",
            "2,7200",
        ],
    );
    assert!(!run.status.success());
    assert_eq!(get(&app, id).await, before);

    // Within the bounds the command line sets them, and `default` gives
    // back the operator's.
    let run = kassa(
        &app,
        &[
            "merchant",
            "set",
            id,
            "--callback-retry-secs",
            "30,60,600",
            "--callback-max-attempts",
            "5",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("callback_retry_secs=30,60,600 callback_max_attempts=5"),
        "{stdout}"
    );
    let set = get(&app, id).await;
    assert_eq!(set["callback_retry_secs"], json!([30, 60, 600]));
    assert_eq!(set["callback_max_attempts"], 5);
    let run = kassa(
        &app,
        &[
            "merchant",
            "set",
            id,
            "--callback-retry-secs",
            "default",
            "--callback-max-attempts",
            "default",
        ],
    );
    assert!(run.status.success());
    assert!(String::from_utf8_lossy(&run.stdout)
        .contains("callback_retry_secs=default callback_max_attempts=default"));
    assert_eq!(get(&app, id).await, before);
}
