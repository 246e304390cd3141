//! Merchant API payouts (`type: out`) and the balance endpoints, end to end:
//! signed requests, a merchant funded with a processed live pay-in, traders
//! executing the payouts over the trader API, signed callbacks to a receiver
//! the test runs, and a clock the test moves.

mod common;
mod merchant_api_support;
mod receiver;

use std::time::Duration;

use common::{rub_trader, TestApp};
use kassa_domain::fee::FeeRule;
use kassa_domain::payout::PayoutSource;
use kassa_engine::ledger::Balance;
use kassa_engine::payouts::NewPayout;
use merchant_api_support::*;
use receiver::{Received, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

const CARD: &str = "4242424242424242";
const CARD_MASKED: &str = "424242******4242";

/// A valid `type: out` body: 250.00 RUB to a card at Tinkoff.
fn out_body(internal_id: &str, notification_url: &str) -> Value {
    json!({
        "type": "out",
        "amount": "250.00",
        "currency": "RUB",
        "notificationUrl": notification_url,
        "notificationToken": "out_notification_token",
        "internalId": internal_id,
        "userId": "uid-7",
        "paymentOption": "CARD",
        "paymentMethod": "tinkoff",
        "paymentRequisites": {"requisites": "4242 4242 4242 4242", "holder": "Petr P."},
    })
}

/// A 1 % payout fee with 1.00 at least.
async fn set_fee(app: &TestApp) {
    app.engine()
        .set_payout_fee(
            rub(),
            FeeRule {
                rate_ppm: 10_000,
                fix_minor: 0,
                min_minor: 100,
                max_minor: 0,
            },
        )
        .await
        .expect("fee");
}

/// A request to the Checkout private API with the live key.
fn live_private(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    let live = &app.merchant.live;
    app.http
        .request(method, app.url(path))
        .basic_auth(&live.private_key_id, Some(&live.private_key_secret))
}

/// `amount` RUB for the live books (the operator's top-up: the test service
/// never books live money) or the test books (a processed test-service
/// pay-in); returns the RUB balance of that mode once it is booked.
async fn fund(app: &TestApp, amount: &str, live: bool) -> Balance {
    if live {
        let minor = kassa_domain::money::parse_minor(amount, 2).expect("amount");
        app.engine()
            .adjust_balance(
                app.merchant.merchant_id.clone(),
                false,
                rub(),
                minor,
                "top-up".into(),
            )
            .await
            .expect("top-up");
        let b = rub_balance(app, false).await;
        assert!(b.available_minor > 0, "{b:?}");
        return b;
    }
    let creds = &app.merchant.test;
    let auth = |r: reqwest::RequestBuilder| {
        r.basic_auth(&creds.private_key_id, Some(&creds.private_key_secret))
    };
    let reply = send(auth(app.http.post(app.url("/api/payment-invoices"))).json(
        &json!({"data": {"type": "payment-invoices", "attributes": {
            "amount": amount,
            "currency": "RUB",
            "service": "test_rub_test",
            "service_fields": {"status": "processed"},
            "test_mode": true,
        }}}),
    ))
    .await;
    let id = reply.expect(201)["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = send(auth(
            app.http
                .get(app.url(&format!("/api/payment-invoices/{id}"))),
        ))
        .await;
        if r.expect(200)["data"]["attributes"]["status"] == "processed" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not processed: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = rub_balance(app, true).await;
    assert!(b.available_minor > 0, "{b:?}");
    b
}

async fn rub_balance(app: &TestApp, test_mode: bool) -> Balance {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), test_mode)
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.currency == rub())
        .unwrap_or(Balance {
            currency: rub(),
            test_mode,
            available_minor: 0,
            pending_payouts_minor: 0,
            pending_refunds_minor: 0,
            reserve_minor: 0,
        })
}

async fn trader_post(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    send(app.http.post(app.url(path)).bearer_auth(token).json(&body)).await
}

