//! The console's money pages: in a real headless Chromium an operator
//! changes a service's fee and adjusts a merchant's balance (the books
//! balance after), and over plain HTTP with the session cookie a support
//! user changes nothing on any of them, a new merchant's credentials are
//! shown once, bad input is a 422 that changes nothing, and each change is
//! in the audit log.

mod browser;
mod common;
mod console_support;
mod portal_support;

use browser::{text_of, with_browser};
use common::TestApp;
use console_support::money::{available_usd, each_form, post, service_fee, state, usd, SERVICE};
use console_support::{
    add_operator, assert_books_balance, screenshot, Visitor, ADMIN, PASSWORD, SUPPORT,
};
use fantoccini::{Client, Locator};
use kassa_domain::{Currency, OperatorRole};
use kassa_engine::EngineError;
use portal_support::wait_for_css;

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Replaces what a field holds with `text`.
async fn fill(c: &Client, css: &str, text: &str) {
    let field = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits for `css` to read `want`: after a form whose answer is the page
/// it came from, the old page may still be shown for a moment.
async fn until_text(c: &Client, css: &str, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let seen = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if seen == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css}: {seen:?}, not {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn choose(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_changes_a_fee_and_adjusts_a_balance_in_the_browser() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let base = app.base_url.clone();
    let merchant = app.merchant.merchant_id.clone();
    let m = merchant.clone();
    with_browser("console_money", |c| async move {
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&format!("{base}/console/sign-in?lang=en"))
            .await
            .unwrap();
        wait_for_css(&c, "#email").await;
        fill(&c, "#email", ADMIN).await;
        fill(&c, "#password", PASSWORD).await;
        click(&c, "#submit").await;
        wait_for_css(&c, "#who").await;

        // The catalog, then one service's fee: 2.5% + 0.30.
        c.goto(&format!("{base}/console/services")).await.unwrap();
        let row = format!("#service-{SERVICE}");
        wait_for_css(&c, &row).await;
        assert_eq!(text_of(&c, &format!("{row} .fee")).await, "0% + 0.00 USD");
        screenshot(&c, "services").await;
        click(&c, &format!("{row} a")).await;
        wait_for_css(&c, "#fee_rate").await;
        fill(&c, "#fee_rate", "2.5").await;
        fill(&c, "#fee_fix", "0.30").await;
        fill(&c, "#fee_min", "0.50").await;
        screenshot(&c, "service").await;
        click(&c, "#save").await;
        wait_for_css(&c, "#done").await;
        assert_eq!(
            text_of(&c, "#service-fee").await,
            "2.5% + 0.30 USD, min 0.50"
        );

        // Rates and payout fees.
        c.goto(&format!("{base}/console/rates")).await.unwrap();
        wait_for_css(&c, "#rate").await;
        choose(&c, "#rate-currency", "RUB").await;
        fill(&c, "#rate", "0.0105").await;
        click(&c, "#save-rate").await;
        wait_for_css(&c, "#done").await;
        assert_eq!(text_of(&c, "#rate-RUB .rate").await, "0.0105");
        choose(&c, "#fee-currency", "USD").await;
        fill(&c, "#fee_rate", "1").await;
        fill(&c, "#fee_fix", "0.25").await;
        click(&c, "#save-payout-fee").await;
        until_text(&c, "#payout-fee-USD .fix", "0.25").await;
        screenshot(&c, "rates").await;

        // A credit of 150.00, then a debit of 40.25, each with its reason.
        c.goto(&format!("{base}/console/adjustments?merchant={m}"))
            .await
            .unwrap();
        wait_for_css(&c, "#amount").await;
        choose(&c, "#currency", "USD").await;
        fill(&c, "#amount", "150.00").await;
        fill(&c, "#reason", "wire top-up 2026-12-01").await;
        click(&c, "#adjust").await;
        wait_for_css(&c, "#done").await;
        assert_eq!(
            text_of(&c, "#balance-live-USD .available").await,
            "150.00 USD"
        );
        choose(&c, "#direction", "debit").await;
        fill(&c, "#amount", "40.25").await;
        fill(&c, "#reason", "bank charge").await;
        click(&c, "#adjust").await;
        until_text(&c, "#balance-live-USD .available", "109.75 USD").await;
        // More than is left: refused, saying why.
        choose(&c, "#direction", "debit").await;
        fill(&c, "#amount", "200.00").await;
        fill(&c, "#reason", "too much").await;
        click(&c, "#adjust").await;
        wait_for_css(&c, "#problem").await;
        assert!(text_of(&c, "#problem").await.contains("cannot cover"));
        c.goto(&format!("{base}/console/adjustments?merchant={m}"))
            .await
            .unwrap();
        wait_for_css(&c, "#adjustments").await;
        assert!(text_of(&c, "#adjustments").await.contains("bank charge"));
        screenshot(&c, "adjustments").await;

        // A new merchant: its credentials on the answer page.
        c.goto(&format!("{base}/console/merchants")).await.unwrap();
        wait_for_css(&c, "#new-name").await;
        fill(&c, "#new-name", "Corner Shop").await;
        choose(&c, "#new-currency", "EUR").await;
        fill(&c, "#new-callback-url", "https://corner.example/kassa").await;
        click(&c, "#create-merchant").await;
        wait_for_css(&c, "#once").await;
        assert!(text_of(&c, "#h2h-secret").await.starts_with("h2h_"));
        screenshot(&c, "merchant-new").await;

        c.goto(&format!("{base}/console/audit")).await.unwrap();
        wait_for_css(&c, "#audit").await;
        screenshot(&c, "audit-money").await;
    })
    .await;
    if !browser::browser_available("console_money") {
        return;
    }
    let fee = service_fee(&app).await;
    assert_eq!(
        (fee.rate_ppm, fee.fix_minor, fee.min_minor),
        (25_000, 30, 50)
    );
    assert_eq!(available_usd(&app, &merchant).await, 10_975);
    let rub = Currency::from_code("RUB").unwrap();
    assert_eq!(
        app.engine().rate(rub).await.unwrap().as_deref(),
        Some("0.0105")
    );
    let created = app.engine().merchants().await.unwrap();
    let corner = created.iter().find(|m| m.name == "Corner Shop").unwrap();
    assert_eq!(corner.account_currency.code(), "EUR");
    let actions: Vec<String> = app
        .engine()
        .audit_log()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "merchant.create",
            "balance.adjust",
            "balance.adjust",
            "payout_fee.set",
            "rate.set",
            "service.set"
        ],
        "newest first, the refused debit not among them"
    );
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_support_user_changes_nothing_on_the_money_pages() {
    let app = TestApp::spawn().await;
    let support = add_operator(&app, SUPPORT, OperatorRole::Support).await;
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in(SUPPORT).await;
    for page in [
        "/console/services".to_string(),
        format!("/console/services/{SERVICE}"),
        "/console/rates".into(),
        "/console/adjustments".into(),
        format!("/console/adjustments?merchant={merchant}"),
    ] {
        let (status, html) = v.get(&page).await;
        assert_eq!(status, 200, "{page}: {html}");
        assert!(html.contains("support"), "{page} names the role");
    }
    let before = state(&app).await;
    let csrf = v.csrf().await;
    for (path, form) in each_form(&merchant) {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, x)| (*k, x.as_str())).collect();
        let (status, html) = post(&v, &csrf, &path, &form).await;
        assert_eq!(status, 403, "{path}: {html}");
        assert!(html.contains("may only read"), "{html}");
        assert!(!html.contains("sk_live_"), "no credentials made");
    }
    assert_eq!(state(&app).await, before, "nothing changed");
    // The engine refuses the role inside the write, whatever face asks.
    let refused = app
        .engine()
        .console_adjust_balance(&support, merchant, false, usd(), 1_000, "x".into())
        .await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );
    let refused = app
        .engine()
        .console_set_rate(&support, usd(), "1".into())
        .await;
    assert!(matches!(refused, Err(EngineError::Forbidden(_))));
    assert_eq!(state(&app).await, before, "nothing changed");
}

