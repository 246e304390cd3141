//! `kassa operator user`: the people who sign in to the operator console,
//! added with a role, listed, and given a second factor.

mod cli_support;
mod common;

use std::sync::Arc;

use cli_support::fresh_db;
use kassa_domain::{OperatorRole, WebRealm};
use kassa_engine::web::SignIn;
use kassa_engine::ManualClock;

#[tokio::test]
async fn operator_user_add_makes_console_users_with_a_role() {
    let db = fresh_db();
    let out = db
        .kassa_ok(&["operator", "user", "add", "--email", "Ops@Kassa.example"])
        .await;
    assert!(out.contains("console user ops@kassa.example"), "{out}");
    assert!(
        out.contains("role admin"),
        "admin unless told otherwise: {out}"
    );
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password in {out}"))
        .to_string();
    assert!(!db.contains(&password), "the password is stored hashed");
    let out = db
        .kassa_ok(&[
            "operator",
            "user",
            "add",
            "--email",
            "help@kassa.example",
            "--role",
            "support",
            "--totp",
        ])
        .await;
    assert!(
        out.contains("role support") && out.contains("totp: otpauth://"),
        "{out}"
    );
    let out = db
        .kassa_ok(&["operator", "user", "totp", "--email", "ops@kassa.example"])
        .await;
    assert!(out.starts_with("totp: otpauth://totp/"), "{out}");
    let listed = db.kassa_ok(&["operator", "user", "list"]).await;
    assert!(
        listed.contains("help@kassa.example\tsupport\ttotp"),
        "{listed}"
    );
    assert!(
        listed.contains("ops@kassa.example\tadmin\ttotp"),
        "{listed}"
    );
    // An unknown role, a taken email: refused.
    assert!(
        !db.kassa(&[
            "operator",
            "user",
            "add",
            "--email",
            "x@kassa.example",
            "--role",
            "root"
        ])
        .await
        .success
    );
    assert!(
        !db.kassa(&["operator", "user", "add", "--email", "ops@kassa.example"])
            .await
            .success
    );

    let engine = kassa::Server::start(
        &db.config(),
        Some(Arc::new(ManualClock::starting_now())),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap()
    .engine
    .clone();
    let user = engine
        .web_user_by_email(WebRealm::Operator, "help@kassa.example")
        .await
        .unwrap()
        .expect("a console user");
    assert_eq!(user.operator_role(), Some(OperatorRole::Support));
    // A console user is no portal user.
    let portal = engine
        .sign_in(
            WebRealm::Merchant,
            "ops@kassa.example",
            password.clone(),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(portal, SignIn::Refused), "{portal:?}");
}