/// Checks the three balance views agree: the engine's, the Merchant API's
/// `GET /api/merchant/balance` and the Checkout API's `GET /api/balance`
/// (both with the live keys).
async fn assert_live_balances(app: &TestApp, expected: &Balance) {
    assert_eq!(&rub_balance(app, false).await, expected);
    let api = Api::with(app, &app.merchant.live);
    let reply = api.get("/api/merchant/balance").await;
    let dto = reply.expect(200);
    assert_eq!(dto["testMode"], false);
    let rub_entry = dto["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "RUB")
        .unwrap_or_else(|| panic!("no RUB in {dto}"));
    let fixed = |m: i64| kassa_domain::money::format_fixed(m, 2);
    assert_eq!(
        rub_entry,
        &json!({
            "currency": "RUB",
            "subunit": 2,
            "available": fixed(expected.available_minor),
            "availableMinor": expected.available_minor,
            "pendingPayouts": fixed(expected.pending_payouts_minor),
            "pendingPayoutsMinor": expected.pending_payouts_minor,
            "pendingRefunds": fixed(expected.pending_refunds_minor),
            "pendingRefundsMinor": expected.pending_refunds_minor,
            "reserve": fixed(expected.reserve_minor),
            "reserveMinor": expected.reserve_minor,
        })
    );
    let reply = send(live_private(app, Method::GET, "/api/balance")).await;
    let body = reply.expect(200);
    let resource = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "RUB")
        .unwrap_or_else(|| panic!("no RUB in {body}"));
    assert_eq!(resource["type"], "balances");
    assert_eq!(
        resource["attributes"],
        json!({
            "currency": "RUB",
            "exponent": 2,
            "test_mode": false,
            "available": fixed(expected.available_minor),
            "available_minor": expected.available_minor,
            "pending_payouts": fixed(expected.pending_payouts_minor),
            "pending_payouts_minor": expected.pending_payouts_minor,
            "pending_refunds": fixed(expected.pending_refunds_minor),
            "pending_refunds_minor": expected.pending_refunds_minor,
            "reserve": fixed(expected.reserve_minor),
            "reserve_minor": expected.reserve_minor,
        })
    );
}

/// Checks a callback's headers and returns its InvoiceDTO.
#[track_caller]
fn signed_dto(app: &TestApp, r: &Received, token: &str) -> Value {
    assert_eq!(r.header("x-notification-token"), token);
    assert_eq!(
        r.header("x-signature"),
        hmac_hex(&app.merchant.live.callback_secret, &r.body),
        "X-Signature is HMAC-SHA256(live callback secret, body)"
    );
    assert!(r.header("webhook-signature").starts_with("v1,"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(!text.contains(CARD), "a full card number in {text}");
    assert!(!text.contains("fields_sealed"), "{text}");
    let dto = r.json();
    assert_shape(&dto);
    assert_eq!(dto["type"], "out");
    dto
}

fn statuses(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_payout_request_names_every_missing_or_wrong_field() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);

    let r = api.post(&json!({"type": "out"})).await;
    let error = r.expect_error(422, "validation_error", None);
    for field in [
        "amount",
        "currency",
        "notificationUrl",
        "notificationToken",
        "paymentOption",
        "paymentMethod",
        "paymentRequisites",
    ] {
        assert!(
            error["fields"][field].is_string(),
            "{field} not named: {}",
            r.text
        );
    }

    let base = out_body("v-1", "http://127.0.0.1:9/callbacks");
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let sbp = |requisites: Value| {
        let mut b = base.clone();
        b["paymentOption"] = json!("SBP");
        b["paymentRequisites"] = requisites;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("amount", json!(250)), "amount"),
        (with("amount", json!("10.001")), "amount"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!("-5.00")), "amount"),
        (with("amount", json!("1e3")), "amount"),
        (with("currency", json!("KZT")), "currency"),
        (with("currency", json!("XXX")), "currency"),
        (
            with("notificationUrl", json!("ftp://shop.example/x")),
            "notificationUrl",
        ),
        (with("notificationToken", json!("")), "notificationToken"),
        (with("internalId", json!("")), "internalId"),
        (with("internalId", json!(7)), "internalId"),
        (with("userId", json!("u".repeat(300))), "userId"),
        (with("paymentMethod", json!("")), "paymentMethod"),
        (with("paymentMethod", json!(null)), "paymentMethod"),
        (with("paymentOption", json!(null)), "paymentOption"),
        (with("paymentOption", json!("PIGEON")), "paymentOption"),
        (with("paymentOption", json!("CASH")), "paymentOption"),
        (with("startDeal", json!(true)), "startDeal"),
        (with("paymentRequisites", json!(null)), "paymentRequisites"),
        (
            with("paymentRequisites", json!("4242")),
            "paymentRequisites",
        ),
        (
            with("paymentRequisites", json!({"holder": "Petr P."})),
            "paymentRequisites.requisites",
        ),
        (
            with(
                "paymentRequisites",
                json!({"requisites": 4242424242424242u64}),
            ),
            "paymentRequisites.requisites",
        ),
        (
            with(
                "paymentRequisites",
                json!({"requisites": "4242424242424241", "holder": "Petr P."}),
            ),
            "paymentRequisites.requisites",
        ),
        (
            with(
                "paymentRequisites",
                json!({"requisites": CARD, "holder": 5}),
            ),
            "paymentRequisites.holder",
        ),
        (
            sbp(json!({"requisites": "+7 (999) 123-45-67"})),
            "paymentRequisites.holder",
        ),
        (
            sbp(json!({"requisites": "call me", "holder": "Anna A."})),
            "paymentRequisites.requisites",
        ),
    ];
    for (b, field) in &cases {
        let r = api.post(b).await;
        let error = r.expect_error(422, "validation_error", Some(field));
        assert_eq!(
            error["fields"].as_object().unwrap().len(),
            1,
            "only {field} is wrong: {}",
            r.text
        );
    }
    // Nothing was made, nothing was held.
    let listed = api.get("/api/merchant/invoices?internalId=v-1").await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    assert_eq!(rub_balance(&app, true).await.pending_payouts_minor, 0);
}

