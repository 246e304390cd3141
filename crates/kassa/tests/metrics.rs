//! `GET /metrics` end to end: a real server on port 0 (SQLite, or PostgreSQL
//! with `KASSA_TEST_BACKEND=postgres`) takes invoices, a bad request and a
//! callback to a receiver that fails once; its scrapes, parsed strictly,
//! show each counter moved by exactly what was done. And `log_format =
//! "json"`: the binary's logs as one JSON object a line, with no secret.
//!
//! The recorder is the process's: one test here records into it, so no
//! other moves its counters meanwhile.

mod cli_support;
mod common;
mod receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::{test_invoice, TestApp};
use receiver::Receiver;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "metrics-operator-token-5b1f";

/// One scrape: every sample by its name and sorted labels, and each
/// family's declared type.
#[derive(Debug, Default)]
struct Scrape {
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses the Prometheus text format, failing on any line it does not
    /// understand, a sample without a value, or a sample given twice.
    fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines() {
            if line.is_empty() || line.starts_with("# HELP ") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "type {kind}"
                );
                scrape.types.insert(name.into(), kind.into());
                continue;
            }
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
                None => (series, BTreeMap::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "metric name {name}"
            );
            let key = (name.to_string(), labels);
            assert!(scrape.samples.insert(key, value).is_none(), "twice: {line}");
        }
        scrape
    }

    /// The sample named with exactly these labels; 0 when absent (a counter
    /// not yet moved).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .get(&(name.to_string(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(n, _)| n == name)
    }

    /// The values of one label over a family's samples.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.samples
            .keys()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.get(label).cloned())
            .collect()
    }
}

/// `a="x",b="y \"q\""`: names, then quoted values with `\\`, `\"`, `\n`.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {name} is quoted");
        let mut value = String::new();
        loop {
            match chars.next().expect("closing quote") {
                '"' => break,
                '\\' => match chars.next().expect("escape") {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("escape \\{c}"),
                },
                c => value.push(c),
            }
        }
        assert!(labels.insert(name, value).is_none(), "label twice");
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(c) => panic!("after a label value: {c}"),
        }
    }
    labels
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&response.text().await.unwrap())
}

const CREATE: &[(&str, &str)] = &[
    ("face", "checkout"),
    ("route", "/api/payment-invoices"),
    ("method", "POST"),
];

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

