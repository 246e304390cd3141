//! The `kassa` binary's operator commands, run as a process against a real
//! database (and, for callbacks, beside a server on the same database): a
//! SQLite file, or PostgreSQL with `KASSA_TEST_BACKEND=postgres`.

mod cli_support;
mod common;
mod receiver;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cli_support::{contains, fresh_db, TestDb};
use common::{test_invoice, TestApp};
use kassa_engine::ManualClock;
use receiver::Receiver;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

/// Runs a command that must fail; returns its error output.
async fn kassa_fails(db: &TestDb, args: &[&str]) -> String {
    let run = db.kassa(args).await;
    assert!(!run.success, "kassa {args:?} succeeded:\n{}", run.stdout);
    assert!(
        !run.stderr.trim().is_empty(),
        "kassa {args:?} failed without a message"
    );
    run.stderr
}

fn service<'a>(list: &'a Value, code: &str) -> &'a Value {
    list.as_array()
        .expect("a list of services")
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {list}"))
}

#[tokio::test]
async fn merchant_create_shows_the_credentials_once_and_stores_no_secret_in_clear() {
    let db = fresh_db();
    let issued = db
        .json_ok(&["merchant", "create", "--name", "Corner Shop", "--json"])
        .await;
    assert!(issued.is_object(), "{issued}");
    assert!(
        issued["merchant_id"]
            .as_str()
            .is_some_and(|m| m.starts_with("mer")),
        "{issued}"
    );
    assert!(
        issued["site_id"].as_i64().is_some_and(|s| s > 0),
        "{issued}"
    );
    assert!(
        issued["site_login"]
            .as_str()
            .is_some_and(|l| l.starts_with("corner_shop")),
        "{issued}"
    );
    let mut seen = Vec::new();
    for mode in ["test", "live"] {
        let c = &issued[mode];
        let text = |field: &str| {
            c[field]
                .as_str()
                .unwrap_or_else(|| panic!("{mode}.{field} in {issued}"))
                .to_string()
        };
        assert!(
            text("public_key").starts_with(&format!("pk_{mode}_")),
            "{issued}"
        );
        assert!(!text("private_key_id").is_empty());
        assert!(
            text("private_key_secret").len() >= 32,
            "a long secret: {issued}"
        );
        let callback_secret = text("callback_secret");
        let key = STANDARD
            .decode(
                callback_secret
                    .strip_prefix("whsec_")
                    .expect("a whsec_ secret"),
            )
            .expect("base64 after whsec_");
        assert_eq!(key.len(), 32);
        seen.extend(
            [
                "public_key",
                "private_key_id",
                "private_key_secret",
                "callback_secret",
            ]
            .map(text),
        );
    }
    // H2H: the live secret and the test one (a body signed with it runs in
    // test mode).
    let h2h: Vec<String> = ["h2h_secret", "h2h_test_secret"]
        .iter()
        .map(|f| {
            issued[f]
                .as_str()
                .unwrap_or_else(|| panic!("{f} in {issued}"))
        })
        .map(str::to_string)
        .collect();
    assert!(
        h2h[1].starts_with("h2h_test_") && h2h[1].len() > 40,
        "{issued}"
    );
    seen.extend(h2h.iter().cloned());
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "every credential differs");
    let stored = db.contents();
    for secret in &h2h {
        assert!(
            !contains(&stored, secret),
            "an H2H secret is stored in clear"
        );
    }
    match db.sqlite_path() {
        Some(file) => assert!(
            file.with_file_name("master.key").exists(),
            "the master key is kept beside the database"
        ),
        // On PostgreSQL the key is KASSA_MASTER_KEY: no key file is made.
        None => assert!(!db.dir.path().join("master.key").exists()),
    }

    let bytes = db.contents();
    for mode in ["test", "live"] {
        let c = &issued[mode];
        let public_key = c["public_key"].as_str().unwrap();
        assert!(
            contains(&bytes, public_key),
            "the search sees the stored rows"
        );
        for field in ["private_key_secret", "callback_secret"] {
            let secret = c[field].as_str().unwrap();
            assert!(
                !contains(&bytes, secret),
                "{mode} {field} is stored in clear"
            );
        }
        let callback_key = c["callback_secret"]
            .as_str()
            .unwrap()
            .trim_start_matches("whsec_");
        assert!(
            !contains(&bytes, callback_key),
            "{mode} callback key is stored in clear"
        );
    }

    // Listed without secrets.
    let run = db.kassa(&["merchant", "list", "--json"]).await;
    assert!(run.success, "{}", run.stderr);
    let list: Value = serde_json::from_str(&run.stdout).unwrap();
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["merchant_id"], issued["merchant_id"]);
    assert_eq!(list[0]["name"], "Corner Shop");
    assert_eq!(list[0]["site_id"], issued["site_id"]);
    assert_eq!(list[0]["site_login"], issued["site_login"]);
    assert_eq!(list[0]["test_public_key"], issued["test"]["public_key"]);
    assert_eq!(list[0]["live_public_key"], issued["live"]["public_key"]);
    for mode in ["test", "live"] {
        for field in ["private_key_secret", "callback_secret"] {
            assert!(
                !run.stdout.contains(issued[mode][field].as_str().unwrap()),
                "merchant list shows {mode} {field}"
            );
        }
    }
    let second = db
        .json_ok(&["merchant", "create", "--name", "Second Shop", "--json"])
        .await;
    assert_ne!(second["site_id"], issued["site_id"]);
    let list = db.json_ok(&["merchant", "list", "--json"]).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn merchant_create_refuses_bad_input_and_creates_nothing() {
    let db = fresh_db();
    let stderr = kassa_fails(
        &db,
        &["merchant", "create", "--name", "X", "--currency", "XYZ"],
    )
    .await;
    assert!(stderr.contains("XYZ"), "{stderr}");
    // The operator's default configuration allows no private callback URL.
    let stderr = kassa_fails(
        &db,
        &[
            "merchant",
            "create",
            "--name",
            "X",
            "--callback-url",
            "http://127.0.0.1/cb",
        ],
    )
    .await;
    assert!(stderr.contains("callback_url"), "{stderr}");
    let stderr = kassa_fails(&db, &["merchant", "create", "--name", "  "]).await;
    assert!(stderr.contains("name"), "{stderr}");
    let stderr = kassa_fails(&db, &["merchant", "create"]).await;
    assert!(stderr.contains("--name"), "{stderr}");
    let list = db.json_ok(&["merchant", "list", "--json"]).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn merchant_set_changes_the_urls_the_public_api_may_use() {
    let db = fresh_db();
    let issued = db
        .json_ok(&["merchant", "create", "--name", "Corner Shop", "--json"])
        .await;
    let id = issued["merchant_id"].as_str().unwrap();
    let set = [
        "merchant",
        "set",
        id,
        "--return-url",
        "https://shop.example/thanks",
        "--url-hosts",
        "Shop.Example, pay.shop.example",
    ];
    db.kassa_ok(&set).await;
    let list = db.json_ok(&["merchant", "list", "--json"]).await;
    assert_eq!(list[0]["return_url"], "https://shop.example/thanks");
    assert_eq!(
        list[0]["url_hosts"],
        json!(["pay.shop.example", "shop.example"])
    );
    // A host with a scheme, a port or a path is refused, and nothing changes.
    for bad in [
        "https://shop.example",
        "shop.example:8443",
        "shop.example/x",
    ] {
        let stderr = kassa_fails(&db, &["merchant", "set", id, "--url-hosts", bad]).await;
        assert!(stderr.contains("url_hosts"), "{stderr}");
    }
    let stderr = kassa_fails(&db, &["merchant", "set", id, "--return-url", "ftp://x"]).await;
    assert!(stderr.contains("return_url"), "{stderr}");
    assert_eq!(db.json_ok(&["merchant", "list", "--json"]).await, list);
    // "" clears.
    db.kassa_ok(&["merchant", "set", id, "--url-hosts", "", "--return-url", ""])
        .await;
    let list = db.json_ok(&["merchant", "list", "--json"]).await;
    assert_eq!(list[0]["url_hosts"], json!([]));
    assert_eq!(list[0]["return_url"], Value::Null);
}

#[tokio::test]
async fn the_credentials_printed_work_against_a_server_on_the_same_database() {
    let db = fresh_db();
    let issued = db
        .json_ok(&["merchant", "create", "--name", "Corner Shop", "--json"])
        .await;
    let server = kassa::Server::start(
        &db.config(),
        Some(Arc::new(ManualClock::starting_now())),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let receiver = Receiver::start(&[], 200);
    let mut attributes = test_invoice("process_pending");
    attributes["callback_url"] = json!(receiver.url());
    let test = &issued["test"];
    let response = reqwest::Client::new()
        .post(format!("{}/api/payment-invoices", server.base_url))
        .basic_auth(
            test["private_key_id"].as_str().unwrap(),
            test["private_key_secret"].as_str(),
        )
        .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let received = receiver.wait_for(1).await;
    let secret = test["callback_secret"].as_str().unwrap();
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(&received[0].body);
    h.update(secret.as_bytes());
    assert_eq!(
        received[0].header("x-signature"),
        STANDARD.encode(h.finalize()),
        "signed with the printed secret"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn service_list_and_set() {
    let db = fresh_db();
    let list = db.json_ok(&["service", "list", "--json"]).await;
    let before = service(&list, "test_usd_test").clone();
    assert_eq!(before["currency"], "USD");
    assert!(before["fee"]["rate_ppm"].is_i64(), "{before}");
    let plain = db.kassa_ok(&["service", "list"]).await;
    assert!(
        plain.lines().any(|l| l.starts_with("test_usd_test\t")),
        "{plain}"
    );

    let stdout = db
        .kassa_ok(&[
            "service",
            "set",
            "test_usd_test",
            "--fee-rate",
            "2.5",
            "--fee-fix",
            "0.30",
        ])
        .await;
    assert!(stdout.contains("test_usd_test"), "{stdout}");
    let list = db.json_ok(&["service", "list", "--json"]).await;
    let after = service(&list, "test_usd_test");
    assert_eq!(after["fee"]["rate_ppm"], 25_000);
    assert_eq!(after["fee"]["fix_minor"], 30);
    assert_eq!(
        after["amount_min_minor"], before["amount_min_minor"],
        "the rest is kept"
    );
    let plain = db.kassa_ok(&["service", "list"]).await;
    let line = plain
        .lines()
        .find(|l| l.starts_with("test_usd_test\t"))
        .unwrap();
    assert!(line.contains("fee 2.5%+0.30"), "{line}");

    // Bad input: a message, a failure, and no change.
    let stderr = kassa_fails(
        &db,
        &["service", "set", "no_such_service", "--fee-rate", "1"],
    )
    .await;
    assert!(stderr.contains("no_such_service"), "{stderr}");
    for (flag, value, named) in [
        ("--fee-rate", "abc", "fee_rate"),
        ("--fee-rate", "100.5", "fee_rate"),
        ("--fee-rate", "-1", "fee_rate"),
        ("--fee-rate", "1.00001", "fee_rate"),
        ("--amount-min", "-5", "amount_min"),
        ("--amount-min", "1.001", "amount_min"),
        ("--fee-fix", "ten", "fee_fix"),
        ("--reserve-rate", "200", "reserve_rate"),
        ("--reserve-lifetime-secs", "-1", "reserve_lifetime_secs"),
    ] {
        let arg = format!("{flag}={value}");
        let stderr = kassa_fails(&db, &["service", "set", "test_usd_test", &arg]).await;
        assert!(stderr.contains(named), "{arg}: {stderr}");
    }
    let stderr = kassa_fails(
        &db,
        &["service", "set", "test_usd_test", "--enabled", "maybe"],
    )
    .await;
    assert!(stderr.contains("maybe"), "{stderr}");
    let list = db.json_ok(&["service", "list", "--json"]).await;
    assert_eq!(
        service(&list, "test_usd_test"),
        after,
        "failed commands changed nothing"
    );
}

#[tokio::test]
async fn callback_resend_and_list_through_the_cli() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(&[], 200);
    let mut attributes = test_invoice("processed");
    attributes["callback_url"] = json!(receiver.url());
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    receiver.wait_for(2).await;
    app.wait_for_invoice(&id, "two callbacks logged", |a| {
        a["callback_logs"].as_object().is_some_and(|l| l.len() == 2)
    })
    .await;

    // The command owes the callback; the running server delivers it.
    let db = TestDb::of(&app);
    let stdout = db.kassa_ok(&["callback", "resend", &id]).await;
    let callback_id = stdout
        .split_whitespace()
        .find(|w| w.starts_with("cb"))
        .unwrap_or_else(|| panic!("no callback id in {stdout}"))
        .to_string();
    assert!(stdout.contains(&receiver.url()), "{stdout}");
    assert!(stdout.contains("processed"), "{stdout}");
    // Owed at the command's (real) time; the server's clock must reach it.
    app.advance_secs(60);
    let received = receiver.wait_for(3).await;
    assert_eq!(received[2].header("webhook-id"), callback_id);
    assert_eq!(received[2].status(), "processed");
    let secret = &app.merchant.test.callback_secret;
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(&received[2].body);
    h.update(secret.as_bytes());
    assert_eq!(
        received[2].header("x-signature"),
        STANDARD.encode(h.finalize())
    );
    let attributes = app
        .wait_for_invoice(&id, "the resent callback logged", |a| {
            a["callback_logs"].as_object().is_some_and(|l| l.len() == 3)
        })
        .await;
    let last = attributes["callback_logs"]
        .as_object()
        .unwrap()
        .values()
        .next_back()
        .unwrap()
        .clone();
    assert_eq!(last["status"], "done");
    assert_eq!(last["transaction_status"], "processed");

    let stdout = db.kassa_ok(&["callback", "list", &id]).await;
    let callback_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("cb")).collect();
    assert_eq!(callback_lines.len(), 3, "{stdout}");
    let resent = callback_lines
        .iter()
        .find(|l| l.starts_with(&callback_id))
        .expect("the resent callback is listed");
    assert!(
        resent.contains("done") && resent.contains("processed"),
        "{resent}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("at "))
            .count(),
        3,
        "{stdout}"
    );

    // Bad input.
    for command in ["resend", "list"] {
        let stderr = kassa_fails(&db, &["callback", command, "cpi_nosuchinvoice00"]).await;
        assert!(
            stderr.contains("cpi_nosuchinvoice00") && stderr.contains("not found"),
            "{stderr}"
        );
    }
    let stderr = kassa_fails(&db, &["callback", "resend"]).await;
    assert!(stderr.to_lowercase().contains("invoice"), "{stderr}");
    let (code, body) = app.create_private(test_invoice("process_pending")).await;
    assert_eq!(code, 201, "{body}");
    let silent = body["data"]["id"].as_str().unwrap();
    let stderr = kassa_fails(&db, &["callback", "resend", silent]).await;
    assert!(stderr.contains("callback_url"), "{stderr}");
    receiver.stays_at(3).await;
}

#[tokio::test]
async fn merchant_user_add_prints_a_password_once_that_signs_in_to_the_portal() {
    let db = fresh_db();
    let issued = db
        .json_ok(&["merchant", "create", "--name", "Corner Shop", "--json"])
        .await;
    let merchant = issued["merchant_id"].as_str().unwrap();
    let out = db
        .kassa_ok(&[
            "merchant",
            "user",
            "add",
            "--merchant",
            merchant,
            "--email",
            "Owner@Shop.example",
            "--totp",
        ])
        .await;
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {out}"))
            .to_string()
    };
    let password = line("password: ");
    let otpauth = line("totp: ");
    assert!(password.len() >= 20, "{out}");
    assert!(otpauth.starts_with("otpauth://totp/"), "{out}");
    assert!(!db.contains(&password), "the password is stored hashed");
    let secret = otpauth
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!db.contains(secret), "the TOTP secret is stored sealed");
    let listed = db
        .kassa_ok(&["merchant", "user", "list", "--merchant", merchant])
        .await;
    assert!(listed.contains("owner@shop.example\ttotp"), "{listed}");

    // The same email twice, an unknown merchant, a bad email: refused.
    for args in [
        ["--merchant", merchant, "--email", "owner@shop.example"],
        ["--merchant", "mer_nobody", "--email", "a@shop.example"],
        ["--merchant", merchant, "--email", "not-an-email"],
    ] {
        let mut all = vec!["merchant", "user", "add"];
        all.extend(args);
        kassa_fails(&db, &all).await;
    }

    let engine = kassa::Server::start(
        &db.config(),
        Some(Arc::new(ManualClock::starting_now())),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap()
    .engine
    .clone();
    let totp = totp_rs::TOTP::from_url(&otpauth).unwrap();
    let code = totp.generate(engine.now_secs() as u64);
    let outcome = engine
        .sign_in(
            kassa_domain::WebRealm::Merchant,
            "owner@shop.example",
            password,
            Some(code),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, kassa_engine::web::SignIn::SignedIn { .. }),
        "{outcome:?}"
    );
}
