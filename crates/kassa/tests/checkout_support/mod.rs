//! Helpers shared by the Checkout API tests (`checkout_api.rs`,
//! `checkout_errors.rs`). Every request goes through [`send`], which fails the
//! test on any 5xx: a client's mistake must never be a server error.
#![allow(dead_code)]

use kassa_engine::merchants::{IssuedCredentials, IssuedMerchant, NewMerchant};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::common::TestApp;

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub www_authenticate: Option<String>,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    /// `data.id` of a JSON answer.
    pub fn id(&self) -> String {
        self.json["data"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no data.id in {}", self.text))
            .to_string()
    }

    /// `data.attributes` of a private-API answer.
    pub fn attributes(&self) -> &Value {
        &self.json["data"]["attributes"]
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
}

/// Sends a request and reads the whole answer; a 5xx fails the test.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let location = header("location");
    let www_authenticate = header("www-authenticate");
    let text = response.text().await.expect("a readable body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status < 500, "server error {status}: {text}");
    Reply {
        status,
        content_type,
        location,
        www_authenticate,
        text,
        json,
    }
}

/// A request to the private API with the given credentials.
pub fn private_as(
    app: &TestApp,
    creds: &IssuedCredentials,
    method: Method,
    path: &str,
) -> RequestBuilder {
    app.http
        .request(method, app.url(path))
        .basic_auth(&creds.private_key_id, Some(&creds.private_key_secret))
}

/// Creates an invoice through the private API with `creds`.
pub async fn create_as(app: &TestApp, creds: &IssuedCredentials, attributes: Value) -> Reply {
    let body = json!({"data": {"type": "payment-invoices", "attributes": attributes}});
    send(private_as(app, creds, Method::POST, "/api/payment-invoices").json(&body)).await
}

/// Creates an invoice through the private API with the test credentials.
pub async fn create(app: &TestApp, attributes: Value) -> Reply {
    create_as(app, &app.merchant.test, attributes).await
}

/// `GET` on the private API with `creds`.
pub async fn get_as(app: &TestApp, creds: &IssuedCredentials, path: &str) -> Reply {
    send(private_as(app, creds, Method::GET, path)).await
}

/// `GET` on the private API with the test credentials.
pub async fn get(app: &TestApp, path: &str) -> Reply {
    get_as(app, &app.merchant.test, path).await
}

/// A JSON `POST` with no credentials (the public API carries its key in the body).
pub async fn post_json(app: &TestApp, path: &str, body: &Value) -> Reply {
    send(app.http.post(app.url(path)).json(body)).await
}

/// A `POST` of raw bytes, with a content type.
pub async fn post_raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
    send(
        app.http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

/// Creates an invoice through the public API with the test public key.
pub async fn create_public(app: &TestApp, mut body: Value) -> Reply {
    body["public_key"] = json!(app.test_public_key());
    post_json(app, "/public-api/payment-invoices", &body).await
}

/// Posts the payment-link form.
pub async fn post_form(app: &TestApp, pairs: &[(&str, &str)]) -> Reply {
    send(
        app.http
            .post(app.url("/public-api/payment-invoices/process"))
            .form(pairs),
    )
    .await
}

/// Ids of every invoice `creds` can list, newest first.
pub async fn list_ids_as(app: &TestApp, creds: &IssuedCredentials) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = "/api/payment-invoices?page[size]=100".to_string();
    loop {
        let reply = get_as(app, creds, &path).await;
        reply.expect(200);
        for item in reply.json["data"].as_array().expect("data is a list") {
            ids.push(item["id"].as_str().expect("an id").to_string());
        }
        match reply.json["links"]["next"].as_str() {
            Some(next) if !next.is_empty() => path = next.to_string(),
            _ => return ids,
        }
    }
}

/// Ids of the test-mode invoices of the test merchant, newest first.
pub async fn list_ids(app: &TestApp) -> Vec<String> {
    list_ids_as(app, &app.merchant.test).await
}

/// Invoices of the test merchant in both modes.
pub async fn invoice_count(app: &TestApp) -> usize {
    list_ids_as(app, &app.merchant.test).await.len()
        + list_ids_as(app, &app.merchant.live).await.len()
}

/// Fails unless the merchant has no invoice at all, in either mode.
#[track_caller]
pub fn assert_none_created(count: usize, what: &str) {
    assert_eq!(count, 0, "{what}: a refused request created an invoice");
}

/// A second merchant on the same server.
pub async fn other_merchant(app: &TestApp) -> IssuedMerchant {
    app.engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .expect("second merchant")
}

/// Unix seconds as RFC 3339 (`2020-12-13T15:52:00+00:00`).
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a representable time")
        .to_rfc3339()
}

/// The manual clock's now.
pub fn now(app: &TestApp) -> i64 {
    app.engine().now_secs()
}

/// The spec's error body for a status without details.
pub fn error_body(status: &str, code: u16) -> Value {
    json!({"errors": [{"status": status, "code": code.to_string()}]})
}

pub fn unauthorized() -> Value {
    error_body("Unauthorized", 401)
}

pub fn not_found() -> Value {
    error_body("Not Found", 404)
}

/// A 422 body naming one field.
pub fn invalid(field: &str, message: &str) -> Value {
    json!({"errors": {field: message}})
}

/// Checks a detailed error (`400`, `403`, `409`): the spec's entry plus a detail.
#[track_caller]
pub fn assert_error_entry(reply: &Reply, status: &str, code: u16) {
    reply.expect(code);
    let errors = reply.json["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors list in {}", reply.text));
    assert_eq!(errors.len(), 1, "{}", reply.text);
    assert_eq!(errors[0]["status"], status, "{}", reply.text);
    assert_eq!(errors[0]["code"], code.to_string(), "{}", reply.text);
    assert!(
        errors[0]["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "a detail says why: {}",
        reply.text
    );
}

/// A 422 whose `errors` object holds `field` (and returns its message).
#[track_caller]
pub fn assert_invalid_field(reply: &Reply, field: &str) -> String {
    reply.expect(422);
    let errors = reply.json["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("errors object in {}", reply.text));
    errors
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error for {field} in {}", reply.text))
        .to_string()
}
