//! The hosted payment page (`/hpp/{id}`): in a real headless Chromium driven
//! over WebDriver (the customer's path from the page to the merchant's site),
//! and over plain HTTP (languages, escaping, errors, final states, live mode).

mod browser;
mod common;

use std::time::Duration;

use browser::{merchant_site, text_of, with_browser};
use common::{test_invoice, TestApp};
use fantoccini::{Client, Locator};
use kassa_engine::merchants::{IssuedCredentials, NewMerchant};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Creates an invoice through the private API with the given credentials.
async fn create_as(app: &TestApp, creds: &IssuedCredentials, attributes: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/api/payment-invoices"))
        .basic_auth(&creds.private_key_id, Some(&creds.private_key_secret))
        .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The invoice's private-API attributes, read with the given credentials.
async fn invoice_as(app: &TestApp, creds: &IssuedCredentials, id: &str) -> Value {
    let response = app
        .http
        .get(app.url(&format!("/api/payment-invoices/{id}")))
        .basic_auth(&creds.private_key_id, Some(&creds.private_key_secret))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    body["data"]["attributes"].clone()
}

/// Creates a test invoice with the test key; returns (id, hpp_url).
async fn create_test(app: &TestApp, attributes: Value) -> (String, String) {
    let (status, body) = app.create_private(attributes).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().expect("id").to_string();
    let hpp_url = body["data"]["attributes"]["hpp_url"]
        .as_str()
        .expect("hpp_url")
        .to_string();
    assert_eq!(hpp_url, app.url(&format!("/hpp/{id}")));
    (id, hpp_url)
}

/// A waiting test invoice (the test service leaves `process_pending` alone)
/// that returns the customer to `site`.
fn waiting_invoice(site: &str) -> Value {
    let mut attributes = test_invoice("process_pending");
    attributes["description"] = json!("Order #42: two coffees");
    attributes["return_urls"] = json!({
        "success": format!("{site}/success"),
        "fail": format!("{site}/fail"),
        "pending": format!("{site}/pending"),
    });
    attributes
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn location(&self) -> &str {
        self.header("location")
    }

    fn assert_html(&self) {
        assert!(
            self.header("content-type").starts_with("text/html"),
            "content-type {:?}, body {}",
            self.header("content-type"),
            self.body
        );
    }

    fn assert_redirect_to(&self, url: &str) {
        assert!(
            matches!(self.status, 302 | 303 | 307),
            "expected a redirect to {url}, got {} {}",
            self.status,
            self.body
        );
        assert_eq!(self.location(), url);
    }
}

/// GET of a page (redirects not followed) with optional Accept-Language.
async fn get_page(app: &TestApp, path_or_url: &str, accept_language: Option<&str>) -> Page {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_string()
    } else {
        app.url(path_or_url)
    };
    let mut request = app.http.get(url);
    if let Some(l) = accept_language {
        request = request.header("accept-language", l);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Page {
        status,
        headers,
        body,
    }
}

async fn post_page(app: &TestApp, path: &str) -> Page {
    let response = app.page_post(path).send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    Page {
        status,
        headers,
        body,
    }
}

// ---------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------

/// Waits until the browser is at `url` (10 s at most).
async fn wait_for_url(client: &Client, url: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let current = client.current_url().await.expect("current url");
        if current.as_str() == url {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the browser stayed at {current}, expected {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the page of a waiting invoice and checks what the customer sees.
async fn open_and_check(client: &Client, hpp_url: &str) {
    client.goto(hpp_url).await.expect("open the hosted page");
    assert_eq!(client.current_url().await.unwrap().as_str(), hpp_url);
    assert_eq!(text_of(client, "#merchant").await, "Test Shop");
    assert_eq!(text_of(client, "#amount").await, "100.50 USD");
    assert_eq!(
        text_of(client, "#description").await,
        "Order #42: two coffees"
    );
    let time_left = client
        .find(Locator::Css("#time-left"))
        .await
        .expect("a time-left element");
    // The server's clock stands still; the page counts down in real time.
    let seconds = time_left.attr("data-seconds").await.unwrap();
    assert_eq!(seconds.as_deref(), Some("86400"));
    let text = time_left.text().await.unwrap();
    assert!(
        text == "24 h 00 min 00 s" || (text.starts_with("23 h 59 min ") && text.ends_with(" s")),
        "time left: {text:?}"
    );
    let status = client.find(Locator::Css("#status")).await.unwrap();
    assert_eq!(
        status.attr("data-status").await.unwrap().as_deref(),
        Some("process_pending")
    );
    assert_eq!(client.title().await.unwrap(), "Payment");
}

/// The page's Content-Security-Policy lets its own style and script work:
/// the buttons are styled and the countdown ticks.
async fn assert_runs_under_its_policy(client: &Client) {
    let complete = client.find(Locator::Css("#complete")).await.unwrap();
    let colour = complete.css_value("background-color").await.unwrap();
    assert_eq!(
        colour, "rgba(26, 127, 55, 1)",
        "the style sheet did not apply"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while text_of(client, "#time-left").await == "24 h 00 min 00 s" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the countdown script did not run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn browser_completes_a_payment_and_lands_on_the_success_page() {
    let app = TestApp::spawn().await;
    let site = merchant_site().await;
    let (id, hpp_url) = create_test(&app, waiting_invoice(&site.base)).await;
    with_browser("browser_completes_a_payment", |client| async move {
        client.set_window_size(900, 900).await.expect("window size");
        open_and_check(&client, &hpp_url).await;
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write("/tmp/hpp.png", png).expect("write /tmp/hpp.png");
        assert_runs_under_its_policy(&client).await;

        client
            .find(Locator::Css("#complete"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_url(&client, &format!("{}/success", site.base)).await;
        assert_eq!(text_of(&client, "#landed").await, "success");
        let invoice = app.invoice(&id).await;
        assert_eq!(invoice["status"], "processed", "{invoice}");
        assert_eq!(invoice["resolution"], "ok", "{invoice}");
        assert_eq!(invoice["processed_amount"], json!(100.5), "{invoice}");

        // Back to the page later: it takes the customer straight on.
        client.goto(&hpp_url).await.unwrap();
        wait_for_url(&client, &format!("{}/success", site.base)).await;
    })
    .await;
}

#[tokio::test]
async fn browser_fails_a_payment_and_lands_on_the_fail_page() {
    let app = TestApp::spawn().await;
    let site = merchant_site().await;
    let (id, hpp_url) = create_test(&app, waiting_invoice(&site.base)).await;
    with_browser("browser_fails_a_payment", |client| async move {
        open_and_check(&client, &hpp_url).await;
        client
            .find(Locator::Css("#fail"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_url(&client, &format!("{}/fail", site.base)).await;
        assert_eq!(text_of(&client, "#landed").await, "fail");
        let invoice = app.invoice(&id).await;
        assert_eq!(invoice["status"], "process_failed", "{invoice}");
        assert_eq!(invoice["processed_amount"], Value::Null, "{invoice}");

        client.goto(&hpp_url).await.unwrap();
        wait_for_url(&client, &format!("{}/fail", site.base)).await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Plain HTTP
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_page_shows_an_open_test_invoice_in_english() {
    let app = TestApp::spawn().await;
    let (id, _) = create_test(&app, waiting_invoice("https://shop.example")).await;
    let page = get_page(&app, &format!("/hpp/{id}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_html();
    assert_eq!(page.header("cache-control"), "no-store");
    let b = &page.body;
    assert!(b.contains(r#"<html lang="en">"#), "{b}");
    for text in [
        "Amount to pay",
        "100.50 USD",
        "Test Shop",
        "Order #42: two coffees",
        "Time left",
        r#"data-seconds="86400""#,
        "24 h 00 min 00 s",
        "Awaiting payment",
        "Test payment: no money moves.",
        "Complete payment",
        "Fail payment",
        "Return to the store",
        r#"href="https://shop.example/pending""#,
        &format!(r#"action="/hpp/{id}/complete?lang=en""#),
        &format!(r#"action="/hpp/{id}/fail?lang=en""#),
    ] {
        assert!(b.contains(text), "{text:?} missing in {b}");
    }

    // The time left follows the clock.
    app.advance_secs(3600 + 61);
    let page = get_page(&app, &format!("/hpp/{id}"), None).await;
    assert!(page.body.contains("22 h 58 min 59 s"), "{}", page.body);
    assert!(
        page.body.contains(r#"data-seconds="82739""#),
        "{}",
        page.body
    );
}

const RU: [&str; 8] = [
    r#"<html lang="ru">"#,
    "<title>Оплата</title>",
    "Сумма к оплате",
    "Продавец",
    "Осталось времени",
    "Тестовый платёж: деньги не списываются. Выберите результат.",
    "Завершить оплату",
    "Отклонить оплату",
];
const UK: [&str; 8] = [
    r#"<html lang="uk">"#,
    "<title>Оплата</title>",
    "Сума до сплати",
    "Продавець",
    "Залишилось часу",
    "Тестовий платіж: гроші не списуються. Оберіть результат.",
    "Завершити оплату",
    "Відхилити оплату",
];

fn assert_language(page: &Page, words: &[&str], others: &[&str]) {
    assert_eq!(page.status, 200, "{}", page.body);
    for w in words {
        assert!(page.body.contains(w), "{w:?} missing in {}", page.body);
    }
    for w in others {
        assert!(
            !page.body.contains(w),
            "{w:?} should not be in {}",
            page.body
        );
    }
}

#[tokio::test]
async fn the_page_speaks_russian_and_ukrainian() {
    let app = TestApp::spawn().await;
    let (id, _) = create_test(&app, waiting_invoice("https://shop.example")).await;
    let path = format!("/hpp/{id}");
    let en = ["Amount to pay", "Complete payment", "Time left"];

    // By query.
    let ru = get_page(&app, &format!("{path}?lang=ru"), None).await;
    assert_language(&ru, &RU, &en);
    assert!(
        ru.body.contains("Ожидает оплаты") && ru.body.contains("Вернуться в магазин"),
        "{}",
        ru.body
    );
    assert!(
        ru.body.contains(" ч ") && ru.body.contains(" мин "),
        "{}",
        ru.body
    );
    assert!(
        ru.body
            .contains(&format!(r#"action="/hpp/{id}/complete?lang=ru""#)),
        "{}",
        ru.body
    );
    let uk = get_page(&app, &format!("{path}?lang=uk"), None).await;
    assert_language(&uk, &UK, &en);
    assert!(
        uk.body.contains("Очікує оплати") && uk.body.contains("Повернутися до магазину"),
        "{}",
        uk.body
    );
    assert!(
        uk.body.contains(" год ") && uk.body.contains(" хв "),
        "{}",
        uk.body
    );
    assert!(
        uk.body
            .contains(&format!(r#"action="/hpp/{id}/fail?lang=uk""#)),
        "{}",
        uk.body
    );

    // By Accept-Language, as browsers send it.
    let ru = get_page(&app, &path, Some("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7")).await;
    assert_language(&ru, &RU, &en);
    let uk = get_page(&app, &path, Some("uk-UA,uk;q=0.9")).await;
    assert_language(&uk, &UK, &en);
    // The first language the page speaks wins over ones it does not.
    let uk = get_page(&app, &path, Some("de-DE,de;q=0.9,uk;q=0.8,en;q=0.5")).await;
    assert_language(&uk, &UK, &en);
    // The query wins over the header.
    let ru = get_page(&app, &format!("{path}?lang=ru"), Some("uk-UA,uk;q=0.9")).await;
    assert_language(&ru, &RU, &UK[2..]);
    // Nothing it speaks: English.
    let en_page = get_page(&app, &format!("{path}?lang=zz"), Some("de-DE,fr;q=0.5")).await;
    assert_language(
        &en_page,
        &[r#"<html lang="en">"#, "Amount to pay"],
        &RU[2..],
    );

    // The test controls keep the language through to the page after them.
    let done = post_page(&app, &format!("/hpp/{id}/complete?lang=uk")).await;
    done.assert_redirect_to("https://shop.example/success");
}

#[tokio::test]
async fn the_final_status_is_localized_when_there_is_no_return_url() {
    let app = TestApp::spawn().await;
    let (id, _) = create_test(&app, test_invoice("process_pending")).await;
    let done = post_page(&app, &format!("/hpp/{id}/fail?lang=ru")).await;
    done.assert_redirect_to(&format!("/hpp/{id}?lang=ru"));
    let page = get_page(&app, &format!("/hpp/{id}?lang=ru"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Оплата не прошла"), "{}", page.body);
    assert!(
        page.body.contains(r#"data-status="process_failed""#),
        "{}",
        page.body
    );
    let page = get_page(&app, &format!("/hpp/{id}"), Some("uk")).await;
    assert!(page.body.contains("Оплата не пройшла"), "{}", page.body);
}

#[tokio::test]
async fn everything_the_merchant_supplied_is_escaped() {
    let app = TestApp::spawn().await;
    let merchant = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Evil <b>Bold</b> & \"Quoted\" Shop".into(),
            ..Default::default()
        })
        .await
        .expect("merchant");
    let attributes = json!({
        "amount": "100.50",
        "currency": "USD",
        "service": "test_usd_test",
        "service_fields": { "status": "process_pending" },
        "description": "<script>alert(1)</script>",
        "return_urls": {
            "success": "https://shop.example/ok",
            "pending": "https://shop.example/p?x=\"><script>alert(2)</script>",
        },
    });
    let (status, body) = create_as(&app, &merchant.test, attributes).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap();

    for lang in ["en", "ru", "uk"] {
        let page = get_page(&app, &format!("/hpp/{id}?lang={lang}"), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let b = &page.body;
        assert!(!b.contains("<script>alert"), "a raw script tag in {b}");
        assert!(!b.contains("<b>"), "a raw <b> in {b}");
        assert!(
            !b.contains("\"><script"),
            "an attribute broken out of in {b}"
        );
        assert!(b.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{b}");
        assert!(
            b.contains("Evil &lt;b&gt;Bold&lt;/b&gt; &amp; &quot;Quoted&quot; Shop"),
            "{b}"
        );
        assert!(
            b.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"),
            "{b}"
        );
        // Exactly one script element: the page's own countdown.
        assert_eq!(b.matches("<script").count(), 1, "{b}");
    }
}

#[tokio::test]
async fn an_unknown_invoice_is_a_404_page() {
    let app = TestApp::spawn().await;
    for (path, lang, text) in [
        ("/hpp/cpi_doesNotExist", None, "Payment not found."),
        ("/hpp/cpi_doesNotExist?lang=ru", None, "Платёж не найден."),
        ("/hpp/whatever", Some("uk"), "Платіж не знайдено."),
        ("/hpp/%3Cscript%3E", None, "Payment not found."),
    ] {
        let page = get_page(&app, path, lang).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
        page.assert_html();
        assert!(page.body.contains(text), "{path}: {}", page.body);
        assert!(!page.body.contains("<script>"), "{path}: {}", page.body);
    }
    // The controls of an unknown invoice: 404 too, and nothing is made.
    for action in ["complete", "fail"] {
        let page = post_page(&app, &format!("/hpp/cpi_doesNotExist/{action}")).await;
        assert_eq!(page.status, 404, "{}", page.body);
        page.assert_html();
    }
}

#[tokio::test]
async fn a_final_invoice_redirects_to_its_return_url() {
    let app = TestApp::spawn().await;
    let site = "https://shop.example";

    // Settled by the test service on its own (the worker), not by the page.
    let mut ok = test_invoice("processed");
    ok["return_urls"] = json!({"success": format!("{site}/success"), "fail": format!("{site}/fail"), "pending": format!("{site}/pending")});
    let (ok_id, _) = create_test(&app, ok).await;
    let mut bad = test_invoice("process_failed");
    bad["return_urls"] = json!({"success": format!("{site}/success"), "fail": format!("{site}/fail"), "pending": format!("{site}/pending")});
    let (bad_id, _) = create_test(&app, bad).await;
    // Only `return_url`: used for either outcome.
    let mut plain = test_invoice("processed");
    plain["return_url"] = json!(format!("{site}/back?order=7"));
    let (plain_id, _) = create_test(&app, plain).await;
    // No return URL at all: the page shows the outcome.
    let (bare_id, _) = create_test(&app, test_invoice("processed")).await;

    for (id, status) in [
        (&ok_id, "processed"),
        (&bad_id, "process_failed"),
        (&plain_id, "processed"),
        (&bare_id, "processed"),
    ] {
        app.wait_for_invoice(id, status, |a| a["status"] == status)
            .await;
    }

    get_page(&app, &format!("/hpp/{ok_id}"), None)
        .await
        .assert_redirect_to(&format!("{site}/success"));
    get_page(&app, &format!("/hpp/{bad_id}?lang=ru"), None)
        .await
        .assert_redirect_to(&format!("{site}/fail"));
    get_page(&app, &format!("/hpp/{plain_id}"), None)
        .await
        .assert_redirect_to(&format!("{site}/back?order=7"));

    let page = get_page(&app, &format!("/hpp/{bare_id}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_html();
    assert!(
        page.body.contains(r#"data-status="processed""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Paid<"), "{}", page.body);
    // A final invoice has no time left, no controls and no countdown.
    for absent in ["time-left", "id=\"complete\"", "id=\"fail\"", "<script"] {
        assert!(!page.body.contains(absent), "{absent:?} in {}", page.body);
    }

    // Pressing a control again changes nothing and takes the customer on.
    post_page(&app, &format!("/hpp/{bad_id}/complete"))
        .await
        .assert_redirect_to(&format!("{site}/fail"));
    assert_eq!(app.invoice(&bad_id).await["status"], "process_failed");
    post_page(&app, &format!("/hpp/{bare_id}/fail"))
        .await
        .assert_redirect_to(&format!("/hpp/{bare_id}?lang=en"));
    assert_eq!(app.invoice(&bare_id).await["status"], "processed");
}

#[tokio::test]
async fn an_expired_invoice_sends_the_customer_to_the_fail_url() {
    let app = TestApp::spawn().await;
    let (id, _) = create_test(&app, waiting_invoice("https://shop.example")).await;
    app.advance_secs(24 * 3600 + 1);
    app.wait_for_invoice(&id, "expired", |a| a["status"] == "expired")
        .await;
    get_page(&app, &format!("/hpp/{id}"), None)
        .await
        .assert_redirect_to("https://shop.example/fail");
    // Too late to pay: the control does not revive it.
    post_page(&app, &format!("/hpp/{id}/complete"))
        .await
        .assert_redirect_to("https://shop.example/fail");
    assert_eq!(app.invoice(&id).await["status"], "expired");
}

#[tokio::test]
async fn a_live_invoice_has_no_test_controls_and_refuses_them() {
    let app = TestApp::spawn().await;
    let live = app.merchant.live.clone();
    let (status, body) = create_as(
        &app,
        &live,
        json!({
            "amount": "100.50",
            "currency": "USD",
            "service": "payment_card_usd_hpp",
            "description": "Real order",
            "test_mode": false,
            "return_urls": {"success": "https://shop.example/success", "fail": "https://shop.example/fail", "pending": "https://shop.example/pending"},
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["attributes"]["test_mode"], false, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let before = invoice_as(&app, &live, &id).await;
    assert_eq!(before["status"], "process_pending", "{before}");

    for lang in ["en", "ru", "uk"] {
        let page = get_page(&app, &format!("/hpp/{id}?lang={lang}"), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let b = &page.body;
        assert!(b.contains("100.50 USD") && b.contains("Real order"), "{b}");
        for absent in [
            "id=\"complete\"",
            "id=\"fail\"",
            "/complete",
            "/fail?",
            "<form",
        ] {
            assert!(!b.contains(absent), "{absent:?} on a live page: {b}");
        }
        assert!(b.contains(r#"id="time-left""#), "{b}");
    }
    let page = get_page(&app, &format!("/hpp/{id}"), None).await;
    assert!(
        page.body
            .contains("Waiting for the payment provider to confirm the payment."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Test payment"), "{}", page.body);

    for action in ["complete", "fail"] {
        let page = post_page(&app, &format!("/hpp/{id}/{action}")).await;
        assert_eq!(page.status, 403, "{action}: {}", page.body);
        page.assert_html();
        assert!(
            page.location().is_empty(),
            "{action} redirected to {}",
            page.location()
        );
        assert!(
            page.body.contains("This action is not allowed."),
            "{}",
            page.body
        );
    }
    let page = post_page(&app, &format!("/hpp/{id}/complete?lang=ru")).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("Это действие недоступно."),
        "{}",
        page.body
    );

    // Nothing changed.
    let after = invoice_as(&app, &live, &id).await;
    assert_eq!(after["status"], "process_pending", "{after}");
    assert_eq!(after["updated"], before["updated"], "{after}");
    assert_eq!(after["processed_amount"], Value::Null, "{after}");
    assert_eq!(after["callback_logs"], before["callback_logs"], "{after}");
    let page = get_page(&app, &format!("/hpp/{id}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"data-status="process_pending""#),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn return_urls_the_url_parser_forgives_still_redirect() {
    // The URL parser drops tabs and newlines and encodes what needs it, so
    // the stored text may not be a valid Location as is; the customer must
    // still be taken on rather than shown an error.
    let app = TestApp::spawn().await;
    let mut attributes = test_invoice("process_pending");
    attributes["return_urls"] = json!({
        "success": "https://shop.example/ok\n?order=1",
        "fail": "https://shop.example/ошибка?x=a b",
        "pending": "https://shop.example/pending",
    });
    let (status, body) = app.create_private(attributes.clone()).await;
    assert_eq!(status, 201, "{body}");
    let ok_id = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = app.create_private(attributes).await;
    assert_eq!(status, 201, "{body}");
    let bad_id = body["data"]["id"].as_str().unwrap().to_string();

    post_page(&app, &format!("/hpp/{ok_id}/complete"))
        .await
        .assert_redirect_to("https://shop.example/ok?order=1");
    get_page(&app, &format!("/hpp/{ok_id}"), None)
        .await
        .assert_redirect_to("https://shop.example/ok?order=1");
    let failed = post_page(&app, &format!("/hpp/{bad_id}/fail")).await;
    failed.assert_redirect_to("https://shop.example/%D0%BE%D1%88%D0%B8%D0%B1%D0%BA%D0%B0?x=a%20b");
    assert_eq!(app.invoice(&bad_id).await["status"], "process_failed");
}

#[tokio::test]
async fn a_test_mode_invoice_on_a_real_service_has_the_controls() {
    let app = TestApp::spawn().await;
    let (id, _) = create_test(
        &app,
        json!({"amount": "100.50", "currency": "USD", "service": "payment_card_usd_hpp", "description": "Sandbox order"}),
    )
    .await;
    let page = get_page(&app, &format!("/hpp/{id}"), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"id="complete""#) && page.body.contains(r#"id="fail""#),
        "{}",
        page.body
    );
    post_page(&app, &format!("/hpp/{id}/complete"))
        .await
        .assert_redirect_to(&format!("/hpp/{id}?lang=en"));
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "processed", "{invoice}");
    assert_eq!(invoice["test_mode"], true, "{invoice}");
}
