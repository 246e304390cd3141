//! The headless Chromium of the browser tests (`hosted_page.rs`,
//! `p2p_page.rs`): chromedriver on a free port, killed with its browsers
//! whatever happens, a WebDriver session with the Chromium options, the
//! CI/skip rule, and a tiny merchant site to return the customer to.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A tiny merchant site on port 0: where the customer lands after paying.
pub struct MerchantSite {
    pub base: String,
}

pub async fn merchant_site() -> MerchantSite {
    use axum::response::Html;
    use axum::routing::get;

    fn landing(what: &'static str) -> Html<String> {
        Html(format!(
            "<!doctype html><html><head><title>Shop: {what}</title></head>\
             <body><h1 id=\"landed\">{what}</h1></body></html>"
        ))
    }
    let app = axum::Router::new()
        .route("/success", get(|| async { landing("success") }))
        .route("/fail", get(|| async { landing("fail") }))
        .route("/pending", get(|| async { landing("pending") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the merchant site");
    let addr = listener.local_addr().expect("merchant site address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    MerchantSite {
        base: format!("http://{addr}"),
    }
}

/// chromedriver started by this test, in its own process group so that the
/// browsers it launched go with it. Killed on drop, whatever happened.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group is the one this test made for its own chromedriver.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

/// Whether the browser tests can run here. On CI they must: a missing
/// browser fails the test instead of skipping it.
pub fn browser_available(test: &str) -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install -y chromium chromium-driver)");
        }
        eprintln!("NOTICE: {test} skipped: {CHROMIUM} or {CHROMEDRIVER} is missing");
    }
    present
}

pub async fn start_chromedriver() -> ChromeDriver {
    use std::os::unix::process::CommandExt;

    let profile = tempfile::tempdir().expect("profile dir");
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let driver = ChromeDriver {
        child,
        port,
        profile,
    };
    let status_url = format!("http://127.0.0.1:{port}/status");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(&status_url).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not answer on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

pub async fn connect(driver: &ChromeDriver) -> Client {
    let profile = driver.profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                format!("--user-data-dir={profile}"),
            ],
        }),
    );
    // chromedriver is on loopback: plain HTTP, no TLS stack to choose.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

/// Runs `scenario` in a fresh browser and always ends the session and
/// chromedriver afterwards, also when an assertion failed.
pub async fn with_browser<F, Fut>(test: &str, scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !browser_available(test) {
        return;
    }
    let driver = start_chromedriver().await;
    let client = connect(&driver).await;
    let outcome = std::panic::AssertUnwindSafe(scenario(client.clone()))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
        .text()
        .await
        .expect("text")
}
