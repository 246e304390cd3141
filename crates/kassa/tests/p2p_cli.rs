//! The `kassa` binary's P2P operator commands (traders, cabinets, rates,
//! amount rules, deals, notifications), run as a process against a real
//! database (a SQLite file, or PostgreSQL with `KASSA_TEST_BACKEND=postgres`),
//! alone or beside a server on the same database.

mod cli_support;
mod common;

use std::time::Duration;

use cli_support::{fresh_db, TestDb};
use common::TestApp;
use kassa_domain::{DealStatus, InvoiceStatus};
use kassa_engine::p2p_invoices::NewP2pInvoice;
use serde_json::{json, Value};

/// Runs a command that must fail with a message; returns the message.
async fn kassa_fails(db: &TestDb, args: &[&str]) -> String {
    let run = db.kassa(args).await;
    assert!(!run.success, "kassa {args:?} succeeded:\n{}", run.stdout);
    assert_ne!(run.code, Some(0));
    assert!(
        !run.stderr.trim().is_empty(),
        "kassa {args:?} failed without a message"
    );
    run.stderr
}

const CARD: &str = "2200123456789012";

async fn add_cabinet(db: &TestDb, trader: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "cabinet",
        "add",
        "--trader",
        trader,
        "--method",
        "card",
        "--currency",
        "RUB",
        "--bank",
        "Tinkoff",
        "--requisite",
        CARD,
        "--holder",
        "Ivan I.",
        "--json",
    ];
    args.extend_from_slice(extra);
    db.json_ok(&args).await
}

#[tokio::test]
async fn traders_cabinets_rates_and_rules_from_the_command_line() {
    let db = fresh_db();

    let created = db
        .json_ok(&["trader", "create", "--name", "Ivan", "--json"])
        .await;
    let trader_id = created["trader_id"]
        .as_str()
        .expect("trader_id")
        .to_string();
    let token = created["token"].as_str().expect("token").to_string();
    assert!(trader_id.starts_with("trd_"), "{created}");
    assert!(token.starts_with("trt_") && token.len() > 30, "{created}");
    assert!(db.contains(&trader_id), "the search sees the stored rows");
    assert!(!db.contains(&token), "the trader token is stored in clear");
    let plain = db.kassa_ok(&["trader", "create", "--name", "Petr"]).await;
    assert!(plain.contains("trt_"), "{plain}");
    let traders = db.json_ok(&["trader", "list", "--json"]).await;
    let names: Vec<&str> = traders
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ivan", "Petr"]);
    assert!(traders[0].get("token").is_none());
    let listed = db.kassa_ok(&["trader", "list"]).await;
    assert!(listed.contains(&trader_id), "{listed}");

    let cabinet = add_cabinet(&db, &trader_id, &["--min", "100.00", "--max", "100000.00"]).await;
    let cabinet_id = cabinet["cabinet_id"]
        .as_str()
        .expect("cabinet_id")
        .to_string();
    assert!(cabinet_id.starts_with("cab_"), "{cabinet}");
    assert_eq!(cabinet["requisite"], "220012******9012");
    assert_eq!(cabinet["min_amount"], "100.00");
    assert_eq!(cabinet["max_amount"], "100000.00");
    assert_eq!(cabinet["active"], true);
    let limited = add_cabinet(
        &db,
        &trader_id,
        &[
            "--daily-limit",
            "500000",
            "--max-open-deals",
            "3",
            "--inactive",
        ],
    )
    .await;
    assert_eq!(limited["active"], false);
    assert_eq!(limited["daily_limit"], "500000.00");
    assert_eq!(limited["max_open_deals"], 3);
    assert_eq!(limited["min_amount"], "0.01");
    assert_eq!(limited["max_amount"], Value::Null);

    let cabinets = db
        .json_ok(&["cabinet", "list", "--trader", &trader_id, "--json"])
        .await;
    assert_eq!(cabinets.as_array().unwrap().len(), 2);
    let plain = db
        .kassa_ok(&["cabinet", "list", "--trader", &trader_id])
        .await;
    assert!(plain.contains(&cabinet_id), "{plain}");
    assert!(
        !plain.contains(CARD),
        "card numbers are printed masked: {plain}"
    );

    let out = db
        .kassa_ok(&["cabinet", "set", &cabinet_id, "--active", "false"])
        .await;
    assert!(out.contains("inactive"), "{out}");
    let cabinets = db
        .json_ok(&["cabinet", "list", "--trader", &trader_id, "--json"])
        .await;
    assert_eq!(cabinets[0]["active"], false);
    db.kassa_ok(&["cabinet", "set", &cabinet_id, "--active", "true"])
        .await;

    db.kassa_ok(&["rate", "set", "RUB", "99.23"]).await;
    let shown = db.kassa_ok(&["rate", "show", "RUB"]).await;
    assert!(shown.contains("99.23"), "{shown}");

    let default = db.json_ok(&["amount-rule", "show", "RUB", "--json"]).await;
    assert_eq!(
        default,
        json!({"currency": "RUB", "step": "1.00", "direction": "up"})
    );
    db.kassa_ok(&[
        "amount-rule",
        "set",
        "RUB",
        "--step",
        "0.50",
        "--direction",
        "alternate",
    ])
    .await;
    let rule = db.json_ok(&["amount-rule", "show", "RUB", "--json"]).await;
    assert_eq!(
        rule,
        json!({"currency": "RUB", "step": "0.50", "direction": "alternate"})
    );

    let unmatched = db
        .json_ok(&["notification", "list", "--unmatched", "--json"])
        .await;
    assert_eq!(unmatched, json!([]));
    let deals = db
        .json_ok(&["deal", "list", "--trader", &trader_id, "--json"])
        .await;
    assert_eq!(deals, json!([]));
}

