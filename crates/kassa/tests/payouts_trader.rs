//! Payouts executed by traders over the trader API (`/trader-api/payouts`),
//! against a real server and database, with the merchant's books checked at
//! every step. The merchant is funded first with a processed live pay-in of
//! the Checkout API (books are per mode).

mod common;

use std::time::Duration;

use common::{rub_trader, TestApp};
use kassa_domain::fee::FeeRule;
use kassa_domain::payout::{Payout, PayoutSource, PayoutStatus};
use kassa_domain::Currency;
use kassa_engine::ledger::Balance;
use kassa_engine::payouts::NewPayout;
use kassa_engine::EngineError;
use reqwest::Method;
use serde_json::{json, Value};

const CARD: &str = "4242424242424242";
const CARD_MASKED: &str = "424242******4242";

fn rub() -> Currency {
    Currency::from_code("RUB").unwrap()
}

struct Reply {
    status: u16,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.body);
        &self.body
    }

    /// Checks the trader API's error shape, its code and the field it names.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "{}", self.body);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        assert!(error["fields"].is_object(), "{}", self.body);
        if let Some(f) = field {
            assert!(error["fields"][f].is_string(), "no {f}: {}", self.body);
        }
    }
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = app.http.request(method, app.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    assert!(status < 500, "server error {status}: {text}");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body }
}

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(app, Method::GET, path, Some(token), None).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> Reply {
    call(app, Method::POST, path, Some(token), body).await
}

/// Credits `amount` RUB to the merchant's live available balance (the
/// operator's top-up; the test service never books live money); returns the
/// live RUB balance.
async fn fund(app: &TestApp, amount: &str) -> Balance {
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
    let balance = rub_balance(app, false).await;
    assert!(balance.available_minor > 0, "{balance:?}");
    assert_eq!(balance.pending_payouts_minor, 0);
    balance
}

async fn rub_balance(app: &TestApp, test_mode: bool) -> Balance {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), test_mode)
        .await
        .expect("balances")
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

/// The books balance: every currency's accounts sum to zero and no merchant
/// account is negative.
async fn assert_books_balance(app: &TestApp) {
    let totals = app.engine().ledger_totals().await.expect("totals");
    for (test_mode, currency, sum) in &totals.per_currency {
        assert_eq!(*sum, 0, "{currency} (test {test_mode}) does not balance");
    }
    assert!(totals.negative.is_empty(), "{:?}", totals.negative);
}

