//! Card data and secrets at rest: what a copy of the database, an operator's
//! screen or a command's output could give away. A real server on port 0
//! over a real database (SQLite, or PostgreSQL with
//! `KASSA_TEST_BACKEND=postgres`), the `kassa` binary run as a process.

mod cli_support;
mod common;
mod h2h_support;
mod merchant_api_support;
mod payouts_support;

use base64::Engine as _;
use cli_support::{contains, TestDb};
use common::TestApp;
use payouts_support::{compact, fund, set_callback_url, Payouts};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

/// Where callbacks are owed to; nothing answers there.
const NOWHERE: &str = "http://127.0.0.1:9/callbacks";

fn digits(card: &str) -> String {
    card.chars().filter(char::is_ascii_digit).collect()
}

/// Every way a SHA-256 of `text` could be kept: hex either case, the raw
/// bytes, base64 with and without padding.
fn sha256_forms(text: &str) -> Vec<Vec<u8>> {
    let raw = Sha256::digest(text.as_bytes()).to_vec();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(&raw)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(&raw)
            .into_bytes(),
        raw,
    ]
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A request to the admin API with the operator's token.
async fn admin(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("request");
    assert!(response.status().is_success(), "{path}: {response:?}");
    response.json().await.expect("JSON")
}

/// A trader API GET or POST with the trader's token.
async fn trader(app: &TestApp, token: &str, method: reqwest::Method, path: &str) -> Value {
    let mut request = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(token);
    if method == reqwest::Method::POST {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    let response = request.send().await.expect("request");
    assert!(response.status().is_success(), "{path}: {response:?}");
    response.json().await.expect("JSON")
}

/// A Merchant API `type: out` body to a card, written as `card`.
fn out_body(internal_id: &str, card: &str) -> Value {
    json!({
        "type": "out", "amount": "250.00", "currency": "RUB",
        "notificationUrl": NOWHERE, "notificationToken": "token",
        "internalId": internal_id, "userId": "uid-7",
        "paymentOption": "CARD", "paymentMethod": "tinkoff",
        "paymentRequisites": {"requisites": card, "holder": "Petr P."},
    })
}

#[tokio::test]
async fn no_unkeyed_hash_of_a_card_number_is_stored_or_shown() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    fund(&app, "RUB", "10000.00").await;
    set_callback_url(&app, NOWHERE).await;
    let h2h_card = "4111 1111 1111 1111";
    let api_card = "5555 5555 5555 4444";
    let cabinet_card = "2200 7000 1234 5678";
    common::rub_trader(&app, "Ivan", "card", cabinet_card).await;

    // A payout by each face, and a Checkout invoice: each owes callbacks.
    let h2h_fields = json!({"card_number": h2h_card, "card_holder": "IVAN IVANOV"});
    let payouts = Payouts::of(&app);
    let body = payouts.body("card", "RUB", 10_000, h2h_fields.clone());
    let h2h_answer = payouts.send(body.clone()).await;
    h2h_answer.expect(200);
    let api = merchant_api_support::Api::with(&app, &app.merchant.live);
    let api_answer = api.post(&out_body("out-1", api_card)).await;
    api_answer.expect(201);
    // A refund of a P2P pay-in, paid out to the customer's card.
    let refund_card = "4000 0000 0000 0002";
    let deal = common::open_deal_in(&app, false, "500.00", "sberbank").await;
    app.engine()
        .confirm_deal(None, deal.id.clone())
        .await
        .expect("deal confirmed");
    let refund = json!({
        "invoiceId": deal.invoice_id, "internalId": "rfd-1", "paymentOption": "CARD",
        "paymentMethod": "tinkoff", "paymentRequisites": {"requisites": refund_card, "holder": "P. P."},
    })
    .to_string();
    let refund_answer = merchant_api_support::send(
        api.request(reqwest::Method::POST, "/api/merchant/refunds")
            .header("X-Identity", &api.key)
            .header(
                "X-Signature",
                merchant_api_support::hmac_hex(&api.secret, refund.as_bytes()),
            )
            .body(refund),
    )
    .await;
    refund_answer.expect(201);
    assert!(!refund_answer.text.contains(&digits(refund_card)));
    let mut invoice = common::test_invoice("processed");
    invoice["callback_url"] = json!(NOWHERE);
    let (status, created) = app.create_private(invoice).await;
    assert_eq!(status, 201, "{created}");
    let invoice_id = created["data"]["id"].as_str().unwrap().to_string();
    app.wait_for_invoice(&invoice_id, "processed", |a| a["status"] == "processed")
        .await;

    let engine = app.engine();
    let merchant = app.merchant.merchant_id.clone();
    let mut forms: Vec<Vec<u8>> = Vec::new();
    for card in [h2h_card, api_card, cabinet_card, refund_card] {
        forms.extend(sha256_forms(card));
        forms.extend(sha256_forms(&digits(card)));
    }
    let payee =
        json!({"card_number": digits(refund_card), "card_holder": "P. P.", "bank_name": "tinkoff"});
    for text in [compact(&payee), payee.to_string()] {
        forms.extend(sha256_forms(&text));
    }
    for callback in engine.callbacks(deal.invoice_id.clone()).await.unwrap() {
        let snapshot = callback.snapshot.to_string();
        assert!(!snapshot.contains("fingerprint"), "{snapshot}");
        assert!(!snapshot.contains(&digits(refund_card)), "{snapshot}");
    }
    for (request_id, source, sent) in [
        (
            body["request_id"].as_str().unwrap(),
            "h2h",
            Some(h2h_fields),
        ),
        ("out-1", "merchant_api", None),
    ] {
        let payout = engine
            .payout_by_request(merchant.clone(), false, request_id.into())
            .await
            .expect("payout");
        // The fields as stored, and as the H2H merchant wrote them.
        let stored = Value::Object(engine.payout_fields(&payout).expect("fields open"));
        for fields in [Some(stored), sent].into_iter().flatten() {
            let view = json!({
                "amount": payout.amount_minor, "currency": payout.currency.code(),
                "method": payout.method, "fields": fields, "source": source,
            });
            for text in [compact(&fields), fields.to_string(), compact(&view)] {
                forms.extend(sha256_forms(&text));
            }
        }
        // Nor does any callback or answer carry the fingerprint.
        for callback in engine.callbacks(payout.id.clone()).await.unwrap() {
            let snapshot = callback.snapshot.to_string();
            assert!(
                !snapshot.contains("fingerprint") && !snapshot.contains(&payout.fingerprint),
                "{snapshot}"
            );
        }
        assert!(!h2h_answer.text.contains(&payout.fingerprint));
        assert!(!api_answer.text.contains(&payout.fingerprint));
    }
    let callbacks = engine.callbacks(invoice_id).await.unwrap();
    assert!(!callbacks.is_empty());
    for callback in callbacks {
        assert!(
            !callback.snapshot.to_string().contains("fingerprint"),
            "{}",
            callback.snapshot
        );
    }

    let stored = TestDb::of(&app).contents();
    for form in &forms {
        assert!(
            !holds(&stored, form),
            "an unkeyed hash of card data is stored: {}",
            String::from_utf8_lossy(form)
        );
    }
    for card in [h2h_card, api_card, refund_card] {
        assert!(!contains(&stored, &digits(card)), "{card} in clear");
    }
}

