//! The portal tests' helpers: a portal user, invoices made through the API
//! and waited on until their callbacks are delivered, and a visitor over
//! plain HTTP that fills in forms as a browser would (its cookie jar is the
//! one session cookie).
#![allow(dead_code)]

use std::time::Duration;

use fantoccini::{Client, Locator};
use kassa_domain::WebRealm;
use serde_json::json;

use crate::common::{test_invoice, TestApp};

pub const EMAIL: &str = "owner@shop.example";
pub const PASSWORD: &str = "a long portal password";

pub async fn add_user(app: &TestApp, merchant_id: &str, email: &str) -> String {
    app.engine()
        .create_web_user(
            WebRealm::Merchant,
            merchant_id.to_string(),
            email,
            Some(PASSWORD.into()),
        )
        .await
        .expect("portal user")
        .user
        .id
}

/// Creates a test invoice (with the given outcome and callback URL); its id.
pub async fn create(
    app: &TestApp,
    status: &str,
    reference: &str,
    callback_url: Option<&str>,
) -> String {
    let mut attributes = test_invoice(status);
    attributes["reference_id"] = json!(reference);
    if let Some(url) = callback_url {
        attributes["callback_url"] = json!(url);
    }
    let (code, body) = app.create_private(attributes).await;
    assert_eq!(code, 201, "{body}");
    body["data"]["id"].as_str().expect("id").to_string()
}

/// Waits until the test provider has processed the invoice and every
/// callback it owes is delivered; how many callbacks (and attempts) that is.
pub async fn settled(app: &TestApp, id: &str) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let invoice = app.engine().invoice_for_page(id.into()).await.unwrap().0;
        if invoice.status != kassa_domain::InvoiceStatus::Processed {
            assert!(tokio::time::Instant::now() < deadline, "{invoice:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let callbacks = app.engine().callbacks(id.into()).await.unwrap();
        let attempts = app.engine().callback_attempts(id.into()).await.unwrap();
        let done = callbacks
            .iter()
            .all(|c| c.state == kassa_domain::CallbackState::Done);
        if done && attempts.len() == callbacks.len() {
            return callbacks.len();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{callbacks:?} {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

pub fn cookie_from(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap().to_string())
        })
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
            .map(|s| format!("kassa_portal={s}"))
            .unwrap_or_default()
    }

    /// Fills in the sign-in form as a browser would; the response.
    pub async fn sign_in_with(
        &mut self,
        email: &str,
        password: &str,
        code: &str,
    ) -> reqwest::Response {
        let form = self
            .app
            .http
            .get(self.app.url("/portal/sign-in"))
            .send()
            .await
            .unwrap();
        let form_cookie = cookie_from(&form, "kassa_portal_signin").expect("form cookie");
        let csrf = hidden_csrf(&form.text().await.unwrap());
        let body = serde_urlencoded::to_string([
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("code", code),
            ("next", "/portal/test/invoices"),
        ])
        .unwrap();
        let response = self
            .app
            .http
            .post(self.app.url("/portal/sign-in"))
            .header("cookie", format!("kassa_portal_signin={form_cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        if let Some(s) = cookie_from(&response, "kassa_portal").filter(|s| !s.is_empty()) {
            self.session = Some(s);
        }
        response
    }

    pub async fn sign_in(&mut self) {
        let r = self.sign_in_with(EMAIL, PASSWORD, "").await;
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
        let (status, html) = self.get("/portal/test/invoices").await;
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
    std::fs::write(dir.join(format!("portal-{name}.png")), png).unwrap();
}

pub async fn wait_for_css(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}