#[tokio::test]
async fn a_payout_the_balance_cannot_cover_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let api = Api::with(&app, &app.merchant.live);
    // No money at all.
    let r = api
        .post(&out_body("nf-1", "http://127.0.0.1:9/callbacks"))
        .await;
    r.expect_error(422, "insufficient_funds", None);

    let funded = fund(&app, "100.00", true).await;
    let mut b = out_body("nf-2", "http://127.0.0.1:9/callbacks");
    // The whole balance leaves nothing for the fee.
    b["amount"] = json!(kassa_domain::money::format_fixed(funded.available_minor, 2));
    api.post(&b)
        .await
        .expect_error(422, "insufficient_funds", None);
    let listed = api.get("/api/merchant/invoices?internalId=nf-2").await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    assert_live_balances(&app, &funded).await;

    // The internalId stays free: a payout that fits takes it.
    b["amount"] = json!("50.00");
    let created = api.post(&b).await;
    let dto = created.expect(201);
    assert_eq!(dto["serviceFeeSum"], "1.00");
    let mut held = funded.clone();
    held.available_minor -= 5_100;
    held.pending_payouts_minor += 5_100;
    assert_live_balances(&app, &held).await;
}

// ---------------------------------------------------------------------------
// The life of a payout
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_payout_is_paid_by_a_trader_with_signed_callbacks_and_the_books_follow() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "1000.00", true).await;
    let receiver = Receiver::start(&[], 200);
    let (_, token) = rub_trader(&app, "Trader 2200123456789012", "card", "2200123456789012").await;
    let api = Api::with(&app, &app.merchant.live);

    let request = out_body("out-1", &receiver.url());
    let created = api.post(&request).await;
    let dto = created.expect(201).clone();
    assert!(!created.text.contains(CARD), "{}", created.text);
    assert_shape(&dto);
    let id = dto["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("po_"), "{id}");
    assert_eq!(dto["type"], "out");
    assert_eq!(dto["status"], "new");
    assert_eq!(dto["internalId"], "out-1");
    assert_eq!(dto["userId"], "uid-7");
    assert_eq!(dto["paymentOption"], "CARD");
    assert_eq!(dto["paymentMethod"], "tinkoff");
    assert_eq!(
        dto["paymentRequisites"],
        json!({"requisites": CARD_MASKED, "holder": "Petr P."})
    );
    assert_eq!(
        dto["sum"],
        json!({"amount": "250.00", "currency": "RUB", "subunit": 2})
    );
    assert_eq!(dto["serviceFeeSum"], "2.50");
    assert_eq!(dto["payoutSum"], Value::Null);
    assert_eq!(dto["receivedSumFromMaker"], Value::Null);
    assert_eq!(dto["receivedSumFromTaker"], Value::Null);
    assert_eq!(dto["invoiceUrl"], Value::Null);
    assert_eq!(dto["deals"], json!([]));
    assert_eq!(dto["storeName"], "Test Shop");
    assert_eq!(
        secs(&dto["expireAt"]) - secs(&dto["createdAt"]),
        app.config.payout_ttl_secs
    );

    // Held from creation.
    let mut held = funded.clone();
    held.available_minor -= 25_250;
    held.pending_payouts_minor = 25_250;
    assert_live_balances(&app, &held).await;

    // Repeats: the same request (the same value written otherwise too) is
    // the same payout; anything else under the same internalId is a conflict.
    let again = api.post(&request).await;
    assert_eq!(again.expect(200), &dto);
    let mut same = request.clone();
    same["amount"] = json!("250");
    same["paymentOption"] = json!("card");
    assert_eq!(api.post(&same).await.expect(200)["id"], dto["id"]);
    for (key, value) in [
        ("amount", json!("251.00")),
        ("notificationToken", json!("another")),
        ("userId", json!("uid-8")),
        ("paymentMethod", json!("sberbank")),
        ("paymentOption", json!("SBP")),
        ("notificationUrl", json!("http://127.0.0.1:9/other")),
    ] {
        let mut other = request.clone();
        other[key] = value;
        if key == "paymentOption" {
            other["paymentRequisites"] = json!({"requisites": "+79991234567", "holder": "P"});
        }
        api.post(&other)
            .await
            .expect_error(409, "idempotency_conflict", Some("internalId"));
    }
    assert_live_balances(&app, &held).await;

    // Found by id and by internalId, in its own mode only.
    assert_eq!(api.invoice(&id).await, dto);
    let listed = api.get("/api/merchant/invoices?internalId=out-1").await;
    assert_eq!(listed.expect(200)["items"], json!([dto.clone()]));
    Api::test(&app)
        .get(&format!("{PATH}/{id}"))
        .await
        .expect_error(404, "not_found", None);

    // The trader takes it (in full), pays and reports it.
    let taken = trader_post(
        &app,
        &token,
        &format!("/trader-api/payouts/{id}/take"),
        json!({}),
    )
    .await;
    let taken = taken.expect(200);
    assert_eq!(taken["additional_fields"]["card_number"], CARD);
    assert_eq!(taken["additional_fields"]["card_holder"], "Petr P.");
    assert_eq!(taken["bank"], "tinkoff");
    assert_eq!(api.invoice(&id).await["status"], "in_progress");
    trader_post(
        &app,
        &token,
        &format!("/trader-api/payouts/{id}/done"),
        json!({"receipt": "TNK-0001"}),
    )
    .await
    .expect(200);

    let done = api.invoice(&id).await;
    assert_shape(&done);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["payoutSum"], "250.00");
    assert_eq!(done["serviceFeeSum"], "2.50");
    assert!(secs(&done["updatedAt"]) >= secs(&dto["updatedAt"]));

    // Callbacks: created, taken, paid; each signed, each the DTO of its moment.
    let received = receiver.wait_for(3).await;
    assert_eq!(statuses(&received), ["new", "in_progress", "completed"]);
    for r in &received {
        let cb = signed_dto(&app, r, "out_notification_token");
        assert_eq!(cb["id"], id.as_str());
        assert_eq!(cb["paymentRequisites"]["requisites"], CARD_MASKED);
        assert_eq!(cb["storeId"], dto["storeId"]);
    }
    assert_eq!(received[2].json(), done);
    callbacks_settled(&app, &id).await;

    // Paid: amount and fee gone, nothing pending.
    let mut paid = funded.clone();
    paid.available_minor -= 25_250;
    paid.pending_payouts_minor = 0;
    assert_live_balances(&app, &paid).await;
    // The test books never saw any of it.
    assert_eq!(rub_balance(&app, true).await.available_minor, 0);
}

