//! The daily report against the ledger, through the `kassa` binary (on the
//! test server's own database) and through the Checkout private API: the
//! opening balances plus the day's lines give the closing balances, which
//! equal the ledger's at the end of the day and open the next day. Also the
//! `balance` and `payout-fee` commands, and their refusals.

mod cli_support;
mod common;

use std::time::Duration;

use cli_support::TestDb;
use common::TestApp;
use kassa_domain::payout::{PayoutSource, PayoutStatus};
use kassa_domain::{FeeRule, ReserveRule};
use kassa_engine::payouts::NewPayout;
use kassa_engine::{Clock, EngineError};
use serde_json::{json, Map, Value};

const HEADER: &str =
    "time,kind,reference,currency,available,pending_payouts,reserve,pending_refunds,fee,amount,transaction_id";

/// Runs a command that must be refused: non-zero exit, a message.
async fn kassa_fails(db: &TestDb, args: &[&str]) -> String {
    let run = db.kassa(args).await;
    assert!(!run.success, "kassa {args:?} succeeded:\n{}", run.stdout);
    assert!(
        run.stderr.starts_with("kassa: "),
        "kassa {args:?} failed without a message: {}",
        run.stderr
    );
    run.stderr
}

/// One CSV line of the report, by column name.
#[derive(Debug, Clone)]
struct Line(Vec<String>);

impl Line {
    fn get(&self, column: &str) -> &str {
        let index = HEADER
            .split(',')
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        &self.0[index]
    }

    /// A money column in minor units (two decimals here); empty is `None`.
    fn minor(&self, column: &str) -> Option<i64> {
        let text = self.get(column);
        (!text.is_empty()).then(|| {
            kassa_domain::money::parse_minor(text, 2)
                .unwrap_or_else(|e| panic!("{column} {text}: {e:?}"))
        })
    }

    fn balances(&self) -> (i64, i64, i64) {
        (
            self.minor("available").unwrap(),
            self.minor("pending_payouts").unwrap(),
            self.minor("reserve").unwrap(),
        )
    }
}

/// The report's lines after its header, which it must start with.
fn parse(csv: &str) -> Vec<Line> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER), "{csv}");
    assert!(csv.ends_with('\n'), "{csv:?}");
    lines
        .map(|l| {
            let fields: Vec<String> = l.split(',').map(str::to_string).collect();
            assert_eq!(fields.len(), HEADER.split(',').count(), "{l}");
            Line(fields)
        })
        .collect()
}

/// Opening plus the lines equals closing, for the one currency of `lines`.
fn check_adds_up(lines: &[Line]) -> (i64, i64, i64) {
    assert_eq!(lines.first().unwrap().get("kind"), "opening_balance");
    assert_eq!(lines.last().unwrap().get("kind"), "closing_balance");
    let mut running = lines[0].balances();
    for l in &lines[1..lines.len() - 1] {
        let d = l.balances();
        running = (running.0 + d.0, running.1 + d.1, running.2 + d.2);
    }
    assert_eq!(running, lines.last().unwrap().balances(), "{lines:#?}");
    running
}

/// The merchant's test balance in USD, in minor units.
async fn test_usd(app: &TestApp) -> (i64, i64, i64) {
    app.engine()
        .balances(app.merchant.merchant_id.clone(), true)
        .await
        .expect("balances")
        .iter()
        .find(|b| b.currency.code() == "USD")
        .map(|b| (b.available_minor, b.pending_payouts_minor, b.reserve_minor))
        .unwrap_or((0, 0, 0))
}

async fn wait_for_balance(app: &TestApp, expected: (i64, i64, i64)) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = test_usd(app).await;
        if found == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "balance {found:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A test pay-in of `amount` USD through the private API, settled by the