#[tokio::test]
async fn a_card_number_written_with_separators_is_stored_as_digits_and_shown_masked() {
    let app = TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await;
    let created = admin(
        &app,
        reqwest::Method::POST,
        "/admin-api/traders",
        Some(json!({"name": "Ivan"})),
    )
    .await;
    let trader_id = created["id"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();

    // The admin API: masked when added and when listed.
    let path = format!("/admin-api/traders/{trader_id}/cabinets");
    let added = admin(
        &app,
        reqwest::Method::POST,
        &path,
        Some(json!({
            "method": "card", "currency": "RUB", "bank": "Tinkoff",
            "requisite": "4000 0566 5566 5556", "holder": "Ivan I.",
        })),
    )
    .await;
    assert_eq!(added["requisite"], "400005******5556", "{added}");
    let listed = admin(&app, reqwest::Method::GET, &path, None).await;
    assert_eq!(
        listed["data"][0]["requisite"], "400005******5556",
        "{listed}"
    );

    // The command line, on the same database.
    let db = TestDb::of(&app);
    let cli = db
        .json_ok(&[
            "cabinet",
            "add",
            "--trader",
            &trader_id,
            "--method",
            "card",
            "--currency",
            "RUB",
            "--bank",
            "Sber",
            "--requisite",
            "5105-1051 0510-5100",
            "--holder",
            "Ivan I.",
            "--json",
        ])
        .await;
    assert_eq!(cli["requisite"], "510510******5100", "{cli}");
    let list = db
        .kassa_ok(&["cabinet", "list", "--trader", &trader_id])
        .await;
    let list_json = db
        .kassa_ok(&["cabinet", "list", "--trader", &trader_id, "--json"])
        .await;
    for shown in [&list, &list_json] {
        assert!(shown.contains("400005******5556"), "{shown}");
        assert!(shown.contains("510510******5100"), "{shown}");
        for whole in [
            "4000 0566 5566 5556",
            "4000056655665556",
            "5105105105105100",
        ] {
            assert!(!shown.contains(whole), "{whole} shown: {shown}");
        }
    }

    // The trader, whose cards they are, sees them whole, as digits.
    let mine = trader(&app, &token, reqwest::Method::GET, "/trader-api/cabinets").await;
    let mut requisites: Vec<&str> = mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requisite"].as_str().unwrap())
        .collect();
    requisites.sort();
    assert_eq!(requisites, ["4000056655665556", "5105105105105100"]);

    // A payout to a card written with dashes: masked where it is offered,
    // digits for the trader who takes it.
    fund(&app, "RUB", "1000.00").await;
    let payouts = Payouts::of(&app);
    let body = payouts.body(
        "card",
        "RUB",
        10_000,
        json!({"card_number": "4012-8888-8888-1881"}),
    );
    let answer = payouts.send(body).await;
    answer.expect(200);
    assert!(!answer.text.contains("1881"), "{}", answer.text);
    let offered = trader(
        &app,
        &token,
        reqwest::Method::GET,
        "/trader-api/payouts/offered",
    )
    .await;
    let payout = &offered["data"][0];
    assert_eq!(
        payout["additional_fields"]["card_number"], "401288******1881",
        "{offered}"
    );
    let id = payout["id"].as_str().unwrap();
    let taken = trader(
        &app,
        &token,
        reqwest::Method::POST,
        &format!("/trader-api/payouts/{id}/take"),
    )
    .await;
    assert_eq!(
        taken["additional_fields"]["card_number"], "4012888888881881",
        "{taken}"
    );
}

/// Runs `kassa args` on `url`; everything it wrote, out and err.
async fn output(url: &str, master_key: &str, args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::from(common::kassa_command(url, Some(master_key)))
        .env("KASSA_LOG", "debug")
        .args(args)
        .current_dir(dir.path())
        .output()
        .await
        .expect("kassa runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn no_command_shows_the_database_password() {
    let Some(db) = common::postgres_only() else {
        return;
    };
    let password = "S3cret-pw-7731";
    // The local server trusts its clients: the password is sent, not needed.
    let (scheme, rest) = db.url.split_once("://").expect("a URL");
    let (user, host) = rest.split_once('@').expect("a user in the URL");
    let user = user.split(':').next().unwrap();
    let url = format!("{scheme}://{user}:{password}@{host}");
    let key = common::random_master_key();

    let (ok, migrated) = output(&url, &key, &["migrate"]).await;
    assert!(ok, "{migrated}");
    assert!(migrated.contains("database ready"), "{migrated}");
    assert!(migrated.contains(&format!("{user}:***@")), "{migrated}");
    let commands: [&[&str]; 5] = [
        &["merchant", "list"],
        &["trader", "list"],
        &["service", "list"],
        &["balance", "--merchant", "m_unknown"],
        &["migrate"],
    ];
    for args in commands {
        let (_, text) = output(&url, &key, args).await;
        assert!(!text.contains(password), "kassa {args:?}: {text}");
    }
    // Nor when the database cannot be reached.
    let unreachable = format!("{scheme}://{user}:{password}@127.0.0.1:1/nowhere");
    let (ok, text) = output(&unreachable, &key, &["migrate"]).await;
    assert!(!ok, "{text}");
    assert!(!text.contains(password), "{text}");
    // Nor for a key=value string (which names no URL scheme, so it is taken
    // for a SQLite file, with the password in its name).
    let keyed = format!("host=127.0.0.1 user={user} password={password} dbname=x");
    let (_, text) = output(&keyed, &key, &["migrate"]).await;
    assert!(!text.contains(password), "{text}");
}
