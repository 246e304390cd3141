//! `POST /api/payout` and `POST /api/balance` (spec 002, H2H): a real server
//! on port 0 over a real SQLite file. The merchant gets live money by paying
//! in through the Checkout API's test service with its live key; payouts are
//! paid by traders seeded through the engine; every body is signed by the
//! tests' own signer and every answer and callback is verified with it.

mod common;
mod h2h_support;
mod payouts_support;
mod receiver;

use common::TestApp;
use kassa_domain::payout::PayoutStatus;
use payouts_support::{
    assert_signed, check_answer, exists, fixed_fee, fund, keys, live_balance, payout_trader,
    set_callback_url, sign, signed, wait_for_status, Payouts,
};
use receiver::Receiver;
use serde_json::{json, Value};

const CARD: &str = "4242424242424242";
const CARD_SPACED: &str = "4242 4242 4242 4242";
const MASKED: &str = "424242******4242";

/// The payout a test creates most: a card payout in USD.
fn card_fields() -> Value {
    json!({"card_number": CARD})
}

// ------------------------------------------------------------- life cycle

#[tokio::test]
async fn a_card_payout_is_held_paid_and_announced_by_signed_retried_callbacks() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    // The site's endpoint fails the first callback. (Set after the pay-in,
    // whose Checkout callback would go there too.)
    let site = Receiver::start(&[500], 200);
    set_callback_url(&app, &site.url()).await;
    assert_eq!(live_balance(&app, "USD").await, (10_000, 0, 0));
    let trader = payout_trader(&app, "card", "USD").await;
    let payouts = Payouts::of(&app);

    let body = payouts.body(
        "card",
        "USD",
        2_500,
        json!({
            "card_number": CARD_SPACED,
            "card_holder": "John Wick",
            "bank_name": "Morgan",
            "bank_option": "778953337789",
            "expiry_date": "07/23",
        }),
    );
    let reply = payouts.send(body.clone()).await;
    reply.expect(200);
    assert_eq!(reply.json["status"], json!(0));
    assert_eq!(reply.json["success"], json!(true));
    assert_eq!(reply.json["amount"], json!(2_500));
    assert_eq!(reply.json["currency"], json!("USD"));
    assert!(!reply.text.contains(CARD) && !reply.text.contains(CARD_SPACED));
    let id = reply.json["invoice_id"].as_str().unwrap().to_string();
    // Held from available.
    assert_eq!(live_balance(&app, "USD").await, (7_500, 2_500, 0));
    let payout = app
        .engine()
        .payout(app.merchant.merchant_id.clone(), false, id.clone())
        .await
        .unwrap();
    assert_eq!(payout.fields_masked["card_number"], json!(MASKED));
    assert_eq!(payout.callback_url.as_deref(), Some(site.url().as_str()));

    // The callback of the new payout: refused with a 500, retried on the
    // schedule (10 s later on the test clock), identical and signed.
    let first = site.wait_for(1).await;
    site.stays_at(1).await;
    app.advance_secs(10);
    let got = site.wait_for(2).await;
    for callback in &got {
        let json = callback.json();
        check_answer(payouts.secret(), &json);
        assert_eq!(json["invoice_id"], json!(id));
        assert_eq!(json["status"], json!(0));
        assert_eq!(json["request_id"], body["request_id"]);
        assert_eq!(json["amount"], json!(2_500));
        assert_eq!(json["currency"], json!("USD"));
        assert_eq!(json["site_id"], json!(app.merchant.site_id));
        assert_eq!(json["site_login"], json!(app.merchant.site_login));
        assert_eq!(callback.header("content-type"), "application/json");
        assert!(callback.header("webhook-signature").starts_with("v1,"));
    }
    assert_eq!(first[0].body, got[1].body, "the retry repeats the body");

    // A trader takes it (1, in progress) and pays it (2, success).
    app.engine()
        .take_payout(trader.clone(), id.clone())
        .await
        .unwrap();
    let got = site.wait_for(3).await;
    assert_eq!(got[2].json()["status"], json!(1));
    assert_eq!(got[2].json()["success"], json!(true));
    app.engine()
        .complete_payout(trader, id.clone(), "RCPT-1".into())
        .await
        .unwrap();
    let got = site.wait_for(4).await;
    let last = got[3].json();
    check_answer(payouts.secret(), &last);
    assert_eq!(last["status"], json!(2));
    assert_eq!(last["success"], json!(true));
    for callback in &got {
        let text = String::from_utf8_lossy(&callback.body);
        assert!(
            !text.contains(CARD) && !text.contains(CARD_SPACED),
            "{text}"
        );
    }
    assert_eq!(live_balance(&app, "USD").await, (7_500, 0, 0));

    // Every attempt is on record: the refused one and the three delivered.
    // (An attempt is recorded just after its answer arrives: wait for it.)
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let codes = loop {
        let attempts = app.engine().callback_attempts(id.clone()).await.unwrap();
        let codes: Vec<Option<u16>> = attempts.iter().map(|a| a.response_code).collect();
        if codes.len() >= 4 || tokio::time::Instant::now() > deadline {
            break codes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(codes, [Some(500), Some(200), Some(200), Some(200)]);

    // The same request again answers the payout as it is now.
    let again = payouts.send(body).await;
    again.expect(200);
    assert_eq!(again.json["invoice_id"], json!(id));
    assert_eq!(again.json["status"], json!(2));
    assert_eq!(again.json["success"], json!(true));
    assert_eq!(live_balance(&app, "USD").await, (7_500, 0, 0));
    let totals = app.engine().ledger_totals().await.unwrap();
    assert!(totals.negative.is_empty(), "{totals:?}");
    assert!(totals.per_currency.iter().all(|(_, _, sum)| *sum == 0));
}

#[tokio::test]
async fn without_a_site_callback_url_no_callback_is_owed() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "10.00").await;
    let payouts = Payouts::of(&app);
    let answer = payouts
        .create(payouts.body("binance", "USD", 100, json!({})))
        .await;
    let id = answer["invoice_id"].as_str().unwrap().to_string();
    let payout = app
        .engine()
        .payout(app.merchant.merchant_id.clone(), false, id.clone())
        .await
        .unwrap();
    assert_eq!(payout.callback_url, None);
    assert!(app.engine().callbacks(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_untaken_payout_fails_at_its_deadline_and_its_hold_goes_back() {
    let app = TestApp::spawn().await;
    fund(&app, "RUB", "5000.00").await;
    let site = Receiver::start(&[], 200);
    set_callback_url(&app, &site.url()).await;
    let payouts = Payouts::of(&app);
    let body = payouts.body(
        "sbp",
        "RUB",
        150_000,
        json!({"phone_number": "79999999999", "phone_holder": "John Wick"}),
    );
    let answer = payouts.create(body.clone()).await;
    assert_eq!(live_balance(&app, "RUB").await, (350_000, 150_000, 0));
    site.wait_for(1).await;

    // Not yet: one second before the deadline (payout_ttl_secs, 3600).
    app.advance_secs(3_599);
    site.stays_at(1).await;
    assert_eq!(live_balance(&app, "RUB").await, (350_000, 150_000, 0));

    app.advance_secs(2);
    let payout = wait_for_status(&app, &body["request_id"], PayoutStatus::Failed).await;
    assert_eq!(payout.reason.as_deref(), Some("deadline"));
    assert_eq!(live_balance(&app, "RUB").await, (500_000, 0, 0));

    let got = site.wait_for(2).await;
    let failed = got[1].json();
    check_answer(payouts.secret(), &failed);
    assert_eq!(failed["status"], json!(3));
    assert_eq!(failed["success"], json!(false));
    assert_eq!(failed["invoice_id"], answer["invoice_id"]);

    // A repeat answers the failed payout; it holds nothing again.
    let again = payouts.send(body).await;
    again.expect(200);
    assert_eq!(again.json["status"], json!(3));
    assert_eq!(again.json["success"], json!(false));
    assert_eq!(again.json["invoice_id"], answer["invoice_id"]);
    assert_eq!(live_balance(&app, "RUB").await, (500_000, 0, 0));
}

#[tokio::test]
async fn an_mts_payout_is_offered_taken_declined_and_pending_again() {
    let app = TestApp::spawn().await;
    fund(&app, "RUB", "100.00").await;
    let site = Receiver::start(&[], 200);
    set_callback_url(&app, &site.url()).await;
    let trader = payout_trader(&app, "MTS", "RUB").await;
    let payouts = Payouts::of(&app);
    let body = payouts.body("MTS", "RUB", 1_000, json!({"phone_number": "79999999999"}));
    let id = payouts.create(body.clone()).await["invoice_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The trader's `mts` cabinet serves the spec's `MTS`.
    let trader_row = app
        .engine()
        .traders()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == trader)
        .unwrap();
    let offered = app.engine().offered_payouts(&trader_row).await.unwrap();
    assert_eq!(
        offered.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    app.engine()
        .take_payout(trader.clone(), id.clone())
        .await
        .unwrap();
    let in_progress = payouts.send(body.clone()).await;
    assert_eq!(in_progress.json["status"], json!(1));
    app.engine().decline_payout(trader, id).await.unwrap();
    let pending = payouts.send(body).await;
    assert_eq!(pending.json["status"], json!(0));
    assert_eq!(pending.json["success"], json!(true));
    let got = site.wait_for(3).await;
    let statuses: Vec<Value> = got.iter().map(|r| r.json()["status"].clone()).collect();
    assert_eq!(statuses, [json!(0), json!(1), json!(0)]);
    assert_eq!(live_balance(&app, "RUB").await, (9_000, 1_000, 0));
}

// ------------------------------------------------------------- fields per method

/// Each method with every field it takes (required and optional), and the
/// required ones.
fn methods() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    vec![
        (
            "card",
            json!({
                "card_number": CARD_SPACED,
                "bank_name": "Morgan",
                "card_holder": "John Wick",
                "bank_option": "778953337789",
                "expiry_date": "07/23",
            }),
            vec!["card_number"],
        ),
        (
            "sbp",
            json!({"phone_number": "79999999999", "phone_holder": "John Wick", "bank_name": "Morgan"}),
            vec!["phone_number", "phone_holder"],
        ),
        (
            "localbanks",
            json!({
                "account_number": "40702810800070000366",
                "bank_name": "Testbank",
                "account_holder": "John Wick",
            }),
            vec!["account_number"],
        ),
        (
            "cash",
            json!({
                "address": "Pushkin street, Kolotushkin house 5",
                "username": "@test",
                "messenger": "telegram",
                "verification_code": "123456",
                "asap": "true",
                "time": "2023-05-01 10:22",
            }),
            vec!["address", "username", "messenger", "verification_code"],
        ),
        (
            "MTS",
            json!({"phone_number": "79999999999"}),
            vec!["phone_number"],
        ),
        (
            "WalletM10",
            json!({"phone_number": "79999999999"}),
            vec!["phone_number"],
        ),
        (
            "Emanat",
            json!({"phone_number": "+994501234567"}),
            vec!["phone_number"],
        ),
        ("binance", json!({}), vec![]),
        ("sbp_qr", json!({}), vec![]),
    ]
}

#[tokio::test]
async fn every_method_takes_its_required_and_optional_fields() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "1000.00").await;
    let payouts = Payouts::of(&app);
    let mut held = 0;
    for (method, all, required) in methods() {
        // Every field, required and optional.
        let answer = payouts
            .create(payouts.body(method, "USD", 100, all.clone()))
            .await;
        held += 100;
        let id = answer["invoice_id"].as_str().unwrap().to_string();
        let payout = app
            .engine()
            .payout(app.merchant.merchant_id.clone(), false, id)
            .await
            .unwrap();
        assert_eq!(payout.method, method);
        let stored = app.engine().payout_fields(&payout).expect("fields unseal");
        // As sent, but a card number is kept as its digits.
        let mut kept = all.clone();
        if method == "card" {
            kept["card_number"] = json!(CARD);
        }
        assert_eq!(Value::Object(stored), kept, "{method}: fields kept");

        // Only the required ones.
        let only: serde_json::Map<String, Value> = all
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| required.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        payouts
            .create(payouts.body(method, "USD", 100, Value::Object(only.clone())))
            .await;
        held += 100;

        // Each required field missing, then empty: 422 naming it, nothing held.
        for field in &required {
            for broken in [None, Some(json!(""))] {
                let mut fields = only.clone();
                match &broken {
                    None => fields.remove(*field),
                    Some(v) => fields.insert(field.to_string(), v.clone()),
                };
                let body = payouts.body(method, "USD", 100, Value::Object(fields));
                let reply = payouts.send(body.clone()).await;
                reply.expect_error(422, &format!("additional_fields.{field}: is required"));
                assert_eq!(
                    reply.json["fields"][format!("additional_fields.{field}")],
                    json!("is required")
                );
                assert!(!exists(&app, &body["request_id"]).await);
            }
        }
    }
    // Methods with no fields may leave `additional_fields` out.
    for method in ["binance", "sbp_qr"] {
        let mut body = payouts.body(method, "USD", 100, json!(null));
        body.as_object_mut().unwrap().remove("additional_fields");
        payouts.create(body).await;
        held += 100;
    }
    // ... which the others may not.
    let mut body = payouts.body("card", "USD", 100, json!(null));
    body.as_object_mut().unwrap().remove("additional_fields");
    payouts
        .send(body)
        .await
        .expect_error(422, "additional_fields.card_number: is required");

    assert_eq!(live_balance(&app, "USD").await, (100_000 - held, held, 0));
}