#[tokio::test]
async fn bad_command_line_input_exits_non_zero_and_changes_nothing() {
    let db = fresh_db();
    let created = db
        .json_ok(&["trader", "create", "--name", "Ivan", "--json"])
        .await;
    let trader = created["trader_id"].as_str().unwrap().to_string();
    let cabinet = add_cabinet(&db, &trader, &[]).await;
    let cabinet_id = cabinet["cabinet_id"].as_str().unwrap().to_string();
    db.kassa_ok(&["rate", "set", "RUB", "99.23"]).await;
    db.kassa_ok(&[
        "amount-rule",
        "set",
        "RUB",
        "--step",
        "1.00",
        "--direction",
        "up",
    ])
    .await;

    let add = |extra: &'static [&'static str], trader: String| async move {
        let mut args = vec![
            "cabinet".to_string(),
            "add".into(),
            "--trader".into(),
            trader,
            "--method".into(),
            "card".into(),
            "--bank".into(),
            "Tinkoff".into(),
            "--requisite".into(),
            CARD.into(),
            "--holder".into(),
            "Ivan I.".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            add(&["--currency", "RUB"], "trd_unknown".into()).await,
            "trader",
        ),
        (
            add(&["--currency", "XXX"], trader.clone()).await,
            "currency",
        ),
        (
            add(&["--currency", "RUB", "--min", "1.001"], trader.clone()).await,
            "min",
        ),
        (
            add(&["--currency", "RUB", "--min", "abc"], trader.clone()).await,
            "min",
        ),
        (
            add(&["--currency", "RUB", "--min", "0"], trader.clone()).await,
            "min",
        ),
        (
            add(&["--currency", "RUB", "--max", "-5"], trader.clone()).await,
            "",
        ),
        (
            add(
                &["--currency", "RUB", "--min", "500", "--max", "100"],
                trader.clone(),
            )
            .await,
            "min",
        ),
        (
            add(
                &["--currency", "RUB", "--method", "card transfer"],
                trader.clone(),
            )
            .await,
            "",
        ),
        (add(&[], trader.clone()).await, "currency"),
    ];
    for (args, mention) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = kassa_fails(&db, &args).await;
        assert!(err.contains(mention), "{args:?}: {err}");
    }
    for (args, mention) in [
        (vec!["trader", "create", "--name", ""], "name"),
        (vec!["trader", "create", "--name", "   "], "name"),
        (
            vec!["cabinet", "set", "cab_unknown", "--active", "false"],
            "cab_unknown",
        ),
        (
            vec!["cabinet", "set", cabinet_id.as_str(), "--active", "maybe"],
            "maybe",
        ),
        (vec!["cabinet", "set", cabinet_id.as_str()], "--active"),
        (
            vec!["cabinet", "list", "--trader", "trd_unknown"],
            "trd_unknown",
        ),
        (vec!["rate", "set", "RUB", "abc"], "rate"),
        (vec!["rate", "set", "RUB", "-1"], "rate"),
        (vec!["rate", "set", "RUB", "0"], "rate"),
        (vec!["rate", "set", "XXX", "1.5"], "XXX"),
        (
            vec![
                "amount-rule",
                "set",
                "RUB",
                "--step",
                "1.00",
                "--direction",
                "sideways",
            ],
            "sideways",
        ),
        (
            vec![
                "amount-rule",
                "set",
                "RUB",
                "--step",
                "0",
                "--direction",
                "down",
            ],
            "step",
        ),
        (
            vec![
                "amount-rule",
                "set",
                "RUB",
                "--step",
                "0.001",
                "--direction",
                "down",
            ],
            "step",
        ),
        (
            vec![
                "amount-rule",
                "set",
                "NOPE",
                "--step",
                "1",
                "--direction",
                "down",
            ],
            "NOPE",
        ),
        (vec!["deal", "confirm", "deal_unknown"], "deal_unknown"),
        (
            vec!["deal", "resolve", "deal_unknown", "--outcome", "completed"],
            "deal_unknown",
        ),
        (
            vec!["deal", "resolve", "deal_unknown", "--outcome", "maybe"],
            "outcome",
        ),
        (
            vec!["deal", "list", "--trader", "trd_unknown"],
            "trd_unknown",
        ),
    ] {
        let err = kassa_fails(&db, &args).await;
        assert!(err.contains(mention), "{args:?}: {err}");
    }

    let traders = db.json_ok(&["trader", "list", "--json"]).await;
    assert_eq!(traders.as_array().unwrap().len(), 1);
    let cabinets = db
        .json_ok(&["cabinet", "list", "--trader", &trader, "--json"])
        .await;
    assert_eq!(cabinets.as_array().unwrap().len(), 1);
    assert_eq!(cabinets[0]["active"], true);
    let shown = db.kassa_ok(&["rate", "show", "RUB"]).await;
    assert!(shown.contains("99.23"), "{shown}");
    let rule = db.json_ok(&["amount-rule", "show", "RUB", "--json"]).await;
    assert_eq!(
        rule,
        json!({"currency": "RUB", "step": "1.00", "direction": "up"})
    );
}

