//! The portal's developers page: a merchant makes a private key (its secret
//! shown once), calls the Checkout API with it, revokes the old one, and
//! sets where and which callbacks go. In headless Chromium for the main
//! path, over plain HTTP with the session cookie for the refusals.

mod browser;
mod common;
mod portal_support;

use browser::{text_of, with_browser};
use common::TestApp;
use fantoccini::Locator;
use kassa_domain::CallbackStatuses;
use portal_support::{add_user, screenshot, wait_for_css, Visitor, EMAIL, PASSWORD};

/// The status the Checkout API's private list answers with this key.
async fn api_status(app: &TestApp, key_id: &str, secret: &str) -> u16 {
    app.http
        .get(app.url("/api/payment-invoices"))
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn keys_of(app: &TestApp, test_mode: bool) -> Vec<String> {
    let m = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    m.credentials(test_mode)
        .private_keys()
        .into_iter()
        .map(|k| k.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_rolls_its_key_over_and_sets_its_callbacks() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let old = app.merchant.test.clone();
    assert_eq!(
        api_status(&app, &old.private_key_id, &old.private_key_secret).await,
        200
    );
    let base = app.base_url.clone();
    let app = &app;
    with_browser("portal_developers", |c| async move {
        c.set_window_size(1280, 900).await.unwrap();
        c.goto(&format!("{base}/portal/sign-in?lang=en"))
            .await
            .unwrap();
        wait_for_css(&c, "#email").await;
        for (css, text) in [("#email", EMAIL), ("#password", PASSWORD)] {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .send_keys(text)
                .await
                .unwrap();
        }
        c.find(Locator::Css("#submit"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#filters").await;
        c.find(Locator::Css("nav a[href$='/developers']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#keys").await;
        assert_eq!(text_of(&c, "#public-key").await, old.public_key);
        assert!(
            c.find(Locator::Css("#new-key")).await.is_err(),
            "no secret shown before one is made"
        );

        c.find(Locator::Css("#create-key"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_for_css(&c, "#new-key").await;
        let id = text_of(&c, "#new-key-id").await;
        let secret = text_of(&c, "#new-key-secret").await;
        assert!(
            id.starts_with("key_test_") && secret.starts_with("sk_test_"),
            "{id} {secret}"
        );
        screenshot(&c, "developers").await;
        assert_eq!(
            api_status(app, &id, &secret).await,
            200,
            "the new key works at once"
        );
        assert_eq!(api_status(app, &id, "sk_test_wrong").await, 401);

        // Reloaded, the page never shows the secret again.
        c.goto(&format!("{base}/portal/test/developers?lang=en"))
            .await
            .unwrap();
        wait_for_css(&c, "#keys").await;
        assert!(!c.source().await.unwrap().contains(&secret));

        c.find(Locator::Css(&format!(
            "button[data-revoke='{}']",
            old.private_key_id
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wait_for_css(&c, "#done").await;
        assert_eq!(
            api_status(app, &old.private_key_id, &old.private_key_secret).await,
            401,
            "the revoked key is refused"
        );
        assert_eq!(api_status(app, &id, &secret).await, 200);

        let url = c.find(Locator::Css("#callback_url")).await.unwrap();
        url.clear().await.unwrap();
        url.send_keys("https://shop.example/kassa-callbacks")
            .await
            .unwrap();
        c.find(Locator::Css("#statuses option[value='final']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("#save-callbacks"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The page before said "revoked" in the same place: wait for the answer to this form.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while c.current_url().await.unwrap().query() != Some("done=saved") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the settings were not saved"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    let m = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    if browser::browser_available("portal_developers") {
        assert_eq!(
            m.callback_url.as_deref(),
            Some("https://shop.example/kassa-callbacks")
        );
        assert_eq!(m.callback_statuses, CallbackStatuses::Final);
        assert_eq!(keys_of(app, true).await.len(), 1);
    }
}

#[tokio::test]
async fn refusals_change_nothing() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let mut v = Visitor::new(&app);
    v.sign_in().await;
    let csrf = v.csrf().await;
    let first = app.merchant.test.private_key_id.clone();

    // Without the form's token nothing is made or revoked.
    let r = v.post("/portal/test/developers/keys", &[]).await;
    assert_eq!(r.status().as_u16(), 403);
    let revoke = format!("/portal/test/developers/keys/{first}/revoke");
    assert_eq!(
        v.post(&revoke, &[("csrf", "forged")])
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(keys_of(&app, true).await, vec![first.clone()]);

    // The mode's last key stays.
    let r = v.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("done=last_key"));
    assert_eq!(keys_of(&app, true).await, vec![first.clone()]);
    let t = &app.merchant.test;
    assert_eq!(
        api_status(&app, &t.private_key_id, &t.private_key_secret).await,
        200
    );

    // A live key is not revoked from the test page, nor another merchant's.
    let live = app.merchant.live.private_key_id.clone();
    let r = v
        .post(
            &format!("/portal/test/developers/keys/{live}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let other = app
        .engine()
        .create_merchant(kassa_engine::merchants::NewMerchant {
            name: "Other shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let theirs = app
        .engine()
        .create_private_key(other.merchant_id.clone(), true)
        .await
        .unwrap();
    let r = v
        .post(
            &format!(
                "/portal/test/developers/keys/{}/revoke",
                theirs.private_key_id
            ),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        api_status(&app, &theirs.private_key_id, &theirs.private_key_secret).await,
        200
    );

    // Keys are bounded per mode.
    for _ in 1..kassa_domain::merchant::PRIVATE_KEYS_MAX {
        let r = v
            .post("/portal/test/developers/keys", &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status().as_u16(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"new-key-secret\""), "{page}");
    }
    let r = v
        .post("/portal/test/developers/keys", &[("csrf", &csrf)])
        .await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("done=too_many"));
    assert_eq!(
        keys_of(&app, true).await.len(),
        kassa_domain::merchant::PRIVATE_KEYS_MAX
    );
    assert_eq!(keys_of(&app, false).await, [live]);

    // A callback URL that cannot be one changes nothing.
    let before = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    for url in ["ftp://shop.example/x", "not a url"] {
        let r = v
            .post(
                "/portal/test/developers/callbacks",
                &[
                    ("csrf", &csrf),
                    ("callback_url", url),
                    ("statuses", "final"),
                ],
            )
            .await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .ends_with("done=bad_url"),
            "{url}"
        );
    }
    let r = v
        .post(
            "/portal/test/developers/callbacks",
            &[
                ("csrf", &csrf),
                ("callback_url", "https://shop.example/cb"),
                ("statuses", "some"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let after = app
        .engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    assert_eq!(
        (after.callback_url, after.callback_statuses),
        (before.callback_url, before.callback_statuses)
    );
}