#[tokio::test]
async fn an_sbp_payout_declined_then_unpaid_expires_and_the_money_comes_back() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "1000.00", true).await;
    let receiver = Receiver::start(&[], 200);
    let (_, card_token) =
        rub_trader(&app, "Trader 2200123456789012", "card", "2200123456789012").await;
    let (_, sbp_token) = rub_trader(&app, "Trader +79990001122", "sbp", "+79990001122").await;
    let api = Api::with(&app, &app.merchant.live);

    let mut request = out_body("sbp-1", &receiver.url());
    request["paymentOption"] = json!("SBP");
    request["paymentMethod"] = json!("sberbank");
    request["amount"] = json!("300");
    request["paymentRequisites"] = json!({"requisites": "+7 (999) 123-45-67", "holder": "Anna A."});
    let created = api.post(&request).await;
    let dto = created.expect(201).clone();
    let id = dto["id"].as_str().unwrap().to_string();
    assert_eq!(
        dto["paymentRequisites"],
        json!({"requisites": "+*******4567", "holder": "Anna A."})
    );
    assert_eq!(dto["sum"]["amount"], "300.00");
    assert_eq!(dto["serviceFeeSum"], "3.00");

    // Not the card trader's to take.
    trader_post(
        &app,
        &card_token,
        &format!("/trader-api/payouts/{id}/take"),
        json!({}),
    )
    .await
    .expect_error(404, "not_found", None);
    let taken = trader_post(
        &app,
        &sbp_token,
        &format!("/trader-api/payouts/{id}/take"),
        json!({}),
    )
    .await;
    let taken = taken.expect(200);
    assert_eq!(taken["method"], "sbp");
    assert_eq!(taken["additional_fields"]["phone_number"], "+79991234567");
    assert_eq!(taken["additional_fields"]["phone_holder"], "Anna A.");
    trader_post(
        &app,
        &sbp_token,
        &format!("/trader-api/payouts/{id}/decline"),
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(api.invoice(&id).await["status"], "new");
    receiver.wait_for(3).await;
    callbacks_settled(&app, &id).await;

    // Nobody else pays it by its deadline.
    app.advance_secs(app.config.payout_ttl_secs + 1);
    let expired = api
        .wait_for(&id, "expired", |d| d["status"] == "expired")
        .await;
    assert_eq!(expired["serviceFeeSum"], Value::Null);
    assert_eq!(expired["payoutSum"], Value::Null);
    let received = receiver.wait_for(4).await;
    assert_eq!(
        statuses(&received),
        ["new", "in_progress", "new", "expired"]
    );
    for r in &received {
        signed_dto(&app, r, "out_notification_token");
    }
    // The whole hold is back.
    assert_live_balances(&app, &funded).await;
}

