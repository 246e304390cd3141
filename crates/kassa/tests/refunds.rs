//! Checkout API refunds end to end: a real server over a real database
//! (SQLite, or PostgreSQL in the suite's second run). Each refusal is
//! checked to change nothing: the invoice, its refunds and the books.

mod checkout_support;
mod cli_support;
mod common;
mod receiver;
mod refunds_support;

use checkout_support::{get, send, Reply};
use common::{test_invoice, TestApp};
use kassa_domain::RefundFee;
use receiver::{Received, Receiver};
use refunds_support::{
    assert_books_balance, balance, pending_refunds, processed, processed_with, refund, refund_as,
    refunds_of, settled, usd,
};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn full_partial_and_several_refunds_follow_the_invoice_and_the_books() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;
    assert_eq!(balance(&app).await.available_minor, 10_050);

    let first = refund(&app, &id, json!({"amount": 30, "reference_id": "r-1"})).await;
    first.expect(201);
    assert_eq!(first.json["data"]["type"], "refunds");
    assert!(first.id().starts_with("rfd_"));
    let a = first.attributes();
    assert_eq!(a["status"], "refunding");
    assert_eq!(a["amount"], json!(30));
    assert_eq!(a["currency"], "USD");
    assert_eq!(a["reference_id"], "r-1");
    assert_eq!(a["fee_refunded"], json!(0));
    assert_eq!(
        first.json["data"]["relationships"]["invoice"]["data"]["id"],
        id.as_str()
    );
    // The money leaves the available balance at once.
    assert_eq!(balance(&app).await.available_minor, 7_050);

    assert_eq!(settled(&app, &first.id()).await["status"], "refunded");
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "partially_refunded");
    assert_eq!(invoice["refunded_amount"], json!(30));
    assert_eq!(pending_refunds(&app).await, 0);

    let second = refund(&app, &id, json!({"amount": "20.25", "reference_id": "r-2"})).await;
    second.expect(201);
    settled(&app, &second.id()).await;
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "partially_refunded");
    assert_eq!(invoice["refunded_amount"], json!(50.25));

    // No amount: all that is left.
    let rest = refund(&app, &id, json!({"reference_id": "r-3"})).await;
    rest.expect(201);
    assert_eq!(rest.attributes()["amount"], json!(50.25));
    settled(&app, &rest.id()).await;
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "refunded");
    assert_eq!(invoice["refunded_amount"], json!(100.5));
    assert_eq!(invoice["processed_amount"], json!(100.5));

    let listed = refunds_of(&app, &id).await;
    let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.id(), second.id(), rest.id()]);
    assert!(listed
        .iter()
        .all(|r| r["attributes"]["status"] == "refunded"));

    // Nothing is left: one more is refused.
    let more = refund(&app, &id, json!({"amount": 1, "reference_id": "r-4"})).await;
    more.expect(422);
    assert!(more.json["errors"]["amount"].is_string(), "{}", more.text);

    let b = balance(&app).await;
    assert_eq!((b.available_minor, b.reserve_minor), (0, 0));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn refusals_say_why_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;
    let pending = checkout_support::create(&app, test_invoice("process_pending")).await;
    pending.expect(201);
    let before_invoice = app.invoice(&id).await;
    let before_balance = balance(&app).await;

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "over what is left",
            json!({"amount": "100.51", "reference_id": "x1"}),
            422,
            "amount",
        ),
        (
            "zero",
            json!({"amount": 0, "reference_id": "x2"}),
            422,
            "amount",
        ),
        (
            "too precise",
            json!({"amount": "1.005", "reference_id": "x3"}),
            422,
            "amount",
        ),
        (
            "amount of the wrong kind",
            json!({"amount": [1], "reference_id": "x4"}),
            422,
            "amount",
        ),
        (
            "a bad test outcome",
            json!({"amount": 1, "service_fields": {"status": "maybe"}}),
            422,
            "service_fields.status",
        ),
        (
            "a blank reference",
            json!({"amount": 1, "reference_id": ""}),
            422,
            "reference_id",
        ),
    ];
    for (what, attributes, status, field) in cases {
        let r = refund(&app, &id, attributes).await;
        assert_eq!(r.status, status, "{what}: {}", r.text);
        assert!(r.json["errors"][field].is_string(), "{what}: {}", r.text);
    }
    let wrong_type = send(
        app.private(Method::POST, &format!("/api/payment-invoices/{id}/refund"))
            .json(&json!({"data": {"type": "payment-invoices", "attributes": {"amount": 1}}})),
    )
    .await;
    wrong_type.expect(422);
    assert!(wrong_type.json["errors"]["data.type"].is_string());
    let not_json = send(
        app.private(Method::POST, &format!("/api/payment-invoices/{id}/refund"))
            .header("content-type", "application/json")
            .body("{"),
    )
    .await;
    not_json.expect(400);

    // An invoice that took no money.
    let unpaid = refund(&app, &pending.id(), json!({"amount": 1})).await;
    unpaid.expect(422);
    assert!(
        unpaid.json["errors"]["invoice"].is_string(),
        "{}",
        unpaid.text
    );
    // Unknown, and another merchant's or mode's, are not found.
    refund(&app, "cpi_nothing", json!({"amount": 1}))
        .await
        .expect(404);
    let live = send(
        checkout_support::private_as(
            &app,
            &app.merchant.live,
            Method::POST,
            &format!("/api/payment-invoices/{id}/refund"),
        )
        .json(&json!({"data": {"type": "refund", "attributes": {"amount": 1}}})),
    )
    .await;
    live.expect(404);
    get(&app, "/api/refunds/rfd_nothing").await.expect(404);
    get(&app, "/api/payment-invoices/cpi_nothing/refunds")
        .await
        .expect(404);

    // More than the available balance: the operator took 90 of it.
    app.engine()
        .adjust_balance(
            app.merchant.merchant_id.clone(),
            true,
            usd(),
            -9_000,
            "correction".into(),
        )
        .await
        .unwrap();
    let poor = refund(&app, &id, json!({"amount": 20, "reference_id": "x5"})).await;
    poor.expect(422);
    assert_eq!(poor.json["errors"]["amount"], "Insufficient funds.");
    // The key of a refused refund stays free.
    let fits = refund(&app, &id, json!({"amount": "10.50", "reference_id": "x5"})).await;
    fits.expect(201);
    settled(&app, &fits.id()).await;

    let after = app.invoice(&id).await;
    assert_eq!(after["refunded_amount"], json!(10.5));
    assert_eq!(after["status"], "partially_refunded");
    assert_eq!(refunds_of(&app, &id).await.len(), 1);
    assert_eq!(before_invoice["refunded_amount"], Value::Null);
    assert_eq!(
        balance(&app).await.available_minor,
        before_balance.available_minor - 9_000 - 1_050
    );
    assert_eq!(
        app.invoice(&pending.id()).await["status"],
        "process_pending"
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_repeated_reference_is_the_same_refund_and_another_body_conflicts() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;
    let other = processed(&app).await;
    let first = refund(
        &app,
        &id,
        json!({"amount": "100.50", "reference_id": "k-1"}),
    )
    .await;
    first.expect(201);
    // The same body, written otherwise: the same refund, even though nothing
    // is left to refund now.
    let again = refund(&app, &id, json!({"amount": 100.5, "reference_id": "k-1"})).await;
    again.expect(200);
    assert_eq!(again.id(), first.id());
    settled(&app, &first.id()).await;
    let later = refund(
        &app,
        &id,
        json!({"amount": "100.500", "reference_id": "k-1"}),
    )
    .await;
    later.expect(200);
    assert_eq!(later.attributes()["status"], "refunded");

    for (what, invoice, attributes) in [
        (
            "another amount",
            &id,
            json!({"amount": 1, "reference_id": "k-1"}),
        ),
        (
            "another invoice",
            &other,
            json!({"amount": "100.50", "reference_id": "k-1"}),
        ),
    ] {
        let r = refund(&app, invoice, attributes).await;
        assert_eq!(r.status, 409, "{what}: {}", r.text);
        assert_eq!(r.json["errors"][0]["code"], "409");
    }
    assert_eq!(refunds_of(&app, &id).await.len(), 1);
    assert!(refunds_of(&app, &other).await.is_empty());
    assert_eq!(app.invoice(&other).await["status"], "processed");
    assert_eq!(balance(&app).await.available_minor, 10_050);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn test_provider_outcomes_fail_or_wait_then_succeed() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;

    let failed = refund(
        &app,
        &id,
        json!({"amount": 40, "reference_id": "t-1", "service_fields": {"status": "refund_failed"}}),
    )
    .await;
    failed.expect(201);
    assert_eq!(settled(&app, &failed.id()).await["status"], "refund_failed");
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "refund_failed");
    assert_eq!(invoice["refunded_amount"], json!(0));
    // The money is the merchant's again.
    assert_eq!(balance(&app).await.available_minor, 10_050);
    assert_eq!(pending_refunds(&app).await, 0);

    let slow = refund(
        &app,
        &id,
        json!({"amount": "100.50", "reference_id": "t-2", "service_fields": {"status": "refunding"}}),
    )
    .await;
    slow.expect(201);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = get(&app, &format!("/api/refunds/{}", slow.id())).await;
    assert_eq!(r.attributes()["status"], "refunding", "held until its time");
    assert_eq!(app.invoice(&id).await["status"], "refunding");
    assert_eq!(pending_refunds(&app).await, 10_050);
    // The operator's `kassa balance` shows it under way too.
    let books = cli_support::TestDb::of(&app)
        .json_ok(&[
            "balance",
            "--merchant",
            &app.merchant.merchant_id,
            "--test",
            "--json",
        ])
        .await;
    assert_eq!(books["balances"][0]["pending_refunds"], "100.50", "{books}");
    app.advance_secs(kassa_engine::refunds::TEST_REFUNDING_SECS);
    assert_eq!(settled(&app, &slow.id()).await["status"], "refunded");
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "refunded");
    assert_eq!(invoice["refunded_amount"], json!(100.5));
    assert_eq!(balance(&app).await.available_minor, 0);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn the_fee_is_kept_unless_the_service_returns_it() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let mut service = engine
        .catalog()
        .await
        .unwrap()
        .service("test_usd_test")
        .cloned()
        .unwrap();
    service.fee.rate_ppm = 30_000; // 3%
    engine.put_service(service.clone()).await.unwrap();

    // Kept: the merchant pays the whole refund, and the fee stays earned.
    let kept = processed_with(&app, json!({"amount": 100, "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "processed"}})).await;
    assert_eq!(balance(&app).await.available_minor, 9_700);
    let whole = refund(&app, &kept, json!({"reference_id": "f-1"})).await;
    whole.expect(422);
    assert_eq!(whole.json["errors"]["amount"], "Insufficient funds.");
    engine
        .adjust_balance(
            app.merchant.merchant_id.clone(),
            true,
            usd(),
            300,
            "top-up".into(),
        )
        .await
        .unwrap();
    let whole = refund(&app, &kept, json!({"reference_id": "f-1"})).await;
    whole.expect(201);
    assert_eq!(whole.attributes()["fee_refunded"], json!(0));
    settled(&app, &whole.id()).await;
    assert_eq!(balance(&app).await.available_minor, 0);

    // Returned: the fee's share goes back with each refund, the whole fee
    // with the whole amount.
    service.refund_fee = RefundFee::Returned;
    engine.put_service(service).await.unwrap();
    let returned = processed_with(&app, json!({"amount": 100, "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "processed"}})).await;
    assert_eq!(balance(&app).await.available_minor, 9_700);
    let part = refund(
        &app,
        &returned,
        json!({"amount": "33.33", "reference_id": "f-2"}),
    )
    .await;
    part.expect(201);
    assert_eq!(part.attributes()["fee_refunded"], json!(0.99));
    let rest = refund(&app, &returned, json!({"reference_id": "f-3"})).await;
    rest.expect(201);
    assert_eq!(rest.attributes()["fee_refunded"], json!(2.01));
    settled(&app, &part.id()).await;
    settled(&app, &rest.id()).await;
    assert_eq!(balance(&app).await.available_minor, 0);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn callbacks_announce_each_refund_change_signed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let mut attributes = test_invoice("processed");
    attributes["callback_url"] = json!(receiver.url());
    let id = processed_with(&app, attributes).await;
    receiver.wait_for(2).await;

    let r = refund(&app, &id, json!({"amount": 10, "reference_id": "c-1"})).await;
    r.expect(201);
    let received = receiver.wait_for(4).await;
    let statuses: Vec<String> = received.iter().map(Received::status).collect();
    assert_eq!(
        statuses,
        [
            "process_pending",
            "processed",
            "refunding",
            "partially_refunded"
        ]
    );
    let last = received[3].json();
    assert_eq!(last["data"]["id"], id.as_str());
    assert_eq!(last["data"]["attributes"]["refunded_amount"], json!(10));
    let secret = &app.merchant.test.callback_secret;
    for r in &received[2..] {
        assert_eq!(
            r.header("x-signature"),
            kassa_http::checkout::render::legacy_signature(secret, &r.body)
        );
        assert!(r.header("webhook-signature").starts_with("v1,"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_that_together_pass_the_invoice_have_one_winner() {
    const ROUNDS: usize = 10;
    const RACERS: usize = 6;
    let app = TestApp::spawn().await;
    // A second node on the same database, with workers of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = kassa::Server::start(&app.config, Some(app.clock.clone()), listener)
        .await
        .expect("second node");
    let bases = [app.base_url.clone(), second.base_url.clone()];
    for round in 0..ROUNDS {
        let id = processed(&app).await;
        let barrier = tokio::sync::Barrier::new(RACERS);
        let replies = futures::future::join_all((0..RACERS).map(|i| {
            let (app, id, barrier, base) = (&app, &id, &barrier, &bases[i % 2]);
            async move {
                barrier.wait().await;
                let reference = format!("race-{round}-{i}");
                refund_as(
                    app,
                    base,
                    id,
                    json!({"amount": 60, "reference_id": reference}),
                )
                .await
            }
        }))
        .await;
        let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: {:?}",
            replies.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert!(replies.iter().all(|r| r.status == 201 || r.status == 422));
        let refunds = refunds_of(&app, &id).await;
        assert_eq!(refunds.len(), 1, "round {round}");
        assert_eq!(app.invoice(&id).await["refunded_amount"], json!(60));
    }
    assert_eq!(
        balance(&app).await.available_minor,
        ROUNDS as i64 * (10_050 - 6_000)
    );
    assert_books_balance(&app).await;
    second.shutdown().await;
}

#[tokio::test]
async fn the_daily_report_lists_refunds() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;
    let r = refund(&app, &id, json!({"amount": 25, "reference_id": "d-1"})).await;
    r.expect(201);
    settled(&app, &r.id()).await;
    let today = chrono::DateTime::from_timestamp(checkout_support::now(&app), 0)
        .unwrap()
        .date_naive();
    let report = app
        .engine()
        .daily_report(app.merchant.merchant_id.clone(), true, today)
        .await
        .unwrap();
    let lines: Vec<&str> = report.lines().collect();
    let of_refund: Vec<&&str> = lines.iter().filter(|l| l.contains(&r.id())).collect();
    assert_eq!(of_refund.len(), 2, "{report}");
    // time,kind,reference,currency,available,pending_payouts,reserve,pending_refunds,fee,amount,...
    let hold: Vec<&str> = of_refund[0].split(',').collect();
    assert_eq!(
        &hold[1..10],
        [
            "refund_hold",
            r.id().as_str(),
            "USD",
            "-25.00",
            "0.00",
            "0.00",
            "25.00",
            "0.00",
            "25.00"
        ]
    );
    let done: Vec<&str> = of_refund[1].split(',').collect();
    assert_eq!(
        &done[1..8],
        [
            "refund_done",
            r.id().as_str(),
            "USD",
            "0.00",
            "0.00",
            "0.00",
            "-25.00"
        ]
    );
    let closing: Vec<&str> = lines.last().unwrap().split(',').collect();
    assert_eq!(
        &closing[1..8],
        [
            "closing_balance",
            "",
            "USD",
            "75.50",
            "0.00",
            "0.00",
            "0.00"
        ]
    );
}

#[tokio::test]
async fn the_operator_settles_a_refund_under_way_once() {
    let app = TestApp::spawn().await;
    let id = processed(&app).await;
    let r = refund(
        &app,
        &id,
        json!({"amount": 50, "reference_id": "o-1", "service_fields": {"status": "refunding"}}),
    )
    .await;
    r.expect(201);
    let failed = app.engine().settle_refund(r.id(), false).await.unwrap();
    assert_eq!(failed.status.as_str(), "refund_failed");
    // Settled: a second word, and the test provider's time, change nothing.
    let again = app.engine().settle_refund(r.id(), true).await.unwrap();
    assert_eq!(again.status.as_str(), "refund_failed");
    app.advance_secs(kassa_engine::refunds::TEST_REFUNDING_SECS);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(settled(&app, &r.id()).await["status"], "refund_failed");
    let invoice = app.invoice(&id).await;
    assert_eq!(invoice["status"], "refund_failed");
    assert_eq!(invoice["refunded_amount"], json!(0));
    let b = balance(&app).await;
    assert_eq!((b.available_minor, b.pending_refunds_minor), (10_050, 0));
    assert_books_balance(&app).await;
}
