//! Helpers of the P2P refund tests (`refunds_p2p.rs`): signed Merchant API
//! refund requests, a paid live P2P pay-in, the trader API, the books.
#![allow(dead_code)]

use kassa_domain::Currency;
use kassa_engine::ledger::Balance;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{open_deal_in, rub_trader, TestApp};
use crate::merchant_api_support::{hmac_hex, send, Api, Reply};

pub const REFUNDS: &str = "/api/merchant/refunds";
pub const CUSTOMER_CARD: &str = "4242424242424242";

pub fn rub() -> Currency {
    Currency::from_code("RUB").unwrap()
}

/// A signed POST of `body` to `path`.
pub async fn post(api: &Api<'_>, path: &str, body: &Value) -> Reply {
    let text = body.to_string();
    send(
        api.request(Method::POST, path)
            .header("content-type", "application/json")
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, text.as_bytes()))
            .body(text),
    )
    .await
}

/// A refund request of `amount` (all that is left when `None`) to the
/// customer's card.
pub fn refund_body(invoice_id: &str, internal_id: &str, amount: Option<&str>) -> Value {
    let mut b = json!({
        "invoiceId": invoice_id,
        "internalId": internal_id,
        "paymentOption": "CARD",
        "paymentMethod": "tinkoff",
        "paymentRequisites": {"requisites": CUSTOMER_CARD, "holder": "Petr P."},
    });
    if let Some(a) = amount {
        b["amount"] = json!(a);
    }
    b
}

pub async fn balance(app: &TestApp, test_mode: bool) -> Balance {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), test_mode)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.currency == rub())
        .unwrap()
}

/// Every transaction sums to zero per mode and currency; no merchant account
/// is negative.
pub async fn assert_books_balance(app: &TestApp) {
    let totals = app.engine().ledger_totals().await.unwrap();
    for (test_mode, currency, sum) in &totals.per_currency {
        assert_eq!(*sum, 0, "{currency} (test {test_mode}) does not balance");
    }
    assert!(totals.negative.is_empty(), "{:?}", totals.negative);
}

/// A live Merchant API pay-in of 1 000.00 RUB paid on a live trader's card
/// and confirmed; its id, and the trader's API token (its card cabinet also
/// serves card payouts).
pub async fn paid_invoice(app: &TestApp) -> (String, String) {
    let (_, token) = rub_trader(app, "Card trader", "card", "2200123456789012").await;
    let deal = open_deal_in(app, false, "1000.00", "sberbank").await;
    app.engine()
        .confirm_deal(None, deal.id.clone())
        .await
        .expect("deal confirmed");
    (deal.invoice_id, token)
}

pub async fn trader_call(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = match body {
        Some(b) => app.http.post(app.url(path)).json(&b),
        None => app.http.get(app.url(path)),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(status < 500, "server error {status}: {text}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn refund_dto(api: &Api<'_>, id: &str) -> Value {
    api.get(&format!("{REFUNDS}/{id}"))
        .await
        .expect(200)
        .clone()
}

/// A Checkout refund over the private API, with the live key.
pub async fn checkout_refund(app: &TestApp, invoice_id: &str, attributes: Value) -> (u16, Value) {
    let c = &app.merchant.live;
    let body = json!({"data": {"type": "refund", "attributes": attributes}});
    let response = app
        .http
        .post(app.url(&format!("/api/payment-invoices/{invoice_id}/refund")))
        .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(status < 500, "server error {status}: {text}");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
