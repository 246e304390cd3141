//! The trader API (`/trader-api/`) and the operator's admin API
//! (`/admin-api/`), against a real server and database. Deals are made the way
//! merchants make them: a Merchant API pay-in invoice that starts a deal.

mod common;

use std::time::Duration;

use common::TestApp;
use kassa_domain::{Deal, DealStatus, InvoiceStatus, Trader};
use kassa_engine::p2p::{BookRequest, NewCabinet};
use kassa_engine::EngineError;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

struct Reply {
    status: u16,
    body: Value,
    headers: HeaderMap,
}

impl Reply {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.body["error"]["fields"][name].as_str()
    }
}

/// Sends `body` (a JSON value, or raw text when a string) with `token` as the
/// bearer token.
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Reply {
    let mut request = app.http.request(method, app.url(path));
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    if let Some(b) = body {
        request = request.header("content-type", "application/json").body(b);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    raw(
        app,
        method,
        path,
        Some(&format!("Bearer {token}")),
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(app, Method::GET, path, token, None).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    call(app, Method::POST, path, token, Some(body)).await
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    call(app, Method::PUT, path, token, Some(body)).await
}

async fn trader(app: &TestApp, name: &str) -> (Trader, String) {
    app.engine()
        .create_trader(name.into())
        .await
        .expect("trader")
}

/// A RUB card cabinet of `trader` at `bank`, limits 1.00 to 100 000.00.
async fn cabinet(app: &TestApp, trader: &Trader, bank: &str, requisite: &str) -> String {
    app.engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: kassa_domain::Currency::from_code("RUB").unwrap(),
            bank_name: bank.into(),
            requisite: requisite.into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 10_000_000,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .expect("cabinet")
        .id
}

/// A live Merchant API pay-in invoice of `amount` RUB paid by card at `bank`
/// (the traders here are live); its deal.
async fn open_deal(app: &TestApp, amount: &str, bank: &str) -> Deal {
    common::open_deal_in(app, false, amount, bank).await
}

async fn deal_status(app: &TestApp, id: &str) -> DealStatus {
    app.engine().deal(id.into()).await.expect("deal").status
}

async fn invoice_status(app: &TestApp, deal: &Deal) -> InvoiceStatus {
    app.engine()
        .invoice_with_deal(deal.invoice_id.clone())
        .await
        .expect("invoice")
        .0
        .status
}

/// Lets the deal's deadline pass after the customer said they paid: the
/// deal goes to dispute.
async fn dispute(app: &TestApp, deal: &Deal) {
    app.engine()
        .customer_says_paid(deal.invoice_id.clone())
        .await
        .expect("customer says paid");
    app.advance_secs(app.config.deal_ttl_secs + 1);
    app.engine().expire_due_deals().await.expect("expiry");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while deal_status(app, &deal.id).await != DealStatus::Disputed {
        assert!(tokio::time::Instant::now() < deadline, "no dispute");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_string())
        .collect()
}

fn notification(id: &str, cabinet: &str, amount: &str) -> Value {
    json!({
        "id": id,
        "cabinet": cabinet,
        "amount": amount,
        "text": format!("Поступление {amount} RUB"),
        "time": "2024-05-01T12:00:00Z",
    })
}

// ---------------------------------------------------------------------------
// Trader API

#[tokio::test]
async fn trader_api_refuses_requests_without_a_valid_token() {
    let app = spawn().await;
    let (_, token) = trader(&app, "Ivan").await;
    for authorization in [
        None,
        Some("Bearer".to_string()),
        Some("Bearer trt_not_a_token".to_string()),
        Some(format!("Basic {token}")),
        Some(format!("Bearer {ADMIN_TOKEN}")),
        Some(format!("Bearer {}", "x".repeat(5000))),
    ] {
        let reply = raw(
            &app,
            Method::GET,
            "/trader-api/cabinets",
            authorization.as_deref(),
            None,
        )
        .await;
        assert_eq!(reply.status, 401, "{authorization:?}: {}", reply.body);
        assert_eq!(reply.code(), "unauthorized");
        assert!(reply.body["error"]["message"].is_string());
        assert!(reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
    // Every endpoint checks the token, before it reads the body.
    for (method, path) in [
        (Method::POST, "/trader-api/cabinets/cab_x/active"),
        (Method::GET, "/trader-api/deals"),
        (Method::POST, "/trader-api/deals/deal_x/confirm"),
        (Method::POST, "/trader-api/deals/deal_x/resolve"),
        (Method::POST, "/trader-api/notifications"),
        (Method::GET, "/trader-api/notifications"),
    ] {
        let reply = raw(&app, method.clone(), path, None, Some(b"{}".to_vec())).await;
        assert_eq!(reply.status, 401, "{method} {path}");
    }
    // The scheme's name is case-insensitive; the trader's token works.
    let reply = raw(
        &app,
        Method::GET,
        "/trader-api/cabinets",
        Some(&format!("bearer {token}")),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"data": []}));
    // Unknown endpoints and methods answer in the face's shape.
    let reply = get(&app, "/trader-api/nothing-here", &token).await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
    let reply = call(&app, Method::DELETE, "/trader-api/cabinets", &token, None).await;
    assert_eq!(
        (reply.status, reply.code()),
        (405, "method_not_allowed"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_bank_notification_completes_exactly_the_matching_deal() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let sber = cabinet(&app, &ivan, "Sber", "2202987654321098").await;
    let first = open_deal(&app, "1000.00", "tinkoff").await;
    let second = open_deal(&app, "2000.00", "tinkoff").await;
    let elsewhere = open_deal(&app, "1000.00", "sber").await;
    assert_eq!(
        (&first.cabinet_id, &second.cabinet_id, &elsewhere.cabinet_id),
        (&tinkoff, &tinkoff, &sber)
    );
    assert_eq!(
        (
            first.amount_minor,
            second.amount_minor,
            elsewhere.amount_minor
        ),
        (100_000, 200_000, 100_000)
    );

    // The trader sees its open deals with the requisites in full.
    let open = get(&app, "/trader-api/deals?status=open", &token).await;
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(open.body["data"].as_array().unwrap().len(), 3);
    let shown = open.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == first.id.as_str())
        .expect("the first deal is listed")
        .clone();
    assert_eq!(shown["requisite"], "2200123456789012");
    assert_eq!(shown["amount"], "1000.00");
    assert_eq!(shown["currency"], "RUB");
    assert_eq!(shown["status"], "transfer_waiting");

    let reply = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-1", &tinkoff, "1000.00"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["matched"], true);
    assert_eq!(reply.body["deal_id"], first.id.as_str());
    assert_eq!(reply.body["deal"]["status"], "completed");
    assert_eq!(reply.body["deal"]["invoice_id"], first.invoice_id.as_str());
    assert_eq!(reply.body["amount"], "1000.00");
    assert_eq!(reply.body["cabinet"], tinkoff.as_str());
    assert_eq!(reply.body["time"], "2024-05-01T12:00:00Z");
    assert!(reply.headers.get("idempotent-replayed").is_none());

    assert_eq!(deal_status(&app, &first.id).await, DealStatus::Completed);
    assert_eq!(
        deal_status(&app, &second.id).await,
        DealStatus::TransferWaiting
    );
    assert_eq!(
        deal_status(&app, &elsewhere.id).await,
        DealStatus::TransferWaiting
    );
    let settled = app.engine().deal(first.id.clone()).await.unwrap();
    assert!(settled
        .settled_by
        .as_deref()
        .unwrap()
        .starts_with("bank_notification:"));
    assert_eq!(invoice_status(&app, &first).await, InvoiceStatus::Processed);
    assert_ne!(
        invoice_status(&app, &second).await,
        InvoiceStatus::Processed
    );
    assert_ne!(
        invoice_status(&app, &elsewhere).await,
        InvoiceStatus::Processed
    );

    let open = get(&app, "/trader-api/deals?status=open", &token).await;
    let mut left = ids(&open.body);
    left.sort();
    let mut expected = vec![second.id.clone(), elsewhere.id.clone()];
    expected.sort();
    assert_eq!(left, expected);
    let completed = get(&app, "/trader-api/deals?status=completed", &token).await;
    assert_eq!(ids(&completed.body), vec![first.id.clone()]);
    let all = get(&app, "/trader-api/deals", &token).await;
    assert_eq!(ids(&all.body).len(), 3);
    let one = get(&app, &format!("/trader-api/deals/{}", first.id), &token).await;
    assert_eq!(one.body["status"], "completed");
}

#[tokio::test]
async fn an_unmatched_notification_is_kept_for_review() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "1000.00", "tinkoff").await;

    let reply = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-stray", &tinkoff, "1234.00"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["matched"], false);
    assert_eq!(reply.body["deal_id"], Value::Null);
    assert_eq!(reply.body["deal"], Value::Null);
    assert_eq!(
        deal_status(&app, &deal.id).await,
        DealStatus::TransferWaiting
    );
    // A matching one beside it.
    let reply = post(
        &app,
        "/trader-api/notifications",
        &token,
        json!({"id": "sms-ok", "cabinet": tinkoff, "amount": "1000"}),
    )
    .await;
    assert_eq!(reply.body["matched"], true, "{}", reply.body);

    let unmatched = get(&app, "/trader-api/notifications?unmatched=true", &token).await;
    assert_eq!(unmatched.status, 200, "{}", unmatched.body);
    assert_eq!(ids(&unmatched.body), vec!["sms-stray".to_string()]);
    assert_eq!(unmatched.body["data"][0]["amount"], "1234.00");
    assert_eq!(unmatched.body["data"][0]["text"], "Поступление 1234.00 RUB");
    let all = get(&app, "/trader-api/notifications", &token).await;
    assert_eq!(ids(&all.body).len(), 2);
    let bad = get(&app, "/trader-api/notifications?unmatched=maybe", &token).await;
    assert_eq!((bad.status, bad.field("unmatched").is_some()), (422, true));

    // The operator sees it for review too.
    let review = get(&app, "/admin-api/notifications?unmatched=true", ADMIN_TOKEN).await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert_eq!(ids(&review.body), vec!["sms-stray".to_string()]);
    assert_eq!(review.body["data"][0]["trader_id"], ivan.id.as_str());
}

#[tokio::test]
async fn a_repeated_notification_id_changes_nothing() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let first = open_deal(&app, "1000.00", "tinkoff").await;
    let second = open_deal(&app, "2000.00", "tinkoff").await;

    let original = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-1", &tinkoff, "1000.00"),
    )
    .await;
    assert_eq!(original.body["deal_id"], first.id.as_str());
    // The same id again, even with another amount: the same answer, no change.
    for body in [
        notification("sms-1", &tinkoff, "1000.00"),
        notification("sms-1", &tinkoff, "2000.00"),
    ] {
        let repeat = post(&app, "/trader-api/notifications", &token, body).await;
        assert_eq!(repeat.status, original.status);
        assert_eq!(repeat.body, original.body);
        assert_eq!(repeat.headers["idempotent-replayed"], "true");
    }
    assert_eq!(
        deal_status(&app, &second.id).await,
        DealStatus::TransferWaiting
    );

    // An unmatched one repeated after a deal for its amount appeared stays
    // unmatched and leaves the deal alone.
    let stray = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-2", &tinkoff, "3000.00"),
    )
    .await;
    assert_eq!(stray.body["matched"], false);
    let third = open_deal(&app, "3000.00", "tinkoff").await;
    assert_eq!(third.amount_minor, 300_000);
    let repeat = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-2", &tinkoff, "3000.00"),
    )
    .await;
    assert_eq!(repeat.body, stray.body);
    assert_eq!(
        deal_status(&app, &third.id).await,
        DealStatus::TransferWaiting
    );
    let all = get(&app, "/trader-api/notifications", &token).await;
    assert_eq!(ids(&all.body).len(), 2);
}

