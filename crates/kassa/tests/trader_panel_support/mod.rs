//! The trader panel tests' helpers: a trader with a card cabinet and a
//! panel user, a live payout it is offered, the books' check, and a visitor
//! over plain HTTP that fills in the panel's forms as a browser would (its
//! cookie jar is the one session cookie).
#![allow(dead_code)]

use fantoccini::{Client, Locator};
use kassa_domain::payout::{Payout, PayoutSource};
use kassa_domain::{Currency, Trader, WebRealm};
use kassa_engine::payouts::NewPayout;
use serde_json::json;

use crate::common::{rub_trader, TestApp};
// The same form and cookie readings as the portal's and the console's;
// each test binary uses some of them.
#[allow(unused_imports)]
pub use crate::portal_support::{cookie_from, hidden_csrf, wait_for_css};

pub const EMAIL: &str = "ivan@trader.example";
pub const PASSWORD: &str = "a long trader password";
pub const CARD: &str = "2200123456789012";
pub const PAYOUT_CARD: &str = "4242424242424242";
pub const PAYOUT_CARD_MASKED: &str = "424242******4242";

pub fn rub() -> Currency {
    Currency::from_code("RUB").unwrap()
}

/// A live trader with one active RUB card cabinet at "sberbank", and a
/// panel user `email` of it.
pub async fn trader_with_user(app: &TestApp, name: &str, card: &str, email: &str) -> Trader {
    let (trader, _) = rub_trader(app, name, "card", card).await;
    app.engine()
        .create_web_user(
            WebRealm::Trader,
            trader.id.clone(),
            email,
            Some(PASSWORD.into()),
        )
        .await
        .expect("panel user");
    trader
}

/// A live RUB card payout of `amount_minor` (the merchant funded for it
/// first), which card traders are offered.
pub async fn offered_payout(app: &TestApp, request_id: &str, amount_minor: i64) -> Payout {
    let engine = app.engine();
    engine
        .adjust_balance(
            app.merchant.merchant_id.clone(),
            false,
            rub(),
            amount_minor * 2,
            "top-up".into(),
        )
        .await
        .expect("top-up");
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .expect("merchant");
    let fields =
        json!({"card_number": PAYOUT_CARD, "card_holder": "Petr P.", "bank_name": "tinkoff"});
    engine
        .create_payout(
            &merchant,
            false,
            NewPayout {
                request_id: request_id.into(),
                amount_minor,
                currency: "RUB".into(),
                method: "card".into(),
                additional_fields: fields.as_object().unwrap().clone(),
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            },
        )
        .await
        .expect("payout")
        .payout
}

/// The books balance: every currency's accounts sum to zero and no
/// merchant account is negative.
pub async fn assert_books_balance(app: &TestApp) {
    let totals = app.engine().ledger_totals().await.expect("totals");
    for (test_mode, currency, sum) in &totals.per_currency {
        assert_eq!(*sum, 0, "{currency} (test {test_mode}) does not balance");
    }
    assert!(totals.negative.is_empty(), "{:?}", totals.negative);
}

/// A browser over plain HTTP: the cookie jar is the one session cookie.
pub struct Visitor<'a> {
    app: &'a TestApp,
    pub session: Option<String>,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Visitor { app, session: None }
    }

    fn cookie(&self) -> String {
        self.session
            .as_ref()
            .map(|s| format!("kassa_trader={s}"))
            .unwrap_or_default()
    }

    /// Fills in the sign-in form as a browser would; the response.
    pub async fn sign_in_with(&mut self, email: &str, password: &str) -> reqwest::Response {
        let form = self
            .app
            .http
            .get(self.app.url("/trader/sign-in"))
            .send()
            .await
            .unwrap();
        let form_cookie = cookie_from(&form, "kassa_trader_signin").expect("form cookie");
        let csrf = hidden_csrf(&form.text().await.unwrap());
        let body = serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("code", ""),
            ("next", "/trader/deals"),
        ])
        .unwrap();
        let response = self
            .app
            .http
            .post(self.app.url("/trader/sign-in"))
            .header("cookie", format!("kassa_trader_signin={form_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        if let Some(s) = cookie_from(&response, "kassa_trader").filter(|s| !s.is_empty()) {
            self.session = Some(s);
        }
        response
    }

    pub async fn sign_in_as(&mut self, email: &str) {
        let r = self.sign_in_with(email, PASSWORD).await;
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
        assert!(self.session.is_some());
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .app
            .http
            .get(self.app.url(path))
            .header("cookie", self.cookie())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token the signed-in pages carry.
    pub async fn csrf(&self) -> String {
        let (status, html) = self.get("/trader/deals").await;
        assert_eq!(status, 200, "{html}");
        hidden_csrf(&html)
    }
}

pub async fn screenshot(client: &Client, name: &str) {
    if std::env::var_os("KASSA_WRITE_SCREENSHOTS").is_none() {
        return;
    }
    let png = client.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("trader-{name}.png")), png).unwrap();
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

pub async fn type_into(client: &Client, css: &str, text: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}
