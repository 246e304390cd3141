//! `kassa demo`: a server on a fresh database with a demo merchant and trader.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use kassa_domain::Currency;
use kassa_engine::merchants::NewMerchant;
use tokio::net::TcpListener;

use crate::{Config, Server};

#[derive(Args)]
pub struct DemoArgs {
    /// Directory of the demo database; emptied at start.
    #[arg(long, default_value = "kassa-demo")]
    pub dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

pub(super) async fn demo(mut config: Config, args: DemoArgs) -> anyhow::Result<()> {
    // A fresh database every time: remove only what the demo itself made.
    for name in [
        "kassa.sqlite",
        "kassa.sqlite-wal",
        "kassa.sqlite-shm",
        "master.key",
    ] {
        let _ = std::fs::remove_file(args.dir.join(name));
    }
    config.database_url = format!("sqlite://{}", args.dir.join("kassa.sqlite").display());
    config.master_key = None;
    config.listen = args.listen.clone();
    config.allow_private_callback_urls = true;
    // Traders hold only what their deposits cover; the demo's have one.
    config.trader_collateral_required = true;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let server = Server::start(&config, None, listener).await?;
    let issued = server
        .engine
        .create_merchant(NewMerchant {
            name: "Demo Shop".into(),
            site_login: Some("demo_shop".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = &server.base_url;
    let t = &issued.test;
    println!(
        "Kassa demo on {base} (database {})",
        config.sqlite_path()?.display()
    );
    println!("\nDemo merchant (test mode credentials; live ones are in the JSON below):");
    println!("  public key        {}", t.public_key);
    println!("  private key id    {}", t.private_key_id);
    println!("  private secret    {}", t.private_key_secret);
    println!("  callback secret   {}", t.callback_secret);
    println!("\nCreate a test invoice that the test provider will mark processed:\n");
    println!(
        "curl -s -u '{}:{}' -H 'Content-Type: application/json' {base}/api/payment-invoices -d '{{\"data\":{{\"type\":\"payment-invoices\",\"attributes\":{{\"amount\":\"100.50\",\"currency\":\"USD\",\"service\":\"test_usd_test\",\"service_fields\":{{\"status\":\"processed\"}},\"description\":\"First invoice\"}}}}}}'",
        t.private_key_id, t.private_key_secret
    );
    println!(
        "\nRefund 30.00 of it once it is processed (put the data.id the answer gave for INVOICE_ID); \
         the test provider settles the refund, and the invoice becomes partially_refunded:\n"
    );
    println!(
        "curl -s -u '{}:{}' -H 'Content-Type: application/json' {base}/api/payment-invoices/INVOICE_ID/refund -d '{{\"data\":{{\"type\":\"refund\",\"attributes\":{{\"amount\":\"30.00\",\"reference_id\":\"refund-1\"}}}}}}'",
        t.private_key_id, t.private_key_secret
    );
    println!("\nOr one to pay by hand on the hosted page (open its hpp_url):\n");
    println!(
        "curl -s {base}/public-api/payment-invoices -H 'Content-Type: application/json' -d '{{\"public_key\":\"{}\",\"service\":\"payment_card_usd_hpp\",\"currency\":\"USD\",\"amount\":123.45,\"description\":\"Demo order\"}}'",
        t.public_key
    );
    demo_p2p(&server, &issued).await?;
    crate::sandbox_demo::seed(&server, &issued).await?;
    println!(
        "\nAll credentials as JSON:\n{}",
        serde_json::to_string_pretty(&issued)?
    );
    let portal = server
        .engine
        .create_web_user(
            kassa_domain::WebRealm::Merchant,
            issued.merchant_id.clone(),
            "demo@kassa.example",
            None,
        )
        .await
        .context("demo portal user")?;
    println!("\nMerchant portal: {base}/portal/");
    println!("  email             {}", portal.user.email);
    println!(
        "  password          {}",
        portal.generated_password.unwrap_or_default()
    );
    let console = server
        .engine
        .create_operator_user(
            "operator@kassa.example",
            None,
            kassa_domain::OperatorRole::Admin,
        )
        .await
        .context("demo console user")?;
    println!("\nOperator console: {base}/console/");
    println!("  email             {}", console.user.email);
    println!(
        "  password          {}",
        console.generated_password.unwrap_or_default()
    );
    println!("\nCtrl-C stops the demo.");
    server.run_until_ctrl_c().await
}

/// The demo's P2P side: a trader with a card and an SBP phone in RUB, a rate,
/// and ready-signed requests for `book_cabinet`, the Merchant API and the
/// trader API.
async fn demo_p2p(
    server: &Server,
    issued: &kassa_engine::merchants::IssuedMerchant,
) -> anyhow::Result<()> {
    use kassa_engine::p2p::NewCabinet;
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    let engine = &server.engine;
    let base = &server.base_url;
    let rub = Currency::from_code("RUB").expect("RUB");
    let (trader, token) = engine
        .create_trader("Demo Trader".into())
        .await
        .map_err(fail)?;
    let mut cabinets = Vec::new();
    for (method, bank, requisite) in [
        ("card", "Tinkoff", "2200700123456789"),
        ("sbp", "Sberbank", "+79967779977"),
    ] {
        let cabinet = engine
            .add_cabinet(NewCabinet {
                trader_id: trader.id.clone(),
                method: method.into(),
                currency: rub,
                bank_name: bank.into(),
                requisite: requisite.into(),
                holder: "Ivan Petrov".into(),
                min_amount_minor: 10_000,
                max_amount_minor: 10_000_000,
                daily_limit_minor: 0,
                max_open_deals: 0,
                active: true,
            })
            .await
            .map_err(fail)?;
        cabinets.push(cabinet);
    }
    engine.set_rate(rub, "99.23".into()).await.map_err(fail)?;
    let collateral = engine
        .change_deposit(
            trader.id.clone(),
            crate::sandbox_demo::demo_deposit_minor(engine),
            "demo deposit".into(),
        )
        .await
        .map_err(fail)?;
    println!(
        "\nDemo trader {} (token {token}) with a card and an SBP phone in RUB:",
        trader.id
    );
    for c in &cabinets {
        println!("  {}  {} {} {}", c.id, c.method, c.bank_name, c.requisite);
    }
    let settlement = collateral.currency;
    println!(
        "  deposit {} {settlement} at 99.23 RUB per {settlement}: its open deals and what it owes stay within it \
         (kassa trader deposit show|credit|debit {}, or GET /admin-api/traders/{})",
        kassa_domain::money::format_fixed(collateral.exposure.deposit_minor, settlement.exponent()),
        trader.id,
        trader.id
    );
    let panel = engine
        .create_web_user(
            kassa_domain::WebRealm::Trader,
            trader.id.clone(),
            "trader@kassa.example",
            None,
        )
        .await
        .context("demo trader panel user")?;
    println!("\nTrader panel (open deals, payouts, cabinets, bank messages): {base}/trader/");
    println!("  email             {}", panel.user.email);
    println!(
        "  password          {}",
        panel.generated_password.unwrap_or_default()
    );
    let mut book = match serde_json::json!({
        "request_id": "demo-book-1", "merchant_id": issued.merchant_id, "site_id": issued.site_id,
        "site_login": issued.site_login, "method": "card", "currency": "RUB", "amount": 900_000,
    }) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    };
    let signature = kassa_http::h2h::sign(&issued.h2h_secret, &book);
    book.insert("signature".into(), signature.into());
    println!("\nHold 9000.00 RUB on a card for 30 s (H2H book_cabinet; amounts in minor units):\n");
    println!(
        "curl -s {base}/api/book_cabinet -H 'Content-Type: application/json' -d '{}'",
        serde_json::Value::Object(book)
    );
    let invoice = r#"{"type":"in","amount":"9000.00","currency":"RUB","notificationUrl":"http://127.0.0.1:9/","notificationToken":"demo","internalId":"demo-1","paymentOption":"CARD","startDeal":true}"#;
    let api = &issued.live;
    let signature = hex_of(&kassa_http::h2h::hmac_sha256(
        api.merchant_api_secret.as_bytes(),
        invoice.as_bytes(),
    ));
    println!("\nThen make the invoice with its P2P deal (Merchant API); open its invoiceUrl to see the requisites:\n");
    println!(
        "curl -s {base}/api/merchant/invoices -H 'Content-Type: application/json' -H 'X-Identity: {}' -H 'X-Signature: {signature}' -d '{invoice}'",
        api.merchant_api_key
    );
    println!(
        "\nIf the money is never reported, the customer presses \"I have paid\" on that page; once the deal's time runs out it is \
         disputed and the page takes a receipt (PNG, JPEG or PDF, up to 5 MiB), which the trader sees on the deal's page in the \
         panel, the operator on {base}/console/disputes, and the merchant as disputeAttachment."
    );
    println!("\nAnd report the money as the trader's bank would (trader API):\n");
    println!(
        "curl -s {base}/trader-api/notifications -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"id\":\"sms-1\",\"cabinet\":\"{}\",\"amount\":\"9000.00\",\"text\":\"Received 9 000.00 RUB\"}}'",
        cabinets[0].id
    );
    println!("\nRefund 1000.00 of it to the customer's card (Merchant API; put the invoice's id in the body, which is signed); the trader takes the refund's payout (GET /trader-api/payouts/offered, POST .../take) and marks it paid (POST .../done with a receipt):\n");
    println!(
        "BODY='{{\"invoiceId\":\"INVOICE_ID\",\"internalId\":\"demo-refund-1\",\"amount\":\"1000.00\",\"paymentOption\":\"CARD\",\"paymentMethod\":\"tinkoff\",\"paymentRequisites\":{{\"requisites\":\"4242424242424242\",\"holder\":\"Petr P.\"}}}}'\n\
         curl -s {base}/api/merchant/refunds -H 'Content-Type: application/json' -H 'X-Identity: {}' -H \"X-Signature: $(printf %s \"$BODY\" | openssl dgst -sha256 -hmac '{}' | sed 's/^.* //')\" -d \"$BODY\"",
        api.merchant_api_key, api.merchant_api_secret
    );
    demo_device(server, &trader, &token, &cabinets[0]).await
}

/// The demo trader's phone: a device forwarding for the card, and the bank
/// SMS it would post when the 9000.00 arrive.
async fn demo_device(
    server: &Server,
    trader: &kassa_domain::Trader,
    trader_token: &str,
    card: &kassa_domain::Cabinet,
) -> anyhow::Result<()> {
    let base = &server.base_url;
    let (device, token) = server
        .engine
        .create_device(
            kassa_domain::Actor::Trader(trader.id.clone()),
            trader.id.clone(),
            "Demo phone".into(),
            vec![card.id.clone()],
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let digits = &card.requisite[card.requisite.len().saturating_sub(4)..];
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sms = serde_json::json!({
        "sender": "Tinkoff",
        "text": format!("Пополнение. Карта *{digits}. 9 000 ₽ от Иван И. Доступно 12 345,67 ₽"),
        "time": now,
    });
    println!(
        "\nOr let the trader's phone {} (device token {token}) forward the bank's SMS, which settles the deal the same way:\n",
        device.id
    );
    println!(
        "curl -s {base}/trader-api/messages -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{sms}'"
    );
    println!(
        "\nThe phone heartbeats; after {} s without a heartbeat or a message its card is switched off (see it with GET /trader-api/cabinets, token {trader_token}):\n",
        server.engine.config().cabinet_silent_secs
    );
    println!(
        "curl -s -X POST {base}/trader-api/devices/heartbeat -H 'Authorization: Bearer {token}'"
    );
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