#[tokio::test]
async fn a_trader_confirms_its_deal() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "500.00", "tinkoff").await;

    let path = format!("/trader-api/deals/{}/confirm", deal.id);
    let reply = raw(
        &app,
        Method::POST,
        &path,
        Some(&format!("Bearer {token}")),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "completed");
    assert_eq!(reply.body["settled_by"], "trader");
    assert_eq!(reply.body["amount"], "500.00");
    assert!(reply.body["ended_at"].is_string());
    assert_eq!(invoice_status(&app, &deal).await, InvoiceStatus::Processed);
    // Confirming again answers the completed deal.
    let again = post(&app, &path, &token, json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "completed");
    // A body with fields is refused.
    let extra = post(&app, &path, &token, json!({"amount": "1"})).await;
    assert_eq!((extra.status, extra.field("amount").is_some()), (422, true));
}

#[tokio::test]
async fn a_trader_resolves_its_disputes() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "700.00", "tinkoff").await;
    let path = format!("/trader-api/deals/{}/resolve", deal.id);
    // Only a disputed deal is resolved.
    let early = post(&app, &path, &token, json!({"outcome": "completed"})).await;
    assert_eq!(
        (early.status, early.code()),
        (409, "conflict"),
        "{}",
        early.body
    );

    dispute(&app, &deal).await;
    let disputed = get(&app, "/trader-api/deals?status=disputed", &token).await;
    assert_eq!(ids(&disputed.body), vec![deal.id.clone()]);
    for body in [
        json!({}),
        json!({"outcome": "paid"}),
        json!({"outcome": true}),
    ] {
        let bad = post(&app, &path, &token, body.clone()).await;
        assert_eq!(bad.status, 422, "{body}: {}", bad.body);
        assert!(bad.field("outcome").is_some());
    }
    assert_eq!(deal_status(&app, &deal.id).await, DealStatus::Disputed);
    let reply = post(&app, &path, &token, json!({"outcome": "completed"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "completed");
    assert_eq!(invoice_status(&app, &deal).await, InvoiceStatus::Processed);
}

#[tokio::test]
async fn a_trader_cannot_touch_another_traders_deals_or_cabinets() {
    let app = spawn().await;
    let (ivan, _) = trader(&app, "Ivan").await;
    let (_petr, petr_token) = trader(&app, "Petr").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "1000.00", "tinkoff").await;

    let cabinets = get(&app, "/trader-api/cabinets", &petr_token).await;
    assert_eq!(cabinets.body, json!({"data": []}));
    let deals = get(&app, "/trader-api/deals", &petr_token).await;
    assert_eq!(deals.body, json!({"data": []}));
    for (method, path, body) in [
        (Method::GET, format!("/trader-api/deals/{}", deal.id), None),
        (
            Method::POST,
            format!("/trader-api/deals/{}/confirm", deal.id),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/trader-api/deals/{}/resolve", deal.id),
            Some(json!({"outcome": "canceled"})),
        ),
        (
            Method::POST,
            format!("/trader-api/cabinets/{tinkoff}/active"),
            Some(json!({"active": false})),
        ),
        (
            Method::POST,
            "/trader-api/deals/deal_unknown/confirm".to_string(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/trader-api/cabinets/cab_unknown/active".to_string(),
            Some(json!({"active": false})),
        ),
    ] {
        let reply = call(&app, method.clone(), &path, &petr_token, body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
        assert_eq!(reply.code(), "not_found");
    }
    // Another trader's cabinet in a notification is no cabinet of this trader.
    let reply = post(
        &app,
        "/trader-api/notifications",
        &petr_token,
        notification("sms-1", &tinkoff, "1000.00"),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(reply.field("cabinet").is_some());
    assert_eq!(
        deal_status(&app, &deal.id).await,
        DealStatus::TransferWaiting
    );
    let cabinet = &app.engine().trader_cabinets(ivan.id.clone()).await.unwrap()[0];
    assert!(cabinet.active);
}

#[tokio::test]
async fn switching_a_cabinet_off_removes_it_from_booking() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let book = |n: u32| BookRequest {
        request_id: format!("book-{n}"),
        method: "card".into(),
        currency: "RUB".into(),
        amount_minor: 150_000,
        bank_name: None,
    };
    let held = engine.book_cabinet(&merchant, book(1)).await.expect("held");
    assert_eq!(held.amount_minor, 150_000);

    let path = format!("/trader-api/cabinets/{tinkoff}/active");
    let reply = post(&app, &path, &token, json!({"active": false})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["active"], false);
    assert_eq!(reply.body["requisite"], "2200123456789012");
    let listed = get(&app, "/trader-api/cabinets", &token).await;
    assert_eq!(listed.body["data"][0]["active"], false);
    match engine.book_cabinet(&merchant, book(2)).await {
        Err(EngineError::NoCabinet) => {}
        other => panic!("booked on an inactive cabinet: {other:?}"),
    }

    let reply = post(&app, &path, &token, json!({"active": true})).await;
    assert_eq!(reply.body["active"], true);
    engine
        .book_cabinet(&merchant, book(3))
        .await
        .expect("held again");
}

#[tokio::test]
async fn bad_trader_input_gets_a_clear_error_and_changes_nothing() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    let tinkoff = cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "1000.00", "tinkoff").await;
    let auth = format!("Bearer {token}");

    let cases: Vec<(Value, &str)> = vec![
        (notification("n1", &tinkoff, "1 000,00"), "amount"),
        (notification("n2", &tinkoff, "1000.001"), "amount"),
        (notification("n3", &tinkoff, "-1000.00"), "amount"),
        (notification("n4", &tinkoff, "0"), "amount"),
        (notification("n5", &tinkoff, "1e3"), "amount"),
        (notification("n6", "cab_unknown", "1000.00"), "cabinet"),
        (notification("", &tinkoff, "1000.00"), "id"),
        (
            json!({"id": "n7", "cabinet": tinkoff, "amount": 1000}),
            "amount",
        ),
        (
            json!({"id": "n8", "cabinet": tinkoff, "amount": "1000.00", "time": "yesterday"}),
            "time",
        ),
        (
            json!({"id": "n9", "cabinet": tinkoff, "amount": "1000.00", "sender": "x"}),
            "sender",
        ),
        (json!({"cabinet": tinkoff, "amount": "1000.00"}), "id"),
        (json!({"id": "n10", "amount": "1000.00"}), "cabinet"),
        (json!({"id": "n11", "cabinet": tinkoff}), "amount"),
        (
            json!({"id": "n12", "cabinet": tinkoff, "amount": "1000.00", "text": "x".repeat(2000)}),
            "text",
        ),
    ];
    for (body, field) in cases {
        let reply = post(&app, "/trader-api/notifications", &token, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.code(), "invalid");
        assert!(
            reply.field(field).is_some(),
            "{body}: no error for {field}: {}",
            reply.body
        );
    }
    for (bytes, status, code) in [
        (b"{not json".to_vec(), 400, "bad_request"),
        (b"[1, 2]".to_vec(), 400, "bad_request"),
        (b"".to_vec(), 400, "bad_request"),
        (vec![b' '; 70 * 1024], 413, "payload_too_large"),
    ] {
        let reply = raw(
            &app,
            Method::POST,
            "/trader-api/notifications",
            Some(&auth),
            Some(bytes),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{}",
            reply.body
        );
    }
    let all = get(&app, "/trader-api/notifications", &token).await;
    assert_eq!(all.body, json!({"data": []}));
    assert_eq!(
        deal_status(&app, &deal.id).await,
        DealStatus::TransferWaiting
    );

    let path = format!("/trader-api/cabinets/{tinkoff}/active");
    for body in [json!({}), json!({"active": "no"}), json!({"active": null})] {
        let reply = post(&app, &path, &token, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.field("active").is_some());
    }
    let listed = get(&app, "/trader-api/cabinets", &token).await;
    assert_eq!(listed.body["data"][0]["active"], true);

    let reply = get(&app, "/trader-api/deals?status=weird", &token).await;
    assert_eq!(reply.status, 422);
    assert!(reply.field("status").is_some());
    let reply = get(&app, "/trader-api/deals?open=1", &token).await;
    assert_eq!(reply.status, 422);
    assert!(reply.field("open").is_some());
}

