//! The merchant portal (`/portal/`): in a real headless Chromium (a merchant
//! signs in, finds an invoice made through the API, sees its callback
//! attempts and resends one), and over plain HTTP with the session cookie
//! (CSRF refusals, the lock after failed sign-ins, TOTP, session expiry,
//! other merchants' and the other mode's invoices).

mod browser;
mod common;
mod portal_support;
mod receiver;

use std::time::Duration;

use browser::{text_of, with_browser};
use common::{test_invoice, TestApp};
use fantoccini::Locator;
use kassa_engine::merchants::NewMerchant;
use portal_support::{
    add_user, cookie_from, create, screenshot, settled, wait_for_css, Visitor, EMAIL, PASSWORD,
};
use receiver::Receiver;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_signs_in_finds_an_invoice_and_resends_its_callback() {
    let app = TestApp::spawn().await;
    let shop = Receiver::start(&[], 200);
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let id = create(&app, "processed", "order-4711", Some(&shop.url())).await;
    create(&app, "process_failed", "order-4712", None).await;
    let sent = settled(&app, &id).await;
    let base = app.base_url.clone();
    with_browser("portal", |c| async move {
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&format!("{base}/portal/?lang=en")).await.unwrap();
        wait_for_css(&c, "#email").await;
        assert!(c
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/portal/sign-in"));
        screenshot(&c, "sign-in").await;
        c.find(Locator::Css("#email"))
            .await
            .unwrap()
            .send_keys(EMAIL)
            .await
            .unwrap();
        c.find(Locator::Css("#password"))
            .await
            .unwrap()
            .send_keys(PASSWORD)
            .await
            .unwrap();
        c.find(Locator::Css("#submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#invoices").await;
        assert_eq!(
            c.current_url().await.unwrap().path(),
            "/portal/test/invoices"
        );
        assert_eq!(
            c.find_all(Locator::Css("#invoices tbody tr"))
                .await
                .unwrap()
                .len(),
            2
        );
        screenshot(&c, "invoices").await;

        c.find(Locator::Css("#q"))
            .await
            .unwrap()
            .send_keys("order-4711")
            .await
            .unwrap();
        c.find(Locator::Css("#search"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#q[value='order-4711']").await;
        let rows = c
            .find_all(Locator::Css("#invoices tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        c.find(Locator::Css(&format!("a[href$='/invoices/{id}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#attempts").await;
        assert_eq!(text_of(&c, "#invoice-id").await, id);
        assert_eq!(text_of(&c, "#reference").await, "order-4711");
        assert_eq!(text_of(&c, "#status").await, "processed");
        assert_eq!(text_of(&c, "#amount").await, "100.50 USD");
        assert!(!text_of(&c, "#postings").await.is_empty());
        let codes = c.find_all(Locator::Css("#attempts td.code")).await.unwrap();
        assert_eq!(codes.len(), sent);
        assert_eq!(codes[0].text().await.unwrap(), "200");
        screenshot(&c, "invoice").await;

        c.find(Locator::Css("#resend"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#resent").await;
        shop.wait_for(sent + 1).await;
        // The new attempt shows once it is recorded.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            c.refresh().await.unwrap();
            let codes = c.find_all(Locator::Css("#attempts td.code")).await.unwrap();
            let mut texts = Vec::new();
            for code in &codes {
                texts.push(code.text().await.unwrap());
            }
            if texts.len() == sent + 1 {
                assert!(texts.iter().all(|t| t == "200"), "{texts:?}");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{texts:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // The language switch, remembered on the next page.
        c.find(Locator::Css("a[hreflang='ru']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "html[lang='ru']").await;
        c.find(Locator::Css("#back"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#invoices").await;
        assert_eq!(text_of(&c, "h1").await, "Счета");

        // The books: balances and today's report.
        c.find(Locator::Css("nav a[href$='/books']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#balances").await;
        wait_for_css(&c, "#report tr[data-kind='pay_in']").await;
        c.goto(&format!("{base}/portal/test/books?lang=en"))
            .await
            .unwrap();
        wait_for_css(&c, "#report").await;
        screenshot(&c, "books").await;

        // A phone's width still shows the list.
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&format!("{base}/portal/test/invoices?lang=en"))
            .await
            .unwrap();
        wait_for_css(&c, "#invoices").await;
        screenshot(&c, "invoices-phone").await;

        c.find(Locator::Css("#sign-out"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#email").await;
        c.goto(&format!("{base}/portal/test/invoices"))
            .await
            .unwrap();
        wait_for_css(&c, "#email").await;
    })
    .await;
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let shop = Receiver::start(&[], 200);
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let id = create(&app, "processed", "order-1", Some(&shop.url())).await;
    let sent = settled(&app, &id).await;
    let mut v = Visitor::new(&app);
    v.sign_in().await;
    let path = format!("/portal/test/invoices/{id}/resend");
    let owed = || async { app.engine().callbacks(id.clone()).await.unwrap().len() };
    assert_eq!(owed().await, sent);

    assert_eq!(v.post(&path, &[]).await.status().as_u16(), 403);
    assert_eq!(v.post(&path, &[("csrf", "")]).await.status().as_u16(), 403);
    assert_eq!(
        v.post(&path, &[("csrf", "forged")]).await.status().as_u16(),
        403
    );
    // Another session's token is no good either.
    add_user(&app, &app.merchant.merchant_id, "second@shop.example").await;
    let mut other = Visitor::new(&app);
    let r = other
        .sign_in_with("second@shop.example", PASSWORD, "")
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let others = other.csrf().await;
    assert_eq!(
        v.post(&path, &[("csrf", &others)]).await.status().as_u16(),
        403
    );
    assert_eq!(owed().await, sent, "a refused post owes nothing");

    let good = v.csrf().await;
    let r = v.post(&path, &[("csrf", &good)]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(owed().await, sent + 1);

    // Sign-out is a form like any other; without its token nobody is signed out.
    assert_eq!(v.post("/portal/sign-out", &[]).await.status().as_u16(), 403);
    assert_eq!(v.get("/portal/test/invoices").await.0, 200);
    assert_eq!(
        v.post("/portal/sign-out", &[("csrf", &good)])
            .await
            .status()
            .as_u16(),
        303
    );
    let (status, _) = v.get("/portal/test/invoices").await;
    assert_eq!(status, 303, "signed out");

    // The sign-in form is refused without its own token too.
    let r = app
        .http
        .post(app.url("/portal/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={EMAIL}&password=a+long+portal+password"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(cookie_from(&r, "kassa_portal").is_none());
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_until_the_lock_lapses() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let mut v = Visitor::new(&app);
    for _ in 0..4 {
        let r = v.sign_in_with(EMAIL, "not the password", "").await;
        assert_eq!(r.status().as_u16(), 401);
    }
    let r = v.sign_in_with(EMAIL, "not the password", "").await;
    assert_eq!(r.status().as_u16(), 429, "the fifth failure locks");
    let r = v.sign_in_with(EMAIL, PASSWORD, "").await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.text().await.unwrap().contains("locked"));
    assert!(v.session.is_none());
    // Unknown emails get the answer wrong passwords get.
    let r = v.sign_in_with("nobody@shop.example", PASSWORD, "").await;
    assert_eq!(r.status().as_u16(), 401);

    app.advance_secs(14 * 60);
    assert_eq!(
        v.sign_in_with(EMAIL, PASSWORD, "").await.status().as_u16(),
        429
    );
    app.advance_secs(61);
    v.sign_in().await;
    assert_eq!(v.get("/portal/test/invoices").await.0, 200);
}

#[tokio::test]
async fn a_second_factor_is_asked_for_and_a_code_works_once() {
    let app = TestApp::spawn().await;
    let user_id = add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let url = app.engine().enrol_totp(user_id).await.unwrap();
    let totp = totp_rs::TOTP::from_url(&url).expect("an otpauth URL");
    let mut v = Visitor::new(&app);
    assert_eq!(
        v.sign_in_with(EMAIL, PASSWORD, "").await.status().as_u16(),
        401
    );
    assert_eq!(
        v.sign_in_with(EMAIL, PASSWORD, "000000x")
            .await
            .status()
            .as_u16(),
        401
    );
    let code = totp.generate(app.engine().now_secs() as u64);
    assert_eq!(
        v.sign_in_with(EMAIL, PASSWORD, &code)
            .await
            .status()
            .as_u16(),
        303
    );
    let mut again = Visitor::new(&app);
    assert_eq!(
        again
            .sign_in_with(EMAIL, PASSWORD, &code)
            .await
            .status()
            .as_u16(),
        401,
        "used once"
    );
}

#[tokio::test]
async fn sessions_end_when_idle() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let mut v = Visitor::new(&app);
    v.sign_in().await;
    app.advance_secs(20 * 60);
    assert_eq!(
        v.get("/portal/test/invoices").await.0,
        200,
        "used: kept alive"
    );
    app.advance_secs(20 * 60);
    assert_eq!(v.get("/portal/test/invoices").await.0, 200);
    app.advance_secs(31 * 60);
    assert_eq!(v.get("/portal/test/invoices").await.0, 303, "idle too long");
}

#[tokio::test]
async fn a_merchant_never_sees_another_merchants_invoice() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let other = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let shop = Receiver::start(&[], 200);
    let mut attributes = test_invoice("processed");
    attributes["reference_id"] = json!("theirs-1");
    attributes["callback_url"] = json!(shop.url());
    let r = app
        .http
        .post(app.url("/api/payment-invoices"))
        .basic_auth(
            &other.test.private_key_id,
            Some(&other.test.private_key_secret),
        )
        .json(&json!({"data": {"type": "payment-invoices", "attributes": attributes}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let theirs = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let owed_to_them = settled(&app, &theirs).await;
    let mine = create(&app, "processed", "mine-1", None).await;

    let mut v = Visitor::new(&app);
    v.sign_in().await;
    assert_eq!(v.get(&format!("/portal/test/invoices/{mine}")).await.0, 200);
    let (status, html) = v.get(&format!("/portal/test/invoices/{theirs}")).await;
    assert_eq!(status, 404, "{html}");
    assert!(!html.contains("theirs-1"));
    for q in [theirs.as_str(), "theirs-1"] {
        let (status, html) = v.get(&format!("/portal/test/invoices?q={q}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("id=\"empty\""), "{q}: {html}");
    }
    let csrf = v.csrf().await;
    let r = v
        .post(
            &format!("/portal/test/invoices/{theirs}/resend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        app.engine().callbacks(theirs.clone()).await.unwrap().len(),
        owed_to_them
    );
}

#[tokio::test]
async fn test_and_live_invoices_are_not_mixed() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let test_id = create(&app, "processed", "same-ref", None).await;
    let live = app.merchant.live.clone();
    let r = app
        .http
        .post(app.url("/api/payment-invoices"))
        .basic_auth(&live.private_key_id, Some(&live.private_key_secret))
        .json(&json!({"data": {"type": "payment-invoices", "attributes": {
            "amount": "7.00", "currency": "USD", "service": "payment_card_usd_hpp",
            "reference_id": "same-ref", "test_mode": false,
        }}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let live_id = r.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut v = Visitor::new(&app);
    v.sign_in().await;
    let (_, test_list) = v.get("/portal/test/invoices").await;
    assert!(test_list.contains(&test_id) && !test_list.contains(&live_id));
    let (_, live_list) = v.get("/portal/live/invoices").await;
    assert!(live_list.contains(&live_id) && !live_list.contains(&test_id));
    let (_, found) = v.get("/portal/live/invoices?q=same-ref").await;
    assert!(found.contains(&live_id) && !found.contains(&test_id));
    assert_eq!(
        v.get(&format!("/portal/live/invoices/{test_id}")).await.0,
        404
    );
    assert_eq!(
        v.get(&format!("/portal/test/invoices/{live_id}")).await.0,
        404
    );
    assert_eq!(
        v.get(&format!("/portal/live/invoices/{live_id}")).await.0,
        200
    );
    assert_eq!(v.get("/portal/neither/invoices").await.0, 404);
}

#[tokio::test]
async fn invoices_are_searched_by_status_date_and_amount_and_paged() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let mut ids = Vec::new();
    for n in 0..27 {
        ids.push(create(&app, "process_pending", &format!("bulk-{n}"), None).await);
    }
    let mut odd = test_invoice("process_pending");
    odd["amount"] = json!("42.00");
    odd["reference_id"] = json!("odd-one");
    let (code, body) = app.create_private(odd).await;
    assert_eq!(code, 201, "{body}");
    let odd_id = body["data"]["id"].as_str().unwrap().to_string();

    let mut v = Visitor::new(&app);
    v.sign_in().await;
    let rows = |html: &str| html.matches("<tr data-id=").count();
    let (_, first) = v.get("/portal/test/invoices").await;
    assert_eq!(rows(&first), 25);
    assert!(first.contains(&odd_id), "newest first");
    assert!(first.contains("id=\"older\"") && !first.contains("id=\"newer\""));
    let (_, second) = v.get("/portal/test/invoices?page=2").await;
    assert_eq!(rows(&second), 3);
    assert!(second.contains(&ids[0]) && second.contains("id=\"newer\""));

    let (_, by_amount) = v.get("/portal/test/invoices?currency=USD&amount=42").await;
    assert_eq!(rows(&by_amount), 1);
    assert!(by_amount.contains(&odd_id));
    let (_, by_status) = v.get("/portal/test/invoices?status=processed").await;
    assert_eq!(rows(&by_status), 0);
    let today = chrono::DateTime::from_timestamp(app.engine().now_secs(), 0)
        .unwrap()
        .date_naive();
    let (_, by_date) = v
        .get(&format!("/portal/test/invoices?from={today}&to={today}"))
        .await;
    assert_eq!(rows(&by_date), 25);
    let tomorrow = today.succ_opt().unwrap();
    let (_, later) = v
        .get(&format!("/portal/test/invoices?from={tomorrow}"))
        .await;
    assert_eq!(rows(&later), 0);

    for bad in [
        "amount=42",
        "currency=XXX",
        "from=yesterday",
        "status=paid",
        "currency=USD&amount=1.234",
    ] {
        let (status, html) = v.get(&format!("/portal/test/invoices?{bad}")).await;
        assert_eq!(status, 422, "{bad}");
        assert!(html.contains("id=\"problem\""), "{bad}");
    }
}

/// Failures that arrive at once are each counted in the write, against the
/// row as it is then: five of them lock the account, whatever the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_at_once_are_all_counted() {
    use kassa_engine::web::SignIn;
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let engine = app.engine().clone();
    let attempts = (0..5).map(|_| {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .sign_in(
                    kassa_domain::WebRealm::Merchant,
                    EMAIL,
                    "wrong".into(),
                    None,
                )
                .await
                .unwrap()
        })
    });
    let outcomes = futures::future::join_all(attempts).await;
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), SignIn::Locked { .. }))
        .count();
    assert_eq!(locked, 1, "{outcomes:?}");
    let right = engine
        .sign_in(
            kassa_domain::WebRealm::Merchant,
            EMAIL,
            PASSWORD.into(),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(right, SignIn::Locked { .. }), "{right:?}");
}

#[tokio::test]
async fn the_lock_and_the_session_lifetimes_are_settings() {
    let app = TestApp::spawn_with(|c| {
        c.web_max_failed_sign_ins = 2;
        c.web_lock_secs = 60;
        c.web_session_idle_secs = 120;
    })
    .await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let mut v = Visitor::new(&app);
    assert_eq!(
        v.sign_in_with(EMAIL, "wrong", "").await.status().as_u16(),
        401
    );
    assert_eq!(
        v.sign_in_with(EMAIL, "wrong", "").await.status().as_u16(),
        429
    );
    app.advance_secs(61);
    v.sign_in().await;
    app.advance_secs(121);
    assert_eq!(
        v.get("/portal/test/invoices").await.0,
        303,
        "idle past 120 s"
    );
}
