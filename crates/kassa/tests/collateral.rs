//! Traders' collateral: with `trader_collateral_required` on, a trader takes
//! holds and deals only within its deposit less what it holds and owes. A
//! real server on a real database (a SQLite file, or PostgreSQL with
//! `KASSA_TEST_BACKEND=postgres`); the deposit over the admin API.

mod common;
mod h2h_support;
mod merchant_api_support;

use std::sync::Arc;

use common::{rub_cabinet, rub_trader, TestApp};
use kassa_domain::{Currency, Deal, Merchant};
use kassa_engine::p2p::{BookRequest, NewCabinet};
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Value};
use tokio::sync::Barrier;

const ADMIN_TOKEN: &str = "admin-token-for-collateral-tests";

async fn spawn() -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.trader_collateral_required = true;
        // Deals here expire by the dozen; the card health rule stays out.
        c.cabinet_expired_deals_max = 0;
    })
    .await;
    // 100 RUB per USDT, the settlement currency: 1 000.00 RUB is 10 USDT.
    app.engine()
        .set_rate(Currency::from_code("RUB").unwrap(), "100".into())
        .await
        .unwrap();
    app
}

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(status < 500, "server error {status}: {text}");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn deposit(app: &TestApp, trader: &str, action: &str, amount: &str) -> (u16, Value) {
    admin(
        app,
        reqwest::Method::POST,
        &format!("/admin-api/traders/{trader}/deposit"),
        Some(json!({ "action": action, "amount": amount, "reason": "test" })),
    )
    .await
}

