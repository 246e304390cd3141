//! The trader panel (`/trader/`): in a real headless Chromium the size of a
//! phone (a trader signs in, confirms a deal opened through the Merchant
//! API, takes and completes a payout, and the books balance after), and
//! over plain HTTP with the session cookie (another trader's deal, cabinet
//! and payout are unknown, posts without their CSRF token are refused, the
//! lock after failed sign-ins). More actions: `trader_panel_actions.rs`.

mod browser;
mod common;
mod portal_support;
mod trader_panel_support;

use browser::{text_of, with_browser};
use common::{open_deal_in, TestApp};
use fantoccini::Locator;
use kassa_domain::payout::PayoutStatus;
use kassa_domain::{DealStatus, WebRealm};
use kassa_engine::p2p::{NewMessage, NewNotification};
use trader_panel_support::{
    assert_books_balance, click, offered_payout, screenshot, trader_with_user, type_into,
    wait_for_css, Visitor, CARD, EMAIL, PASSWORD, PAYOUT_CARD, PAYOUT_CARD_MASKED,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trader_confirms_a_deal_and_pays_a_payout_on_a_phone() {
    let app = TestApp::spawn().await;
    let trader = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let deal = open_deal_in(&app, false, "1500.00", "sberbank").await;
    assert_eq!(deal.trader_id, trader.id);
    let payout = offered_payout(&app, "payout-1", 70_000).await;
    let engine = app.engine().clone();
    let cabinet = engine.trader_cabinets(trader.id.clone()).await.unwrap()[0].clone();
    // What the bank said: one notification that matched nothing, and one
    // SMS forwarded by the trader's phone.
    engine
        .post_bank_notification(
            &trader,
            NewNotification {
                external_id: "sms-17".into(),
                cabinet_id: cabinet.id.clone(),
                amount: "321.00".into(),
                text: Some("Received 321.00 RUB".into()),
                received_at_secs: None,
            },
        )
        .await
        .unwrap();
    let (device, _) = engine
        .create_device(
            kassa_domain::Actor::Trader(trader.id.clone()),
            trader.id.clone(),
            "Pixel".into(),
            vec![],
        )
        .await
        .unwrap();
    engine
        .post_bank_message(
            &device,
            NewMessage {
                sender: "900".into(),
                text: "Balance: 12 345.00 RUB".into(),
                received_at_secs: engine.now_secs(),
            },
        )
        .await
        .unwrap();

    let base = app.base_url.clone();
    let deal_id = deal.id.clone();
    let payout_id = payout.id.clone();
    with_browser("trader_panel", |c| async move {
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&format!("{base}/trader/?lang=en")).await.unwrap();
        wait_for_css(&c, "#email").await;
        assert!(c
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/trader/sign-in"));
        screenshot(&c, "sign-in").await;
        type_into(&c, "#email", EMAIL).await;
        type_into(&c, "#password", PASSWORD).await;
        click(&c, "#submit").await;

        // The open deal: the exact amount, the card it goes to, the time left.
        wait_for_css(&c, "#open-deals").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/trader/deals");
        let card = format!(".deal[data-id='{deal_id}']");
        assert_eq!(text_of(&c, &format!("{card} .amount")).await, "1500.00 RUB");
        assert!(text_of(&c, &format!("{card} .requisite"))
            .await
            .contains(CARD));
        assert!(text_of(&c, &format!("{card} .time-left"))
            .await
            .contains("min"));
        screenshot(&c, "deals").await;
        click(&c, &format!("{card} button.confirm")).await;
        wait_for_css(&c, "#done").await;
        assert!(c
            .find_all(Locator::Css(&format!("#open-deals {card}")))
            .await
            .unwrap()
            .is_empty());
        wait_for_css(&c, &format!("#ended-deals tr[data-id='{deal_id}']")).await;

        // The payout: masked while offered, in full once taken.
        click(&c, "nav a[href='/trader/payouts']").await;
        let offered = format!("#offered .payout[data-id='{payout_id}']");
        wait_for_css(&c, &offered).await;
        assert_eq!(
            text_of(&c, &format!("{offered} dd[data-field='card_number']")).await,
            PAYOUT_CARD_MASKED
        );
        assert_eq!(
            text_of(&c, &format!("{offered} .amount")).await,
            "700.00 RUB"
        );
        screenshot(&c, "payout-offered").await;
        click(&c, &format!("{offered} button.take")).await;
        let paying = format!("#paying .payout[data-id='{payout_id}']");
        wait_for_css(&c, &paying).await;
        assert_eq!(
            text_of(&c, &format!("{paying} dd[data-field='card_number']")).await,
            PAYOUT_CARD
        );
        type_into(&c, &format!("{paying} input.receipt"), "TX-889900").await;
        screenshot(&c, "payout-taken").await;
        click(&c, &format!("{paying} button.done")).await;
        let finished = format!("#finished .payout[data-id='{payout_id}']");
        wait_for_css(&c, &finished).await;
        assert_eq!(
            text_of(&c, &format!("{finished} .receipt")).await,
            "TX-889900"
        );
        // Done, the card number is masked again.
        assert_eq!(
            text_of(&c, &format!("{finished} dd[data-field='card_number']")).await,
            PAYOUT_CARD_MASKED
        );

        click(&c, "nav a[href='/trader/cabinets']").await;
        wait_for_css(&c, "#cabinets .cabinet").await;
        assert_eq!(text_of(&c, ".cabinet .turnover").await, "1500.00 RUB");
        screenshot(&c, "cabinets").await;

        click(&c, "nav a[href='/trader/bank']").await;
        wait_for_css(&c, "#notifications .notification").await;
        assert!(text_of(&c, "#notifications").await.contains("321.00 RUB"));
        assert!(text_of(&c, "#messages").await.contains("12 345.00"));
        screenshot(&c, "bank").await;

        // Pay-in received (held for the platform) against the payout made.
        click(&c, "nav a[href='/trader/balances']").await;
        wait_for_css(&c, "#balances").await;
        assert_eq!(
            text_of(&c, "#balances tr[data-currency='RUB'] .balance").await,
            "-800.00 RUB"
        );
        screenshot(&c, "balances").await;

        // The language switch, remembered on the next page.
        click(&c, "a[hreflang='ru']").await;
        wait_for_css(&c, "html[lang='ru']").await;
        click(&c, "nav a[href='/trader/deals']").await;
        wait_for_css(&c, "#open-deals").await;
        assert!(text_of(&c, "nav").await.contains("Сделки"));

        click(&c, "#sign-out").await;
        wait_for_css(&c, "#email").await;
    })
    .await;

    if browser::browser_available("trader_panel") {
        let deal = engine.deal(deal.id).await.unwrap();
        assert_eq!(deal.status, DealStatus::Completed);
        assert_eq!(deal.settled_by.as_deref(), Some("trader"));
        let payout = engine
            .payout(app.merchant.merchant_id.clone(), false, payout.id)
            .await
            .unwrap();
        assert_eq!(payout.status, PayoutStatus::Success);
        assert_eq!(payout.receipt.as_deref(), Some("TX-889900"));
        let settlement = engine.trader_settlement(&trader).await.unwrap();
        assert_eq!(settlement, vec![(trader_panel_support::rub(), -80_000)]);
        assert_books_balance(&app).await;
    }
}

#[tokio::test]
async fn another_traders_deal_cabinet_and_payout_are_not_found() {
    let app = TestApp::spawn().await;
    let ivan = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let deal = open_deal_in(&app, false, "1500.00", "sberbank").await;
    assert_eq!(deal.trader_id, ivan.id);
    let ivans_cabinet = app.engine().trader_cabinets(ivan.id.clone()).await.unwrap()[0]
        .id
        .clone();
    // Petr serves another bank, so the deal and the payout are not his.
    let (petr, _) = common::rub_trader(&app, "Petr", "sbp", "+79990001122").await;
    app.engine()
        .create_web_user(
            WebRealm::Trader,
            petr.id.clone(),
            "petr@trader.example",
            Some(PASSWORD.into()),
        )
        .await
        .unwrap();
    let payout = offered_payout(&app, "payout-2", 50_000).await;
    let mut v = Visitor::new(&app);
    v.sign_in_as("petr@trader.example").await;
    let csrf = v.csrf().await;

    let (status, html) = v.get(&format!("/trader/deals/{}", deal.id)).await;
    assert_eq!(status, 404, "{html}");
    assert!(!html.contains(CARD), "nothing of it is shown");
    assert!(
        html.contains("href=\"/trader\""),
        "the way back is the panel's"
    );
    let (_, list) = v.get("/trader/deals").await;
    assert!(!list.contains(&deal.id));
    // The open deals reload themselves; other pages do not.
    assert!(
        list.contains(r#"http-equiv="refresh" content="30;url=/trader/deals""#),
        "{list}"
    );
    let (_, cabinets) = v.get("/trader/cabinets").await;
    assert!(!cabinets.contains("http-equiv"));
    for path in [
        format!("/trader/deals/{}/confirm", deal.id),
        format!("/trader/payouts/{}/take", payout.id),
        format!("/trader/payouts/{}/decline", payout.id),
    ] {
        let r = v.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    let r = v
        .post(
            &format!("/trader/deals/{}/resolve", deal.id),
            &[("csrf", &csrf), ("outcome", "completed")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = v
        .post(
            &format!("/trader/payouts/{}/done", payout.id),
            &[("csrf", &csrf), ("receipt", "x")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = v
        .post(
            &format!("/trader/cabinets/{ivans_cabinet}/active"),
            &[("csrf", &csrf), ("active", "off")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let (_, payouts) = v.get("/trader/payouts").await;
    assert!(
        !payouts.contains(&payout.id),
        "not offered to an SBP trader"
    );

    // Nothing changed.
    assert_eq!(
        app.engine().deal(deal.id.clone()).await.unwrap().status,
        DealStatus::TransferWaiting
    );
    let cabinets = app.engine().trader_cabinets(ivan.id.clone()).await.unwrap();
    assert!(cabinets[0].active);
    let p = app
        .engine()
        .payout(app.merchant.merchant_id.clone(), false, payout.id)
        .await
        .unwrap();
    assert_eq!(p.status, PayoutStatus::Pending);

    // A merchant's portal user is nobody here, and a panel session is
    // nobody in the portal.
    app.engine()
        .create_web_user(
            WebRealm::Merchant,
            app.merchant.merchant_id.clone(),
            "owner@shop.example",
            Some(PASSWORD.into()),
        )
        .await
        .unwrap();
    let mut other = Visitor::new(&app);
    assert_eq!(
        other
            .sign_in_with("owner@shop.example", PASSWORD)
            .await
            .status()
            .as_u16(),
        401
    );
    let r = app
        .http
        .get(app.url("/portal/test/invoices"))
        .header(
            "cookie",
            format!("kassa_portal={}", v.session.clone().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "sent to the portal's sign-in");
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let trader = trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let deal = open_deal_in(&app, false, "1500.00", "sberbank").await;
    let cabinet = app
        .engine()
        .trader_cabinets(trader.id.clone())
        .await
        .unwrap()[0]
        .id
        .clone();
    let mut v = Visitor::new(&app);
    v.sign_in_as(EMAIL).await;
    let confirm = format!("/trader/deals/{}/confirm", deal.id);
    let switch = format!("/trader/cabinets/{cabinet}/active");
    assert_eq!(v.post(&confirm, &[]).await.status().as_u16(), 403);
    assert_eq!(
        v.post(&confirm, &[("csrf", "forged")])
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        v.post(&switch, &[("active", "off")])
            .await
            .status()
            .as_u16(),
        403
    );
    // Another session's token is not this one's.
    let mut other = Visitor::new(&app);
    other.sign_in_as(EMAIL).await;
    let others = other.csrf().await;
    assert_eq!(
        v.post(&confirm, &[("csrf", &others)])
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        app.engine().deal(deal.id.clone()).await.unwrap().status,
        DealStatus::TransferWaiting
    );
    assert!(
        app.engine()
            .trader_cabinets(trader.id.clone())
            .await
            .unwrap()[0]
            .active
    );

    // With it, the same posts work: off and on again, then the deal.
    let good = v.csrf().await;
    let r = v.post(&switch, &[("csrf", &good), ("active", "off")]).await;
    assert_eq!(r.status().as_u16(), 303);
    let c = &app
        .engine()
        .trader_cabinets(trader.id.clone())
        .await
        .unwrap()[0];
    assert!(!c.active);
    let (_, html) = v.get("/trader/cabinets?done=switched").await;
    assert!(html.contains("data-reason=\"trader\""), "{html}");
    let r = v
        .post(&switch, &[("csrf", &good), ("active", "sideways")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
    v.post(&switch, &[("csrf", &good), ("active", "on")]).await;
    assert!(
        app.engine()
            .trader_cabinets(trader.id.clone())
            .await
            .unwrap()[0]
            .active
    );
    let r = v.post(&confirm, &[("csrf", &good)]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/trader/deals?done=confirmed");
    assert_eq!(
        app.engine().deal(deal.id.clone()).await.unwrap().status,
        DealStatus::Completed
    );
    assert_books_balance(&app).await;

    // Signed out, the session's forms are dead.
    assert_eq!(
        v.post("/trader/sign-out", &[("csrf", &good)])
            .await
            .status()
            .as_u16(),
        303
    );
    let r = v.post(&confirm, &[("csrf", &good)]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/trader/sign-in"));
}

#[tokio::test]
async fn wrong_passwords_lock_the_panel_account_until_the_lock_lapses() {
    let app = TestApp::spawn().await;
    trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let mut v = Visitor::new(&app);
    for _ in 0..4 {
        assert_eq!(
            v.sign_in_with(EMAIL, "not the password")
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let r = v.sign_in_with(EMAIL, "not the password").await;
    assert_eq!(r.status().as_u16(), 429, "the fifth failure locks");
    let r = v.sign_in_with(EMAIL, PASSWORD).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.text().await.unwrap().contains("locked"));
    assert!(v.session.is_none());
    app.advance_secs(14 * 60);
    assert_eq!(v.sign_in_with(EMAIL, PASSWORD).await.status().as_u16(), 429);
    app.advance_secs(61);
    v.sign_in_as(EMAIL).await;
    assert_eq!(v.get("/trader/deals").await.0, 200);
}
