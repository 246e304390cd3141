//! `kassa merchant key` (rolling a private key over) and `kassa service set
//! --verification-amount`, run as processes against a real database (a
//! SQLite file, or PostgreSQL with `KASSA_TEST_BACKEND=postgres`).

mod cli_support;
mod common;

use cli_support::fresh_db;
use serde_json::Value;

fn field<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {stdout}"))
}

#[tokio::test]
async fn a_key_is_made_listed_and_revoked_and_its_secret_never_stored() {
    let db = fresh_db();
    let issued = db
        .json_ok(&["merchant", "create", "--name", "Key Shop", "--json"])
        .await;
    let merchant = issued["merchant_id"].as_str().unwrap();
    let first = issued["test"]["private_key_id"].as_str().unwrap();
    let args = |verb: &'static str| {
        vec![
            "merchant",
            "key",
            verb,
            "--merchant",
            merchant,
            "--mode",
            "test",
        ]
    };

    let made = db.kassa_ok(&args("create")).await;
    let id = field(&made, "private key id").to_string();
    let secret = field(&made, "private key secret").to_string();
    assert!(
        id.starts_with("key_test_") && secret.starts_with("sk_test_"),
        "{made}"
    );
    assert!(!db.contains(&secret), "the secret is kept as its hash only");

    let listed: Value = db.json_ok(&args("list")).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["private_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first, id.as_str()]);
    assert!(!listed.to_string().contains(&secret));

    let mut revoke = args("revoke");
    revoke.push(first);
    db.kassa_ok(&revoke).await;
    // The mode's last key stays.
    let mut last = args("revoke");
    last.push(&id);
    let run = db.kassa(&last).await;
    assert!(
        !run.success && run.stderr.contains("last private key"),
        "{}",
        run.stderr
    );
    let listed: Value = db.json_ok(&args("list")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["private_key_id"], id.as_str());
    // The live mode was never touched.
    let live: Value = db
        .json_ok(&[
            "merchant",
            "key",
            "list",
            "--merchant",
            merchant,
            "--mode",
            "live",
        ])
        .await;
    assert_eq!(live[0]["private_key_id"], issued["live"]["private_key_id"]);
}

#[tokio::test]
async fn a_service_s_verification_amount_is_set_and_cleared() {
    let db = fresh_db();
    let amount = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == "payment_card_usd_hpp")
            .unwrap()["verification_amount_minor"]
            .clone()
    };
    db.kassa_ok(&[
        "service",
        "set",
        "payment_card_usd_hpp",
        "--verification-amount",
        "1.00",
    ])
    .await;
    let list = db.json_ok(&["service", "list", "--json"]).await;
    assert_eq!(amount(&list), 100);
    let run = db
        .kassa(&[
            "service",
            "set",
            "payment_card_usd_hpp",
            "--verification-amount",
            "1000000.01",
        ])
        .await;
    assert!(!run.success, "above the service's maximum");
    db.kassa_ok(&[
        "service",
        "set",
        "payment_card_usd_hpp",
        "--verification-amount",
        "0",
    ])
    .await;
    let list = db.json_ok(&["service", "list", "--json"]).await;
    assert_eq!(amount(&list), Value::Null);
}
