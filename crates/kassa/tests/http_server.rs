//! The HTTP server's own limits, over raw sockets: a client that is slow to
//! send its head or its body is cut off, connections past the limit wait,
//! and the admin API can live on a listener of its own.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ADMIN_TOKEN: &str = "admin-token-for-the-tests-0123456789";

async fn connect(app: &TestApp) -> TcpStream {
    let addr = app.server.as_ref().expect("running").addr;
    TcpStream::connect(addr).await.expect("connect")
}

/// Reads until the server closes the connection (or `limit` passes: then
/// panics); returns what it sent and how long it took.
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open for {limit:?}; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

/// One request on a kept-alive connection; the head of the response.
async fn request_head(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: kassa\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .expect("a response within 5 s")
        .expect("read");
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

#[tokio::test]
async fn a_client_that_stalls_in_its_head_is_disconnected() {
    let app = TestApp::spawn_with(|c| c.http_header_timeout_ms = 300).await;

    // Half a head, then nothing.
    let mut stalled = connect(&app).await;
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: ka")
        .await
        .unwrap();
    let (_, after) = read_to_close(&mut stalled, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(250),
        "closed after {after:?}"
    );

    // A kept-alive connection is served, then closed once left idle as long.
    let mut idle = connect(&app).await;
    let head = request_head(&mut idle, "/health").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (rest, after) = read_to_close(&mut idle, Duration::from_secs(5)).await;
    assert!(rest.is_empty(), "{rest}");
    assert!(
        after >= Duration::from_millis(250),
        "closed after {after:?}"
    );

    // The server itself carries on.
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_body_trickled_in_too_slowly_is_refused_and_changes_nothing() {
    let app = TestApp::spawn_with(|c| c.http_body_timeout_ms = 500).await;
    let body = serde_json::json!({"data": {"type": "payment-invoices", "attributes":
        common::test_invoice("process_pending")}})
    .to_string();
    let c = &app.merchant.test;
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", c.private_key_id, c.private_key_secret))
    };
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/payment-invoices HTTP/1.1\r\nHost: kassa\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One byte every 100 ms: each arrives well within the timeout, the whole
    // body (some 20 s) does not.
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    for byte in body.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
        if !answer.is_empty() {
            break;
        }
    }
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(
        elapsed < Duration::from_secs(5),
        "the server read a trickled body for {elapsed:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""errors""#), "{answer}");

    let (status, listed) = app.get_private("/api/payment-invoices").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"], serde_json::json!([]), "{listed}");
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_ends() {
    let app = TestApp::spawn_with(|c| c.http_max_connections = 2).await;
    let mut first = connect(&app).await;
    let mut second = connect(&app).await;
    assert!(request_head(&mut first, "/health")
        .await
        .starts_with("HTTP/1.1 200"));
    assert!(request_head(&mut second, "/health")
        .await
        .starts_with("HTTP/1.1 200"));

    // Both connections are held: a third is not served meanwhile.
    let waiting = reqwest::Client::new()
        .get(app.url("/health"))
        .timeout(Duration::from_millis(700))
        .send()
        .await;
    assert!(waiting.is_err(), "served past the limit: {waiting:?}");

    // One ends: service resumes.
    let third = tokio::spawn(reqwest::get(app.url("/health")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(first);
    let third = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a connection ended")
        .unwrap()
        .expect("request");
    assert_eq!(third.status(), 200);
    assert!(request_head(&mut second, "/health")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn with_admin_listen_the_admin_api_is_served_only_on_its_own_port() {
    let app = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.admin_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let admin_addr = app
        .server
        .as_ref()
        .unwrap()
        .admin_addr
        .expect("an admin listener");
    let admin = |base: &str| {
        app.http
            .get(format!("{base}/admin-api/traders"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };

    let public = admin(&app.base_url).await.unwrap();
    assert_eq!(public.status(), 404);
    let body: serde_json::Value = public.json().await.unwrap();
    assert!(body["errors"].is_array(), "the public port's 404: {body}");

    let own = admin(&format!("http://{admin_addr}")).await.unwrap();
    assert_eq!(own.status(), 200);
    let body: serde_json::Value = own.json().await.unwrap();
    assert!(body["data"].is_array(), "{body}");

    // The admin port serves the admin API alone.
    let other = app
        .http
        .get(format!("http://{admin_addr}/api/payment-invoices"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    // And the public port still serves the faces.
    let (status, _) = app.get_private("/api/payment-invoices").await;
    assert_eq!(status, 200);

    // The metrics go with the admin API: on its port, for its token.
    let scrape = |base: String| {
        app.http
            .get(format!("{base}/metrics"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    assert_eq!(scrape(app.base_url.clone()).await.unwrap().status(), 404);
    let own = scrape(format!("http://{admin_addr}")).await.unwrap();
    assert_eq!(own.status(), 200);
    assert!(own
        .text()
        .await
        .unwrap()
        .contains("kassa_http_requests_total"));
    let anonymous = app
        .http
        .get(format!("http://{admin_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn without_admin_listen_the_admin_api_stays_on_the_public_port() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    assert!(app.server.as_ref().unwrap().admin_addr.is_none());
    let response = app
        .http
        .get(app.url("/admin-api/traders"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
