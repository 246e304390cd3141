//! A P2P deal settled for what actually arrived (`POST .../deals/{id}/settle`
//! on the trader and admin APIs): less than the deal's amount pays its invoice
//! in part, more pays it what arrived, and the books post exactly that. Real
//! server over a real database (SQLite, or PostgreSQL in the second run).

mod common;

use common::TestApp;
use kassa_domain::{Currency, Deal, DealStatus, InvoiceStatus, Trader};
use kassa_engine::p2p::NewCabinet;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

async fn settle(app: &TestApp, face: &str, token: &str, deal: &str, body: Value) -> (u16, Value) {
    let r = app
        .http
        .post(app.url(&format!("/{face}/deals/{deal}/settle")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn trader_with_card(app: &TestApp, name: &str, requisite: &str) -> (Trader, String) {
    let (trader, token) = app.engine().create_trader(name.into()).await.unwrap();
    app.engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: Currency::from_code("RUB").unwrap(),
            bank_name: "Tinkoff".into(),
            requisite: requisite.into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 10_000_000,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .unwrap();
    (trader, token)
}

async fn invoice_of(app: &TestApp, deal: &Deal) -> kassa_domain::Invoice {
    app.engine()
        .invoice_with_deal(deal.invoice_id.clone())
        .await
        .unwrap()
        .0
}

/// The merchant's live RUB money: available plus reserve (what the pay-ins
/// brought, less their fees).
async fn rub_money(app: &TestApp) -> i64 {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), false)
        .await
        .unwrap()
        .iter()
        .find(|b| b.currency.code() == "RUB")
        .map_or(0, |b| b.available_minor + b.reserve_minor)
}

async fn assert_books_balance(app: &TestApp) {
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

#[tokio::test]
async fn less_than_the_deal_pays_its_invoice_in_part() {
    let app = spawn().await;
    let (_, token) = trader_with_card(&app, "Ivan", "2200123456789012").await;
    let deal = common::open_deal_in(&app, false, "500.00", "tinkoff").await;

    let (code, body) = settle(
        &app,
        "trader-api",
        &token,
        &deal.id,
        json!({"amount_received": "450.00"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["amount"], "500.00");
    assert_eq!(body["amount_received"], "450.00");
    assert_eq!(body["settled_by"], "trader");

    let invoice = invoice_of(&app, &deal).await;
    assert_eq!(invoice.status, InvoiceStatus::PartiallyProcessed);
    assert_eq!(invoice.processed_amount_minor, Some(45_000));
    let fee = invoice.processed_fee_minor.unwrap();
    assert_eq!(invoice.processed_deposit_minor, Some(45_000 - fee));
    assert_eq!(
        rub_money(&app).await,
        45_000 - fee,
        "the books hold what arrived"
    );

    // The same again answers the same; another amount is a conflict.
    let (code, _) = settle(
        &app,
        "trader-api",
        &token,
        &deal.id,
        json!({"amount_received": "450"}),
    )
    .await;
    assert_eq!(code, 200);
    let (code, body) = settle(
        &app,
        "trader-api",
        &token,
        &deal.id,
        json!({"amount_received": "460.00"}),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    assert_eq!(
        invoice_of(&app, &deal).await.processed_amount_minor,
        Some(45_000)
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn more_than_the_deal_after_a_dispute_pays_what_arrived() {
    let app = spawn().await;
    trader_with_card(&app, "Ivan", "2200123456789012").await;
    let deal = common::open_deal_in(&app, false, "700.00", "tinkoff").await;
    app.engine()
        .customer_says_paid(deal.invoice_id.clone())
        .await
        .unwrap();
    app.advance_secs(app.config.deal_ttl_secs + 1);
    app.engine().expire_due_deals().await.unwrap();
    app.wait_for_deal(&deal.id, DealStatus::Disputed).await;

    let (code, body) = settle(
        &app,
        "admin-api",
        ADMIN_TOKEN,
        &deal.id,
        json!({"amount_received": "750.00"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (
            body["amount_received"].as_str(),
            body["settled_by"].as_str()
        ),
        (Some("750.00"), Some("operator"))
    );
    let invoice = invoice_of(&app, &deal).await;
    assert_eq!(invoice.status, InvoiceStatus::Processed);
    assert_eq!(invoice.processed_amount_minor, Some(75_000));
    assert_eq!(
        rub_money(&app).await,
        75_000 - invoice.processed_fee_minor.unwrap()
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn the_deal_s_own_amount_is_a_plain_completion() {
    let app = spawn().await;
    let (_, token) = trader_with_card(&app, "Ivan", "2200123456789012").await;
    let deal = common::open_deal_in(&app, false, "300.00", "tinkoff").await;
    let (code, body) = settle(
        &app,
        "trader-api",
        &token,
        &deal.id,
        json!({"amount_received": "300.00"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["amount_received"], Value::Null);
    let invoice = invoice_of(&app, &deal).await;
    assert_eq!(
        (invoice.status, invoice.processed_amount_minor),
        (InvoiceStatus::Processed, Some(30_000))
    );
}

#[tokio::test]
async fn bad_amounts_and_deals_out_of_reach_change_nothing() {
    let app = spawn().await;
    let (_, owner) = trader_with_card(&app, "Ivan", "2200123456789012").await;
    // A trader without cards: the deal can only be Ivan's.
    let (_, stranger) = app.engine().create_trader("Petr".into()).await.unwrap();
    let (owner, stranger) = (&owner, &stranger);
    let deal = common::open_deal_in(&app, false, "500.00", "tinkoff").await;

    for (body, field) in [
        (json!({}), "amount_received"),
        (json!({"amount_received": "0"}), "amount_received"),
        (json!({"amount_received": "-5.00"}), "amount_received"),
        (json!({"amount_received": "1.001"}), "amount_received"),
        (json!({"amount_received": "1e3"}), "amount_received"),
        (
            json!({"amount_received": "100000000.01"}),
            "amount_received",
        ),
        (json!({"amount_received": 450}), "amount_received"),
        (json!({"amount_received": "450.00", "note": "x"}), "note"),
    ] {
        let (code, reply) = settle(&app, "trader-api", owner, &deal.id, body.clone()).await;
        assert_eq!(code, 422, "{body}: {reply}");
        assert!(
            reply["error"]["fields"][field].is_string(),
            "{body}: {reply}"
        );
    }
    let (code, _) = settle(
        &app,
        "trader-api",
        stranger,
        &deal.id,
        json!({"amount_received": "450.00"}),
    )
    .await;
    assert_eq!(code, 404, "another trader's deal is unknown to it");
    let (code, _) = settle(
        &app,
        "trader-api",
        owner,
        "deal_missing",
        json!({"amount_received": "450.00"}),
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(
        app.engine().deal(deal.id.clone()).await.unwrap().status,
        DealStatus::TransferWaiting
    );
    assert!(invoice_of(&app, &deal).await.status.is_open());

    // A deal that ran out with nobody saying they paid is over: dispute it first.
    app.advance_secs(app.config.deal_ttl_secs + 1);
    app.engine().expire_due_deals().await.unwrap();
    app.wait_for_deal(&deal.id, DealStatus::Canceled).await;
    let (code, reply) = settle(
        &app,
        "admin-api",
        ADMIN_TOKEN,
        &deal.id,
        json!({"amount_received": "450.00"}),
    )
    .await;
    assert_eq!(code, 409, "{reply}");
    assert_eq!(rub_money(&app).await, 0);
    assert_books_balance(&app).await;
}