/// The operator settles deals with the binary while a server runs on the
/// same database.
#[tokio::test]
async fn deals_and_notifications_beside_a_running_server() {
    let app = TestApp::spawn().await;
    let db = TestDb::of(&app);
    let created = db
        .json_ok(&["trader", "create", "--name", "Ivan", "--test", "--json"])
        .await;
    // A test trader: the test-mode invoices below go to its cabinets only.
    assert_eq!(created["test_mode"], true, "{created}");
    let trader = created["trader_id"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();
    let cabinet = add_cabinet(&db, &trader, &["--min", "10.00"]).await;
    let cabinet_id = cabinet["cabinet_id"].as_str().unwrap().to_string();

    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let mut deals = Vec::new();
    for amount in ["1000.00", "2000.00", "3000.00"] {
        let created = engine
            .create_p2p_invoice(
                merchant.clone(),
                true,
                NewP2pInvoice {
                    internal_id: Some(format!("order-{amount}")),
                    amount: amount.into(),
                    currency: "RUB".into(),
                    notification_url: "http://127.0.0.1:9/callback".into(),
                    notification_token: "token".into(),
                    payment_option: Some("CARD".into()),
                    start_deal: true,
                    ..Default::default()
                },
            )
            .await
            .expect("an invoice with a deal");
        let deal = engine.deal(created.invoice.deal_id.unwrap()).await.unwrap();
        assert_eq!(deal.cabinet_id, cabinet_id);
        deals.push(deal);
    }

    let open = db
        .json_ok(&["deal", "list", "--trader", &trader, "--open", "--json"])
        .await;
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    assert_eq!(open[0]["requisite"], "220012******9012");

    let confirmed = db
        .json_ok(&["deal", "confirm", &deals[0].id, "--json"])
        .await;
    assert_eq!(confirmed["status"], "completed", "{confirmed}");
    assert_eq!(confirmed["settled_by"], "operator");
    assert_eq!(confirmed["amount"], "1000.00");
    let (invoice, _) = engine
        .invoice_with_deal(deals[0].invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Processed);
    // Resolving a deal that is not disputed is refused.
    let err = kassa_fails(
        &db,
        &["deal", "resolve", &deals[1].id, "--outcome", "canceled"],
    )
    .await;
    assert!(err.contains("not disputed"), "{err}");

    // The third customer sent less: the operator settles for what arrived.
    let settled = db
        .json_ok(&[
            "deal",
            "settle",
            &deals[2].id,
            "--amount-received",
            "2900.00",
            "--json",
        ])
        .await;
    assert_eq!(
        (
            settled["status"].as_str(),
            settled["amount_received"].as_str()
        ),
        (Some("completed"), Some("2900.00")),
        "{settled}"
    );
    let (invoice, _) = engine
        .invoice_with_deal(deals[2].invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(invoice.status, InvoiceStatus::PartiallyProcessed);
    assert_eq!(invoice.processed_amount_minor, Some(290_000));
    let err = kassa_fails(
        &db,
        &["deal", "settle", &deals[2].id, "--amount-received", "0"],
    )
    .await;
    assert!(err.contains("amount_received"), "{err}");

    // The second deal goes to dispute; the operator says the money came.
    engine
        .customer_says_paid(deals[1].invoice_id.clone())
        .await
        .unwrap();
    app.advance_secs(app.config.deal_ttl_secs + 1);
    engine.expire_due_deals().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while engine.deal(deals[1].id.clone()).await.unwrap().status != DealStatus::Disputed {
        assert!(tokio::time::Instant::now() < deadline, "no dispute");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resolved = db
        .json_ok(&[
            "deal",
            "resolve",
            &deals[1].id,
            "--outcome",
            "completed",
            "--json",
        ])
        .await;
    assert_eq!(resolved["status"], "completed", "{resolved}");
    assert_eq!(
        engine.deal(deals[1].id.clone()).await.unwrap().status,
        DealStatus::Completed
    );

    // A notification that matched nothing is listed for review.
    let response = app
        .http
        .post(app.url("/trader-api/notifications"))
        .bearer_auth(&token)
        .json(&json!({"id": "sms-1", "cabinet": cabinet_id, "amount": "555.00"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let unmatched = db
        .json_ok(&["notification", "list", "--unmatched", "--json"])
        .await;
    assert_eq!(unmatched.as_array().unwrap().len(), 1, "{unmatched}");
    assert_eq!(unmatched[0]["external_id"], "sms-1");
    assert_eq!(unmatched[0]["amount"], "555.00");
    assert_eq!(unmatched[0]["matched"], false);
    let plain = db
        .kassa_ok(&["notification", "list", "--trader", &trader])
        .await;
    assert!(
        plain.contains("sms-1") && plain.contains("unmatched"),
        "{plain}"
    );
}

#[tokio::test]
async fn a_traders_deposit_from_the_command_line() {
    let db = fresh_db();
    let created = db
        .json_ok(&["trader", "create", "--name", "Ivan", "--json"])
        .await;
    let trader = created["trader_id"].as_str().unwrap().to_string();

    let credited = db
        .json_ok(&["trader", "deposit", "credit", &trader, "50.5", "--json"])
        .await;
    assert_eq!(credited["deposit"], "50.500000");
    assert_eq!(credited["currency"], "USDT");
    assert_eq!(credited["required"], false);

    // More than the deposit: refused, nothing changes.
    let message = kassa_fails(&db, &["trader", "deposit", "debit", &trader, "60"]).await;
    assert!(message.contains("at most 50.500000 USDT"), "{message}");
    let message = kassa_fails(&db, &["trader", "deposit", "credit", &trader, "1.1234567"]).await;
    assert!(message.contains("decimal places"), "{message}");
    kassa_fails(&db, &["trader", "deposit", "show", "trd_nobody"]).await;

    db.kassa_ok(&["trader", "deposit", "debit", &trader, "0.5"])
        .await;
    let shown = db
        .json_ok(&["trader", "deposit", "show", &trader, "--json"])
        .await;
    assert_eq!(
        (
            shown["deposit"].as_str(),
            shown["held"].as_str(),
            shown["free"].as_str()
        ),
        (Some("50.000000"), Some("0.000000"), Some("50.000000"))
    );
    let text = db.kassa_ok(&["trader", "deposit", "show", &trader]).await;
    assert!(text.contains("deposit 50.000000 USDT"), "{text}");
}