/// test provider as `outcome`; its invoice id.
async fn pay_in(app: &TestApp, amount: &str, outcome: &str) -> String {
    let (status, body) = app
        .create_private(json!({
            "amount": amount,
            "currency": "USD",
            "service": "test_usd_test",
            "service_fields": { "status": outcome },
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    app.wait_for_invoice(&id, outcome, |a| a["status"] == outcome)
        .await;
    id
}

/// A test payout of `amount_minor` USD that the test executor settles as
/// `outcome`; its id, or the engine's refusal.
async fn payout(app: &TestApp, amount_minor: i64, outcome: &str) -> Result<String, EngineError> {
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let mut fields = Map::new();
    fields.insert("card_number".into(), json!("4111111111111111"));
    fields.insert("test_status".into(), json!(outcome));
    let created = engine
        .create_payout(
            &merchant,
            true,
            NewPayout {
                request_id: format!("po-{amount_minor}-{outcome}"),
                amount_minor,
                currency: "USD".into(),
                method: "card".into(),
                additional_fields: fields,
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await?;
    let id = created.payout.id;
    let expected = if outcome == "success" {
        PayoutStatus::Success
    } else {
        PayoutStatus::Failed
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = engine
            .payout(merchant.id.clone(), true, id.clone())
            .await
            .unwrap();
        if p.status == expected {
            return Ok(id);
        }
        assert!(tokio::time::Instant::now() < deadline, "payout is {p:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The report through the private API with `key`'s credentials.
async fn api_report(
    app: &TestApp,
    key: &kassa_engine::merchants::IssuedCredentials,
    query: &str,
) -> (u16, String, String) {
    let response = app
        .http
        .get(app.url(&format!("/api/reports/daily{query}")))
        .basic_auth(&key.private_key_id, Some(&key.private_key_secret))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// A day of pay-ins (one processed, one partly, one failed) and payouts
/// (paid, refused for want of money, failed) with fees and a one-day reserve;
/// the next day the reserves come back and one more pay-in arrives.
#[tokio::test]
async fn the_daily_report_adds_up_to_the_ledger_through_the_cli_and_the_api() {
    let app = TestApp::spawn().await;
    let db = TestDb::of(&app);
    let merchant = app.merchant.merchant_id.clone();
    // 01:00 UTC of the next day: the whole story fits in two days.
    let now = app.clock.now_secs();
    app.advance_secs(86_400 - now.rem_euclid(86_400) + 3_600);
    let day1_start = app.clock.now_secs() - 3_600;
    let day1 = chrono::DateTime::from_timestamp(day1_start, 0)
        .unwrap()
        .date_naive();
    let day2 = day1.succ_opt().unwrap();
    let (d0, d1, d2, d3) = (
        day1.pred_opt().unwrap().to_string(),
        day1.to_string(),
        day2.to_string(),
        day2.succ_opt().unwrap().to_string(),
    );

    // 2.5% + 0.30 on pay-ins, 10% held for a day; 1% + 0.50 on payouts.
    let engine = app.engine();
    let mut service = engine
        .catalog()
        .await
        .unwrap()
        .service("test_usd_test")
        .cloned()
        .unwrap();
    service.fee = FeeRule {
        rate_ppm: 25_000,
        fix_minor: 30,
        min_minor: 0,
        max_minor: 0,
    };
    service.reserve = ReserveRule {
        rate_ppm: 100_000,
        lifetime_secs: 86_400,
    };
    engine.put_service(service).await.unwrap();
    let out = db
        .kassa_ok(&["payout-fee", "set", "usd", "--rate", "1", "--fix", "0.50"])
        .await;
    assert!(out.contains("payout fee USD"), "{out}");

    // Day 1. 100.00 paid: fee 2.50 + 0.30, reserve 9.72 of the 97.20 deposit.
    let first = pay_in(&app, "100.00", "processed").await;
    // 50.01 asked, half (25.00) paid: the fee of 1.56 (1.2503 rounded up,
    // plus 0.30) in proportion, 0.77; reserve 2.42 of the 24.23 deposit.
    let second = pay_in(&app, "50.01", "partially_processed").await;
    pay_in(&app, "7.00", "process_failed").await;
    // 20.00 paid out with its fee of 0.70 (0.20 + 0.50) on top.
    let paid = payout(&app, 2_000, "success").await.unwrap();
    assert!(matches!(
        payout(&app, 500_000, "success").await,
        Err(EngineError::InsufficientFunds)
    ));
    let failed = payout(&app, 1_000, "failed").await.unwrap();
    let day1_end = (8_748 + 2_181 - 2_070, 0, 972 + 242);
    wait_for_balance(&app, day1_end).await;

    // Day 2, 03:00: both reserves are back; 10.00 more paid (fee 0.55,
    // reserve 0.94).
    app.advance_secs(26 * 3_600);
    wait_for_balance(&app, (day1_end.0 + 1_214, 0, 0)).await;
    let third = pay_in(&app, "10.00", "processed").await;
    let day2_end = (day1_end.0 + 1_214 + 851, 0, 94);
    wait_for_balance(&app, day2_end).await;

    // The CLI, day 1.
    let csv1 = db
        .kassa_ok(&[
            "report",
            "daily",
            "--merchant",
            &merchant,
            "--date",
            &d1,
            "--test",
        ])
        .await;
    let lines = parse(&csv1);
    let kinds: Vec<&str> = lines.iter().map(|l| l.get("kind")).collect();
    assert_eq!(
        kinds,
        [
            "opening_balance",
            "pay_in",
            "pay_in",
            "payout_hold",
            "payout_done",
            "payout_hold",
            "payout_release",
            "closing_balance"
        ],
        "{csv1}"
    );
    let refs: Vec<&str> = lines.iter().map(|l| l.get("reference")).collect();
    assert_eq!(
        refs,
        ["", &first, &second, &paid, &paid, &failed, &failed, ""],
        "{csv1}"
    );
    let expect = |l: &Line, balances: (i64, i64, i64), fee: Option<i64>, amount: Option<i64>| {
        assert_eq!(
            (l.balances(), l.minor("fee"), l.minor("amount")),
            (balances, fee, amount),
            "{l:?}"
        );
        assert_eq!(l.get("currency"), "USD");
    };
    expect(&lines[0], (0, 0, 0), None, None);
    expect(&lines[1], (8_748, 0, 972), Some(280), Some(10_000));
    expect(&lines[2], (2_181, 0, 242), Some(77), Some(2_500));
    expect(&lines[3], (-2_070, 2_070, 0), None, Some(2_070));
    expect(&lines[4], (0, -2_070, 0), Some(70), Some(2_000));
    expect(&lines[5], (-1_060, 1_060, 0), None, Some(1_060));
    expect(&lines[6], (1_060, -1_060, 0), None, Some(1_060));
    expect(&lines[7], day1_end, None, None);
    assert_eq!(check_adds_up(&lines), day1_end);
    let at = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    assert_eq!(lines[0].get("time"), at(day1_start));
    assert!(lines[1..7]
        .iter()
        .all(|l| l.get("time") == at(day1_start + 3_600)));
    assert!(lines[1..7]
        .iter()
        .all(|l| l.get("transaction_id").starts_with("txn")));
    assert_eq!(lines[7].get("time"), at(day1_start + 86_400));

    // Day 2 opens where day 1 closed and closes at today's balances.
    let csv2 = db
        .kassa_ok(&[
            "report",
            "daily",
            "--merchant",
            &merchant,
            "--date",
            &d2,
            "--test",
        ])
        .await;
    let lines2 = parse(&csv2);
    let kinds: Vec<&str> = lines2.iter().map(|l| l.get("kind")).collect();
    assert_eq!(
        kinds,
        [
            "opening_balance",
            "reserve_release",
            "reserve_release",
            "pay_in",
            "closing_balance"
        ],
        "{csv2}"
    );
    assert_eq!(lines2[0].balances(), day1_end);
    let released: i64 = lines2[1..3]
        .iter()
        .map(|l| l.minor("amount").unwrap())
        .sum();
    assert_eq!(released, 1_214);
    for l in &lines2[1..3] {
        let a = l.minor("amount").unwrap();
        assert_eq!(l.balances(), (a, 0, -a), "{l:?}");
        assert!(l.get("reference").starts_with("rsv"), "{l:?}");
        assert_eq!(l.get("fee"), "");
    }
    assert_eq!(lines2[3].get("reference"), third);
    assert_eq!(check_adds_up(&lines2), day2_end);
    assert_eq!(test_usd(&app).await, day2_end);

    // The day before and the day after: the day after opens and closes at the
    // balances; before any money, only the header.
    assert_eq!(
        db.kassa_ok(&[
            "report",
            "daily",
            "--merchant",
            &merchant,
            "--date",
            &d0,
            "--test"
        ])
        .await,
        format!("{HEADER}\n")
    );
    let after = parse(
        &db.kassa_ok(&[
            "report",
            "daily",
            "--merchant",
            &merchant,
            "--date",
            &d3,
            "--test",
        ])
        .await,
    );
    assert_eq!(after.len(), 2);
    assert_eq!(
        (after[0].balances(), after[1].balances()),
        (day2_end, day2_end)
    );
    // The live books are empty.
    assert_eq!(
        db.kassa_ok(&["report", "daily", "--merchant", &merchant, "--date", &d1])
            .await,
        format!("{HEADER}\n")
    );

    // --out writes the same CSV to a file.
    let file = app.dir.path().join("day1.csv");
    let file_arg = file.to_str().unwrap();
    db.kassa_ok(&[
        "report",
        "daily",
        "--merchant",
        &merchant,
        "--date",
        &d1,
        "--test",
        "--out",
        file_arg,
    ])
    .await;
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv1);

    // The private API answers the same CSV for the key's mode.
    let (status, content_type, body) =
        api_report(&app, &app.merchant.test, &format!("?date={d1}")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    assert_eq!(body, csv1);
    let (status, _, body) = api_report(&app, &app.merchant.test, &format!("?date={d2}")).await;
    assert_eq!((status, body), (200, csv2));
    let (status, _, body) = api_report(&app, &app.merchant.live, &format!("?date={d1}")).await;
    assert_eq!((status, body), (200, format!("{HEADER}\n")));

    // `balance` agrees with the ledger, in text and JSON.
    let shown: Value = serde_json::from_str(
        &db.kassa_ok(&["balance", "--merchant", &merchant, "--test", "--json"])
            .await,
    )
    .unwrap();
    let f = |m: i64| kassa_domain::money::format_fixed(m, 2);
    assert_eq!(
        shown,
        json!({
            "merchant_id": merchant,
            "test_mode": true,
            "balances": [{
                "currency": "USD",
                "available": f(day2_end.0),
                "pending_payouts": "0.00",
                "pending_refunds": "0.00",
                "reserve": f(day2_end.2),
                "test_mode": true,
            }],
        })
    );
    let text = db
        .kassa_ok(&["balance", "--merchant", &merchant, "--test"])
        .await;
    assert_eq!(
        text,
        format!(
            "USD\tavailable {}\tpending_payouts 0.00\tpending_refunds 0.00\treserve {}\n",
            f(day2_end.0),
            f(day2_end.2)
        )
    );
    let live = db.kassa_ok(&["balance", "--merchant", &merchant]).await;
    assert!(live.contains("no money"), "{live}");
    let live: Value = serde_json::from_str(
        &db.kassa_ok(&["balance", "--merchant", &merchant, "--json"])
            .await,
    )
    .unwrap();
    assert_eq!(live["balances"], json!([]));
}

#[tokio::test]
async fn bad_report_requests_get_a_clear_error() {
    let app = TestApp::spawn().await;
    let key = &app.merchant.test;
    for (query, message) in [
        ("", "This value should not be blank."),
        ("?date=", "This value should not be blank."),
        (
            "?date=2024-02-30",
            "This value is not a valid date (YYYY-MM-DD).",
        ),
        (
            "?date=2024-5-1",
            "This value is not a valid date (YYYY-MM-DD).",
        ),
        (
            "?date=yesterday",
            "This value is not a valid date (YYYY-MM-DD).",
        ),
        (
            "?date=2024-05-01T00:00:00Z",
            "This value is not a valid date (YYYY-MM-DD).",
        ),
    ] {
        let (status, content_type, body) = api_report(&app, key, query).await;
        assert_eq!(
            (status, content_type.as_str()),
            (422, "application/json"),
            "{query}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body, json!({"errors": {"date": message}}), "{query}");
    }
    // Without credentials, or with wrong ones: 401.
    let response = app
        .http
        .get(app.url("/api/reports/daily?date=2024-05-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = app
        .http
        .get(app.url("/api/reports/daily?date=2024-05-01"))
        .basic_auth(&key.private_key_id, Some("sk_test_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A valid date with no money is the header alone.
    let (status, _, body) = api_report(&app, key, "?date=2024-05-01").await;
    assert_eq!((status, body), (200, format!("{HEADER}\n")));
}

#[tokio::test]
async fn bad_ledger_commands_exit_non_zero_and_change_nothing() {
    let app = TestApp::spawn().await;
    let db = TestDb::of(&app);
    let merchant = app.merchant.merchant_id.clone();
    for (args, says) in [
        (
            vec!["balance", "--merchant", "mer_nobody"],
            "no merchant mer_nobody",
        ),
        (
            vec![
                "report",
                "daily",
                "--merchant",
                "mer_nobody",
                "--date",
                "2024-05-01",
            ],
            "no merchant",
        ),
        (
            vec![
                "report",
                "daily",
                "--merchant",
                &merchant,
                "--date",
                "2024-02-30",
            ],
            "date",
        ),
        (
            vec![
                "report",
                "daily",
                "--merchant",
                &merchant,
                "--date",
                "01.05.2024",
            ],
            "date",
        ),
        (vec!["report", "daily", "--merchant", &merchant], "--date"),
        (vec!["payout-fee", "set", "XYZ", "--rate", "1"], "currency"),
        (vec!["payout-fee", "set", "GBP", "--rate", "1"], "currency"),
        (vec!["payout-fee", "set", "USD", "--rate", "101"], "rate"),
        (vec!["payout-fee", "set", "USD", "--rate=-1"], "rate"),
        (vec!["payout-fee", "set", "USD", "--fix", "0.001"], "fix"),
        (vec!["payout-fee", "set", "USD", "--fix=-1"], "fix"),
        (vec!["payout-fee", "set", "USD", "--min", "abc"], "min"),
        (
            vec!["payout-fee", "set", "USD", "--min", "5", "--max", "1"],
            "min",
        ),
    ] {
        let run = db.kassa(&args).await;
        assert!(!run.success, "kassa {args:?} succeeded: {}", run.stdout);
        assert!(run.stderr.contains(says), "kassa {args:?}: {}", run.stderr);
    }
    kassa_fails(
        &db,
        &[
            "report",
            "daily",
            "--merchant",
            &merchant,
            "--date",
            "2024-05-01",
            "--out",
            "/nonexistent/dir/x.csv",
        ],
    )
    .await;

    // None of the refused fee commands set a fee: a payout costs its amount.
    pay_in(&app, "10.00", "processed").await;
    let id = payout(&app, 1_000, "success").await.unwrap();
    let p = app
        .engine()
        .payout(merchant.clone(), true, id)
        .await
        .unwrap();
    assert_eq!(p.fee_minor, 0);
    // A fee set replaces the whole rule: parts not given are zero.
    db.kassa_ok(&[
        "payout-fee",
        "set",
        "USD",
        "--rate",
        "10",
        "--min",
        "0.25",
        "--max",
        "0.30",
    ])
    .await;
    db.kassa_ok(&["payout-fee", "set", "USD", "--fix", "0.05"])
        .await;
    pay_in(&app, "10.00", "processed").await;
    let id = payout(&app, 500, "failed").await.unwrap();
    let p = app.engine().payout(merchant, true, id).await.unwrap();
    assert_eq!(p.fee_minor, 5);
}