async fn collateral(app: &TestApp, trader: &str) -> Value {
    let (status, body) = admin(
        app,
        reqwest::Method::GET,
        &format!("/admin-api/traders/{trader}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["collateral"].clone()
}

/// A trader's gauge as `GET /metrics` shows it.
async fn gauge(app: &TestApp, name: &str, trader: &str) -> f64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(trader))
        .unwrap_or_else(|| panic!("no {name} of {trader} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

async fn merchant(app: &TestApp) -> Merchant {
    app.engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap()
}

/// A Merchant API pay-in of `amount` RUB by card at `bank` that starts a deal.
async fn deal_on(
    engine: &Engine,
    merchant: &Merchant,
    amount: &str,
    bank: Option<&str>,
) -> Result<Deal, EngineError> {
    let created = engine
        .create_p2p_invoice(
            merchant.clone(),
            false,
            NewP2pInvoice {
                internal_id: Some(kassa_domain::ids::new_id("order")),
                amount: amount.into(),
                currency: "RUB".into(),
                notification_url: "http://127.0.0.1:9/callback".into(),
                notification_token: "token".into(),
                payment_method: bank.map(str::to_string),
                payment_option: Some("CARD".into()),
                start_deal: true,
                ..Default::default()
            },
        )
        .await?;
    engine.deal(created.invoice.deal_id.expect("a deal")).await
}

fn book(request_id: &str, amount_minor: i64) -> BookRequest {
    BookRequest {
        request_id: request_id.into(),
        method: "card".into(),
        currency: "RUB".into(),
        amount_minor,
        bank_name: None,
    }
}

#[tokio::test]
async fn a_trader_gets_deals_only_within_its_deposit() {
    let app = spawn().await;
    let engine = app.engine();
    let merchant = merchant(&app).await;
    let (first, _) = rub_trader(&app, "First", "card", "2200123456789012").await;

    // No deposit: nothing, in the face's "no card" answer.
    let refused = deal_on(engine, &merchant, "100.00", Some("sberbank")).await;
    assert!(
        matches!(refused, Err(EngineError::NoCabinet)),
        "{refused:?}"
    );
    let booked = engine.book_cabinet(&merchant, book("none", 10_000)).await;
    assert!(matches!(booked, Err(EngineError::NoCabinet)), "{booked:?}");

    let (status, view) = deposit(&app, &first.id, "credit", "50").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["deposit"], "50.000000");
    assert_eq!(view["currency"], "USDT");
    assert_eq!(view["required"], true);

    // 20 + 25 of 50 USDT held; 6 more do not fit, 5 do.
    let a = deal_on(engine, &merchant, "2000.00", Some("sberbank"))
        .await
        .unwrap();
    let b = deal_on(engine, &merchant, "2500.00", Some("sberbank"))
        .await
        .unwrap();
    assert_eq!(collateral(&app, &first.id).await["held"], "45.000000");
    assert_eq!(
        gauge(&app, "kassa_trader_collateral_held", &first.id).await,
        45.0
    );
    assert_eq!(
        gauge(&app, "kassa_trader_collateral_deposit", &first.id).await,
        50.0
    );
    let over = deal_on(engine, &merchant, "600.00", Some("sberbank")).await;
    assert!(matches!(over, Err(EngineError::NoCabinet)), "{over:?}");
    let over = engine.book_cabinet(&merchant, book("over", 60_000)).await;
    assert!(matches!(over, Err(EngineError::NoCabinet)), "{over:?}");
    // A hold counts as a deal does, until it lapses.
    let hold = engine
        .book_cabinet(&merchant, book("fits", 50_000))
        .await
        .unwrap();
    assert_eq!(hold.cabinet_id, a.cabinet_id);
    let c = collateral(&app, &first.id).await;
    assert_eq!(
        (c["held"].as_str(), c["free"].as_str()),
        (Some("50.000000"), Some("0.000000"))
    );
    let over = deal_on(engine, &merchant, "1.00", Some("sberbank")).await;
    assert!(matches!(over, Err(EngineError::NoCabinet)), "{over:?}");

    // A debit below what is held is refused and changes nothing.
    let (status, body) = deposit(&app, &first.id, "debit", "0.000001").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["amount"]
            .as_str()
            .is_some_and(|m| m.contains("at most 0.000000 USDT")),
        "{body}"
    );
    assert_eq!(collateral(&app, &first.id).await["deposit"], "50.000000");

    // Another trader with a deposit takes what the first cannot.
    let (second, _) = engine.create_trader("Second".into()).await.unwrap();
    engine
        .add_cabinet(NewCabinet {
            bank_name: "tinkoff".into(),
            ..rub_cabinet(&second.id, "card", "2200987654321098")
        })
        .await
        .unwrap();
    deposit(&app, &second.id, "credit", "10").await;
    let moved = deal_on(engine, &merchant, "600.00", None).await.unwrap();
    assert_eq!(moved.trader_id, second.id);

    // A credit raises the limit at once.
    deposit(&app, &first.id, "credit", "6").await;
    let d = deal_on(engine, &merchant, "600.00", Some("sberbank"))
        .await
        .unwrap();
    assert_eq!(d.trader_id, first.id);
    assert_eq!(collateral(&app, &first.id).await["free"], "0.000000");

    // The hold lapses and a deal expires: both free their share.
    app.advance_secs(app.config.hold_ttl_secs + 1);
    assert_eq!(collateral(&app, &first.id).await["held"], "51.000000");
    app.advance_secs(app.config.deal_ttl_secs);
    engine.expire_due_deals().await.unwrap();
    app.wait_for_deal(&d.id, kassa_domain::DealStatus::Canceled)
        .await;
    let c = collateral(&app, &first.id).await;
    assert_eq!(
        (c["held"].as_str(), c["free"].as_str()),
        (Some("0.000000"), Some("56.000000"))
    );

    // A completed deal moves from held to owed: the trader holds the
    // merchant's money, so its share stays taken.
    let e = deal_on(engine, &merchant, "3000.00", Some("sberbank"))
        .await
        .unwrap();
    engine
        .confirm_deal(kassa_domain::Actor::Operator, e.id.clone())
        .await
        .unwrap();
    let c = collateral(&app, &first.id).await;
    assert_eq!(
        (c["held"].as_str(), c["owed"].as_str(), c["free"].as_str()),
        (Some("0.000000"), Some("30.000000"), Some("26.000000"))
    );
    let over = deal_on(engine, &merchant, "2700.00", Some("sberbank")).await;
    assert!(matches!(over, Err(EngineError::NoCabinet)), "{over:?}");
    deal_on(engine, &merchant, "2600.00", Some("sberbank"))
        .await
        .unwrap();
    let _ = (a, b);

    // What is owed cannot be debited either.
    let (status, _) = deposit(&app, &first.id, "debit", "0.01").await;
    assert_eq!(status, 422);

    // A payout the trader pays from the merchant's money it holds lowers
    // what it owes, and frees as much.
    let fields = json!({"card_number": "4242424242424242", "card_holder": "Petr P.", "bank_name": "tinkoff"});
    let payout = engine
        .create_payout(
            &merchant,
            false,
            kassa_engine::payouts::NewPayout {
                request_id: "payout-1".into(),
                amount_minor: 100_000,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: kassa_domain::payout::PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await
        .unwrap()
        .payout;
    engine
        .take_payout(first.id.clone(), payout.id.clone())
        .await
        .unwrap();
    engine
        .complete_payout(first.id.clone(), payout.id, "receipt-1".into())
        .await
        .unwrap();
    let c = collateral(&app, &first.id).await;
    assert_eq!(
        (c["held"].as_str(), c["owed"].as_str(), c["free"].as_str()),
        (Some("26.000000"), Some("20.000000"), Some("10.000000"))
    );
    let (status, view) = deposit(&app, &first.id, "debit", "10").await;
    assert_eq!(status, 200, "{view}");
    let totals = engine.ledger_totals().await.unwrap();
    assert!(
        totals.per_currency.iter().all(|(_, _, sum)| *sum == 0),
        "{totals:?}"
    );
    assert!(totals.negative.is_empty(), "{totals:?}");
}

#[tokio::test]
async fn the_faces_answer_no_cabinet_past_the_deposit() {
    let app = spawn().await;
    let (trader, token) = rub_trader(&app, "Ivan", "card", "2200123456789012").await;
    let client = h2h_support::Client::of(&app);
    client
        .book(100_000)
        .await
        .expect_error(404, "Card not found");
    // 10 USDT: exactly one hold of 1 000.00 RUB, then none.
    deposit(&app, &trader.id, "credit", "10").await;
    assert_eq!(client.book(100_000).await.amount(), 100_000);
    client.book(100).await.expect_error(404, "Card not found");
    // The trader sees where it stands.
    let own: Value = app
        .http
        .get(app.url("/trader-api/collateral"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            own["deposit"].as_str(),
            own["held"].as_str(),
            own["free"].as_str()
        ),
        (Some("10.000000"), Some("10.000000"), Some("0.000000"))
    );
    // The Merchant API's own answer for it; nothing is created.
    let api = merchant_api_support::Api::with(&app, &app.merchant.live);
    let body = merchant_api_support::deal_body("over-1", "1.00");
    api.post(&body).await.expect_error(422, "no_cabinet", None);
}

#[tokio::test]
async fn the_deposit_endpoint_speaks_the_admin_apis_errors() {
    let app = spawn().await;
    let (trader, _) = rub_trader(&app, "Ivan", "card", "2200123456789012").await;
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin-api/traders/{}/deposit", trader.id),
        Some(json!({ "action": "lend", "amount": "1.1234567", "extra": 1 })),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let fields = &body["error"]["fields"];
    for field in ["action", "amount", "reason", "extra"] {
        assert!(fields[field].is_string(), "{field}: {body}");
    }
    let (status, body) = deposit(&app, "trd_nobody", "credit", "1").await;
    assert_eq!(status, 404, "{body}");
    // Nothing to take back from an empty deposit.
    let (status, _) = deposit(&app, &trader.id, "debit", "1").await;
    assert_eq!(status, 422);
    // A deposit stays within the largest amount kept (10^15 minor units).
    let (status, _) = deposit(&app, &trader.id, "credit", "1000000000").await;
    assert_eq!(status, 200);
    let (status, body) = deposit(&app, &trader.id, "credit", "0.000001").await;
    assert_eq!(status, 422, "{body}");
    deposit(&app, &trader.id, "debit", "1000000000").await;
    deposit(&app, &trader.id, "credit", "12.5").await;
    let (status, view) = deposit(&app, &trader.id, "debit", "2.5").await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["deposit"], "10.000000");
    let (_, record) = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin-api/traders/{}", trader.id),
        None,
    )
    .await;
    assert_eq!(record["id"], trader.id.as_str());
    assert_eq!(record["collateral"]["deposit"], "10.000000");
    assert_eq!(record["collateral"]["uncounted_currency"], Value::Null);
}

#[tokio::test]
async fn an_amount_without_a_rate_cannot_be_covered() {
    let app = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.trader_collateral_required = true;
    })
    .await;
    let merchant = merchant(&app).await;
    let (trader, _) = rub_trader(&app, "Ivan", "card", "2200123456789012").await;
    deposit(&app, &trader.id, "credit", "1000").await;
    let refused = deal_on(app.engine(), &merchant, "100.00", None).await;
    assert!(
        matches!(refused, Err(EngineError::NoCabinet)),
        "{refused:?}"
    );
    app.engine()
        .set_rate(Currency::from_code("RUB").unwrap(), "92.5".into())
        .await
        .unwrap();
    let deal = deal_on(app.engine(), &merchant, "100.00", None)
        .await
        .unwrap();
    assert_eq!(deal.rate.as_deref(), Some("92.5"));
    // 100.00 / 92.5 = 1.081081.. USDT, rounded up.
    assert_eq!(collateral(&app, &trader.id).await["held"], "1.081082");
}

