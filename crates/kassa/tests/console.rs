//! The operator console (`/console/`): in a real headless Chromium (an
//! operator signs in, resolves a dispute, matches an unmatched bank
//! notification to an open deal by hand, and finds both in the audit log),
//! and over plain HTTP with the session cookie (a support user changes
//! nothing, CSRF refusals, the lock after failed sign-ins, every change in
//! the audit log, the engine's refusals of a hand match).

mod browser;
mod common;
mod console_support;
mod portal_support;

use browser::{text_of, with_browser};
use common::TestApp;
use console_support::{
    add_operator, assert_books_balance, deal_status, floor, screenshot, Visitor, ADMIN, PASSWORD,
    SUPPORT,
};
use fantoccini::{Client, Locator};
use kassa_domain::{DealStatus, OperatorRole};
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

async fn type_in(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_resolves_a_dispute_and_matches_a_notification_by_hand() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let f = floor(&app).await;
    let base = app.base_url.clone();
    let (disputed, open, notification) = (
        f.disputed.id.clone(),
        f.open.id.clone(),
        f.notification_id.clone(),
    );
    let trader = f.trader.id.clone();
    let now = app.engine().now_secs();
    let today = now - now.rem_euclid(86_400);
    let turnover: i64 = [&f.disputed, &f.open]
        .iter()
        .filter(|d| d.created_at_secs >= today)
        .map(|d| d.amount_minor)
        .sum();
    let turnover = kassa_domain::money::format_fixed(turnover, 2) + " RUB";
    with_browser("console", |c| async move {
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&format!("{base}/console/?lang=en")).await.unwrap();
        wait_for_css(&c, "#email").await;
        assert!(c
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/sign-in"));
        screenshot(&c, "sign-in").await;
        type_in(&c, "#email", ADMIN).await;
        type_in(&c, "#password", PASSWORD).await;
        click(&c, "#submit").await;

        // The disputes: the one disputed deal, with its buttons.
        wait_for_css(&c, "#deals").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/console/disputes");
        assert_eq!(text_of(&c, "#role").await, "admin");
        let row = format!("#deal-{disputed}");
        assert_eq!(
            c.find_all(Locator::Css("#deals tbody tr"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(text_of(&c, &format!("{row} .amount"))
            .await
            .contains("700.00 RUB"));
        screenshot(&c, "disputes").await;
        click(&c, &format!("{row} button.complete")).await;
        wait_for_css(&c, "#done").await;
        wait_for_css(&c, "#no-deals").await;

        // The unmatched notification: 905.00 came, the open deal is 900.00.
        c.goto(&format!("{base}/console/notifications"))
            .await
            .unwrap();
        let row = format!("#notification-{notification}");
        wait_for_css(&c, &row).await;
        assert!(text_of(&c, &format!("{row} .amount"))
            .await
            .contains("905.00 RUB"));
        assert!(
            !text_of(&c, &row).await.contains(console_support::CARD),
            "card numbers are masked"
        );
        screenshot(&c, "notifications").await;
        // Without the confirmation that the deal's amount arrived: refused.
        click(&c, &format!("{row} button")).await;
        wait_for_css(&c, "#problem").await;
        assert!(text_of(&c, "#problem").await.contains("amounts differ"));
        c.goto(&format!("{base}/console/notifications"))
            .await
            .unwrap();
        wait_for_css(&c, &row).await;
        click(&c, &format!("{row} input[name=confirm_amount]")).await;
        click(&c, &format!("{row} button")).await;
        wait_for_css(&c, "#done").await;
        wait_for_css(&c, "#no-notifications").await;

        // The trader's cabinets: the open deal is gone, today's turnover counts both.
        c.goto(&format!("{base}/console/traders/{trader}"))
            .await
            .unwrap();
        wait_for_css(&c, "#cabinets").await;
        assert_eq!(text_of(&c, "#cabinets td.open").await, "0");
        assert_eq!(text_of(&c, "#cabinets td.turnover").await, turnover);
        screenshot(&c, "trader").await;

        c.goto(&format!("{base}/console/deals?status=completed"))
            .await
            .unwrap();
        wait_for_css(&c, &format!("#deal-{open}")).await;
        assert_eq!(
            c.find_all(Locator::Css("#deals tbody tr"))
                .await
                .unwrap()
                .len(),
            2
        );
        screenshot(&c, "deals").await;

        c.goto(&format!("{base}/console/audit")).await.unwrap();
        wait_for_css(&c, "#audit").await;
        let actions = c.find_all(Locator::Css("#audit td.action")).await.unwrap();
        let mut seen = Vec::new();
        for a in actions {
            seen.push(a.text().await.unwrap());
        }
        assert_eq!(seen, ["notification.match", "deal.resolve"], "newest first");
        assert!(text_of(&c, "#audit td.who").await.contains(ADMIN));
        screenshot(&c, "audit").await;

        c.goto(&format!("{base}/console/merchants")).await.unwrap();
        wait_for_css(&c, "#merchants").await;
        screenshot(&c, "merchants").await;
    })
    .await;
    if !browser::browser_available("console") {
        return;
    }
    assert_eq!(
        deal_status(&app, &f.disputed.id).await,
        DealStatus::Completed
    );
    assert_eq!(deal_status(&app, &f.open.id).await, DealStatus::Completed);
    let n = app
        .engine()
        .notification(f.notification_id.clone())
        .await
        .unwrap();
    assert_eq!(n.deal_id.as_deref(), Some(f.open.id.as_str()));
    let admin = app
        .engine()
        .web_user_by_email(kassa_domain::WebRealm::Operator, ADMIN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.matched_by.as_deref(), Some(admin.id.as_str()));
    let (invoice, _) = app
        .engine()
        .invoice_with_deal(f.open.invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(invoice.status, kassa_domain::InvoiceStatus::Processed);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_support_user_reads_everything_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let support = add_operator(&app, SUPPORT, OperatorRole::Support).await;
    let f = floor(&app).await;
    let cabinet = f.open.cabinet_id.clone();
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in(SUPPORT).await;
    for page in [
        "/console/disputes".to_string(),
        "/console/notifications".into(),
        "/console/deals".into(),
        "/console/deals?status=open".into(),
        format!("/console/deals?trader={}", f.trader.id),
        "/console/traders".into(),
        format!("/console/traders/{}", f.trader.id),
        "/console/merchants".into(),
        format!("/console/merchants/{merchant}"),
        "/console/payouts".into(),
        "/console/audit".into(),
    ] {
        let (status, html) = v.get(&page).await;
        assert_eq!(status, 200, "{page}: {html}");
        assert!(html.contains("support"), "{page} names the role");
    }
    // Every change is refused, with a valid CSRF token too.
    let csrf = v.csrf().await;
    let posts: [(String, Vec<(&str, &str)>); 6] = [
        (
            format!("/console/deals/{}/resolve", f.disputed.id),
            vec![("outcome", "completed")],
        ),
        (format!("/console/deals/{}/confirm", f.open.id), vec![]),
        (
            format!("/console/notifications/{}/match", f.notification_id),
            vec![("deal", f.open.id.as_str()), ("confirm_amount", "yes")],
        ),
        (
            format!("/console/cabinets/{cabinet}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/console/merchants/{merchant}/settings"),
            vec![("public_api", "forbid")],
        ),
        (
            format!("/console/merchants/{merchant}/settings"),
            vec![("callback_url", "https://shop.example/cb")],
        ),
    ];
    for (path, mut form) in posts {
        form.push(("csrf", &csrf));
        let (status, html) = v.post(&path, &form).await;
        assert_eq!(status, 403, "{path}: {html}");
        assert!(html.contains("may only read"), "{html}");
        assert!(
            html.contains("href=\"/console\""),
            "leads back to the console"
        );
    }
    assert_eq!(
        deal_status(&app, &f.disputed.id).await,
        DealStatus::Disputed
    );
    assert_eq!(
        deal_status(&app, &f.open.id).await,
        DealStatus::TransferWaiting
    );
    let n = app
        .engine()
        .notification(f.notification_id.clone())
        .await
        .unwrap();
    assert_eq!(n.deal_id, None);
    let cabinets = app
        .engine()
        .trader_cabinets(f.trader.id.clone())
        .await
        .unwrap();
    assert!(cabinets.iter().all(|c| c.active));
    let m = app.engine().merchant(merchant).await.unwrap();
    assert!(!m.forbid_public_api && m.callback_url.is_none());
    assert!(app.engine().audit_log().await.unwrap().is_empty());
    // The engine refuses the role as well, whatever face asks.
    let refused = app
        .engine()
        .console_resolve_dispute(&support, f.disputed.id.clone(), true)
        .await;
    assert!(
        matches!(refused, Err(EngineError::Forbidden(_))),
        "{refused:?}"
    );
    assert_eq!(
        deal_status(&app, &f.disputed.id).await,
        DealStatus::Disputed
    );
    // Signing out is no change: open to support too.
    let (status, _) = v.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(v.get("/console/disputes").await.0, 303);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let f = floor(&app).await;
    let mut v = Visitor::new(&app);
    v.sign_in(ADMIN).await;
    let path = format!("/console/deals/{}/resolve", f.disputed.id);
    for form in [
        vec![("outcome", "completed")],
        vec![("outcome", "completed"), ("csrf", "")],
        vec![("outcome", "completed"), ("csrf", "forged")],
    ] {
        assert_eq!(v.post(&path, &form).await.0, 403);
    }
    // Another session's token is no good either.
    let mut other = Visitor::new(&app);
    add_operator(&app, "second@kassa.example", OperatorRole::Admin).await;
    other.sign_in("second@kassa.example").await;
    let others = other.csrf().await;
    assert_eq!(
        v.post(&path, &[("outcome", "completed"), ("csrf", &others)])
            .await
            .0,
        403
    );
    assert_eq!(
        deal_status(&app, &f.disputed.id).await,
        DealStatus::Disputed
    );
    assert!(app.engine().audit_log().await.unwrap().is_empty());

    let good = v.csrf().await;
    // A bad outcome is a bad form, not a change.
    assert_eq!(
        v.post(&path, &[("outcome", "maybe"), ("csrf", &good)])
            .await
            .0,
        400
    );
    let (status, _) = v
        .post(&path, &[("outcome", "canceled"), ("csrf", &good)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        deal_status(&app, &f.disputed.id).await,
        DealStatus::Canceled
    );
    // Resolved once: a second resolution is refused as a conflict, on a page.
    let (status, html) = v
        .post(&path, &[("outcome", "completed"), ("csrf", &good)])
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("not disputed"), "{html}");
    assert_books_balance(&app).await;

    // Without a session a post goes to sign in, and nothing is done.
    let anonymous = Visitor::new(&app);
    let (status, _) = anonymous
        .post(
            &format!("/console/cabinets/{}/active", f.open.cabinet_id),
            &[("active", "false")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(app.engine().audit_log().await.unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_passwords_lock_the_console_account_and_a_second_factor_is_asked_for() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let mut v = Visitor::new(&app);
    for _ in 0..4 {
        assert_eq!(
            v.sign_in_with(ADMIN, "not the password")
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let r = v.sign_in_with(ADMIN, "not the password").await;
    assert_eq!(r.status().as_u16(), 429, "the fifth failure locks");
    let r = v.sign_in_with(ADMIN, PASSWORD).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.text().await.unwrap().contains("locked"));
    assert!(v.session.is_none());
    // A merchant portal user of that email is no console user.
    common_merchant_user(&app).await;
    let r = v.sign_in_with("owner@shop.example", PASSWORD).await;
    assert_eq!(r.status().as_u16(), 401);

    app.advance_secs(app.config.web_lock_secs + 1);
    v.sign_in(ADMIN).await;
    let (status, html) = v.get("/console/audit?lang=uk").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("lang=\"uk\"") && html.contains("Журнал дій"),
        "{html}"
    );

    // With a second factor the code is asked for, and taken once.
    let user = app
        .engine()
        .web_user_by_email(kassa_domain::WebRealm::Operator, ADMIN)
        .await
        .unwrap()
        .unwrap();
    let url = app.engine().enrol_totp(user.id).await.unwrap();
    let code = totp_rs::TOTP::from_url(&url)
        .unwrap()
        .generate(app.engine().now_secs() as u64);
    let mut w = Visitor::new(&app);
    assert_eq!(w.sign_in_with(ADMIN, PASSWORD).await.status().as_u16(), 401);
    let r = w.sign_in_with_code(ADMIN, PASSWORD, &code).await;
    assert_eq!(r.status().as_u16(), 303);
    let r = Visitor::new(&app)
        .sign_in_with_code(ADMIN, PASSWORD, &code)
        .await;
    assert_eq!(r.status().as_u16(), 401, "used once");
}

async fn common_merchant_user(app: &TestApp) {
    app.engine()
        .create_web_user(
            kassa_domain::WebRealm::Merchant,
            app.merchant.merchant_id.clone(),
            "owner@shop.example",
            Some(PASSWORD.into()),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn every_change_from_the_console_is_in_the_audit_log() {
    let app = TestApp::spawn().await;
    add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let f = floor(&app).await;
    let cabinet = f.open.cabinet_id.clone();
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in(ADMIN).await;
    let csrf = v.csrf().await;
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let csrf = csrf.clone();
        let v = &v;
        async move {
            let mut all: Vec<(&str, &str)> = form.iter().map(|(k, x)| (*k, x.as_str())).collect();
            all.push(("csrf", &csrf));
            let (status, html) = v.post(&path, &all).await;
            assert_eq!(status, 303, "{path}: {html}");
        }
    };
    post(
        format!("/console/cabinets/{cabinet}/active"),
        vec![("active", "false".into())],
    )
    .await;
    let cabinets = app
        .engine()
        .trader_cabinets(f.trader.id.clone())
        .await
        .unwrap();
    assert!(!cabinets[0].active);
    post(
        format!("/console/cabinets/{cabinet}/active"),
        vec![("active", "true".into())],
    )
    .await;
    post(
        format!("/console/merchants/{merchant}/settings"),
        vec![("public_api", "forbid".into())],
    )
    .await;
    post(
        format!("/console/merchants/{merchant}/settings"),
        vec![
            ("callback_url", "https://shop.example/callbacks".into()),
            ("return_url", "".into()),
        ],
    )
    .await;
    let m = app.engine().merchant(merchant.clone()).await.unwrap();
    assert!(m.forbid_public_api);
    assert_eq!(
        m.callback_url.as_deref(),
        Some("https://shop.example/callbacks")
    );
    post(
        format!("/console/deals/{}/resolve", f.disputed.id),
        vec![("outcome", "completed".into())],
    )
    .await;
    post(
        format!("/console/notifications/{}/match", f.notification_id),
        vec![
            ("deal", f.open.id.clone()),
            ("confirm_amount", "yes".into()),
        ],
    )
    .await;
    // An open deal confirmed by hand; a second time it is no longer open.
    let third = common::open_deal_in(&app, false, "1200.00", "sberbank").await;
    let confirm = format!("/console/deals/{}/confirm", third.id);
    post(confirm.clone(), vec![]).await;
    assert_eq!(deal_status(&app, &third.id).await, DealStatus::Completed);
    let (status, html) = v.post(&confirm, &[("csrf", &csrf)]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("not open"), "{html}");
    // A setting the engine refuses changes nothing and records nothing.
    let (status, html) = v
        .post(
            &format!("/console/merchants/{merchant}/settings"),
            &[("callback_url", "not a url"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("callback_url"), "{html}");

    let log = app.engine().audit_log().await.unwrap();
    let seen: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("deal.confirm", third.id.as_str()),
            ("notification.match", f.notification_id.as_str()),
            ("deal.resolve", f.disputed.id.as_str()),
            ("merchant.settings", merchant.as_str()),
            ("merchant.settings", merchant.as_str()),
            ("cabinet.on", cabinet.as_str()),
            ("cabinet.off", cabinet.as_str()),
        ],
        "newest first"
    );
    assert!(log.iter().all(|e| e.email == ADMIN));
    assert_eq!(log[0].detail, "completed");
    assert_eq!(log[2].detail, "completed");
    assert_eq!(log[4].detail, "public_api=forbidden");
    assert!(
        log[3].detail.contains("return_url=(none)"),
        "{}",
        log[3].detail
    );
    assert!(
        log[1].detail.contains("amount confirmed"),
        "{}",
        log[1].detail
    );
    let (status, html) = v.get("/console/audit").await;
    assert_eq!(status, 200);
    for e in &log {
        assert!(html.contains(&e.target) && html.contains(&e.action));
    }
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_hand_match_is_refused_unless_the_deal_is_open_and_the_amount_is_confirmed() {
    let app = TestApp::spawn().await;
    let admin = add_operator(&app, ADMIN, OperatorRole::Admin).await;
    let f = floor(&app).await;
    let engine = app.engine();
    let m = |deal: &str, confirmed: bool| {
        engine.match_notification(
            &admin,
            f.notification_id.clone(),
            deal.to_string(),
            confirmed,
        )
    };
    // A disputed deal is not open.
    let r = m(&f.disputed.id, true).await;
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    // 905.00 arrived for a deal of 900.00: only with the confirmation.
    let r = m(&f.open.id, false).await;
    assert!(
        matches!(&r, Err(EngineError::Invalid(fields)) if fields.contains_key("confirm_amount")),
        "{r:?}"
    );
    let r = m("deal_nobody", true).await;
    assert!(matches!(r, Err(EngineError::NotFound)), "{r:?}");
    assert_eq!(
        deal_status(&app, &f.open.id).await,
        DealStatus::TransferWaiting
    );
    assert!(engine.audit_log().await.unwrap().is_empty());
    let deal = m(&f.open.id, true).await.expect("matched");
    assert_eq!(deal.status, DealStatus::Completed);
    assert_eq!(
        deal.settled_by.as_deref(),
        Some(format!("bank_notification:{}", f.notification_id).as_str())
    );
    // A notification settles one deal, once.
    let r = m(&f.open.id, true).await;
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    assert_eq!(engine.audit_log().await.unwrap().len(), 1);
    assert_books_balance(&app).await;
}