/// A live card payout of `amount_minor` made the way the H2H face makes one.
async fn payout(app: &TestApp, request_id: &str, amount_minor: i64) -> Payout {
    let merchant = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .expect("merchant");
    let fields = json!({"card_number": CARD, "card_holder": "Petr P.", "bank_name": "tinkoff"});
    let created = app
        .engine()
        .create_payout(
            &merchant,
            false,
            NewPayout {
                request_id: request_id.into(),
                amount_minor,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await
        .expect("payout");
    assert!(created.created);
    created.payout
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

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

async fn engine_payout(app: &TestApp, id: &str) -> Payout {
    app.engine()
        .payout(app.merchant.merchant_id.clone(), false, id.into())
        .await
        .expect("payout")
}

#[tokio::test]
async fn a_trader_takes_pays_and_the_books_follow() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "1000.00").await;
    let (card_trader, card_token) = rub_trader(&app, "Card", "card", "2200123456789012").await;
    let (_, sbp_token) = rub_trader(&app, "SBP", "sbp", "+79990001122").await;

    let p = payout(&app, "po-1", 30_000).await;
    assert_eq!(p.fee_minor, 300);
    let held = rub_balance(&app, false).await;
    assert_eq!(held.available_minor, funded.available_minor - 30_300);
    assert_eq!(held.pending_payouts_minor, 30_300);

    // Offered, masked, to the trader whose cabinet serves card RUB only.
    let offered = get(&app, "/trader-api/payouts/offered", &card_token).await;
    let offered = offered.expect(200);
    assert_eq!(ids(offered), vec![p.id.clone()]);
    let item = &offered["data"][0];
    assert_eq!(item["status"], "pending");
    assert_eq!(item["amount"], "300.00");
    assert_eq!(item["currency"], "RUB");
    assert_eq!(item["method"], "card");
    assert_eq!(item["bank"], "tinkoff");
    assert_eq!(item["additional_fields"]["card_number"], CARD_MASKED);
    assert_eq!(item["additional_fields"]["card_holder"], "Petr P.");
    assert!(!offered.to_string().contains(CARD));
    assert!(item.get("merchant_id").is_none() && item.get("fee").is_none());

    // The SBP trader is not offered it and cannot take it.
    let none = get(&app, "/trader-api/payouts/offered", &sbp_token).await;
    assert!(ids(none.expect(200)).is_empty());
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", p.id),
        &sbp_token,
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    post(
        &app,
        &format!("/trader-api/payouts/{}/decline", p.id),
        &sbp_token,
        None,
    )
    .await
    .expect_error(404, "not_found", None);

    // Taken: the answer has the card number in full.
    let taken = post(
        &app,
        &format!("/trader-api/payouts/{}/take", p.id),
        &card_token,
        None,
    )
    .await;
    let taken = taken.expect(200);
    assert_eq!(taken["status"], "in_progress");
    assert_eq!(taken["trader_id"], card_trader.id.as_str());
    assert_eq!(taken["additional_fields"]["card_number"], CARD);
    // No longer offered; the trader's own list shows it in full while it pays.
    let offered = get(&app, "/trader-api/payouts/offered", &card_token).await;
    assert!(ids(offered.expect(200)).is_empty());
    let own = get(&app, "/trader-api/payouts?status=in_progress", &card_token).await;
    let own = own.expect(200);
    assert_eq!(ids(own), vec![p.id.clone()]);
    assert_eq!(own["data"][0]["additional_fields"]["card_number"], CARD);
    let one = get(&app, &format!("/trader-api/payouts/{}", p.id), &card_token).await;
    assert_eq!(one.expect(200)["additional_fields"]["card_number"], CARD);
    get(&app, &format!("/trader-api/payouts/{}", p.id), &sbp_token)
        .await
        .expect_error(404, "not_found", None);
    // Taking it again is a conflict of state.
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", p.id),
        &card_token,
        None,
    )
    .await
    .expect_error(409, "conflict", None);
    // Still held while it is being paid.
    assert_eq!(rub_balance(&app, false).await, held);

    // Done needs a receipt.
    let done_path = format!("/trader-api/payouts/{}/done", p.id);
    post(&app, &done_path, &card_token, Some(json!({})))
        .await
        .expect_error(422, "invalid", Some("receipt"));
    post(
        &app,
        &done_path,
        &card_token,
        Some(json!({"receipt": "  "})),
    )
    .await
    .expect_error(422, "invalid", Some("receipt"));
    post(
        &app,
        &done_path,
        &card_token,
        Some(json!({"receipt": "r-1", "extra": 1})),
    )
    .await
    .expect_error(422, "invalid", Some("extra"));
    // Another trader cannot mark it done.
    post(
        &app,
        &done_path,
        &sbp_token,
        Some(json!({"receipt": "r-1"})),
    )
    .await
    .expect_error(404, "not_found", None);
    let done = post(
        &app,
        &done_path,
        &card_token,
        Some(json!({"receipt": "SBOL-778899"})),
    )
    .await;
    let done = done.expect(200);
    assert_eq!(done["status"], "success");
    assert_eq!(done["receipt"], "SBOL-778899");
    assert_eq!(done["additional_fields"]["card_number"], CARD_MASKED);
    // A repeat with the same receipt answers it unchanged; another is a conflict.
    let again = post(
        &app,
        &done_path,
        &card_token,
        Some(json!({"receipt": "SBOL-778899"})),
    )
    .await;
    assert_eq!(again.expect(200)["status"], "success");
    post(
        &app,
        &done_path,
        &card_token,
        Some(json!({"receipt": "other"})),
    )
    .await
    .expect_error(409, "conflict", None);
    // Finished payouts are listed masked.
    let own = get(&app, "/trader-api/payouts", &card_token).await;
    let own = own.expect(200);
    assert_eq!(own["data"][0]["status"], "success");
    assert_eq!(
        own["data"][0]["additional_fields"]["card_number"],
        CARD_MASKED
    );
    assert!(ids(
        get(&app, "/trader-api/payouts?status=in_progress", &card_token)
            .await
            .expect(200)
    )
    .is_empty());

    let stored = engine_payout(&app, &p.id).await;
    assert_eq!(stored.status, PayoutStatus::Success);
    assert_eq!(stored.receipt.as_deref(), Some("SBOL-778899"));
    // Paid: the amount and fee are gone from the merchant, nothing is pending.
    let after = rub_balance(&app, false).await;
    assert_eq!(after.available_minor, funded.available_minor - 30_000 - 300);
    assert_eq!(after.pending_payouts_minor, 0);
    assert_eq!(after.reserve_minor, funded.reserve_minor);
    // The test books are untouched.
    assert_eq!(rub_balance(&app, true).await.available_minor, 0);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_declined_payout_goes_to_another_trader() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "1000.00").await;
    let (_, first) = rub_trader(&app, "First", "card", "2200123456789012").await;
    let (second_trader, second) = rub_trader(&app, "Second", "card", "2200987654321098").await;
    let p = payout(&app, "po-decline", 50_000).await;
    assert_eq!(p.fee_minor, 500);

    for token in [&first, &second] {
        let offered = get(&app, "/trader-api/payouts/offered", token).await;
        assert_eq!(ids(offered.expect(200)), vec![p.id.clone()]);
    }
    let take = |token: String| {
        let app = &app;
        let path = format!("/trader-api/payouts/{}/take", p.id);
        async move { post(app, &path, &token, None).await }
    };
    take(first.clone()).await.expect(200);
    // Taken by the first: the second is no longer offered it and cannot take it.
    assert!(ids(get(&app, "/trader-api/payouts/offered", &second)
        .await
        .expect(200))
    .is_empty());
    take(second.clone())
        .await
        .expect_error(409, "conflict", None);

    let declined = post(
        &app,
        &format!("/trader-api/payouts/{}/decline", p.id),
        &first,
        Some(json!({})),
    )
    .await;
    let declined = declined.expect(200);
    assert_eq!(declined["status"], "pending");
    assert_eq!(declined["trader_id"], Value::Null);
    assert_eq!(declined["additional_fields"]["card_number"], CARD_MASKED);
    // Still held for the next trader.
    let held = rub_balance(&app, false).await;
    assert_eq!(held.available_minor, funded.available_minor - 50_500);
    assert_eq!(held.pending_payouts_minor, 50_500);

    // Never offered again to the one who declined it.
    assert!(ids(get(&app, "/trader-api/payouts/offered", &first)
        .await
        .expect(200))
    .is_empty());
    take(first.clone())
        .await
        .expect_error(404, "not_found", None);
    post(
        &app,
        &format!("/trader-api/payouts/{}/decline", p.id),
        &first,
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    // It left the first trader's list.
    assert!(ids(get(&app, "/trader-api/payouts", &first).await.expect(200)).is_empty());

    let offered = get(&app, "/trader-api/payouts/offered", &second).await;
    assert_eq!(ids(offered.expect(200)), vec![p.id.clone()]);
    let taken = take(second.clone()).await;
    assert_eq!(taken.expect(200)["trader_id"], second_trader.id.as_str());
    post(
        &app,
        &format!("/trader-api/payouts/{}/done", p.id),
        &second,
        Some(json!({"receipt": "r-2"})),
    )
    .await
    .expect(200);
    let stored = engine_payout(&app, &p.id).await;
    assert_eq!(stored.status, PayoutStatus::Success);
    assert_eq!(stored.trader_id.as_deref(), Some(second_trader.id.as_str()));

    let after = rub_balance(&app, false).await;
    assert_eq!(after.available_minor, funded.available_minor - 50_500);
    assert_eq!(after.pending_payouts_minor, 0);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_payout_offered_and_declined_before_taking_is_not_offered_again() {
    let app = TestApp::spawn().await;
    fund(&app, "1000.00").await;
    let (_, token) = rub_trader(&app, "Picky", "card", "2200123456789012").await;
    let p = payout(&app, "po-refuse", 10_000).await;
    let declined = post(
        &app,
        &format!("/trader-api/payouts/{}/decline", p.id),
        &token,
        None,
    )
    .await;
    assert_eq!(declined.expect(200)["status"], "pending");
    assert!(ids(get(&app, "/trader-api/payouts/offered", &token)
        .await
        .expect(200))
    .is_empty());
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", p.id),
        &token,
        None,
    )
    .await
    .expect_error(404, "not_found", None);
}

