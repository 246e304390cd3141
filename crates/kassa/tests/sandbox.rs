//! Test and live never meet: a real server on port 0 over a real database
//! (SQLite, or PostgreSQL with `KASSA_TEST_BACKEND=postgres`). Test-mode
//! deals and holds go to test traders' cabinets only, a bank notification
//! settles only deals of its cabinet's mode, and the H2H test secret runs
//! `book_cabinet`, payouts and balances in test mode.

mod common;
mod h2h_support;
mod merchant_api_support;
mod payouts_support;
mod receiver;

use std::time::Duration;

use common::{rub_trader_in, TestApp};
use kassa_domain::payout::PayoutStatus;
use kassa_domain::{Cabinet, DealStatus, InvoiceStatus};
use merchant_api_support::{deal_body, rub, Api};
use payouts_support::{live_balance, set_callback_url, Payouts};
use receiver::Receiver;
use serde_json::{json, Value};

const LIVE_CARD: &str = "2200123456789012";
const TEST_CARD: &str = "4111111111111111";
/// A payout payee's card (passes the Luhn check).
const PAYEE_CARD: &str = "4242424242424242";

/// A trader of a mode with one active RUB card cabinet at "sberbank"; the
/// cabinet and the trader's API token.
async fn card_of(app: &TestApp, test_mode: bool, requisite: &str) -> (Cabinet, String) {
    let name = format!("Trader {requisite}");
    let (trader, token) = rub_trader_in(app, test_mode, &name, "card", requisite).await;
    let mut cabinets = app
        .engine()
        .trader_cabinets(trader.id)
        .await
        .expect("cabinets");
    let cabinet = cabinets.remove(0);
    assert_eq!(cabinet.test_mode, test_mode);
    (cabinet, token)
}