#[tokio::test]
async fn test_key_payouts_are_settled_by_the_test_executor_in_the_test_books() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let funded = fund(&app, "500.00", false).await;
    let mut request = out_body("t-1", "http://127.0.0.1:9/callbacks");
    request["amount"] = json!("100.00");
    let created = api.post(&request).await;
    let id = created.id();
    let done = api
        .wait_for(&id, "completed", |d| d["status"] == "completed")
        .await;
    assert_eq!(done["payoutSum"], "100.00");
    let after = rub_balance(&app, true).await;
    assert_eq!(after.available_minor, funded.available_minor - 10_000);
    assert_eq!(after.pending_payouts_minor, 0);

    // The test key's balance is the test books; the live ones are empty.
    let reply = api.get("/api/merchant/balance").await;
    let dto = reply.expect(200);
    assert_eq!(dto["testMode"], true);
    assert_eq!(dto["balances"][0]["currency"], "RUB");
    assert_eq!(dto["balances"][0]["availableMinor"], after.available_minor);
    let (status, body) = app.get_private("/api/balance").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["attributes"]["test_mode"], true);
    assert_eq!(
        body["data"][0]["attributes"]["available_minor"],
        after.available_minor
    );
    let live = Api::with(&app, &app.merchant.live);
    assert_eq!(
        live.get("/api/merchant/balance").await.expect(200)["balances"],
        json!([])
    );
    live.get(&format!("{PATH}/{id}"))
        .await
        .expect_error(404, "not_found", None);
}