#[tokio::test]
async fn an_unpaid_payout_fails_at_its_deadline_and_the_hold_goes_back() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "1000.00").await;
    let (_, token) = rub_trader(&app, "Slow", "card", "2200123456789012").await;
    let taken_one = payout(&app, "po-slow", 20_000).await;
    let untaken = payout(&app, "po-nobody", 10_000).await;
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", taken_one.id),
        &token,
        None,
    )
    .await
    .expect(200);
    let held = rub_balance(&app, false).await;
    assert_eq!(held.pending_payouts_minor, 20_200 + 10_100);

    app.advance_secs(app.config.payout_ttl_secs + 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let a = engine_payout(&app, &taken_one.id).await;
        let b = engine_payout(&app, &untaken.id).await;
        if a.status == PayoutStatus::Failed && b.status == PayoutStatus::Failed {
            assert_eq!(a.reason.as_deref(), Some("deadline"));
            assert_eq!(b.reason.as_deref(), Some("deadline"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not failed: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The whole hold, fee included, is back.
    assert_eq!(rub_balance(&app, false).await, funded);
    // Too late to report it paid; the failed one is listed as such.
    post(
        &app,
        &format!("/trader-api/payouts/{}/done", taken_one.id),
        &token,
        Some(json!({"receipt": "late"})),
    )
    .await
    .expect_error(409, "conflict", None);
    let failed = get(&app, "/trader-api/payouts?status=failed", &token).await;
    let failed = failed.expect(200);
    assert_eq!(ids(failed), vec![taken_one.id.clone()]);
    assert_eq!(failed["data"][0]["reason"], "deadline");
    assert!(ids(get(&app, "/trader-api/payouts/offered", &token)
        .await
        .expect(200))
    .is_empty());
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_payout_the_balance_cannot_cover_changes_nothing() {
    let app = TestApp::spawn().await;
    set_fee(&app).await;
    let funded = fund(&app, "100.00").await;
    let merchant = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let fields = json!({"card_number": CARD});
    // Exactly the available amount leaves no room for the fee.
    let result = app
        .engine()
        .create_payout(
            &merchant,
            false,
            NewPayout {
                request_id: "too-much".into(),
                amount_minor: funded.available_minor,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await;
    assert!(
        matches!(result, Err(EngineError::InsufficientFunds)),
        "{:?}",
        result.err()
    );
    assert_eq!(rub_balance(&app, false).await, funded);
    let (_, token) = rub_trader(&app, "Idle", "card", "2200123456789012").await;
    assert!(ids(get(&app, "/trader-api/payouts/offered", &token)
        .await
        .expect(200))
    .is_empty());
}

#[tokio::test]
async fn payout_endpoints_check_auth_paths_and_bodies() {
    let app = TestApp::spawn().await;
    fund(&app, "1000.00").await;
    let (_, token) = rub_trader(&app, "Strict", "card", "2200123456789012").await;
    let p = payout(&app, "po-strict", 10_000).await;

    for (method, path) in [
        (Method::GET, "/trader-api/payouts".to_string()),
        (Method::GET, "/trader-api/payouts/offered".to_string()),
        (Method::POST, format!("/trader-api/payouts/{}/take", p.id)),
        (Method::POST, format!("/trader-api/payouts/{}/done", p.id)),
        (
            Method::POST,
            format!("/trader-api/payouts/{}/decline", p.id),
        ),
    ] {
        let reply = call(&app, method.clone(), &path, None, None).await;
        reply.expect_error(401, "unauthorized", None);
        let reply = call(&app, method, &path, Some("not-a-token"), None).await;
        reply.expect_error(401, "unauthorized", None);
    }
    // Wrong methods, unknown ids and parameters, bad bodies.
    call(
        &app,
        Method::DELETE,
        "/trader-api/payouts/offered",
        Some(&token),
        None,
    )
    .await
    .expect_error(405, "method_not_allowed", None);
    call(
        &app,
        Method::GET,
        &format!("/trader-api/payouts/{}/take", p.id),
        Some(&token),
        None,
    )
    .await
    .expect_error(405, "method_not_allowed", None);
    post(&app, "/trader-api/payouts/po_unknown/take", &token, None)
        .await
        .expect_error(404, "not_found", None);
    get(&app, "/trader-api/payouts?status=weird", &token)
        .await
        .expect_error(422, "invalid", Some("status"));
    get(&app, "/trader-api/payouts/offered?page=2", &token)
        .await
        .expect_error(422, "invalid", Some("page"));
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", p.id),
        &token,
        Some(json!({"unexpected": true})),
    )
    .await
    .expect_error(422, "invalid", Some("unexpected"));
    let raw = app
        .http
        .post(app.url(&format!("/trader-api/payouts/{}/done", p.id)))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    // None of that changed the payout.
    assert_eq!(
        engine_payout(&app, &p.id).await.status,
        PayoutStatus::Pending
    );
}

#[tokio::test]
async fn test_mode_payouts_are_never_offered_to_traders() {
    let app = TestApp::spawn().await;
    let (_, token) = rub_trader(&app, "Live only", "card", "2200123456789012").await;
    let merchant = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    // Fund the test books with a processed test pay-in.
    let (status, body) = app
        .create_private(json!({
            "amount": "500.00", "currency": "RUB", "service": "test_rub_test",
            "service_fields": {"status": "processed"},
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    app.wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
    let fields = json!({"card_number": CARD, "test_status": "failed"});
    let created = app
        .engine()
        .create_payout(
            &merchant,
            true,
            NewPayout {
                request_id: "test-po".into(),
                amount_minor: 10_000,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await
        .expect("test payout");
    assert!(ids(get(&app, "/trader-api/payouts/offered", &token)
        .await
        .expect(200))
    .is_empty());
    post(
        &app,
        &format!("/trader-api/payouts/{}/take", created.payout.id),
        &token,
        None,
    )
    .await
    .expect_error(404, "not_found", None);
    // The live books never saw it.
    assert_eq!(rub_balance(&app, false).await.available_minor, 0);
}
