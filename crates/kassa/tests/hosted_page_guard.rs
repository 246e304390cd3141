//! What guards the hosted page, over plain HTTP: its security headers (a
//! policy that runs exactly the page's own inline script and style, framing
//! only where the merchant allows), and its forms, which take a post only
//! with the page's token and never one a browser says came from elsewhere.

mod common;

use common::{rub_trader_in, test_invoice, TestApp};
use kassa_engine::p2p_invoices::NewP2pInvoice;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The token in the page's forms.
    fn token(&self) -> String {
        let at = self
            .body
            .find(r#"name="token" value=""#)
            .unwrap_or_else(|| panic!("a form token in {}", self.body))
            + r#"name="token" value=""#.len();
        self.body[at..].split('"').next().unwrap().to_string()
    }

    /// The policy's sources for `directive` (`script-src`, ...).
    fn sources(&self, directive: &str) -> Vec<String> {
        self.header("content-security-policy")
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(directive).map(str::trim))
            .unwrap_or_else(|| panic!("{directive} in {}", self.header("content-security-policy")))
            .split(' ')
            .map(str::to_string)
            .collect()
    }

    /// Each inline `<tag>` of the page is allowed by its hash, and nothing
    /// is allowed wholesale: what the page runs is exactly what Kassa wrote.
    fn assert_inline_allowed(&self, tag: &str, directive: &str) {
        use base64::Engine as _;
        let allowed = self.sources(directive);
        assert!(
            !allowed.iter().any(|s| s.contains("unsafe") || s == "*"),
            "{allowed:?}"
        );
        let mut found = 0;
        for part in self.body.split(&format!("<{tag}>")).skip(1) {
            let text = part.split(&format!("</{tag}>")).next().unwrap();
            let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text));
            assert!(
                allowed.contains(&format!("'sha256-{hash}'")),
                "<{tag}> {text:?} is not allowed by {allowed:?}"
            );
            found += 1;
        }
        assert!(found > 0, "no <{tag}> on the page");
    }

    fn assert_guarded(&self, framed_by: &str) {
        let policy = self.header("content-security-policy");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(policy.contains("base-uri 'none'"), "{policy}");
        assert!(
            policy.ends_with(&format!("frame-ancestors {framed_by}")),
            "{policy}"
        );
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert_eq!(self.header("referrer-policy"), "same-origin");
        let deny = if framed_by == "'none'" { "DENY" } else { "" };
        assert_eq!(self.header("x-frame-options"), deny);
    }
}