/// The deal of a Merchant API InvoiceDTO, as the engine keeps it.
async fn deal_of(app: &TestApp, dto: &Value) -> kassa_domain::Deal {
    let id = dto["deals"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no deal in {dto}"));
    app.engine().deal(id.to_string()).await.expect("deal")
}

async fn notify(app: &TestApp, token: &str, id: &str, cabinet: &Cabinet, amount: &str) -> Value {
    let response = app
        .http
        .post(app.url("/trader-api/notifications"))
        .bearer_auth(token)
        .json(&json!({"id": id, "cabinet": cabinet.id, "amount": amount}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

#[tokio::test]
async fn a_test_key_invoice_never_lands_on_a_live_cabinet() {
    let app = TestApp::spawn().await;
    let test = Api::test(&app);
    let (live_card, _) = card_of(&app, false, LIVE_CARD).await;

    // Only live requisites exist: the test key is told there is none, and
    // nothing is created or held.
    test.post(&deal_body("t-1", "1000.00"))
        .await
        .expect_error(422, "no_cabinet", None);
    assert!(app
        .engine()
        .trader_deals(live_card.trader_id.clone(), false)
        .await
        .unwrap()
        .is_empty());

    // With a test cabinet beside it, the test deal goes there, every time.
    let (test_card, _) = card_of(&app, true, TEST_CARD).await;
    for i in 0..4 {
        let dto = test
            .post(&deal_body(&format!("t-{}", i + 2), "1000.00"))
            .await
            .expect(201)
            .clone();
        assert_eq!(
            dto["deals"][0]["requisites"]["requisites"], TEST_CARD,
            "{dto}"
        );
        let deal = deal_of(&app, &dto).await;
        assert_eq!(deal.cabinet_id, test_card.id);
        assert!(deal.test_mode);
    }
    // The live key gets the live card, for the same amount: the test deals
    // hold no slot of it and count for none of its limits.
    let live = Api::with(&app, &app.merchant.live);
    let dto = live
        .post(&deal_body("l-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    let deal = deal_of(&app, &dto).await;
    assert_eq!(deal.cabinet_id, live_card.id);
    assert_eq!(deal.amount_minor, 100_000, "the exact amount is free");
    assert!(!deal.test_mode);
}

#[tokio::test]
async fn a_live_notification_never_settles_a_test_deal() {
    let app = TestApp::spawn().await;
    let (live_card, live_token) = card_of(&app, false, LIVE_CARD).await;
    let (test_card, test_token) = card_of(&app, true, TEST_CARD).await;
    let test = Api::test(&app);
    // Two test deals (deals spread over cabinets, so before the rule one
    // of them would sit on the live card).
    let mut deals = Vec::new();
    for (id, amount) in [("t-1", "1000.00"), ("t-2", "2000.00")] {
        let dto = test.post(&deal_body(id, amount)).await.expect(201).clone();
        deals.push((deal_of(&app, &dto).await, amount));
    }

    // The live trader's bank reports both amounts on the live card.
    for (i, (deal, amount)) in deals.iter().enumerate() {
        let n = notify(&app, &live_token, &format!("sms-{i}"), &live_card, amount).await;
        assert_eq!(n["matched"], false, "{n}");
        let now = app.engine().deal(deal.id.clone()).await.unwrap();
        assert_eq!(now.status, DealStatus::TransferWaiting, "{now:?}");
        let (invoice, _) = app
            .engine()
            .invoice_with_deal(deal.invoice_id.clone())
            .await
            .unwrap();
        assert_ne!(invoice.status, InvoiceStatus::Processed);
    }
    // Kept for the live trader's review.
    let unmatched = app
        .engine()
        .notifications(Some(live_card.trader_id.clone()), true)
        .await
        .unwrap();
    assert_eq!(unmatched.len(), 2);

    // The test trader's own notification settles its test deal.
    let (deal, amount) = &deals[0];
    assert_eq!(deal.cabinet_id, test_card.id);
    let n = notify(&app, &test_token, "sms-test", &test_card, amount).await;
    assert_eq!(n["matched"], true, "{n}");
    assert_eq!(
        app.engine().deal(deal.id.clone()).await.unwrap().status,
        DealStatus::Completed
    );

    // And the other way: a live deal is not settled by the test card's money.
    let live = Api::with(&app, &app.merchant.live);
    let dto = live
        .post(&deal_body("l-1", "3000.00"))
        .await
        .expect(201)
        .clone();
    let live_deal = deal_of(&app, &dto).await;
    assert_eq!(live_deal.cabinet_id, live_card.id);
    let n = notify(&app, &test_token, "sms-test-2", &test_card, "3000.00").await;
    assert_eq!(n["matched"], false, "{n}");
    assert_eq!(
        app.engine().deal(live_deal.id).await.unwrap().status,
        DealStatus::TransferWaiting
    );
}

/// The merchant's H2H client signing with its test secret.
fn test_payouts(app: &TestApp) -> Payouts {
    let mut payouts = Payouts::of(app);
    payouts.client.secret = app.merchant.h2h_test_secret.clone();
    payouts
}

/// Test money: a processed test-service pay-in of `amount` RUB (Checkout
/// private API, test key), the way a merchant fills its test books.
async fn fund_test_books(app: &TestApp, amount: &str) {
    let (status, body) = app
        .create_private(json!({
            "amount": amount,
            "currency": "RUB",
            "service": "test_rub_test",
            "service_fields": {"status": "processed"},
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().expect("id").to_string();
    app.wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
}

async fn test_rub_available(app: &TestApp) -> i64 {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), true)
        .await
        .expect("balances")
        .iter()
        .find(|b| b.currency == rub())
        .map_or(0, |b| b.available_minor)
}

#[tokio::test]
async fn an_h2h_payout_signed_with_the_test_secret_is_settled_by_the_test_executor() {
    let app = TestApp::spawn().await;
    // A live trader who would be offered a live payout of this kind.
    let (_, live_token) = card_of(&app, false, LIVE_CARD).await;
    fund_test_books(&app, "500.00").await;
    let before = test_rub_available(&app).await;
    assert!(before >= 10_000, "{before}");
    assert_eq!(live_balance(&app, "RUB").await, (0, 0, 0));
    // (Set after the pay-in, whose Checkout callback would go there too.)
    let site = Receiver::start(&[], 200);
    set_callback_url(&app, &site.url()).await;

    let payouts = test_payouts(&app);
    let body = payouts.body("card", "RUB", 10_000, json!({"card_number": PAYEE_CARD}));
    let answer = payouts.create(body.clone()).await;
    // Answered under the test secret, like every answer to it.
    payouts_support::check_answer(payouts.secret(), &answer);

    // No live trader is offered it; the test executor settles it.
    let offered = app
        .http
        .get(app.url("/trader-api/payouts/offered"))
        .bearer_auth(&live_token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(offered["data"], json!([]), "{offered}");
    let request_id = body["request_id"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let payout = app
            .engine()
            .payout_by_request(app.merchant.merchant_id.clone(), true, request_id.clone())
            .await
            .expect("a test payout");
        assert!(payout.test_mode);
        if payout.status == PayoutStatus::Success {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{payout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its callbacks (created, then paid) are signed with the test secret.
    let got = site.wait_for(2).await;
    let statuses: Vec<Value> = got.iter().map(|r| r.json()["status"].clone()).collect();
    assert_eq!(statuses, [json!(0), json!(2)]);
    for r in &got {
        payouts_support::check_answer(payouts.secret(), &r.json());
        assert_ne!(
            r.json()["signature"],
            json!(h2h_support::sign(&app.merchant.h2h_secret, &r.json())),
            "not the live secret's"
        );
    }
    // Paid from the test books; the live books never moved.
    assert_eq!(test_rub_available(&app).await, before - 10_000);
    assert_eq!(live_balance(&app, "RUB").await, (0, 0, 0));
    assert!(!payouts_support::exists(&app, &body["request_id"]).await);

    // The test secret's balance is the test books, signed with it.
    let reply = payouts.balance(Some("RUB")).await;
    reply.expect(200);
    assert_eq!(
        reply.json["balances"][0]["available"],
        json!(before - 10_000)
    );
    // The live secret still sees the live books, and no live money means
    // no live payout.
    let live = Payouts::of(&app);
    let reply = live.balance(Some("RUB")).await;
    assert_eq!(reply.json["balances"][0]["available"], json!(0));
    live.send(live.body("card", "RUB", 10_000, json!({"card_number": PAYEE_CARD})))
        .await
        .expect(422);
}

#[tokio::test]
async fn book_cabinet_with_the_test_secret_never_returns_a_live_cabinet() {
    let app = TestApp::spawn().await;
    let (live_card, _) = card_of(&app, false, LIVE_CARD).await;
    let live = h2h_support::Client::of(&app);
    let mut test = live.clone();
    test.secret = app.merchant.h2h_test_secret.clone();

    // Only a live card: the test secret books nothing.
    test.book(900_000).await.expect_error(404, "Card not found");
    let merchant = app.engine().merchant(app.merchant.merchant_id.clone());
    let merchant = merchant.await.unwrap();
    assert!(app
        .engine()
        .book_answers(merchant.id.clone())
        .await
        .unwrap()
        .is_empty());

    // With a test card, test holds land there, and the live hold of an
    // amount does not take it from them: neither mode holds the other's slots.
    let (test_card, _) = card_of(&app, true, TEST_CARD).await;
    assert_eq!(live.book(900_000).await.amount(), 900_000);
    assert_eq!(test.book(900_000).await.amount(), 900_000);
    assert_eq!(test.book(900_000).await.amount(), 900_100);
    assert_eq!(live.book(900_000).await.amount(), 900_100);
    let answers = app
        .engine()
        .book_answers(merchant.id.clone())
        .await
        .unwrap();
    let on = |c: &Cabinet| answers.iter().filter(|a| a.cabinet_id == c.id).count();
    assert_eq!((on(&live_card), on(&test_card)), (2, 2), "{answers:?}");

    // A request_id answered in live mode is not answered in test mode.
    let body = live.body(500_000);
    live.book_body(body.clone()).await.expect(200);
    test.book_body(body).await.expect(409);
}

#[tokio::test]
async fn a_test_trader_made_by_the_operator_is_never_offered_a_live_payout() {
    const ADMIN: &str = "admin-token-for-tests-0123456789";
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN.into())).await;
    let admin = |path: &str, body: Value| {
        app.http
            .post(app.url(path))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let trader: Value = admin(
        "/admin-api/traders",
        json!({"name": "Sandbox", "test_mode": true}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(trader["test_mode"], true, "{trader}");
    let token = trader["token"].as_str().unwrap().to_string();
    let cabinet: Value = admin(
        &format!(
            "/admin-api/traders/{}/cabinets",
            trader["id"].as_str().unwrap()
        ),
        json!({"method": "card", "currency": "RUB", "bank": "Sandbox Bank",
            "requisite": TEST_CARD, "holder": "Test Holder"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(cabinet["test_mode"], true, "{cabinet}");

    // A live payout its card could pay: not offered, and not to be taken.
    payouts_support::fund(&app, "RUB", "500.00").await;
    let payouts = Payouts::of(&app);
    let answer = payouts
        .create(payouts.body("card", "RUB", 10_000, json!({"card_number": PAYEE_CARD})))
        .await;
    let get = |path: String| app.http.get(app.url(&path)).bearer_auth(&token).send();
    let offered: Value = get("/trader-api/payouts/offered".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(offered["data"], json!([]), "{offered}");
    let id = answer["invoice_id"].as_str().unwrap();
    let take = app
        .http
        .post(app.url(&format!("/trader-api/payouts/{id}/take")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(take.status(), 404);
    assert_eq!(live_balance(&app, "RUB").await, (40_000, 10_000, 0));
}