// ---------------------------------------------------------------------------
// Balance endpoints and lookups
// ---------------------------------------------------------------------------

#[tokio::test]
async fn balance_endpoints_check_their_callers_and_parameters() {
    let app = TestApp::spawn().await;
    let funded = fund(&app, "200.00", true).await;
    assert_live_balances(&app, &funded).await;
    let api = Api::with(&app, &app.merchant.live);

    // Merchant API: signed like any GET.
    send(api.request(Method::GET, "/api/merchant/balance"))
        .await
        .expect_error(401, "unauthorized", None);
    send(
        api.request(Method::GET, "/api/merchant/balance")
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, b"/api/merchant/other")),
    )
    .await
    .expect_error(401, "unauthorized", None);
    send(
        api.request(Method::POST, "/api/merchant/balance")
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, b"{}"))
            .body("{}"),
    )
    .await
    .expect_error(405, "method_not_allowed", None);
    api.get("/api/merchant/balance?page=1").await.expect_error(
        422,
        "validation_error",
        Some("page"),
    );
    api.get("/api/merchant/balance?currency=ZZZ")
        .await
        .expect_error(422, "validation_error", Some("currency"));
    let usd = api.get("/api/merchant/balance?currency=USD").await;
    assert_eq!(
        usd.expect(200)["balances"],
        json!([{"currency": "USD", "subunit": 2, "available": "0.00", "availableMinor": 0,
                "pendingPayouts": "0.00", "pendingPayoutsMinor": 0, "pendingRefunds": "0.00",
                "pendingRefundsMinor": 0, "reserve": "0.00", "reserveMinor": 0}])
    );
    let only_rub = api.get("/api/merchant/balance?currency=RUB").await;
    assert_eq!(
        only_rub.expect(200)["balances"][0]["availableMinor"],
        funded.available_minor
    );

    // Checkout API: HTTP Basic.
    let r = send(app.http.get(app.url("/api/balance"))).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(
        app.http
            .get(app.url("/api/balance"))
            .basic_auth(&app.merchant.live.private_key_id, Some("wrong")),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let r = send(live_private(&app, Method::GET, "/api/balance?currency=ZZZ")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json["errors"]["currency"].is_string(), "{}", r.text);
    let r = send(live_private(&app, Method::GET, "/api/balance?currency=EUR")).await;
    assert_eq!(r.expect(200)["data"][0]["attributes"]["available"], "0.00");
}

#[tokio::test]
async fn payouts_of_other_apis_are_not_merchant_api_invoices() {
    let app = TestApp::spawn().await;
    fund(&app, "200.00", true).await;
    let merchant = merchant(&app).await;
    let fields = json!({"card_number": CARD});
    let h2h = app
        .engine()
        .create_payout(
            &merchant,
            false,
            NewPayout {
                request_id: "shared-id".into(),
                amount_minor: 1_000,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await
        .unwrap()
        .payout;
    let api = Api::with(&app, &app.merchant.live);
    api.get(&format!("{PATH}/{}", h2h.id))
        .await
        .expect_error(404, "not_found", None);
    api.get(&format!("{PATH}/po_nothing"))
        .await
        .expect_error(404, "not_found", None);
    let listed = api.get("/api/merchant/invoices?internalId=shared-id").await;
    assert_eq!(listed.expect(200)["items"], json!([]));
    // Its request_id is taken by the H2H payout: a Merchant API payout under
    // the same internalId is a conflict, not that payout.
    api.post(&out_body("shared-id", "http://127.0.0.1:9/callbacks"))
        .await
        .expect_error(409, "idempotency_conflict", Some("internalId"));
}