async fn send(request: reqwest::RequestBuilder) -> Page {
    let response = request.send().await.expect("request");
    Page {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

async fn get(app: &TestApp, path: &str) -> Page {
    send(app.http.get(app.url(path))).await
}

/// A form post to `path` with `body` and extra headers.
async fn post(app: &TestApp, path: &str, body: &str, headers: &[(&str, &str)]) -> Page {
    let mut request = app
        .http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

async fn waiting_test_invoice(app: &TestApp) -> String {
    let (status, body) = app.create_private(test_invoice("process_pending")).await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// A test-mode P2P invoice with its deal started on a fresh SBP cabinet.
async fn p2p_invoice(app: &TestApp) -> String {
    rub_trader_in(app, true, "Trader One", "sbp", "+79967779977").await;
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let created = engine
        .create_p2p_invoice(
            merchant,
            true,
            NewP2pInvoice {
                amount: "1000.00".into(),
                currency: "RUB".into(),
                notification_url: "http://127.0.0.1:9/".into(),
                notification_token: "token-1".into(),
                payment_option: Some("SBP".into()),
                start_deal: true,
                ..Default::default()
            },
        )
        .await
        .expect("a P2P invoice");
    created.invoice.id
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_runs_only_its_own_inline_code() {
    let app = TestApp::spawn().await;
    let id = waiting_test_invoice(&app).await;
    let page = get(&app, &format!("/hpp/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_guarded("'none'");
    page.assert_inline_allowed("script", "script-src");
    page.assert_inline_allowed("style", "style-src");
    assert!(!page.body.contains(" style="), "an inline style attribute");

    let p2p = p2p_invoice(&app).await;
    let page = get(&app, &format!("/hpp/{p2p}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"id="qr""#), "{}", page.body);
    page.assert_guarded("'none'");
    page.assert_inline_allowed("script", "script-src");
    page.assert_inline_allowed("style", "style-src");

    // Error pages, refusals and redirects too.
    get(&app, "/hpp/cpi_doesNotExist")
        .await
        .assert_guarded("'none'");
    let refused = post(&app, &format!("/hpp/{id}/complete"), "", &[]).await;
    assert_eq!(refused.status, 403);
    refused.assert_guarded("'none'");
}

#[tokio::test]
async fn a_merchant_can_let_its_own_site_frame_the_page() {
    let app = TestApp::spawn().await;
    let id = waiting_test_invoice(&app).await;
    let merchant = app.merchant.merchant_id.clone();
    let set = |origins: &str| {
        common::kassa_command(&app.config.database_url, app.config.master_key.as_deref())
            .args(["merchant", "set", &merchant, "--frame-ancestors", origins])
            .output()
            .expect("kassa runs")
    };

    let done = set("https://shop.example, https://*.shop.example:8443");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    get(&app, &format!("/hpp/{id}"))
        .await
        .assert_guarded("https://shop.example https://*.shop.example:8443");

    // Anything but an origin is refused and changes nothing.
    for bad in ["https://shop.example; script-src *", "*", "'unsafe-inline'"] {
        let refused = set(bad);
        assert!(!refused.status.success(), "{bad} was taken");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("frame_ancestors"), "{stderr}");
    }
    get(&app, &format!("/hpp/{id}"))
        .await
        .assert_guarded("https://shop.example https://*.shop.example:8443");

    let cleared = set("");
    assert!(cleared.status.success());
    get(&app, &format!("/hpp/{id}"))
        .await
        .assert_guarded("'none'");
}

#[tokio::test]
async fn a_test_outcome_posted_without_the_page_token_or_from_another_site_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = waiting_test_invoice(&app).await;
    let token = get(&app, &format!("/hpp/{id}")).await.token();
    let other_id = waiting_test_invoice(&app).await;
    let other_token = get(&app, &format!("/hpp/{other_id}")).await.token();
    assert_ne!(token, other_token);
    let with_token = format!("token={token}");
    let with_other = format!("token={other_token}");

    for (body, headers) in [
        ("", vec![]),
        ("token=", vec![]),
        ("token=forged", vec![]),
        (with_other.as_str(), vec![]),
        (with_token.as_str(), vec![("sec-fetch-site", "cross-site")]),
        (with_token.as_str(), vec![("sec-fetch-site", "same-site")]),
        (
            with_token.as_str(),
            vec![("origin", "https://evil.example")],
        ),
    ] {
        for action in ["complete", "fail"] {
            let page = post(&app, &format!("/hpp/{id}/{action}?lang=en"), body, &headers).await;
            assert_eq!(
                page.status, 403,
                "{action} {body:?} {headers:?}: {}",
                page.body
            );
            assert!(
                page.body.contains("did not come from the payment page"),
                "{}",
                page.body
            );
        }
        assert_eq!(app.invoice(&id).await["status"], "process_pending");
    }

    // The page's own form, as a browser sends it.
    let page = post(
        &app,
        &format!("/hpp/{id}/complete"),
        &with_token,
        &[("sec-fetch-site", "same-origin"), ("origin", &app.base_url)],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(app.invoice(&id).await["status"], "processed");
}

#[tokio::test]
async fn i_have_paid_posted_without_the_page_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = p2p_invoice(&app).await;
    let page = get(&app, &format!("/hpp/{id}")).await;
    assert!(page.body.contains(r#"id="paid""#), "{}", page.body);
    let token = page.token();
    let said_paid = || async {
        let (_, deal) = app.engine().invoice_with_deal(id.clone()).await.unwrap();
        deal.expect("a deal").customer_says_paid_at_secs
    };

    for (body, headers) in [
        (String::new(), vec![]),
        ("token=forged".to_string(), vec![]),
        (
            format!("token={token}"),
            vec![("sec-fetch-site", "cross-site")],
        ),
    ] {
        let page = post(&app, &format!("/hpp/{id}/paid"), &body, &headers).await;
        assert_eq!(page.status, 403, "{body:?}: {}", page.body);
        assert_eq!(said_paid().await, None);
    }

    let page = post(
        &app,
        &format!("/hpp/{id}/paid"),
        &format!("token={token}"),
        &[],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(said_paid().await.is_some());
}
