//! A node whose PostgreSQL goes away: every face answers 503 in its own
//! error format within the configured wait, never hangs, changes nothing,
//! and serves again as soon as the database is back, reconnecting by itself.
//! The database sits behind a TCP proxy the test silences, refuses or cuts.

mod common;
mod h2h_support;
mod merchant_api_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{PgDatabase, TestApp};
use h2h_support::{add, card, Client};
use merchant_api_support::Api;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
/// `db_timeout_ms` of the node under test.
const WAIT_MS: u64 = 1_000;
/// A 503 must come within the wait plus this much.
const SLACK: Duration = Duration::from_millis(1_500);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Forward,
    /// Connections stay open, but nothing reaches either side: a database
    /// gone silent (a partition, a stopped server).
    Silent,
    /// New connections are closed at once: a database that is down.
    Refuse,
}

/// A TCP proxy in front of PostgreSQL. Every change of mode also ends the
/// connections of the mode before (held silent ones are closed), as a
/// restarted or reachable-again server would.
struct Proxy {
    addr: SocketAddr,
    control: watch::Sender<(Mode, u64)>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (control, _) = watch::channel((Mode::Forward, 0));
        let subscribe = control.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut changes = subscribe.subscribe();
                let (mode, _) = *changes.borrow_and_update();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    match mode {
                        Mode::Refuse => drop(client),
                        Mode::Silent => {
                            let _ = changes.changed().await;
                        }
                        Mode::Forward => {
                            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = changes.changed() => {
                                    if changes.borrow_and_update().0 == Mode::Silent {
                                        let _ = changes.changed().await;
                                    }
                                }
                            }
                        }
                    }
                });
            }
        });
        Proxy { addr, control }
    }

    fn set(&self, mode: Mode) {
        self.control.send_modify(|(m, generation)| {
            *m = mode;
            *generation += 1;
        });
    }
}

struct Outage {
    app: TestApp,
    proxy: Proxy,
    trader_token: String,
    invoice_id: String,
    _db: PgDatabase,
}

/// A node on its own PostgreSQL database reached through the proxy, with a
/// card cabinet, a trader and an invoice made while all is well.
async fn node() -> Option<Outage> {
    let db = common::postgres_only()?;
    // postgres://user@host:port/name: the proxy takes host:port's place.
    let (head, name) = db.url.rsplit_once('/').unwrap();
    let (user, upstream) = head.rsplit_once('@').unwrap();
    let proxy = Proxy::start(upstream.to_string()).await;
    let url = format!("{user}@{}/{name}", proxy.addr);
    let app = TestApp::spawn_with(|c| {
        db.configure(c);
        c.database_url = url;
        c.db_pool_size = 4;
        c.db_timeout_ms = WAIT_MS;
        c.db_statement_timeout_ms = WAIT_MS;
        c.admin_token = Some(ADMIN_TOKEN.into());
    })
    .await;
    let (trader, trader_token) = app.engine().create_trader("Trader".into()).await.unwrap();
    add(app.engine(), card(&trader.id)).await;
    let (status, created) = app.create_private(attributes("before-outage")).await;
    assert_eq!(status, 201, "{created}");
    Some(Outage {
        invoice_id: created["data"]["id"].as_str().unwrap().to_string(),
        app,
        proxy,
        trader_token,
        _db: db,
    })
}

fn attributes(reference_id: &str) -> Value {
    json!({"reference_id": reference_id, "amount": "10.00", "currency": "USD",
           "service": "payment_card_usd_hpp"})
}