#[tokio::test]
async fn field_values_are_checked_and_nothing_is_created_on_error() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "card",
            json!({"card_number": "4242424242424241"}),
            422,
            "additional_fields.card_number: is not a valid card number (Luhn check failed)",
        ),
        (
            "card",
            json!({"card_number": "4242 4242 4242 4241"}),
            422,
            "additional_fields.card_number: is not a valid card number (Luhn check failed)",
        ),
        (
            "card",
            json!({"card_number": "42424242"}),
            422,
            "additional_fields.card_number: is not a valid card number (Luhn check failed)",
        ),
        (
            "card",
            json!({"card_number": "4242-4242-4242-4241"}),
            422,
            "additional_fields.card_number: is not a valid card number (Luhn check failed)",
        ),
        (
            "sbp",
            json!({"phone_number": "call me", "phone_holder": "John Wick"}),
            422,
            "additional_fields.phone_number: must be 7 to 15 digits",
        ),
        (
            "MTS",
            json!({"phone_number": "123"}),
            422,
            "additional_fields.phone_number: must be 7 to 15 digits",
        ),
        (
            "localbanks",
            json!({"account_number": "x".repeat(257)}),
            422,
            "additional_fields.account_number: is too long",
        ),
        // Values are strings (the spec: "parameters must be passed as a
        // string"); another type is a 400.
        (
            "card",
            json!({"card_number": 4242424242424242u64}),
            400,
            "additional_fields.card_number: must be a string",
        ),
        (
            "card",
            json!({"card_number": CARD, "bank_name": {"name": "Morgan"}}),
            400,
            "additional_fields.bank_name: must be a string",
        ),
        (
            "card",
            json!([CARD]),
            400,
            "additional_fields: must be an object whose values are strings",
        ),
        (
            "card",
            json!(CARD),
            400,
            "additional_fields: must be an object whose values are strings",
        ),
    ];
    for (method, fields, status, error) in cases {
        let body = payouts.body(method, "USD", 100, fields.clone());
        let reply = payouts.send(body.clone()).await;
        reply.expect_error(status, error);
        assert!(!reply.text.contains(CARD), "{}", reply.text);
        assert!(!exists(&app, &body["request_id"]).await, "{fields}");
    }
    // Too many fields.
    let many: serde_json::Map<String, Value> = (0..33)
        .map(|i| (format!("f{i}"), json!("x")))
        .chain([("card_number".to_string(), json!(CARD))])
        .collect();
    payouts
        .send(payouts.body("card", "USD", 100, Value::Object(many)))
        .await
        .expect_error(400, "additional_fields: must have at most 32 fields");
    // `asap` may be a boolean as well as a string.
    let cash = json!({"address": "a", "username": "u", "messenger": "telegram", "verification_code": "1", "asap": true});
    payouts.create(payouts.body("cash", "USD", 100, cash)).await;
    assert_eq!(live_balance(&app, "USD").await, (9_900, 100, 0));
}