#[tokio::test]
async fn counters_move_by_what_was_done_and_only_the_operator_may_scrape() {
    let app = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        // The hold outlives the test clock's moves below.
        c.hold_ttl_secs = 3600;
    })
    .await;
    // The first attempt fails; its retry, and every other callback, succeeds.
    let receiver = Receiver::start(&[500], 200);
    let before = scrape(&app).await;

    // Refused: no token, and a wrong one, in the admin API's shape.
    let no_token = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert!(body.is_object(), "{body}");
    let wrong = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Three invoices that stay pending, one that the test provider
    // completes with callbacks to the receiver.
    for _ in 0..3 {
        let (code, body) = app.create_private(test_invoice("process_pending")).await;
        assert_eq!(code, 201, "{body}");
    }
    let mut attributes = test_invoice("processed");
    attributes["callback_url"] = json!(receiver.url());
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
    let paid = body["data"]["id"].as_str().unwrap().to_string();
    // A client's mistake, and a path no route has.
    let (bad_code, body) = app
        .create_private(json!({"amount": "ten", "currency": "USD", "service": "test_usd_test"}))
        .await;
    assert!((400..500).contains(&bad_code), "{bad_code} {body}");
    let nowhere = app.http.get(app.url("/no/such/path")).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
    // A repeat changes nothing, nor does a reused reference with another
    // body: neither is a status change, though each job ran.
    let mut once = test_invoice("process_pending");
    once["reference_id"] = json!("order-7");
    let (code, _) = app.create_private(once.clone()).await;
    assert_eq!(code, 201);
    let (repeat_code, _) = app.create_private(once.clone()).await;
    assert!((200..300).contains(&repeat_code), "{repeat_code}");
    once["amount"] = json!("7.00");
    let (conflict_code, body) = app.create_private(once).await;
    assert_eq!(conflict_code, 409, "{body}");

    // One live hold on a RUB cabinet, and a bank notification no deal has.
    let (trader, _) = common::rub_trader(&app, "Ivan", "card", "2200123456789012").await;
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let hold = engine
        .book_cabinet(
            &merchant,
            kassa_engine::p2p::BookRequest {
                request_id: "hold-1".into(),
                method: "card".into(),
                currency: "RUB".into(),
                amount_minor: 150_000,
                bank_name: None,
            },
        )
        .await
        .expect("held");
    engine
        .post_bank_notification(
            &trader,
            kassa_engine::p2p::NewNotification {
                external_id: "sms-1".into(),
                cabinet_id: hold.cabinet_id.clone(),
                amount: "12.34".into(),
                text: None,
                received_at_secs: None,
            },
        )
        .await
        .expect("posted");
    // A payout the balance (none) cannot cover: its job inserts the payout,
    // then its hold posting fails and the job rolls back. Nothing counted.
    let refused = engine
        .create_payout(
            &merchant,
            false,
            kassa_engine::payouts::NewPayout {
                request_id: "too-much".into(),
                amount_minor: 10_000,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: json!({"card_number": "4242424242424242"})
                    .as_object()
                    .unwrap()
                    .clone(),
                source: kassa_domain::payout::PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(kassa_engine::EngineError::InsufficientFunds)),
        "{:?}",
        refused.err()
    );

    app.wait_for_invoice(&paid, "processed", |a| a["status"] == "processed")
        .await;
    // The failed attempt is retried 10 s later on the test clock.
    receiver.wait_for(1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        app.advance_secs(10);
        let now = scrape(&app).await;
        let owed = now.value("kassa_callbacks_owed", &[]);
        let delivered = now.value(
            "kassa_callback_deliveries_total",
            &[("outcome", "delivered")],
        ) - before.value(
            "kassa_callback_deliveries_total",
            &[("outcome", "delivered")],
        );
        if owed == 0.0 && delivered as usize + 1 == receiver.count() {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks still owed: {owed}, delivered {delivered}, received {}",
            receiver.count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let delta = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };

    // Requests, by route template and status.
    let created = with(CREATE, &[("status", "201")]);
    let repeats = u8::from(repeat_code == 201);
    assert_eq!(
        delta("kassa_http_requests_total", &created),
        5.0 + f64::from(repeats)
    );
    let conflict = with(CREATE, &[("status", "409")]);
    assert_eq!(delta("kassa_http_requests_total", &conflict), 1.0);
    let bad = bad_code.to_string();
    let refused = with(CREATE, &[("status", bad.as_str())]);
    assert_eq!(delta("kassa_http_requests_total", &refused), 1.0);
    let unauthorized = [
        ("face", "admin"),
        ("route", "/metrics"),
        ("method", "GET"),
        ("status", "401"),
    ];
    assert_eq!(delta("kassa_http_requests_total", &unauthorized), 2.0);
    let unmatched = [
        ("face", "none"),
        ("route", "unmatched"),
        ("method", "any"),
        ("status", "404"),
    ];
    assert_eq!(delta("kassa_http_requests_total", &unmatched), 1.0);
    // Only route templates, never a raw path.
    let routes = after.label_values("kassa_http_requests_total", "route");
    assert!(routes.contains("/api/payment-invoices/{id}"), "{routes:?}");
    assert!(
        !routes
            .iter()
            .any(|r| r.contains(&paid) || r.contains("/no/such")),
        "{routes:?}"
    );

    // The latency histogram: every created invoice in its count and +Inf.
    assert_eq!(
        after
            .types
            .get("kassa_http_request_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        delta("kassa_http_request_duration_seconds_count", CREATE),
        8.0
    );
    let inf = with(CREATE, &[("le", "+Inf")]);
    assert_eq!(
        delta("kassa_http_request_duration_seconds_bucket", &inf),
        8.0
    );
    assert!(delta("kassa_http_request_duration_seconds_sum", CREATE) > 0.0);
    let buckets = after.label_values("kassa_http_request_duration_seconds_bucket", "le");
    assert!(buckets.len() > 5, "{buckets:?}");

    // Status changes, counted after their commits.
    let pending = [("status", "process_pending"), ("mode", "test")];
    assert_eq!(delta("kassa_invoice_status_changes_total", &pending), 5.0);
    let processed = [("status", "processed"), ("mode", "test")];
    assert_eq!(delta("kassa_invoice_status_changes_total", &processed), 1.0);

    let payouts = |s: &Scrape| -> f64 {
        s.samples
            .iter()
            .filter(|((n, _), _)| n == "kassa_payout_status_changes_total")
            .map(|(_, v)| v)
            .sum()
    };
    assert_eq!(
        payouts(&after),
        payouts(&before),
        "a rolled-back payout counted"
    );

    // Deliveries by outcome: one failure, then all delivered.
    assert_eq!(
        delta("kassa_callback_deliveries_total", &[("outcome", "failed")]),
        1.0
    );
    assert!(receiver.count() >= 2);
    assert_eq!(
        delta(
            "kassa_callback_deliveries_total",
            &[("outcome", "delivered")]
        ),
        (receiver.count() - 1) as f64
    );

    // The gauges read at scrape time.
    for gauge in [
        "kassa_callbacks_owed",
        "kassa_callbacks_due",
        "kassa_callbacks_leased",
        "kassa_callbacks_failed",
        "kassa_callback_failing_hosts",
        "kassa_store_write_queue_jobs",
        "kassa_store_connections_max",
        "kassa_p2p_unmatched_notifications",
    ] {
        assert_eq!(
            after.types.get(gauge).map(String::as_str),
            Some("gauge"),
            "{gauge}"
        );
    }
    assert_eq!(after.value("kassa_gauges_fresh", &[]), 1.0);
    let rub_live = [("currency", "RUB"), ("mode", "live")];
    assert_eq!(after.value("kassa_p2p_open_holds", &rub_live), 1.0);
    assert_eq!(after.value("kassa_p2p_open_deals", &rub_live), 0.0);
    assert_eq!(
        after.value("kassa_p2p_unmatched_notifications", &[("mode", "live")]),
        1.0
    );
    assert_eq!(
        after.value("kassa_p2p_unmatched_notifications", &[("mode", "test")]),
        0.0
    );
    assert_eq!(after.value("kassa_callbacks_failed", &[]), 0.0);
    // Every family exported is described in the operations guide.
    let documented = documented_metrics();
    for name in after.types.keys() {
        assert!(
            documented.contains(name),
            "{name} is not in docs/operations.md"
        );
    }
    if common::on_postgres() {
        assert!(after.value("kassa_store_connections", &[("state", "open")]) >= 1.0);
        assert!(after.has("kassa_store_pool_wait_seconds_bucket"));
    } else {
        assert!(after.has("kassa_store_write_batch_jobs_bucket"));
    }
}

/// Runs `kassa serve` with `format` (none: the default) until it logs that
/// it serves; returns its log lines and the database's master key.
async fn serve_logs(format: Option<&str>) -> (Vec<String>, Option<String>) {
    let db = cli_support::fresh_db();
    let mut command = common::kassa_command(&db.url, db.master_key.as_deref());
    command
        .arg("serve")
        .current_dir(db.dir.path())
        .env("KASSA_LISTEN", "127.0.0.1:0")
        .env("KASSA_LOG", "info")
        .env("KASSA_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(format) = format {
        command.env("KASSA_LOG_FORMAT", format);
    }
    let mut child = command.spawn().expect("kassa serve");
    let stderr = child.stderr.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("stderr is UTF-8");
            let serving = line.contains("serving");
            lines.push(line);
            if serving {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    (lines, db.master_key.clone())
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_without_secrets() {
    let (lines, master_key) = serve_logs(Some("json")).await;
    assert!(
        lines.last().is_some_and(|l| l.contains("serving")),
        "{lines:?}"
    );
    for line in &lines {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        let object = value.as_object().expect("each line an object");
        for key in ["timestamp", "level", "target", "message"] {
            assert!(object.contains_key(key), "{key} in {line}");
        }
        assert!(!line.contains(ADMIN_TOKEN), "the admin token in {line}");
        if let Some(key) = &master_key {
            assert!(!line.contains(key.as_str()), "the master key in {line}");
        }
    }
    let serving: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(serving["message"], "serving");
    assert_eq!(serving["level"], "INFO");
    let addr = serving["addr"].as_str().expect("the address as a field");
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
}

#[tokio::test]
async fn text_logs_stay_the_default_and_a_bad_format_is_refused() {
    let (lines, _) = serve_logs(None).await;
    let serving = lines.last().expect("a line");
    assert!(
        serving.contains("serving") && serving.contains("INFO"),
        "{serving}"
    );
    assert!(serde_json::from_str::<Value>(serving).is_err(), "{serving}");

    let db = cli_support::fresh_db();
    let mut command = common::kassa_command(&db.url, db.master_key.as_deref());
    let bad = command
        .arg("migrate")
        .current_dir(db.dir.path())
        .env("KASSA_LOG_FORMAT", "xml")
        .output()
        .expect("kassa runs");
    assert!(!bad.status.success());
    let message = String::from_utf8(bad.stderr).unwrap();
    assert!(message.contains("log_format"), "{message}");
}

/// The metric names of the table in docs/operations.md#metrics.
fn documented_metrics() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md");
    let text = std::fs::read_to_string(path).expect("docs/operations.md");
    text.lines()
        .filter_map(|l| l.strip_prefix("| `kassa_"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, _)| format!("kassa_{name}"))
        .collect()
}

#[test]
fn the_dashboard_is_json_and_charts_only_documented_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/grafana/kassa.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the dashboard")).unwrap();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables
        .iter()
        .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"));
    let documented = documented_metrics();
    let mut charted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("an expression");
            assert_eq!(target["datasource"]["uid"], "${datasource}");
            let mut rest = expr;
            while let Some(at) = rest.find("kassa_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name)
                    .to_string();
                assert!(documented.contains(&family), "{family} in {expr}");
                charted.insert(family);
            }
        }
    }
    // Each group of the guide has its panel.
    for family in [
        "kassa_http_requests_total",
        "kassa_http_request_duration_seconds",
        "kassa_invoice_status_changes_total",
        "kassa_deal_status_changes_total",
        "kassa_payout_status_changes_total",
        "kassa_callbacks_owed",
        "kassa_callback_deliveries_total",
        "kassa_p2p_open_holds",
        "kassa_p2p_open_deals",
        "kassa_p2p_unmatched_notifications",
        "kassa_store_unavailable_total",
        "kassa_store_pool_wait_seconds",
        "kassa_store_write_queue_jobs",
    ] {
        assert!(charted.contains(family), "no panel for {family}");
    }
}
