//! `flow: verify` invoices of the Checkout API: a check of the customer's
//! instrument that moves no money. The test service and the hosted page's
//! test buttons drive them to `verified` or `verify_failed`; the books never
//! see them; a verification cannot be refunded. Real server, real database
//! (SQLite, or PostgreSQL in the suite's second run).

mod checkout_support;
mod common;
mod receiver;
mod refunds_support;

use checkout_support::{assert_invalid_field, create, invoice_count};
use common::{test_invoice, TestApp};
use receiver::{Received, Receiver};
use refunds_support::{assert_books_balance, refund, usd};
use serde_json::{json, Value};

/// The merchant's test-mode USD money: (available, reserve), none when the
/// books never saw USD.
async fn usd_money(app: &TestApp) -> (i64, i64) {
    let balances = app
        .engine()
        .balances(app.merchant.merchant_id.clone(), true)
        .await
        .unwrap();
    balances
        .iter()
        .find(|b| b.currency == usd())
        .map_or((0, 0), |b| (b.available_minor, b.reserve_minor))
}

fn verification(status: &str) -> Value {
    let mut attributes = test_invoice(status);
    attributes["flow"] = json!("verify");
    attributes["amount"] = json!(0);
    attributes
}

#[tokio::test]
async fn a_verification_is_verified_with_its_callbacks_and_no_money() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let mut attributes = verification("verified");
    attributes["callback_url"] = json!(receiver.url());
    let created = create(&app, attributes).await;
    created.expect(201);
    let a = created.attributes();
    assert_eq!(a["payment_flow"], "verify");
    assert_eq!(a["amount"], json!(0));
    assert_eq!(
        (a["fee"].clone(), a["deposit"].clone()),
        (json!(0), json!(0))
    );

    let id = created.id();
    let a = app
        .wait_for_invoice(&id, "verified", |a| a["status"] == "verified")
        .await;
    assert_eq!(a["resolution"], "ok");
    assert_eq!(a["processed_amount"], Value::Null);
    assert_eq!(a["processed_deposit"], Value::Null);
    let statuses: Vec<String> = receiver
        .wait_for(2)
        .await
        .iter()
        .map(Received::status)
        .collect();
    assert_eq!(statuses, ["process_pending", "verified"]);

    // Nothing reached the merchant's books, so nothing can be refunded.
    assert_eq!(usd_money(&app).await, (0, 0));
    let refused = refund(&app, &id, json!({"amount": 1, "reference_id": "v-1"})).await;
    refused.expect(422);
    assert_eq!(app.invoice(&id).await["status"], "verified");
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_failed_verification_is_declined() {
    let app = TestApp::spawn().await;
    let created = create(&app, verification("verify_failed")).await;
    created.expect(201);
    let a = app
        .wait_for_invoice(&created.id(), "verify_failed", |a| {
            a["status"] == "verify_failed"
        })
        .await;
    assert_eq!(a["resolution"], "declined");
    assert_eq!(usd_money(&app).await, (0, 0));
}

#[tokio::test]
async fn the_service_s_verification_amount_is_the_only_other_amount() {
    let app = TestApp::spawn().await;
    let mut attributes = verification("verified");
    attributes["amount"] = json!("1.00");
    let refused = create(&app, attributes.clone()).await;
    refused.expect(422);
    assert_eq!(
        assert_invalid_field(&refused, "amount"),
        "This value should be 0 for a verification."
    );

    let engine = app.engine();
    let mut service = engine
        .catalog()
        .await
        .unwrap()
        .service("test_usd_test")
        .cloned()
        .unwrap();
    service.verification_amount_minor = Some(100);
    engine.put_service(service).await.unwrap();

    let created = create(&app, attributes.clone()).await;
    created.expect(201);
    assert_eq!(created.attributes()["amount"], json!(1));
    assert_eq!(created.attributes()["fee"], json!(0));
    app.wait_for_invoice(&created.id(), "verified", |a| a["status"] == "verified")
        .await;

    attributes["amount"] = json!("2.00");
    attributes["reference_id"] = json!("other");
    let refused = create(&app, attributes).await;
    assert_eq!(
        assert_invalid_field(&refused, "amount"),
        "This value should be 0 or 1 for a verification."
    );
    // Held and released by the provider: still nothing in the books.
    assert_eq!(usd_money(&app).await, (0, 0));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn outcomes_and_services_that_do_not_fit_the_flow_are_refused() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a charge outcome",
            verification("processed"),
            "service_fields.status",
        ),
        (
            "a partial charge",
            verification("partially_processed"),
            "service_fields.status",
        ),
        (
            "a charge's failure",
            verification("process_failed"),
            "service_fields.status",
        ),
        (
            "a verification outcome on a charge",
            test_invoice("verified"),
            "service_fields.status",
        ),
        (
            "a P2P service",
            json!({"amount": 0, "currency": "RUB", "service": "card_rub_p2p", "flow": "verify"}),
            "flow",
        ),
        (
            "an unknown flow",
            json!({"amount": 1, "currency": "USD", "service": "test_usd_test", "flow": "preauth"}),
            "flow",
        ),
    ];
    for (what, attributes, field) in cases {
        let reply = create(&app, attributes).await;
        assert_eq!(reply.status, 422, "{what}: {}", reply.text);
        assert_invalid_field(&reply, field);
    }
    assert_eq!(invoice_count(&app).await, 0, "nothing was created");
}

#[tokio::test]
async fn the_hosted_page_s_test_buttons_verify_or_fail() {
    let app = TestApp::spawn().await;
    for (action, status, resolution) in [
        ("complete", "verified", "ok"),
        ("fail", "verify_failed", "declined"),
    ] {
        let created = create(
            &app,
            json!({
                "amount": 0,
                "currency": "USD",
                "service": "payment_card_usd_hpp",
                "flow": "verify",
                "test_mode": true,
                "return_urls": {"success": "https://shop.example/ok", "fail": "https://shop.example/no", "pending": "https://shop.example/wait"},
            }),
        )
        .await;
        created.expect(201);
        let id = created.id();
        let answer = app
            .page_post(&format!("/hpp/{id}/{action}"))
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_redirection() || answer.status().is_success(),
            "{}",
            answer.status()
        );
        let a = app.invoice(&id).await;
        assert_eq!(
            (a["status"].as_str(), a["resolution"].as_str()),
            (Some(status), Some(resolution))
        );

        // The page says so and sends the customer where the outcome says.
        let page = app
            .http
            .get(app.url(&format!("/hpp/{id}")))
            .send()
            .await
            .unwrap();
        let target = if status == "verified" {
            "https://shop.example/ok"
        } else {
            "https://shop.example/no"
        };
        assert_eq!(page.headers()["location"], target, "{status}");
    }
    assert_eq!(usd_money(&app).await, (0, 0));
    assert_books_balance(&app).await;
}