#[tokio::test]
async fn unknown_currency_or_method_and_bad_amounts_are_refused() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let currencies = "USD, EUR, RUB, UAH, USDT, IDR, AZN, VND";
    let methods = "card, sbp, WalletM10, localbanks, binance, cash, MTS, sbp_qr, Emanat";
    let cases: Vec<(&str, &str, Value, u16, String)> = vec![
        (
            "card",
            "GBP",
            json!(100),
            422,
            format!("currency: must be one of {currencies}"),
        ),
        (
            "card",
            "usd",
            json!(100),
            422,
            format!("currency: must be one of {currencies}"),
        ),
        (
            "card",
            "XXX",
            json!(100),
            422,
            format!("currency: must be one of {currencies}"),
        ),
        (
            "paypal",
            "USD",
            json!(100),
            422,
            format!("method: must be one of {methods}"),
        ),
        (
            "",
            "USD",
            json!(100),
            422,
            format!("method: must be one of {methods}"),
        ),
        (
            "card",
            "USD",
            json!(0),
            422,
            "amount: must be a positive integer of minor units".into(),
        ),
        (
            "card",
            "USD",
            json!(-100),
            422,
            "amount: must be a positive integer of minor units".into(),
        ),
        (
            "card",
            "USD",
            json!(10_000_000_000_000_000i64),
            422,
            "amount: must be a positive integer of minor units".into(),
        ),
        (
            "card",
            "USD",
            json!("100"),
            400,
            "amount: must be a positive integer of minor units".into(),
        ),
        (
            "card",
            "USD",
            json!(1.5),
            400,
            "amount: must be a positive integer of minor units".into(),
        ),
        (
            "card",
            "USD",
            json!(null),
            400,
            "amount: is required".into(),
        ),
    ];
    for (method, currency, amount, status, error) in cases {
        let mut body = payouts.body(method, currency, 1, card_fields());
        body["amount"] = amount;
        let reply = payouts.send(body.clone()).await;
        reply.expect_error(status, &error);
        assert!(!exists(&app, &body["request_id"]).await);
    }
    // Several bad fields are named together.
    let reply = payouts
        .send(payouts.body("paypal", "GBP", 0, json!({})))
        .await;
    reply.expect(422);
    assert_eq!(
        keys(&reply.json["fields"]),
        ["amount", "currency", "method"],
        "{}",
        reply.text
    );
    // Missing and mistyped fields: 400.
    for (field, value, error) in [
        ("request_id", json!(null), "request_id: is required"),
        ("request_id", json!(17), "request_id: must be a string"),
        ("currency", json!(null), "currency: is required"),
        ("method", json!(["card"]), "method: must be a string"),
    ] {
        let mut body = payouts.body("card", "USD", 100, card_fields());
        body[field] = value;
        payouts.send(body).await.expect_error(400, error);
    }
    let mut body = payouts.body("card", "USD", 100, card_fields());
    body["request_id"] = json!("");
    payouts
        .send(body)
        .await
        .expect_error(422, "request_id: must be 1 to 255 characters");
    assert_eq!(live_balance(&app, "USD").await, (10_000, 0, 0));
}

