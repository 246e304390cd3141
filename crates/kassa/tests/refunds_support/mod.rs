//! Helpers of the refund tests (`refunds.rs`): paid invoices, refund
//! requests over the private API, waiting for the test provider, and the
//! books.
#![allow(dead_code)]

use kassa_domain::Currency;
use kassa_engine::ledger::Balance;
use reqwest::Method;
use serde_json::{json, Value};

use crate::checkout_support::{self, get, send, Reply};
use crate::common::{test_invoice, TestApp};

pub fn usd() -> Currency {
    Currency::from_code("USD").unwrap()
}

/// Creates a test invoice with the given attributes and waits until the
/// test provider has processed it.
pub async fn processed_with(app: &TestApp, attributes: Value) -> String {
    let created = checkout_support::create(app, attributes).await;
    created.expect(201);
    let id = created.id();
    app.wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
    id
}

pub async fn processed(app: &TestApp) -> String {
    processed_with(app, test_invoice("processed")).await
}

pub async fn refund_as(app: &TestApp, base: &str, invoice_id: &str, attributes: Value) -> Reply {
    let c = &app.merchant.test;
    let body = json!({"data": {"type": "refund", "attributes": attributes}});
    send(
        app.http
            .request(
                Method::POST,
                format!("{base}/api/payment-invoices/{invoice_id}/refund"),
            )
            .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
            .json(&body),
    )
    .await
}

pub async fn refund(app: &TestApp, invoice_id: &str, attributes: Value) -> Reply {
    refund_as(app, &app.base_url, invoice_id, attributes).await
}

pub async fn refunds_of(app: &TestApp, invoice_id: &str) -> Vec<Value> {
    let list = get(app, &format!("/api/payment-invoices/{invoice_id}/refunds")).await;
    list.expect(200);
    assert_eq!(
        list.json["meta"]["count"],
        list.json["data"].as_array().unwrap().len()
    );
    list.json["data"].as_array().unwrap().clone()
}

/// Waits until the refund has left `refunding`.
pub async fn settled(app: &TestApp, refund_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = get(app, &format!("/api/refunds/{refund_id}")).await;
        r.expect(200);
        if r.attributes()["status"] != "refunding" {
            return r.attributes().clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "refund stays refunding"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn balance(app: &TestApp) -> Balance {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), true)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.currency == usd())
        .unwrap()
}

/// Every transaction sums to zero per mode and currency; no merchant
/// account is negative.
pub async fn assert_books_balance(app: &TestApp) {
    let totals = app.engine().ledger_totals().await.unwrap();
    for (test_mode, currency, sum) in &totals.per_currency {
        assert_eq!(
            *sum, 0,
            "books of {currency} (test {test_mode}) sum to {sum}"
        );
    }
    assert!(
        totals.negative.is_empty(),
        "negative: {:?}",
        totals.negative
    );
}

pub async fn pending_refunds(app: &TestApp) -> i64 {
    balance(app).await.pending_refunds_minor
}