/// What one request answered, and how long it took.
struct Answer {
    face: &'static str,
    status: u16,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

impl Answer {
    async fn of(face: &'static str, request: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let response = request.send().await.expect("the node answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = response.text().await.unwrap();
        Answer {
            face,
            status,
            retry_after,
            body,
            took: started.elapsed(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.face, self.body))
    }
}

/// One request on every face, all at once.
async fn every_face(o: &Outage) -> Vec<Answer> {
    let app = &o.app;
    let h2h = Client::of(app);
    let book = h2h.sign(h2h.body(900_000));
    let api = Api::test(app);
    let signed_path = "/api/merchant/invoices/inv_missing";
    let merchant_get = app
        .http
        .get(app.url(signed_path))
        .header("X-Identity", &api.key)
        .header(
            "X-Signature",
            merchant_api_support::hmac_hex(&api.secret, signed_path.as_bytes()),
        );
    let checkout_create = app
        .private(reqwest::Method::POST, "/api/payment-invoices")
        .json(&json!({"data": {"type": "payment-invoices",
                               "attributes": attributes("during-outage")}}));
    let checkout_get = app.private(
        reqwest::Method::GET,
        &format!("/api/payment-invoices/{}", o.invoice_id),
    );
    let requests = [
        ("checkout create", checkout_create),
        ("checkout get", checkout_get),
        (
            "h2h book_cabinet",
            app.http.post(app.url("/api/book_cabinet")).json(&book),
        ),
        ("merchant api", merchant_get),
        (
            "trader api",
            app.http
                .get(app.url("/trader-api/cabinets"))
                .bearer_auth(&o.trader_token),
        ),
        (
            "admin api",
            app.http
                .get(app.url("/admin-api/traders"))
                .bearer_auth(ADMIN_TOKEN),
        ),
        (
            "hosted page",
            app.http.get(app.url(&format!("/hpp/{}", o.invoice_id))),
        ),
        ("ready", app.http.get(app.url("/ready"))),
    ];
    futures::future::join_all(
        requests
            .into_iter()
            .map(|(face, request)| Answer::of(face, request)),
    )
    .await
}

fn assert_unavailable_in_each_format(answers: &[Answer]) {
    for a in answers {
        assert_eq!(a.status, 503, "{}: {}", a.face, a.body);
        assert!(
            a.took < Duration::from_millis(WAIT_MS) + SLACK,
            "{} took {:?}",
            a.face,
            a.took
        );
        assert_eq!(a.retry_after.as_deref(), Some("1"), "{}", a.face);
        match a.face {
            "checkout create" | "checkout get" => {
                let errors = &a.json()["errors"];
                assert_eq!(errors[0]["code"], json!("503"), "{}", a.body);
                assert_eq!(errors[0]["status"], json!("service_unavailable"));
            }
            "h2h book_cabinet" => {
                assert_eq!(
                    a.json(),
                    json!({"error": "Service temporarily unavailable"})
                );
            }
            "merchant api" | "trader api" | "admin api" => {
                assert_eq!(
                    a.json()["error"]["code"],
                    json!("unavailable"),
                    "{}",
                    a.body
                );
            }
            "hosted page" => assert!(a.body.contains("briefly unavailable"), "{}", a.body),
            "ready" => assert_eq!(a.json(), json!({"status": "unavailable"})),
            other => unreachable!("{other}"),
        }
    }
}

/// Polls `/ready` until the node reads its database again.
async fn wait_ready(app: &TestApp) -> Duration {
    let started = Instant::now();
    loop {
        let status = app
            .http
            .get(app.url("/ready"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not ready again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_database_gets_503_on_every_face_then_service_resumes() {
    let Some(o) = node().await else { return };
    o.proxy.set(Mode::Silent);
    assert_unavailable_in_each_format(&every_face(&o).await);
    // Twice: the connections stuck on the silent database do not make the
    // next requests wait any longer.
    assert_unavailable_in_each_format(&every_face(&o).await);

    o.proxy.set(Mode::Forward);
    wait_ready(&o.app).await;
    // The create answered 503 made nothing: the repeat creates the invoice.
    let (status, body) = o.app.create_private(attributes("during-outage")).await;
    assert_eq!(status, 201, "{body}");
    let (status, again) = o.app.create_private(attributes("during-outage")).await;
    assert_eq!((status, &again["data"]["id"]), (200, &body["data"]["id"]));
    let (status, _) = o
        .app
        .get_private(&format!("/api/payment-invoices/{}", o.invoice_id))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_refuses_connections_gets_a_prompt_503() {
    let Some(o) = node().await else { return };
    o.proxy.set(Mode::Refuse);
    assert_unavailable_in_each_format(&every_face(&o).await);
    o.proxy.set(Mode::Forward);
    wait_ready(&o.app).await;
    let (status, body) = o.app.create_private(attributes("after-refusal")).await;
    assert_eq!(status, 201, "{body}");
}

/// A restart of the database closes every pooled connection; the first
/// request after it is served on a fresh one, not answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_are_replaced_without_failing_a_request() {
    let Some(o) = node().await else { return };
    let h2h = Client::of(&o.app);
    for round in 0..5 {
        // Every pooled connection in use at least once, then all cut.
        let creates = (0..4).map(|i| o.app.create_private(attributes(&format!("r{round}-{i}"))));
        for (status, body) in futures::future::join_all(creates).await {
            assert_eq!(status, 201, "{body}");
        }
        o.proxy.set(Mode::Forward);
        let (status, body) = o
            .app
            .create_private(attributes(&format!("after-cut-{round}")))
            .await;
        assert_eq!(status, 201, "round {round}: {body}");
        h2h.book(1_000_000 + 100_000 * round).await.expect(200);
    }
}
