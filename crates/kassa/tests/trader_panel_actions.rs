//! The trader panel's actions over plain HTTP with the session cookie:
//! disputes resolved, payouts declined and a receipt required, a cabinet the
//! operator switched off kept off, a switched-off trader refused, and
//! `kassa trader user` making the people who sign in.
//! The browser walk-through and the access rules are in `trader_panel.rs`.

mod cli_support;
mod common;
mod portal_support;
mod trader_panel_support;

use cli_support::TestDb;
use common::{open_deal_in, TestApp};
use kassa_domain::payout::PayoutStatus;
use kassa_domain::{DealStatus, WebRealm};
use trader_panel_support::{
    assert_books_balance, offered_payout, rub, trader_with_user, Visitor, CARD, EMAIL, PAYOUT_CARD,
};

#[tokio::test]
async fn a_dispute_is_resolved_from_the_panel() {
    let app = TestApp::spawn().await;
    let trader = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let deal = open_deal_in(&app, false, "2500.00", "sberbank").await;
    let engine = app.engine();
    // The deadline passes unpaid, then the customer says they paid.
    app.advance_secs(deal.deadline_secs - engine.now_secs() + 1);
    engine.expire_due_deals().await.unwrap();
    // The node's own sweep may hold the deal's row at that moment (its pass
    // skips rows another holds): wait for whichever pass cancels it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while engine.deal(deal.id.clone()).await.unwrap().status != DealStatus::Canceled {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the deal was not canceled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let disputed = engine
        .customer_says_paid(deal.invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(disputed.status, DealStatus::Disputed);

    let mut v = Visitor::new(&app);
    v.sign_in_as(EMAIL).await;
    let (_, html) = v.get("/trader/deals").await;
    let disputes = &html[html.find("id=\"disputes\"").unwrap()..];
    assert!(
        disputes.contains(&deal.id) && disputes.contains("resolve-completed"),
        "{html}"
    );
    let csrf = v.csrf().await;
    let resolve = format!("/trader/deals/{}/resolve", deal.id);
    let r = v
        .post(&resolve, &[("csrf", &csrf), ("outcome", "maybe")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let r = v
        .post(&resolve, &[("csrf", &csrf), ("outcome", "completed")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let done = engine.deal(deal.id.clone()).await.unwrap();
    assert_eq!(done.status, DealStatus::Completed);
    // Again: the deal has moved on, and the page says so.
    let r = v
        .post(&resolve, &[("csrf", &csrf), ("outcome", "canceled")])
        .await;
    assert_eq!(r.status().as_u16(), 409);
    assert!(r.text().await.unwrap().contains("changed"));
    let settlement = engine.trader_settlement(&trader).await.unwrap();
    assert_eq!(settlement, vec![(rub(), -250_000)]);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_switched_off_trader_is_refused() {
    let app = TestApp::spawn().await;
    let trader = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let mut v = Visitor::new(&app);
    v.sign_in_as(EMAIL).await;
    app.engine()
        .set_trader_active(trader.id, false)
        .await
        .unwrap();
    let (status, html) = v.get("/trader/deals").await;
    assert_eq!(status, 403);
    assert!(html.contains("switched off"), "{html}");
}

#[tokio::test]
async fn trader_user_add_prints_a_password_that_signs_in_to_the_panel() {
    let app = TestApp::spawn().await;
    let (trader, _) = common::rub_trader(&app, "Ivan", "card", CARD).await;
    let db = TestDb::of(&app);
    let out = db
        .kassa_ok(&[
            "trader",
            "user",
            "add",
            "--trader",
            &trader.id,
            "--email",
            "Ivan@Trader.example",
        ])
        .await;
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("no password in {out}"))
        .to_string();
    assert!(
        out.contains("trader panel user ivan@trader.example"),
        "{out}"
    );
    let listed = db
        .kassa_ok(&["trader", "user", "list", "--trader", &trader.id])
        .await;
    assert!(listed.contains("ivan@trader.example\tpassword"), "{listed}");
    let totp = db
        .kassa_ok(&["trader", "user", "totp", "--email", "ivan@trader.example"])
        .await;
    assert!(totp.starts_with("totp: otpauth://totp/"), "{totp}");
    let listed = db
        .kassa_ok(&["trader", "user", "list", "--trader", &trader.id])
        .await;
    assert!(listed.contains("ivan@trader.example\ttotp"), "{listed}");
    // An unknown trader, the same email again: refused.
    assert!(
        !db.kassa(&[
            "trader",
            "user",
            "add",
            "--trader",
            "trd_nobody",
            "--email",
            "a@trader.example"
        ])
        .await
        .success
    );
    assert!(
        !db.kassa(&[
            "trader",
            "user",
            "add",
            "--trader",
            &trader.id,
            "--email",
            "ivan@trader.example"
        ])
        .await
        .success
    );

    // The password works (the second factor is asked for now).
    let url = totp.trim().strip_prefix("totp: ").unwrap();
    let code = totp_rs::TOTP::from_url(url)
        .unwrap()
        .generate(app.engine().now_secs() as u64);
    let outcome = app
        .engine()
        .sign_in(
            WebRealm::Trader,
            "ivan@trader.example",
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

#[tokio::test]
async fn a_declined_payout_goes_and_a_receipt_is_required() {
    let app = TestApp::spawn().await;
    let ivan = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let first = offered_payout(&app, "payout-a", 30_000).await;
    let second = offered_payout(&app, "payout-b", 40_000).await;
    let mut v = Visitor::new(&app);
    v.sign_in_as(EMAIL).await;
    let csrf = v.csrf().await;
    let (_, html) = v.get("/trader/payouts").await;
    assert!(
        html.contains(&first.id) && html.contains(&second.id),
        "{html}"
    );
    assert!(!html.contains(PAYOUT_CARD), "offered payouts are masked");

    let r = v
        .post(
            &format!("/trader/payouts/{}/decline", first.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.headers()["location"], "/trader/payouts?done=declined");
    let (_, html) = v.get("/trader/payouts").await;
    assert!(!html.contains(&first.id), "not offered to Ivan again");

    let take = format!("/trader/payouts/{}/take", second.id);
    assert_eq!(
        v.post(&take, &[("csrf", &csrf)]).await.status().as_u16(),
        303
    );
    let (_, html) = v.get("/trader/payouts").await;
    assert!(
        html.contains(PAYOUT_CARD),
        "in full to the trader paying it"
    );
    let done = format!("/trader/payouts/{}/done", second.id);
    let r = v.post(&done, &[("csrf", &csrf), ("receipt", "  ")]).await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap().contains("receipt"));
    let merchant = app.merchant.merchant_id.clone();
    let p = app
        .engine()
        .payout(merchant.clone(), false, second.id.clone())
        .await
        .unwrap();
    assert_eq!(p.status, PayoutStatus::InProgress);
    assert_eq!(p.trader_id.as_deref(), Some(ivan.id.as_str()));
    let r = v.post(&done, &[("csrf", &csrf), ("receipt", "TX-1")]).await;
    assert_eq!(r.headers()["location"], "/trader/payouts?done=paid");
    let p = app
        .engine()
        .payout(merchant, false, second.id.clone())
        .await
        .unwrap();
    assert_eq!(p.status, PayoutStatus::Success);
    // Taken again, it has moved on.
    assert_eq!(
        v.post(&take, &[("csrf", &csrf)]).await.status().as_u16(),
        409
    );
    let settlement = app.engine().trader_settlement(&ivan).await.unwrap();
    assert_eq!(settlement, vec![(rub(), 40_000)]);
    assert_books_balance(&app).await;
}

#[tokio::test]
async fn a_cabinet_the_operator_switched_off_stays_off_and_says_why() {
    let app = TestApp::spawn().await;
    let trader = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let cabinet = app
        .engine()
        .trader_cabinets(trader.id.clone())
        .await
        .unwrap()[0]
        .id
        .clone();
    app.engine()
        .set_cabinet_active(kassa_domain::Actor::Operator, cabinet.clone(), false)
        .await
        .unwrap();
    let mut v = Visitor::new(&app);
    v.sign_in_as(EMAIL).await;
    let (status, html) = v.get("/trader/cabinets").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-reason=\"operator\""), "{html}");
    assert!(
        html.contains("only the operator can switch it on"),
        "{html}"
    );
    assert!(
        !html.contains(&format!("/trader/cabinets/{cabinet}/active")),
        "no button"
    );
    // Posted anyway, it is refused and stays off.
    let csrf = v.csrf().await;
    let r = v
        .post(
            &format!("/trader/cabinets/{cabinet}/active"),
            &[("csrf", &csrf), ("active", "on")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 409);
    assert!(!app.engine().trader_cabinets(trader.id).await.unwrap()[0].active);
    // In Russian, the reason too.
    let (_, html) = v.get("/trader/cabinets?lang=ru").await;
    assert!(html.contains("выключен оператором"), "{html}");
}
