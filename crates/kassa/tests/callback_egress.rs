//! Callbacks connect only to public addresses, and only to addresses the
//! check let through: the callback client resolves a name once and drops
//! every blocked address, however the name answers (DNS rebinding). The
//! test answers the names itself and runs the receiver on loopback.

mod common;
mod receiver;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{test_invoice, TestApp};
use kassa_engine::egress::{Dns, Lookup};
use receiver::{Receiver, GRACE};
use serde_json::json;

/// A name server the test runs: answers each lookup of a name from a list,
/// the last answer repeating, and counts the lookups.
struct ScriptedDns {
    answers: Vec<Vec<IpAddr>>,
    lookups: AtomicUsize,
}

impl ScriptedDns {
    fn new(answers: &[&[&str]]) -> Arc<ScriptedDns> {
        Arc::new(ScriptedDns {
            answers: answers
                .iter()
                .map(|a| a.iter().map(|ip| ip.parse().unwrap()).collect())
                .collect(),
            lookups: AtomicUsize::new(0),
        })
    }
}

impl Dns for ScriptedDns {
    fn lookup(&self, _host: &str) -> Lookup {
        let n = self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers[n.min(self.answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

/// An app that delivers only to public addresses, whose callback host names
/// are answered by `dns`; and an invoice whose callback goes to `host` at
/// the receiver's port.
async fn deliver_via(dns: Arc<ScriptedDns>, host: &str, receiver: &Receiver) -> (TestApp, String) {
    let app = TestApp::spawn_with(|c| {
        c.allow_private_callback_urls = false;
        c.callback_timeout_ms = 500;
    })
    .await;
    app.engine().set_dns(dns);
    let mut attributes = test_invoice("process_pending");
    attributes["callback_url"] = json!(format!("http://{host}:{}/callbacks", receiver.addr.port()));
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
    (app, body["data"]["id"].as_str().expect("an id").to_string())
}

/// Waits for the first delivery attempt of an invoice's callback and
/// returns its error.
async fn first_attempt_error(app: &TestApp, invoice_id: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempts = app
            .engine()
            .callback_attempts(invoice_id.to_string())
            .await
            .expect("attempts");
        if let Some(first) = attempts.first() {
            assert_eq!(first.status, "failed", "{first:?}");
            return first.error.clone().unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt was made"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_name_that_rebinds_to_a_private_address_is_never_connected_to() {
    let receiver = Receiver::start(&[], 200);
    // A public address to whoever asks first, loopback to everyone after.
    let dns = ScriptedDns::new(&[&["192.0.2.10"], &["127.0.0.1"]]);
    let (app, id) = deliver_via(dns.clone(), "rebind.example", &receiver).await;
    let error = first_attempt_error(&app, &id).await;
    assert!(dns.lookups.load(Ordering::SeqCst) >= 1);
    receiver.stays_at(0).await;
    assert!(!error.is_empty(), "the attempt says why it failed");
}

#[tokio::test]
async fn a_name_that_resolves_to_blocked_addresses_is_refused() {
    for answer in [
        &["127.0.0.1"][..],
        &["::ffff:127.0.0.1"],
        &["100.64.0.1", "198.18.0.1", "0.0.0.0"],
    ] {
        let receiver = Receiver::start(&[], 200);
        let (app, id) = deliver_via(ScriptedDns::new(&[answer]), "inside.example", &receiver).await;
        let error = first_attempt_error(&app, &id).await;
        assert!(error.contains("refused"), "{answer:?}: {error}");
        tokio::time::sleep(GRACE).await;
        assert_eq!(receiver.count(), 0, "{answer:?} was connected to");
    }
}