// ------------------------------------------------------------- authentication

#[tokio::test]
async fn a_bad_signature_or_site_is_401_and_creates_nothing() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let secret = payouts.secret().to_string();
    let body = payouts.body("card", "USD", 1_000, card_fields());

    let mut cases: Vec<(Value, &str)> = Vec::new();
    // Signed with another secret.
    cases.push((
        signed("h2h_not_the_secret", body.clone()),
        "Invalid signature",
    ));
    // No signature.
    cases.push((body.clone(), "Invalid signature"));
    // Changed after signing: the amount, a field inside additional_fields.
    let mut tampered = signed(&secret, body.clone());
    tampered["amount"] = json!(9_000);
    cases.push((tampered, "Invalid signature"));
    let mut tampered = signed(&secret, body.clone());
    tampered["additional_fields"]["card_number"] = json!("5555555555554444");
    cases.push((tampered, "Invalid signature"));
    // additional_fields left out of the canonical string.
    let mut flat = body.clone();
    let fields = flat.as_object_mut().unwrap().remove("additional_fields");
    let mut unsigned_fields = signed(&secret, flat);
    unsigned_fields["additional_fields"] = fields.unwrap();
    cases.push((unsigned_fields, "Invalid signature"));
    // The object written with its keys unsorted or spaced.
    let mut loose = body.clone();
    loose["additional_fields"] = json!({"card_number": CARD, "bank_name": "Morgan"});
    let text = format!(
        "additional_fields:{};amount:1000;currency:USD;merchant_id:{};method:card;request_id:{};site_id:{};site_login:{};",
        r#"{"card_number": "4242424242424242", "bank_name": "Morgan"}"#,
        app.merchant.merchant_id,
        loose["request_id"].as_str().unwrap(),
        app.merchant.site_id,
        app.merchant.site_login,
    );
    loose["signature"] = json!(hmac_hex(&secret, &text));
    cases.push((loose, "Invalid signature"));
    // Another merchant, site or login, correctly signed.
    let mut other = body.clone();
    other["merchant_id"] = json!("mer_nobody");
    cases.push((signed(&secret, other), "Unknown merchant_id"));
    let mut other = body.clone();
    other["site_id"] = json!(app.merchant.site_id + 1);
    cases.push((
        signed(&secret, other),
        "site_id and site_login do not belong to the merchant",
    ));
    let mut other = body.clone();
    other["site_login"] = json!("someone_else");
    cases.push((
        signed(&secret, other),
        "site_id and site_login do not belong to the merchant",
    ));
    for (sent, error) in cases {
        let reply = payouts.post(&sent).await;
        reply.expect_error(401, error);
        assert!(!exists(&app, &body["request_id"]).await, "{sent}");
    }
    // Ill-typed credentials: 400.
    let mut typed = body.clone();
    typed["site_id"] = json!(app.merchant.site_id.to_string());
    payouts
        .post(&signed(&secret, typed))
        .await
        .expect_error(400, "site_id: must be an integer");
    assert_eq!(live_balance(&app, "USD").await, (10_000, 0, 0));

    // Upper-case hex is the same signature.
    let mut upper = signed(&secret, body.clone());
    upper["signature"] = json!(upper["signature"].as_str().unwrap().to_ascii_uppercase());
    let reply = payouts.post(&upper).await;
    reply.expect(200);
    check_answer(&secret, &reply.json);
}

