//! Who may send callbacks and customers where: the Checkout public API and
//! the HTML form (whose key sits in web pages) use the merchant's configured
//! URLs and may name their own only under the merchant's allowed hosts; the
//! private API names its own freely.

mod checkout_support;
mod common;

use checkout_support::*;
use common::{test_invoice, TestApp};
use kassa_engine::merchants::MerchantChange;
use serde_json::{json, Value};

const SHOP: &str = "https://shop.example";

async fn set(app: &TestApp, change: MerchantChange) {
    app.engine()
        .change_merchant(app.merchant.merchant_id.clone(), change)
        .await
        .expect("merchant settings change");
}

/// A public-API body for the test service that asks for `urls` on top.
fn public_body(reference: &str, urls: Value) -> Value {
    let mut body = test_invoice("process_pending");
    body["reference_id"] = json!(reference);
    for (k, v) in urls.as_object().expect("an object of URLs") {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn the_public_api_and_the_form_cannot_send_callbacks_or_customers_elsewhere() {
    let app = TestApp::spawn().await;
    for (field, urls) in [
        (
            "callback_url",
            json!({"callback_url": "https://attacker.example/cb"}),
        ),
        (
            "return_url",
            json!({"return_url": "https://attacker.example/"}),
        ),
        (
            "return_urls.success",
            json!({"return_urls": {"success": "https://attacker.example/ok", "pending": format!("{SHOP}/wait")}}),
        ),
        (
            "return_urls.pending",
            json!({"return_urls": {"pending": "https://attacker.example/wait"}}),
        ),
    ] {
        let reply = create_public(&app, public_body("r-1", urls)).await;
        let message = assert_invalid_field(&reply, field);
        assert!(message.contains("not allowed"), "{message}");
    }
    // The form shows the refusal as a page, naming the field.
    let key = app.test_public_key().to_string();
    let form = post_form(
        &app,
        &[
            ("public_key", key.as_str()),
            ("service", "test_usd_test"),
            ("currency", "USD"),
            ("amount", "10"),
            ("service_fields[status]", "process_pending"),
            ("return_url", "https://attacker.example/"),
        ],
    )
    .await;
    assert_eq!(form.location, None, "the form must not redirect");
    assert!(form.content_type.starts_with("text/html"), "{form:?}");
    assert!(form.text.contains("return_url"), "{}", form.text);
    assert_none_created(invoice_count(&app).await, "a URL of another host");
}

#[tokio::test]
async fn public_invoices_take_the_merchants_urls() {
    let app = TestApp::spawn().await;
    set(
        &app,
        MerchantChange {
            callback_url: Some(Some(format!("{SHOP}/kassa/callbacks"))),
            return_url: Some(Some(format!("{SHOP}/thanks"))),
            ..Default::default()
        },
    )
    .await;
    // What the seed specification documents for the public API: no URLs.
    let reply = create_public(&app, public_body("r-2", json!({}))).await;
    reply.expect(201);
    assert_eq!(reply.json["data"]["has_return_url"], true, "{}", reply.text);
    let private = app.invoice(&reply.id()).await;
    assert_eq!(private["callback_url"], format!("{SHOP}/kassa/callbacks"));
    assert_eq!(private["return_url"], format!("{SHOP}/thanks"));
}

#[tokio::test]
async fn allowed_hosts_let_the_public_api_name_its_own_urls() {
    let app = TestApp::spawn().await;
    set(
        &app,
        MerchantChange {
            url_hosts: Some(vec!["Shop.Example".into()]),
            ..Default::default()
        },
    )
    .await;
    let urls = json!({
        "callback_url": format!("{SHOP}/cb?order=1"),
        "return_urls": {"success": format!("{SHOP}/ok"), "fail": "http://shop.example:8080/fail", "pending": format!("{SHOP}/wait")},
    });
    let reply = create_public(&app, public_body("r-3", urls)).await;
    reply.expect(201);
    let private = app.invoice(&reply.id()).await;
    assert_eq!(private["callback_url"], format!("{SHOP}/cb?order=1"));
    assert_eq!(private["return_urls"]["success"], format!("{SHOP}/ok"));

    // The host is matched exactly: a subdomain or a look-alike is another.
    for host in [
        "https://pay.shop.example/cb",
        "https://shop.example.attacker.example/cb",
    ] {
        let reply = create_public(&app, public_body("r-4", json!({ "callback_url": host }))).await;
        assert_invalid_field(&reply, "callback_url");
    }

    // The private API (secret key) names any URL.
    let mut attributes = test_invoice("process_pending");
    attributes["callback_url"] = json!("https://elsewhere.example/cb");
    attributes["return_url"] = json!("https://elsewhere.example/back");
    create(&app, attributes).await.expect(201);
}