#[tokio::test]
async fn a_test_traders_deposit_is_in_the_test_books() {
    let app = spawn().await;
    let (trader, _) =
        common::rub_trader_in(&app, true, "Sandbox", "card", "4000001234567899").await;
    deposit(&app, &trader.id, "credit", "10").await;
    let deal = common::open_deal_in(&app, true, "1000.00", "sberbank").await;
    assert_eq!(deal.trader_id, trader.id);
    assert_eq!(collateral(&app, &trader.id).await["free"], "0.000000");
    // The live books hold nothing of it; the test books balance on their own.
    let totals = app.engine().ledger_totals().await.unwrap();
    assert!(
        totals.per_currency.iter().all(|(_, _, sum)| *sum == 0),
        "{totals:?}"
    );
    assert!(
        totals
            .per_currency
            .iter()
            .all(|(test_mode, code, _)| *test_mode || code != "USDT"),
        "{totals:?}"
    );
}

#[tokio::test]
async fn without_the_rule_traders_are_not_bounded() {
    let app = TestApp::spawn().await;
    let merchant = merchant(&app).await;
    rub_trader(&app, "Free", "card", "2200123456789012").await;
    deal_on(app.engine(), &merchant, "900000.00", Some("sberbank"))
        .await
        .unwrap();
}

