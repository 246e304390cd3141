//! Refunds of P2P pay-ins, against a real server and database: the Merchant
//! API's refund requests and their errors, the payout a trader takes and
//! pays (or that fails) over the trader API, the refund it settles, the
//! merchant's balance and books at each step, and the refund's signed
//! notification. The same refunds of a Checkout invoice with a P2P deal.

mod common;
mod merchant_api_support;
mod receiver;
mod refunds_p2p_support;

use common::{open_deal_in, rub_trader, TestApp};
use kassa_domain::ledger::{Account, TxnKind};
use kassa_engine::ledger::Balance;
use merchant_api_support::{hmac_hex, send, Api};
use receiver::Receiver;
use refunds_p2p_support::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_trader_pays_the_refund_out_and_the_books_follow() {
    let app = TestApp::spawn().await;
    let api = Api::with(&app, &app.merchant.live);
    let (invoice_id, token) = paid_invoice(&app).await;
    let before = balance(&app, false).await;
    assert_eq!(before.available_minor, 100_000);

    let created = post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-1", Some("300.00")),
    )
    .await;
    let dto = created.expect(201).clone();
    assert_eq!(dto["type"], "refund");
    assert_eq!(dto["status"], "refunding");
    assert_eq!(dto["invoiceId"], invoice_id.as_str());
    assert_eq!(dto["internalId"], "r-1");
    assert_eq!(dto["sum"]["amount"], "300.00");
    assert_eq!(dto["invoiceRefundedSum"], "300.00");
    let payout_id = dto["payoutId"].as_str().expect("a payout").to_string();
    let held = balance(&app, false).await;
    assert_eq!(held.available_minor, 70_000);
    assert_eq!(held.pending_refunds_minor, 30_000);
    assert_eq!(held.pending_payouts_minor, 0, "the refund's hold pays it");
    let shown = api.get("/api/merchant/balance?currency=RUB").await;
    let shown = &shown.expect(200)["balances"][0];
    assert_eq!(
        (
            &shown["available"],
            &shown["pendingRefunds"],
            &shown["pendingRefundsMinor"]
        ),
        (&json!("700.00"), &json!("300.00"), &json!(30_000))
    );

    // Offered like any payout, masked; in full once taken.
    let (status, offered) = trader_call(&app, "/trader-api/payouts/offered", &token, None).await;
    assert_eq!(status, 200, "{offered}");
    let offer = offered["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == payout_id.as_str())
        .unwrap_or_else(|| panic!("the refund's payout is offered: {offered}"))
        .clone();
    assert!(!offer.to_string().contains(CUSTOMER_CARD), "{offer}");
    let take = format!("/trader-api/payouts/{payout_id}/take");
    let (status, taken) = trader_call(&app, &take, &token, Some(json!({}))).await;
    assert_eq!(status, 200, "{taken}");
    assert!(taken.to_string().contains(CUSTOMER_CARD), "{taken}");
    assert_eq!(
        refund_dto(&api, dto["id"].as_str().unwrap()).await["status"],
        "refunding"
    );

    let done = format!("/trader-api/payouts/{payout_id}/done");
    let (status, paid) =
        trader_call(&app, &done, &token, Some(json!({"receipt": "bank-ref-1"}))).await;
    assert_eq!(status, 200, "{paid}");

    let settled = refund_dto(&api, dto["id"].as_str().unwrap()).await;
    assert_eq!(settled["status"], "refunded");
    let after = balance(&app, false).await;
    assert_eq!(after.available_minor, 70_000);
    assert_eq!(after.pending_refunds_minor, 0);
    let invoice = app
        .engine()
        .invoice_with_deal(invoice_id.clone())
        .await
        .unwrap()
        .0;
    assert_eq!(invoice.status.as_str(), "partially_refunded");
    assert_eq!(invoice.refunded_amount_minor, Some(30_000));
    assert_eq!(
        api.invoice(&invoice_id).await["status"],
        "completed",
        "the InvoiceDTO keeps its status"
    );

    // The money went to the trader who paid it: the platform owes it.
    let (txns, _) = app
        .engine()
        .merchant_ledger(app.merchant.merchant_id.clone(), false, 0, i64::MAX)
        .await
        .unwrap();
    let refund_done = txns
        .iter()
        .find(|t| t.kind == TxnKind::RefundDone)
        .expect("refund_done");
    assert!(
        refund_done.postings.iter().any(|p| matches!(
            &p.account, Account::TraderSettlement(_)) && p.amount_minor == 30_000),
        "{refund_done:?}"
    );
    assert!(
        !txns.iter().any(|t| t.kind == TxnKind::PayoutHold),
        "the payout holds nothing of its own"
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_declined_payout_that_no_one_pays_fails_the_refund_and_gives_the_money_back() {
    let app = TestApp::spawn().await;
    let api = Api::with(&app, &app.merchant.live);
    let (invoice_id, token) = paid_invoice(&app).await;

    let created = post(&api, REFUNDS, &refund_body(&invoice_id, "r-decline", None)).await;
    let dto = created.expect(201).clone();
    assert_eq!(dto["sum"]["amount"], "1000.00", "all that is left");
    let refund_id = dto["id"].as_str().unwrap().to_string();
    let payout_id = dto["payoutId"].as_str().unwrap().to_string();
    assert_eq!(balance(&app, false).await.available_minor, 0);

    let take = format!("/trader-api/payouts/{payout_id}/take");
    let (status, _) = trader_call(&app, &take, &token, Some(json!({}))).await;
    assert_eq!(status, 200);
    let decline = format!("/trader-api/payouts/{payout_id}/decline");
    let (status, declined) = trader_call(&app, &decline, &token, Some(json!({}))).await;
    assert_eq!(status, 200, "{declined}");
    assert_eq!(refund_dto(&api, &refund_id).await["status"], "refunding");

    // No other trader takes it by its deadline.
    app.advance_secs(60 * 60 + 1);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let failed = loop {
        let r = refund_dto(&api, &refund_id).await;
        if r["status"] != "refunding" {
            break r;
        }
        assert!(tokio::time::Instant::now() < deadline, "stays refunding");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(failed["status"], "refund_failed");
    assert_eq!(failed["invoiceRefundedSum"], "0.00");
    let after = balance(&app, false).await;
    assert_eq!(
        after.available_minor, 100_000,
        "the merchant's money is back"
    );
    assert_eq!(after.pending_refunds_minor, 0);
    let (status, _) = trader_call(
        &app,
        &format!("/trader-api/payouts/{payout_id}/take"),
        &token,
        Some(json!({})),
    )
    .await;
    assert!(
        status == 404 || status == 409,
        "a failed payout is not taken again"
    );
    // The invoice can be refunded again.
    post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-again", Some("1.00")),
    )
    .await
    .expect(201);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn refund_requests_are_checked_and_repeats_answered() {
    let app = TestApp::spawn().await;
    let api = Api::with(&app, &app.merchant.live);
    let (invoice_id, _token) = paid_invoice(&app).await;
    let unchanged = |b: Balance| (b.available_minor, b.pending_refunds_minor);
    let start = unchanged(balance(&app, false).await);

    // Over what is left.
    post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-over", Some("1000.01")),
    )
    .await
    .expect_error(422, "validation_error", Some("amount"));
    // No requisites to pay it to: the field is named.
    let mut bare = refund_body(&invoice_id, "r-bare", Some("1.00"));
    for key in ["paymentOption", "paymentMethod", "paymentRequisites"] {
        bare.as_object_mut().unwrap().remove(key);
    }
    post(&api, REFUNDS, &bare).await.expect_error(
        422,
        "validation_error",
        Some("paymentRequisites"),
    );
    // A card number that is not one.
    let mut bad_card = refund_body(&invoice_id, "r-card", Some("1.00"));
    bad_card["paymentRequisites"]["requisites"] = json!("4242424242424241");
    post(&api, REFUNDS, &bad_card).await.expect_error(
        422,
        "validation_error",
        Some("paymentRequisites.requisites"),
    );
    // No key, a number for the amount, an unknown option.
    let mut sloppy = refund_body(&invoice_id, "x", None);
    sloppy.as_object_mut().unwrap().remove("internalId");
    sloppy["amount"] = json!(1.5);
    sloppy["paymentOption"] = json!("PIGEON");
    let e = post(&api, REFUNDS, &sloppy).await;
    e.expect_error(422, "validation_error", Some("internalId"));
    for field in ["amount", "paymentOption"] {
        assert!(e.json["error"]["fields"][field].is_string(), "{}", e.text);
    }
    // Another merchant's or mode's invoice, and none at all.
    post(&api, REFUNDS, &refund_body("cpi_nothing", "r-404", None))
        .await
        .expect_error(404, "not_found", None);
    let test_api = Api::test(&app);
    post(
        &test_api,
        REFUNDS,
        &refund_body(&invoice_id, "r-mode", None),
    )
    .await
    .expect_error(404, "not_found", None);
    // Not JSON, or badly signed.
    send(
        api.request(Method::POST, REFUNDS)
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, b"{"))
            .body("{"),
    )
    .await
    .expect_error(400, "bad_request", None);
    send(
        api.request(Method::POST, REFUNDS)
            .header("X-Identity", &api.key)
            .header("X-Signature", "00")
            .json(&refund_body(&invoice_id, "r-sig", None)),
    )
    .await
    .expect_error(401, "unauthorized", None);
    assert_eq!(
        unchanged(balance(&app, false).await),
        start,
        "nothing changed"
    );
    assert!(app
        .engine()
        .refunds_of_invoice(app.merchant.merchant_id.clone(), false, invoice_id.clone())
        .await
        .unwrap()
        .is_empty());

    // Partial, then its repeat, then the key with another body.
    let first = post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-part", Some("400.00")),
    )
    .await;
    let first = first.expect(201).clone();
    let again = post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-part", Some("400.00")),
    )
    .await;
    assert_eq!(
        again.expect(200)["id"],
        first["id"],
        "a repeat answers the first"
    );
    post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-part", Some("401.00")),
    )
    .await
    .expect_error(409, "idempotency_conflict", Some("internalId"));
    let mut other_card = refund_body(&invoice_id, "r-part", Some("400.00"));
    other_card["paymentRequisites"]["requisites"] = json!("5555555555554444");
    post(&api, REFUNDS, &other_card).await.expect_error(
        409,
        "idempotency_conflict",
        Some("internalId"),
    );
    // The rest, then nothing is left.
    let rest = post(&api, REFUNDS, &refund_body(&invoice_id, "r-rest", None)).await;
    assert_eq!(rest.expect(201)["sum"]["amount"], "600.00");
    assert_eq!(rest.json["invoiceRefundedSum"], "1000.00");
    post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-more", Some("0.01")),
    )
    .await
    .expect_error(422, "validation_error", Some("amount"));
    let held = balance(&app, false).await;
    assert_eq!(
        (held.available_minor, held.pending_refunds_minor),
        (0, 100_000)
    );

    // Listed on the invoice, oldest first.
    let list = api
        .get(&format!("/api/merchant/invoices/{invoice_id}/refunds"))
        .await
        .expect(200)
        .clone();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["internalId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r-part", "r-rest"]);
    api.get(&format!("{REFUNDS}/rfd_nothing"))
        .await
        .expect_error(404, "not_found", None);
    test_api
        .get(&format!("{REFUNDS}/{}", first["id"].as_str().unwrap()))
        .await
        .expect_error(404, "not_found", None);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn an_unpaid_invoice_is_not_refunded() {
    let app = TestApp::spawn().await;
    let api = Api::with(&app, &app.merchant.live);
    rub_trader(&app, "Card trader", "card", "2200123456789012").await;
    let deal = open_deal_in(&app, false, "1000.00", "sberbank").await;
    let e = post(
        &api,
        REFUNDS,
        &refund_body(&deal.invoice_id, "r-open", None),
    )
    .await;
    e.expect_error(422, "not_refundable", None);
    assert!(app
        .engine()
        .refunds_of_invoice(app.merchant.merchant_id.clone(), false, deal.invoice_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_merchant_hears_of_the_refund_signed() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let receiver = Receiver::start(&[], 200);
    merchant_api_support::cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut b = merchant_api_support::deal_body("notify-refund", "1000.00");
    b["notificationUrl"] = json!(receiver.url());
    b["notificationToken"] = json!("tok-rfd");
    let created = api.post(&b).await.expect(201).clone();
    let invoice_id = created["id"].as_str().unwrap().to_string();
    let deal_id = created["deals"][0]["id"].as_str().unwrap().to_string();
    app.engine().confirm_deal(None, deal_id).await.unwrap();
    receiver.wait_for(2).await;
    merchant_api_support::callbacks_settled(&app, &invoice_id).await;

    // A test refund: the test provider pays it through its payout.
    let r = post(
        &api,
        REFUNDS,
        &refund_body(&invoice_id, "r-notify", Some("250.00")),
    )
    .await;
    let dto = r.expect(201).clone();
    let got = receiver.wait_for(4).await;
    let secret = &app.merchant.test.callback_secret;
    let statuses: Vec<Value> = got[2..]
        .iter()
        .map(|c| c.json()["status"].clone())
        .collect();
    assert_eq!(statuses, [json!("refunding"), json!("refunded")]);
    for c in &got[2..] {
        assert_eq!(c.header("x-notification-token"), "tok-rfd");
        assert_eq!(
            c.header("x-signature"),
            hmac_hex(secret, &c.body),
            "X-Signature is HMAC-SHA256(callback secret, body)"
        );
        assert!(c.header("webhook-signature").starts_with("v1,"));
        assert_eq!(c.json()["id"], dto["id"]);
        assert_eq!(c.json()["type"], "refund");
    }
    assert_eq!(
        refund_dto(&api, dto["id"].as_str().unwrap()).await["status"],
        "refunded"
    );
    let b = balance(&app, true).await;
    assert_eq!((b.available_minor, b.pending_refunds_minor), (75_000, 0));
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_checkout_refund_of_a_p2p_payment_asks_for_requisites_and_is_paid_out() {
    let app = TestApp::spawn().await;
    let (invoice_id, token) = paid_invoice(&app).await;

    let (status, e) = checkout_refund(&app, &invoice_id, json!({"amount": "100.00"})).await;
    assert_eq!(status, 422, "{e}");
    assert!(e["errors"]["payout_method"].is_string(), "{e}");
    let (status, e) = checkout_refund(
        &app,
        &invoice_id,
        json!({"amount": "100.00", "payout_method": "sbp",
               "payout_fields": {"phone_number": "+79991234567"}}),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert!(e["errors"]["payout_fields.phone_holder"].is_string(), "{e}");
    assert_eq!(balance(&app, false).await.available_minor, 100_000);

    let (status, made) = checkout_refund(
        &app,
        &invoice_id,
        json!({"amount": "100.00", "reference_id": "c-1", "payout_method": "card",
               "payout_fields": {"card_number": "4242 4242 4242 4242"}}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let attributes = &made["data"]["attributes"];
    assert_eq!(attributes["status"], "refunding");
    let payout_id = attributes["payout_id"]
        .as_str()
        .expect("a payout")
        .to_string();
    let (status, _) = trader_call(
        &app,
        &format!("/trader-api/payouts/{payout_id}/take"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = trader_call(
        &app,
        &format!("/trader-api/payouts/{payout_id}/done"),
        &token,
        Some(json!({"receipt": "ref-c-1"})),
    )
    .await;
    assert_eq!(status, 200);
    let refund = app
        .engine()
        .refund(
            app.merchant.merchant_id.clone(),
            false,
            made["data"]["id"].as_str().unwrap().into(),
        )
        .await
        .unwrap();
    assert_eq!(refund.status.as_str(), "refunded");
    let b = balance(&app, false).await;
    assert_eq!((b.available_minor, b.pending_refunds_minor), (90_000, 0));
    // The operator cannot settle it behind the trader's back.
    let other = checkout_refund(
        &app,
        &invoice_id,
        json!({"amount": "1.00", "reference_id": "c-2", "payout_method": "card",
               "payout_fields": {"card_number": "4242424242424242"}}),
    )
    .await
    .1;
    let id = other["data"]["id"].as_str().unwrap().to_string();
    assert!(matches!(
        app.engine().settle_refund(id, true).await,
        Err(kassa_engine::EngineError::Conflict(_))
    ));
    assert_books_balance(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_racing_for_one_p2p_payment_have_one_winner_and_one_payout() {
    let app = TestApp::spawn().await;
    let (invoice_id, _token) = paid_invoice(&app).await;
    // Eight refunds of 600.00 each at once: only one fits in 1 000.00.
    let tries = (0..8).map(|i| {
        let body = refund_body(&invoice_id, &format!("race-{i}"), Some("600.00"));
        let api = Api::with(&app, &app.merchant.live);
        async move { post(&api, REFUNDS, &body).await }
    });
    let replies = futures::future::join_all(tries).await;
    let won: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    for r in replies.iter().filter(|r| r.status != 201) {
        r.expect_error(422, "validation_error", Some("amount"));
    }
    let refunds = app
        .engine()
        .refunds_of_invoice(app.merchant.merchant_id.clone(), false, invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    let payout_id = refunds[0].payout_id.clone().expect("a payout");
    assert_eq!(won[0].json["payoutId"], payout_id.as_str());
    let b = balance(&app, false).await;
    assert_eq!(
        (b.available_minor, b.pending_refunds_minor),
        (40_000, 60_000)
    );
    assert_books_balance(&app).await;
}
