//! The demo's sandbox: what a merchant needs to try every face in test mode
//! without live money or live traders. A test trader with a RUB card, money
//! in the merchant's test books, and ready-signed test-mode requests.

use kassa_domain::Currency;
use kassa_engine::merchants::IssuedMerchant;
use kassa_engine::p2p::NewCabinet;
use serde_json::{json, Map, Value};

use crate::Server;

/// The sandbox card: test-mode deals are paid to it, never to a live one.
const SANDBOX_CARD: &str = "4000001234567899";

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// `body` signed with the H2H test secret, as curl's `-d` text.
fn signed_test(issued: &IssuedMerchant, body: Value) -> String {
    let mut map = object(body);
    let signature = kassa_http::h2h::sign(&issued.h2h_test_secret, &map);
    map.insert("signature".into(), signature.into());
    Value::Object(map).to_string()
}

/// The demo traders' deposits: 1 000 units of the settlement currency.
pub(crate) fn demo_deposit_minor(engine: &kassa_engine::Engine) -> i64 {
    1_000 * 10i64.pow(engine.config().settlement_currency.exponent() as u32)
}

pub(crate) async fn seed(server: &Server, issued: &IssuedMerchant) -> anyhow::Result<()> {
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    let engine = &server.engine;
    let base = &server.base_url;
    let rub = Currency::from_code("RUB").expect("RUB");
    let (trader, token) = engine
        .create_trader_in("Sandbox Trader".into(), true)
        .await
        .map_err(fail)?;
    let cabinet = engine
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: rub,
            bank_name: "Sandbox Bank".into(),
            requisite: SANDBOX_CARD.into(),
            holder: "Test Holder".into(),
            min_amount_minor: 100,
            max_amount_minor: 10_000_000,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .map_err(fail)?;
    // Its collateral, in the test books as the trader is a test one.
    engine
        .change_deposit(
            trader.id.clone(),
            demo_deposit_minor(engine),
            "demo deposit".into(),
        )
        .await
        .map_err(fail)?;
    // Test money to pay out from: the test books only.
    engine
        .adjust_balance(
            issued.merchant_id.clone(),
            true,
            rub,
            10_000_000,
            "sandbox top-up".into(),
        )
        .await
        .map_err(fail)?;

    println!("\n--- Sandbox (test mode: test traders, test books, the test executor) ---");
    println!("  H2H test secret   {}", issued.h2h_test_secret);
    println!(
        "  test trader {} (token {token}), card {} {SANDBOX_CARD}",
        trader.id, cabinet.id
    );
    println!("  test books: 100000.00 RUB available");
    let who = json!({
        "merchant_id": issued.merchant_id, "site_id": issued.site_id,
        "site_login": issued.site_login,
    });
    let with = |fields: Value| {
        let mut body = object(who.clone());
        body.extend(object(fields));
        Value::Object(body)
    };
    println!(
        "\nHold 5000.00 RUB on the sandbox card (book_cabinet signed with the test secret):\n"
    );
    println!(
        "curl -s {base}/api/book_cabinet -H 'Content-Type: application/json' -d '{}'",
        signed_test(
            issued,
            with(json!({"request_id": "sandbox-book-1", "method": "card",
                "currency": "RUB", "amount": 500_000}))
        )
    );
    println!("\nA test payout of 1000.00 RUB, settled by the test executor (add \"test_status\": \"failed\" to additional_fields for a failure):\n");
    println!(
        "curl -s {base}/api/payout -H 'Content-Type: application/json' -d '{}'",
        signed_test(
            issued,
            with(json!({"request_id": "sandbox-payout-1", "method": "card",
                "currency": "RUB", "amount": 100_000,
                "additional_fields": {"card_number": "4242424242424242"}}))
        )
    );
    let invoice = r#"{"type":"in","amount":"5000.00","currency":"RUB","notificationUrl":"http://127.0.0.1:9/","notificationToken":"demo","internalId":"sandbox-1","paymentOption":"CARD","startDeal":true}"#;
    let api = &issued.test;
    let signature: String =
        kassa_http::h2h::hmac_sha256(api.merchant_api_secret.as_bytes(), invoice.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    println!("\nA test-mode invoice with its deal on the sandbox card (Merchant API, test key):\n");
    println!(
        "curl -s {base}/api/merchant/invoices -H 'Content-Type: application/json' -H 'X-Identity: {}' -H 'X-Signature: {signature}' -d '{invoice}'",
        api.merchant_api_key
    );
    println!("\nSettle it as the sandbox trader's bank would:\n");
    println!(
        "curl -s {base}/trader-api/notifications -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"id\":\"sandbox-sms-1\",\"cabinet\":\"{}\",\"amount\":\"5000.00\"}}'",
        cabinet.id
    );
    Ok(())
}
