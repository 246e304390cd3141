//! The console tests' helpers: operator users of each role, a live trader
//! with a disputed deal, an open deal and a bank notification no deal
//! matched, and a visitor over plain HTTP with the console's session cookie.
#![allow(dead_code)]

pub mod money;

use std::time::Duration;

use fantoccini::Client;
use kassa_domain::{Deal, DealStatus, OperatorRole, Trader};
use kassa_engine::p2p::NewNotification;

use crate::common::{open_deal_in, rub_trader, TestApp};
use crate::portal_support::{cookie_from, hidden_csrf};

pub const ADMIN: &str = "admin@kassa.example";
pub const SUPPORT: &str = "support@kassa.example";
pub const PASSWORD: &str = "a long console password";
pub const CARD: &str = "2200123456789012";

pub async fn add_operator(app: &TestApp, email: &str, role: OperatorRole) -> String {
    app.engine()
        .create_operator_user(email, Some(PASSWORD.into()), role)
        .await
        .expect("console user")
        .user
        .id
}

/// What the scenarios work on: a live trader whose cabinet has a disputed
/// deal of 700.00 RUB and an open one of 900.00, and a notification of
/// 905.00 on that cabinet that matched neither.
pub struct Floor {
    pub trader: Trader,
    pub disputed: Deal,
    pub open: Deal,
    pub notification_id: String,
}

pub async fn floor(app: &TestApp) -> Floor {
    let (trader, _token) = rub_trader(app, "Ivan", "card", CARD).await;
    let disputed = open_deal_in(app, false, "700.00", "sberbank").await;
    dispute(app, &disputed).await;
    let open = open_deal_in(app, false, "900.00", "sberbank").await;
    let posted = app
        .engine()
        .post_bank_notification(
            &trader,
            NewNotification {
                external_id: "sms-1".into(),
                cabinet_id: open.cabinet_id.clone(),
                amount: "905.00".into(),
                text: Some(format!("Card {CARD}: +905.00 RUB")),
                received_at_secs: None,
            },
        )
        .await
        .expect("notification");
    assert_eq!(posted.notification.deal_id, None, "matched no deal");
    let disputed = app.engine().deal(disputed.id).await.unwrap();
    Floor {
        trader,
        disputed,
        open,
        notification_id: posted.notification.id,
    }
}

/// The customer says they paid, then the deadline passes: a dispute.
pub async fn dispute(app: &TestApp, deal: &Deal) {
    app.engine()
        .customer_says_paid(deal.invoice_id.clone())
        .await
        .expect("customer says paid");
    app.advance_secs(app.config.deal_ttl_secs + 1);
    app.engine().expire_due_deals().await.expect("expiry");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while deal_status(app, &deal.id).await != DealStatus::Disputed {
        assert!(tokio::time::Instant::now() < deadline, "no dispute");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn deal_status(app: &TestApp, id: &str) -> DealStatus {
    app.engine().deal(id.into()).await.expect("deal").status
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

/// A browser over plain HTTP with the console's session cookie.
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
            .map(|s| format!("kassa_console={s}"))
            .unwrap_or_default()
    }

    pub async fn sign_in_with(&mut self, email: &str, password: &str) -> reqwest::Response {
        self.sign_in_with_code(email, password, "").await
    }

    /// Fills in the sign-in form as a browser would; the response.
    pub async fn sign_in_with_code(
        &mut self,
        email: &str,
        password: &str,
        code: &str,
    ) -> reqwest::Response {
        let form = self
            .app
            .http
            .get(self.app.url("/console/sign-in"))
            .send()
            .await
            .unwrap();
        let form_cookie = cookie_from(&form, "kassa_console_signin").expect("form cookie");
        let csrf = hidden_csrf(&form.text().await.unwrap());
        let body = serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("code", code),
            ("next", "/console/disputes"),
        ])
        .unwrap();
        let response = self
            .app
            .http
            .post(self.app.url("/console/sign-in"))
            .header("cookie", format!("kassa_console_signin={form_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        if let Some(s) = cookie_from(&response, "kassa_console").filter(|s| !s.is_empty()) {
            self.session = Some(s);
        }
        response
    }

    pub async fn sign_in(&mut self, email: &str) {
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

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .app
            .http
            .post(self.app.url(path))
            .header("cookie", self.cookie())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The CSRF token the signed-in pages carry.
    pub async fn csrf(&self) -> String {
        let (status, html) = self.get("/console/disputes").await;
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
    std::fs::write(dir.join(format!("console-{name}.png")), png).unwrap();
}