fn hmac_hex(secret: &str, text: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_canonical_string_of_a_payout_is_as_documented() {
    let body = json!({
        "merchant_id": "mer_0uQ8x3LcJxoBxnY",
        "site_id": 1004,
        "site_login": "myshop",
        "request_id": "po-000123",
        "amount": 250000,
        "currency": "RUB",
        "method": "card",
        "additional_fields": {"card_number": "4242424242424242", "card_holder": "John Wick", "bank_name": "Morgan"},
    });
    let text = r#"additional_fields:{"bank_name":"Morgan","card_holder":"John Wick","card_number":"4242424242424242"};amount:250000;currency:RUB;merchant_id:mer_0uQ8x3LcJxoBxnY;method:card;request_id:po-000123;site_id:1004;site_login:myshop;"#;
    assert_eq!(payouts_support::canonical(&body), text);
    let map = body.as_object().unwrap();
    assert_eq!(kassa_http::h2h::canonical(map), text);
    let secret = "h2h_example_7Qm2Xr9Lk4Vt8Nw3Zp6Hs1Jd5Fg0CaBe";
    assert_eq!(sign(secret, &body), hmac_hex(secret, text));
    // The values docs/h2h-api.md shows: the request, ...
    assert_eq!(
        sign(secret, &body),
        "32461896725424d49985df7fd38d6d8488f24699a37f7a839334a265ee5e78f3"
    );
    // ... its answer (the server's signer and the tests' agree), ...
    let answer = json!({
        "request_id": "po-000123", "success": true, "status": 0, "amount": 250000,
        "site_login": "myshop", "site_id": 1004, "currency": "RUB",
        "invoice_id": "po_3kTz9QvB2mXc7Lp",
    });
    let expected = "9fa5f4029617ca2d06e563ea617b6d995efa677fe9426fe9cb168309ff7a385c";
    assert_eq!(sign(secret, &answer), expected);
    assert_eq!(
        kassa_http::h2h::sign(secret, answer.as_object().unwrap()),
        expected
    );
    // ... a balance request and a balance answer.
    let request = json!({
        "merchant_id": "mer_0uQ8x3LcJxoBxnY", "site_id": 1004, "site_login": "myshop",
        "currency": "RUB",
    });
    assert_eq!(
        sign(secret, &request),
        "eaedf964af953e8bddb999a1a65d56cfa9fd05013dfccd9e23e96ab72ca22166"
    );
    let balances = json!({
        "merchant_id": "mer_0uQ8x3LcJxoBxnY", "site_id": 1004, "site_login": "myshop",
        "balances": [
            {"currency": "RUB", "available": 4750000, "pending_payouts": 250000, "reserve": 500000},
            {"currency": "USD", "available": 8050, "pending_payouts": 0, "reserve": 0},
        ],
    });
    let expected = "6a85ab7af512e1135760d22179b657ecebdadbae159e9d9b12f19543179ebc5a";
    assert_eq!(sign(secret, &balances), expected);
    assert_eq!(
        kassa_http::h2h::sign(secret, balances.as_object().unwrap()),
        expected
    );
}

// ------------------------------------------------------------- money

#[tokio::test]
async fn insufficient_funds_create_nothing_and_leave_the_balance_alone() {
    let app = TestApp::spawn().await;
    let payouts = Payouts::of(&app);
    // No money at all.
    let body = payouts.body("card", "USD", 100, card_fields());
    payouts
        .send(body.clone())
        .await
        .expect_error(422, "Insufficient funds");
    assert!(!exists(&app, &body["request_id"]).await);
    // Test-mode money does not pay live payouts.
    let (status, invoice) = app.create_private(common::test_invoice("processed")).await;
    assert_eq!(status, 201, "{invoice}");
    let id = invoice["data"]["id"].as_str().unwrap();
    app.wait_for_invoice(id, "the test pay-in", |a| a["status"] == json!("processed"))
        .await;
    let test_balance = app
        .engine()
        .balances(app.merchant.merchant_id.clone(), true)
        .await
        .unwrap();
    assert_eq!(test_balance[0].available_minor, 10_050);
    payouts
        .send(payouts.body("card", "USD", 100, card_fields()))
        .await
        .expect_error(422, "Insufficient funds");

    fund(&app, "USD", "100.00").await;
    // More than there is, by one minor unit.
    let over = payouts.body("card", "USD", 10_001, card_fields());
    payouts
        .send(over.clone())
        .await
        .expect_error(422, "Insufficient funds");
    assert!(!exists(&app, &over["request_id"]).await);
    assert_eq!(live_balance(&app, "USD").await, (10_000, 0, 0));
    // Money in another currency does not count.
    payouts
        .send(payouts.body("card", "EUR", 100, card_fields()))
        .await
        .expect_error(422, "Insufficient funds");
    // The failed request_id is free: once there is money it goes through.
    fund(&app, "USD", "0.01").await;
    payouts.create(over.clone()).await;
    assert_eq!(live_balance(&app, "USD").await, (0, 10_001, 0));
    payouts
        .send(payouts.body("card", "USD", 1, card_fields()))
        .await
        .expect_error(422, "Insufficient funds");
    assert_eq!(live_balance(&app, "USD").await, (0, 10_001, 0));
}

#[tokio::test]
async fn the_fee_is_held_with_the_amount() {
    let app = TestApp::spawn().await;
    fixed_fee(&app, "USD", 50).await;
    fund(&app, "USD", "10.00").await;
    let payouts = Payouts::of(&app);
    // 960 + 50 > 1000.
    payouts
        .send(payouts.body("card", "USD", 960, card_fields()))
        .await
        .expect_error(422, "Insufficient funds");
    let answer = payouts
        .create(payouts.body("card", "USD", 950, card_fields()))
        .await;
    // The answer's amount is what is paid out; the fee is held beside it.
    assert_eq!(answer["amount"], json!(950));
    assert_eq!(live_balance(&app, "USD").await, (0, 1_000, 0));
}

// ------------------------------------------------------------- idempotency

#[tokio::test]
async fn a_repeat_answers_the_same_payout_and_a_changed_one_conflicts() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let body = payouts.body(
        "card",
        "USD",
        1_000,
        json!({"card_number": CARD, "card_holder": "John Wick", "bank_name": "Morgan"}),
    );
    let first = payouts.create(body.clone()).await;
    let second = payouts.create(body.clone()).await;
    assert_eq!(first, second);

    // The same request written in another order, fields reordered too.
    let text = format!(
        r#"{{"additional_fields":{{"bank_name":"Morgan","card_number":"{CARD}","card_holder":"John Wick"}},"amount":1000,"method":"card","currency":"USD","request_id":{},"site_login":"{}","site_id":{},"merchant_id":"{}"}}"#,
        body["request_id"], app.merchant.site_login, app.merchant.site_id, app.merchant.merchant_id,
    );
    let reordered: Value = serde_json::from_str(&text).unwrap();
    let third = payouts.send(reordered).await;
    third.expect(200);
    assert_eq!(third.json, first);
    // And with the card number written with spaces: it is kept as digits.
    let mut spaced = body.clone();
    spaced["additional_fields"]["card_number"] = json!(CARD_SPACED);
    let fourth = payouts.send(spaced).await;
    fourth.expect(200);
    assert_eq!(fourth.json, first);
    assert_eq!(live_balance(&app, "USD").await, (9_000, 1_000, 0));

    // The same request_id with anything else changed: 409, nothing changes.
    let conflict = "request_id was used with another request";
    for (field, value) in [
        ("amount", json!(1_001)),
        ("currency", json!("RUB")),
        ("method", json!("localbanks")),
    ] {
        let mut changed = body.clone();
        changed[field] = value;
        if field == "method" {
            changed["additional_fields"] = json!({"account_number": "40702810800070000366"});
        }
        payouts.send(changed).await.expect_error(409, conflict);
    }
    for fields in [
        json!({"card_number": CARD, "card_holder": "John Wick"}),
        json!({"card_number": CARD, "card_holder": "John Wick", "bank_name": "Chase"}),
        json!({"card_number": CARD, "card_holder": "John Wick", "bank_name": "Morgan", "expiry_date": "07/23"}),
    ] {
        let mut changed = body.clone();
        changed["additional_fields"] = fields;
        payouts.send(changed).await.expect_error(409, conflict);
    }
    assert_eq!(live_balance(&app, "USD").await, (9_000, 1_000, 0));
    // An invalid body with a used request_id is judged as invalid first.
    let mut invalid = body.clone();
    invalid["amount"] = json!(0);
    payouts.send(invalid).await.expect(422);

    // Another merchant's request_id space is its own.
    let other = app
        .engine()
        .create_merchant(kassa_engine::merchants::NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let other_client = Payouts {
        client: h2h_support::Client::new(app.http.clone(), &app.base_url, &other),
    };
    let mut theirs = body.clone();
    theirs["merchant_id"] = json!(other.merchant_id);
    theirs["site_id"] = json!(other.site_id);
    theirs["site_login"] = json!(other.site_login);
    other_client
        .send(theirs)
        .await
        .expect_error(422, "Insufficient funds");
}

#[tokio::test]
async fn concurrent_repeats_make_one_payout() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let body = signed(
        payouts.secret(),
        payouts.body("card", "USD", 700, card_fields()),
    );
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = payouts.client.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            client.post_json("/api/payout", &body).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let reply = task.await.unwrap();
        reply.expect(200);
        ids.insert(reply.json["invoice_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(live_balance(&app, "USD").await, (9_300, 700, 0));
}

// ------------------------------------------------------------- transport

#[tokio::test]
async fn malformed_oversized_and_slashed_requests() {
    let app = TestApp::spawn().await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    for bytes in [&b"{"[..], b"[]", b"\"x\"", b""] {
        let reply = payouts.client.post_raw("/api/payout", bytes.to_vec()).await;
        reply.expect(400);
        assert!(!reply.error().is_empty(), "{}", reply.text);
    }
    let mut big = payouts.body("card", "USD", 100, card_fields());
    big["padding"] = json!("x".repeat(70 * 1024));
    payouts
        .post(&signed(payouts.secret(), big))
        .await
        .expect_error(413, "The request body is larger than 65536 bytes");

    // The spec's address ends with a slash; both work.
    let body = signed(
        payouts.secret(),
        payouts.body("card", "USD", 100, card_fields()),
    );
    let reply = payouts.client.post_json("/api/payout/", &body).await;
    reply.expect(200);
    check_answer(payouts.secret(), &reply.json);
    // Only POST.
    let response = app.http.get(app.url("/api/payout")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    // Unknown top-level fields are signed and ignored.
    let mut extra = payouts.body("card", "USD", 100, card_fields());
    extra["comment"] = json!("hello");
    payouts.create(extra).await;
    assert_eq!(live_balance(&app, "USD").await, (9_800, 200, 0));
}

// ------------------------------------------------------------- balance

#[tokio::test]
async fn the_balance_endpoint_agrees_with_the_books() {
    let app = TestApp::spawn().await;
    let payouts = Payouts::of(&app);
    // Nothing yet.
    let reply = payouts.balance(None).await;
    reply.expect(200);
    assert_eq!(
        keys(&reply.json),
        [
            "balances",
            "merchant_id",
            "signature",
            "site_id",
            "site_login"
        ]
    );
    assert_eq!(reply.json["balances"], json!([]));
    assert_eq!(reply.json["merchant_id"], json!(app.merchant.merchant_id));
    assert_eq!(reply.json["site_id"], json!(app.merchant.site_id));
    assert_eq!(reply.json["site_login"], json!(app.merchant.site_login));

    fund(&app, "USD", "100.50").await;
    fund(&app, "RUB", "500.00").await;
    payouts
        .create(payouts.body("card", "USD", 2_000, card_fields()))
        .await;
    // Test-mode money is not in the live balance.
    let (status, invoice) = app.create_private(common::test_invoice("processed")).await;
    assert_eq!(status, 201, "{invoice}");
    let id = invoice["data"]["id"].as_str().unwrap();
    app.wait_for_invoice(id, "the test pay-in", |a| a["status"] == json!("processed"))
        .await;

    let reply = payouts.balance(None).await;
    reply.expect(200);
    assert_eq!(
        reply.json["balances"],
        json!([
            {"currency": "RUB", "available": 50_000, "pending_payouts": 0, "reserve": 0},
            {"currency": "USD", "available": 8_050, "pending_payouts": 2_000, "reserve": 0},
        ]),
        "{}",
        reply.text
    );
    let books = app
        .engine()
        .balances(app.merchant.merchant_id.clone(), false)
        .await
        .unwrap();
    assert_eq!(books.len(), 2);
    for b in books {
        let shown = reply.json["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["currency"] == json!(b.currency.code()))
            .unwrap()
            .clone();
        assert_eq!(shown["available"], json!(b.available_minor));
        assert_eq!(shown["pending_payouts"], json!(b.pending_payouts_minor));
        assert_eq!(shown["reserve"], json!(b.reserve_minor));
    }

    // One currency; one with no money shows zeros.
    let usd = payouts.balance(Some("USD")).await;
    assert_eq!(
        usd.json["balances"],
        json!([{"currency": "USD", "available": 8_050, "pending_payouts": 2_000, "reserve": 0}])
    );
    let eur = payouts.balance(Some("EUR")).await;
    assert_eq!(
        eur.json["balances"],
        json!([{"currency": "EUR", "available": 0, "pending_payouts": 0, "reserve": 0}])
    );
    payouts
        .balance(Some("XXX"))
        .await
        .expect_error(422, "currency: unknown currency");

    // Signed like the rest.
    let body = json!({
        "merchant_id": app.merchant.merchant_id,
        "site_id": app.merchant.site_id,
        "site_login": app.merchant.site_login,
    });
    let client = &payouts.client;
    client
        .post_json("/api/balance", &signed("h2h_wrong", body.clone()))
        .await
        .expect_error(401, "Invalid signature");
    client
        .post_json("/api/balance", &body)
        .await
        .expect_error(401, "Invalid signature");
    let mut typed = body.clone();
    typed["currency"] = json!(840);
    client
        .post_json("/api/balance", &signed(payouts.secret(), typed))
        .await
        .expect_error(400, "currency: must be a string");
    let reply = client
        .post_json("/api/balance/", &signed(payouts.secret(), body))
        .await;
    reply.expect(200);
    assert_signed(payouts.secret(), &reply.json);
}