/// Runs `racers` together: each waits at one barrier, then goes.
async fn race<F, T>(racers: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let barrier = Barrier::new(racers.len());
    let barrier = &barrier;
    futures::future::join_all(racers.into_iter().map(|racer| async move {
        barrier.wait().await;
        racer.await
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_bookings_over_two_nodes_never_exceed_the_deposit() {
    let app = spawn().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = kassa::Server::start(&app.config, Some(app.clock.clone()), listener)
        .await
        .expect("second node");
    let nodes: [Arc<Engine>; 2] = [app.engine().clone(), second.engine.clone()];
    let merchant = merchant(&app).await;
    let (trader, _) = rub_trader(&app, "Racer", "card", "2200123456789012").await;
    app.engine()
        .add_cabinet(rub_cabinet(&trader.id, "card", "2200123456789013"))
        .await
        .unwrap();
    // 100 USDT: room for ten amounts of about 10 USDT.
    deposit(&app, &trader.id, "credit", "100").await;

    let outcomes = race(
        (0..50)
            .map(|i| {
                let engine = nodes[i % 2].clone();
                let merchant = merchant.clone();
                async move {
                    let amount_minor = 100_000 + i as i64 * 100;
                    if i % 4 < 2 {
                        engine
                            .book_cabinet(&merchant, book(&format!("race-{i}"), amount_minor))
                            .await
                            .map(|h| h.amount_minor)
                    } else {
                        let text = format!("{}.00", amount_minor / 100);
                        deal_on(&engine, &merchant, &text, Some("sberbank"))
                            .await
                            .map(|d| d.amount_minor)
                    }
                }
            })
            .collect(),
    )
    .await;
    let mut taken = 0;
    for outcome in &outcomes {
        match outcome {
            Ok(amount_minor) => taken += amount_minor,
            Err(EngineError::NoCabinet) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    eprintln!("{won} of 50 bookings taken");
    // 10.00 to 10.49 USDT each: any nine fit in 100, no ten do.
    assert!((1..=9).contains(&won), "{outcomes:?}");
    if !common::on_postgres() {
        // One writer decides them in turn: the deposit is filled.
        assert_eq!(won, 9, "{outcomes:?}");
    }
    let c = collateral(&app, &trader.id).await;
    let held = kassa_domain::money::parse_minor(c["held"].as_str().unwrap(), 6).unwrap();
    // 0.01 RUB is 0.0001 USDT: 100 of its minor units.
    assert_eq!(held, taken * 100, "{c}");
    assert!(held <= 100_000_000, "{c}");
    let open = app
        .engine()
        .trader_deals(trader.id.clone(), true)
        .await
        .unwrap();
    assert!(open.iter().map(|d| d.amount_minor).sum::<i64>() <= taken);
    let totals = app.engine().ledger_totals().await.unwrap();
    assert!(
        totals.per_currency.iter().all(|(_, _, sum)| *sum == 0),
        "{totals:?}"
    );
    drop(second);
}