// ---------------------------------------------------------------------------
// Admin API

#[tokio::test]
async fn admin_api_without_a_configured_token_refuses_everyone() {
    let app = TestApp::spawn().await;
    for token in [ADMIN_TOKEN, "", "anything-at-all-0123456789"] {
        let reply = get(&app, "/admin-api/traders", token).await;
        assert_eq!(reply.status, 401, "{token}: {}", reply.body);
        assert_eq!(reply.code(), "unauthorized");
    }
}

#[tokio::test]
async fn admin_api_refuses_wrong_tokens() {
    let app = spawn().await;
    let (_, trader_token) = trader(&app, "Ivan").await;
    for authorization in [
        None,
        Some("Bearer wrong-token-0123456789".to_string()),
        Some(format!("Bearer {trader_token}")),
        Some(format!("Basic {ADMIN_TOKEN}")),
    ] {
        for (method, path) in [
            (Method::GET, "/admin-api/traders"),
            (Method::POST, "/admin-api/traders"),
            (Method::PUT, "/admin-api/rates/RUB"),
            (Method::PUT, "/admin-api/amount-rules/RUB"),
            (Method::GET, "/admin-api/notifications"),
            (Method::POST, "/admin-api/deals/deal_x/confirm"),
        ] {
            let reply = raw(
                &app,
                method.clone(),
                path,
                authorization.as_deref(),
                Some(b"{\"name\": \"x\"}".to_vec()),
            )
            .await;
            assert_eq!(reply.status, 401, "{authorization:?} {method} {path}");
            assert_eq!(reply.code(), "unauthorized");
        }
    }
    assert_eq!(app.engine().traders().await.unwrap().len(), 1);
    let reply = get(&app, "/admin-api/traders", ADMIN_TOKEN).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn admin_api_manages_traders_cabinets_rates_and_rules() {
    let app = spawn().await;
    let a = ADMIN_TOKEN;

    // Traders: the token is shown once and works on the trader API.
    let created = post(&app, "/admin-api/traders", a, json!({"name": "Ivan"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let trader_id = created.body["id"].as_str().unwrap().to_string();
    let token = created.body["token"].as_str().unwrap().to_string();
    assert_eq!(created.body["name"], "Ivan");
    assert_eq!(created.body["active"], true);
    let mine = get(&app, "/trader-api/cabinets", &token).await;
    assert_eq!(mine.status, 200);
    let listed = get(&app, "/admin-api/traders", a).await;
    assert_eq!(ids(&listed.body), vec![trader_id.clone()]);
    assert!(listed.body["data"][0].get("token").is_none());
    let one = get(&app, &format!("/admin-api/traders/{trader_id}"), a).await;
    assert_eq!(one.body["name"], "Ivan");
    let missing = get(&app, "/admin-api/traders/trd_unknown", a).await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));

    // Cabinets: requisites masked for the operator, in full for the trader.
    let path = format!("/admin-api/traders/{trader_id}/cabinets");
    let added = post(
        &app,
        &path,
        a,
        json!({
            "method": "card", "currency": "RUB", "bank": "Tinkoff",
            "requisite": "2200123456789012", "holder": "Ivan I.",
            "min_amount": "100.00", "max_amount": "100000.00",
            "daily_limit": "500000.00", "max_open_deals": 5,
        }),
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let cabinet_id = added.body["id"].as_str().unwrap().to_string();
    assert_eq!(added.body["requisite"], "220012******9012");
    assert_eq!(added.body["min_amount"], "100.00");
    assert_eq!(added.body["max_amount"], "100000.00");
    assert_eq!(added.body["daily_limit"], "500000.00");
    assert_eq!(added.body["max_open_deals"], 5);
    assert_eq!(added.body["active"], true);
    let second = post(
        &app,
        &path,
        a,
        json!({
            "method": "sbp", "currency": "rub", "bank": "Sber",
            "requisite": "+79967779977", "holder": "Ivan I.", "active": false,
        }),
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.body["active"], false);
    assert_eq!(second.body["min_amount"], "0.01");
    assert_eq!(second.body["max_amount"], Value::Null);
    let cabinets = get(&app, &path, a).await;
    assert_eq!(ids(&cabinets.body).len(), 2);
    let mine = get(&app, "/trader-api/cabinets", &token).await;
    assert_eq!(mine.body["data"][0]["requisite"], "2200123456789012");
    let unknown = post(
        &app,
        "/admin-api/traders/trd_unknown/cabinets",
        a,
        json!({"method": "card", "currency": "RUB", "bank": "B", "requisite": "1", "holder": "H"}),
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);

    let switch = format!("/admin-api/cabinets/{cabinet_id}/active");
    let off = post(&app, &switch, a, json!({"active": false})).await;
    assert_eq!((off.status, &off.body["active"]), (200, &json!(false)));
    let on = post(&app, &switch, a, json!({"active": true})).await;
    assert_eq!(on.body["active"], true);
    let none = post(
        &app,
        "/admin-api/cabinets/cab_unknown/active",
        a,
        json!({"active": true}),
    )
    .await;
    assert_eq!(none.status, 404);

    // Rates: a deal made after the rate is set carries it.
    let rate = put(&app, "/admin-api/rates/RUB", a, json!({"rate": "99.23"})).await;
    assert_eq!(rate.status, 200, "{}", rate.body);
    assert_eq!(rate.body, json!({"currency": "RUB", "rate": "99.23"}));
    let shown = get(&app, "/admin-api/rates/rub", a).await;
    assert_eq!(shown.body["rate"], "99.23");
    let unset = get(&app, "/admin-api/rates/KZT", a).await;
    assert_eq!(unset.body["rate"], Value::Null);

    // Amount rules: the second deal of an amount on the cabinet steps down.
    let default = get(&app, "/admin-api/amount-rules/RUB", a).await;
    assert_eq!(
        default.body,
        json!({"currency": "RUB", "step": "1.00", "direction": "up"})
    );
    let rule = put(
        &app,
        "/admin-api/amount-rules/RUB",
        a,
        json!({"step": "0.50", "direction": "down"}),
    )
    .await;
    assert_eq!(rule.status, 200, "{}", rule.body);
    assert_eq!(
        rule.body,
        json!({"currency": "RUB", "step": "0.50", "direction": "down"})
    );
    let first = open_deal(&app, "1000.00", "tinkoff").await;
    let second_deal = open_deal(&app, "1000.00", "tinkoff").await;
    assert_eq!(first.rate.as_deref(), Some("99.23"));
    assert_eq!(
        (first.amount_minor, second_deal.amount_minor),
        (100_000, 99_950)
    );

    // Deals of a trader, one deal, confirmation by the operator.
    let deals = get(
        &app,
        &format!("/admin-api/traders/{trader_id}/deals?status=open"),
        a,
    )
    .await;
    assert_eq!(deals.status, 200, "{}", deals.body);
    assert_eq!(ids(&deals.body).len(), 2);
    assert_eq!(deals.body["data"][0]["requisite"], "220012******9012");
    let one = get(&app, &format!("/admin-api/deals/{}", first.id), a).await;
    assert_eq!(one.body["amount"], "1000.00");
    let confirmed = post(
        &app,
        &format!("/admin-api/deals/{}/confirm", first.id),
        a,
        json!({}),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "completed");
    assert_eq!(confirmed.body["settled_by"], "operator");
    assert_eq!(invoice_status(&app, &first).await, InvoiceStatus::Processed);
    let missing = post(&app, "/admin-api/deals/deal_unknown/confirm", a, json!({})).await;
    assert_eq!(missing.status, 404);
    let missing = get(&app, "/admin-api/traders/trd_unknown/deals", a).await;
    assert_eq!(missing.status, 404);

    // A dispute resolved by the operator: the money did not arrive.
    dispute(&app, &second_deal).await;
    let resolved = post(
        &app,
        &format!("/admin-api/deals/{}/resolve", second_deal.id),
        a,
        json!({"outcome": "canceled"}),
    )
    .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    assert_eq!(resolved.body["status"], "canceled");
    assert_eq!(resolved.body["settled_by"], "operator");
    assert_eq!(
        invoice_status(&app, &second_deal).await,
        InvoiceStatus::Expired
    );
    let again = post(
        &app,
        &format!("/admin-api/deals/{}/resolve", second_deal.id),
        a,
        json!({"outcome": "completed"}),
    )
    .await;
    assert_eq!((again.status, again.code()), (409, "conflict"));

    // Notifications, all or of one trader.
    let reply = post(
        &app,
        "/trader-api/notifications",
        &token,
        notification("sms-1", &cabinet_id, "42.00"),
    )
    .await;
    assert_eq!(reply.body["matched"], false, "{}", reply.body);
    let all = get(&app, "/admin-api/notifications", a).await;
    assert_eq!(ids(&all.body), vec!["sms-1".to_string()]);
    let of = get(
        &app,
        &format!("/admin-api/notifications?trader={trader_id}&unmatched=true"),
        a,
    )
    .await;
    assert_eq!(ids(&of.body), vec!["sms-1".to_string()]);
    let unknown = get(&app, "/admin-api/notifications?trader=trd_unknown", a).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn bad_admin_input_gets_a_clear_error_and_changes_nothing() {
    let app = spawn().await;
    let a = ADMIN_TOKEN;
    let (ivan, _) = trader(&app, "Ivan").await;
    let path = format!("/admin-api/traders/{}/cabinets", ivan.id);

    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "token": "mine"}), "token"),
    ] {
        let reply = post(&app, "/admin-api/traders", a, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.field(field).is_some(), "{body}: {}", reply.body);
    }
    assert_eq!(app.engine().traders().await.unwrap().len(), 1);

    let good = json!({
        "method": "card", "currency": "RUB", "bank": "Tinkoff",
        "requisite": "2200123456789012", "holder": "Ivan I.",
    });
    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    for (body, field) in [
        (with("currency", json!("XXX")), "currency"),
        (with("holder", json!("")), "holder"),
        (with("bank", json!(" ")), "bank"),
        (with("method", json!("card transfer")), "method"),
        (with("min_amount", json!("abc")), "min_amount"),
        (with("min_amount", json!("0")), "min_amount"),
        (with("min_amount", json!("1.001")), "min_amount"),
        (with("max_amount", json!("-5")), "max_amount"),
        (with("max_open_deals", json!(-1)), "max_open_deals"),
        (with("active", json!("yes")), "active"),
        (with("colour", json!("red")), "colour"),
    ] {
        let reply = post(&app, &path, a, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.field(field).is_some(), "{body}: {}", reply.body);
    }
    let mut min_above_max = good.clone();
    min_above_max["min_amount"] = json!("500.00");
    min_above_max["max_amount"] = json!("100.00");
    let reply = post(&app, &path, a, min_above_max).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(app
        .engine()
        .trader_cabinets(ivan.id.clone())
        .await
        .unwrap()
        .is_empty());

    // Rates.
    put(&app, "/admin-api/rates/RUB", a, json!({"rate": "99.23"})).await;
    for body in [
        json!({"rate": "-1"}),
        json!({"rate": "abc"}),
        json!({"rate": "0"}),
        json!({"rate": 99.5}),
        json!({"rate": "1.123456789"}),
        json!({}),
    ] {
        let reply = put(&app, "/admin-api/rates/RUB", a, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.field("rate").is_some());
    }
    let reply = put(&app, "/admin-api/rates/XXX", a, json!({"rate": "1"})).await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
    let shown = get(&app, "/admin-api/rates/RUB", a).await;
    assert_eq!(shown.body["rate"], "99.23");

    // Amount rules.
    put(
        &app,
        "/admin-api/amount-rules/RUB",
        a,
        json!({"step": "1.00", "direction": "alternate"}),
    )
    .await;
    for (body, field) in [
        (
            json!({"step": "1.00", "direction": "sideways"}),
            "direction",
        ),
        (json!({"step": "1.00"}), "direction"),
        (json!({"step": "0", "direction": "up"}), "step"),
        (json!({"step": "0.001", "direction": "up"}), "step"),
        (json!({"step": "abc", "direction": "up"}), "step"),
        (json!({"direction": "up"}), "step"),
    ] {
        let reply = put(&app, "/admin-api/amount-rules/RUB", a, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.field(field).is_some(), "{body}: {}", reply.body);
    }
    let reply = put(
        &app,
        "/admin-api/amount-rules/NOPE",
        a,
        json!({"step": "1", "direction": "up"}),
    )
    .await;
    assert_eq!(reply.status, 404);
    let rule = get(&app, "/admin-api/amount-rules/RUB", a).await;
    assert_eq!(
        rule.body,
        json!({"currency": "RUB", "step": "1.00", "direction": "alternate"})
    );

    let reply = raw(
        &app,
        Method::PUT,
        "/admin-api/rates/RUB",
        Some(&format!("Bearer {a}")),
        Some(vec![b'x'; 100 * 1024]),
    )
    .await;
    assert_eq!((reply.status, reply.code()), (413, "payload_too_large"));
    let reply = call(&app, Method::DELETE, "/admin-api/traders", a, None).await;
    assert_eq!(reply.status, 405);
    let reply = get(&app, "/admin-api/unknown", a).await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
}

/// A dispute can outlive its invoice's expiry; the money that arrived still
/// reaches the merchant when the dispute is resolved.
#[tokio::test]
async fn a_dispute_resolved_after_the_invoice_expired_still_processes_it() {
    let app = spawn().await;
    let (ivan, token) = trader(&app, "Ivan").await;
    cabinet(&app, &ivan, "Tinkoff", "2200123456789012").await;
    let deal = open_deal(&app, "700.00", "tinkoff").await;
    dispute(&app, &deal).await;
    app.advance_secs(app.config.p2p_invoice_ttl_secs);
    app.engine().expire_due_invoices().await.expect("expiry");
    let path = format!("/trader-api/deals/{}/resolve", deal.id);
    let reply = post(&app, &path, &token, json!({"outcome": "completed"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "completed");
    assert_eq!(invoice_status(&app, &deal).await, InvoiceStatus::Processed);
}