#[tokio::test]
async fn a_new_merchant_s_credentials_are_shown_once() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let mut v = Visitor::new(&app);
    v.sign_in(ADMIN).await;
    let csrf = v.csrf().await;
    let (status, html) = post(
        &v,
        &csrf,
        "/console/merchants",
        &[
            ("name", "Corner Shop"),
            ("currency", "EUR"),
            ("callback_url", "https://corner.example/kassa"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let merchants = app.engine().merchants().await.unwrap();
    let m = merchants.iter().find(|m| m.name == "Corner Shop").unwrap();
    assert_eq!(m.account_currency.code(), "EUR");
    assert_eq!(
        m.callback_url.as_deref(),
        Some("https://corner.example/kassa")
    );
    // The answer holds every secret; the store holds none of them in clear.
    let secret = |prefix: &str| {
        let at = html
            .find(prefix)
            .unwrap_or_else(|| panic!("{prefix}: {html}"));
        html[at..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap()
            .to_string()
    };
    let sk_live = secret("sk_live_");
    let ms_test = secret("ms_test_");
    let h2h = secret("h2h_");
    assert!(html.contains(&m.live.public_key) && html.contains(&m.test.private_key_id));
    assert_ne!(m.live.private_secret_sha256, sk_live);
    assert_eq!(
        m.live.private_secret_sha256,
        kassa_engine::secrets::sha256_hex(&sk_live),
        "the shown secret is the one kept (hashed)"
    );
    // Never shown again: not on the merchant's page, the list or the audit log.
    for page in [
        format!("/console/merchants/{}", m.id),
        "/console/merchants".into(),
        "/console/audit".into(),
    ] {
        let (status, page_html) = v.get(&page).await;
        assert_eq!(status, 200, "{page}");
        for s in [&sk_live, &ms_test, &h2h] {
            assert!(!page_html.contains(s.as_str()), "{page} shows a secret");
        }
    }
    let audit = app.engine().audit_log().await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "merchant.create");
    assert_eq!(audit[0].target, m.id);
    assert_eq!(audit[0].detail, "Corner Shop (EUR)");
}

#[tokio::test]
async fn bad_input_on_the_money_pages_is_a_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in(ADMIN).await;
    let csrf = v.csrf().await;
    let service = format!("/console/services/{SERVICE}");
    let adjust = |currency: &'static str,
                  direction: &'static str,
                  amount: &'static str,
                  reason: &'static str| {
        vec![
            ("merchant", merchant.clone()),
            ("currency", currency.to_string()),
            ("mode", "live".to_string()),
            ("direction", direction.to_string()),
            ("amount", amount.to_string()),
            ("reason", reason.to_string()),
        ]
    };
    // A credit first, so that a debit beyond it is refused for its size.
    let (status, html) = post(
        &v,
        &csrf,
        "/console/adjustments",
        &adjust("USD", "credit", "25.00", "top-up")
            .iter()
            .map(|(k, x)| (*k, x.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let before = state(&app).await;
    let owned = |pairs: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, x)| (*k, x.to_string())).collect()
    };
    let cases: Vec<(&str, console_support::money::Form, &str)> = vec![
        (
            &service,
            owned(&[("fee_fix", "0.305")]),
            "more than 2 decimal places for USD",
        ),
        (&service, owned(&[("fee_fix", "-1.00")]), "not negative"),
        (&service, owned(&[("fee_rate", "101")]), "fee_rate"),
        (&service, owned(&[("amount_min", "abc")]), "amount_min"),
        (
            &service,
            owned(&[("amount_min", "500"), ("amount_max", "10")]),
            "min &lt;= max",
        ),
        (
            &service,
            owned(&[("reserve_lifetime_secs", "soon")]),
            "whole number",
        ),
        (
            "/console/rates",
            owned(&[("currency", "XYZ"), ("rate", "1")]),
            "unknown currency",
        ),
        (
            "/console/rates",
            owned(&[("currency", "RUB"), ("rate", "-1")]),
            "positive decimal",
        ),
        (
            "/console/rates",
            owned(&[("currency", "RUB"), ("rate", "0.123456789")]),
            "8 places",
        ),
        (
            "/console/payout-fees",
            owned(&[("currency", "USD"), ("min", "-0.50")]),
            "no part is negative",
        ),
        (
            "/console/payout-fees",
            owned(&[("currency", "USD"), ("fix", "0.001")]),
            "decimal places",
        ),
        (
            "/console/payout-fees",
            owned(&[("currency", "JPY"), ("fix", "1")]),
            "payouts are made in",
        ),
        (
            "/console/payout-fees",
            owned(&[("currency", "USD"), ("min", "5"), ("max", "1")]),
            "not be more than max",
        ),
        (
            "/console/adjustments",
            adjust("USD", "credit", "10.001", "x"),
            "more than 2 decimal places",
        ),
        (
            "/console/adjustments",
            adjust("XYZ", "credit", "10", "x"),
            "unknown currency",
        ),
        (
            "/console/adjustments",
            adjust("USD", "credit", "10", "  "),
            "reason",
        ),
        (
            "/console/adjustments",
            adjust("USD", "credit", "0", "x"),
            "more than 0",
        ),
        (
            "/console/adjustments",
            adjust("USD", "debit", "25.01", "too much"),
            "cannot cover",
        ),
        (
            "/console/merchants",
            owned(&[("name", "Shop"), ("currency", "XYZ")]),
            "unknown currency",
        ),
        (
            "/console/merchants",
            owned(&[("name", " "), ("currency", "USD")]),
            "name",
        ),
        (
            "/console/merchants",
            owned(&[
                ("name", "Shop"),
                ("currency", "USD"),
                ("callback_url", "not a url"),
            ]),
            "callback_url",
        ),
    ];
    for (path, form, says) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, x)| (*k, x.as_str())).collect();
        let (status, html) = post(&v, &csrf, path, &form).await;
        assert_eq!(status, 422, "{path} {form:?}: {html}");
        assert!(html.contains(says), "{path} {form:?} says {says:?}: {html}");
        assert!(html.contains("id=\"problem\""), "{html}");
    }
    assert_eq!(state(&app).await, before, "nothing changed, no audit entry");
    assert_eq!(available_usd(&app, &merchant).await, 2_500);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn each_money_change_is_in_the_audit_log() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in(ADMIN).await;
    let csrf = v.csrf().await;
    for (path, form) in each_form(&merchant) {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, x)| (*k, x.as_str())).collect();
        let (status, html) = post(&v, &csrf, &path, &form).await;
        let want = if path == "/console/merchants" {
            200
        } else {
            303
        };
        assert_eq!(status, want, "{path}: {html}");
    }
    let (status, html) = post(
        &v,
        &csrf,
        "/console/adjustments",
        &[
            ("merchant", merchant.as_str()),
            ("currency", "USD"),
            ("mode", "test"),
            ("direction", "credit"),
            ("amount", "3.50"),
            ("reason", "test books top-up"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    assert_eq!(service_fee(&app).await.rate_ppm, 30_000);
    assert_eq!(available_usd(&app, &merchant).await, 1_000);
    let test_books = app.engine().balances(merchant.clone(), true).await.unwrap();
    assert_eq!(test_books[0].available_minor, 350, "test and live apart");
    let fees = app.engine().payout_fees().await.unwrap();
    let usd_fee = fees.iter().find(|(c, _)| *c == usd()).unwrap().1;
    assert_eq!(usd_fee.fix_minor, 100);

    let entries = app.engine().audit_log().await.unwrap();
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.detail.as_str()))
        .collect();
    let created = &entries.last().unwrap().target;
    assert_eq!(
        seen,
        [
            (
                "balance.adjust",
                merchant.as_str(),
                "credit 3.50 USD test: test books top-up"
            ),
            (
                "balance.adjust",
                merchant.as_str(),
                "credit 10.00 USD live: top-up"
            ),
            ("payout_fee.set", "USD", "0% + 1.00, min 0.00, max none"),
            ("rate.set", "RUB", "0.01"),
            ("service.set", SERVICE, "fee_rate 0% → 3%"),
            ("merchant.create", created.as_str(), "Shop (USD)"),
        ]
    );
    assert!(entries.iter().all(|e| e.email == ADMIN));
    // The audit page shows the reason.
    let (_, page) = v.get("/console/audit").await;
    assert!(page.contains("test books top-up"), "{page}");
    assert_books_balance(&app).await;
}
