//! Helpers of the Merchant API tests: signed requests, a trader with
//! cabinets, and the shapes every answer must have. Every request goes
//! through [`send`], which fails the test on any 5xx.
#![allow(dead_code)]

use std::time::Duration;

use hmac::{Hmac, Mac};
use kassa_domain::{Cabinet, Currency, Merchant};
use kassa_engine::merchants::IssuedCredentials;
use kassa_engine::p2p::NewCabinet;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::TestApp;

pub const PATH: &str = "/api/merchant/invoices";

/// Lowercase hex of HMAC-SHA256(secret, text).
pub fn hmac_hex(secret: &str, text: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.json
    }

    /// Checks a Merchant API error: its status, code and (when given) the
    /// field it names.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, field: Option<&str>) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        let error = &self.json["error"];
        assert_eq!(error["code"], code, "{}", self.text);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.text
        );
        assert!(error["fields"].is_object(), "{}", self.text);
        if let Some(field) = field {
            assert!(
                error["fields"][field]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "no message for {field}: {}",
                self.text
            );
        }
        error
    }

    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_string()
    }
}

/// Sends a request and reads the whole answer; a 5xx fails the test.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a readable body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status < 500, "server error {status}: {text}");
    Reply { status, text, json }
}

/// The Merchant API as a merchant with `creds` calls it.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub key: String,
    pub secret: String,
}

impl<'a> Api<'a> {
    /// The test merchant with its test key.
    pub fn test(app: &'a TestApp) -> Api<'a> {
        Self::with(app, &app.merchant.test)
    }

    pub fn with(app: &'a TestApp, creds: &IssuedCredentials) -> Api<'a> {
        Api {
            app,
            key: creds.merchant_api_key.clone(),
            secret: creds.merchant_api_secret.clone(),
        }
    }

    /// A POST of `body` as is, signed.
    pub async fn post_raw(&self, body: &str) -> Reply {
        send(
            self.app
                .http
                .post(self.app.url(PATH))
                .header("content-type", "application/json")
                .header("X-Identity", &self.key)
                .header("X-Signature", hmac_hex(&self.secret, body.as_bytes()))
                .body(body.to_string()),
        )
        .await
    }

    pub async fn post(&self, body: &Value) -> Reply {
        self.post_raw(&body.to_string()).await
    }

    /// A GET of `path_and_query`, its path and query signed.
    pub async fn get(&self, path_and_query: &str) -> Reply {
        send(
            self.app
                .http
                .get(self.app.url(path_and_query))
                .header("X-Identity", &self.key)
                .header(
                    "X-Signature",
                    hmac_hex(&self.secret, path_and_query.as_bytes()),
                ),
        )
        .await
    }

    /// The InvoiceDTO of `id`.
    pub async fn invoice(&self, id: &str) -> Value {
        self.get(&format!("{PATH}/{id}")).await.expect(200).clone()
    }

    /// Polls the invoice until `check` holds (the workers run in real time;
    /// only the clock they read is manual). Fails after 10 s.
    pub async fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let dto = self.invoice(id).await;
            if check(&dto) {
                return dto;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {dto}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A request with any method, headers chosen by the caller.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app.http.request(method, self.app.url(path))
    }
}

/// A valid `type: in` body; `notificationUrl` points at a closed port unless
/// a test needs a receiver.
pub fn body(internal_id: &str, amount: &str) -> Value {
    json!({
        "type": "in",
        "amount": amount,
        "currency": "RUB",
        "notificationUrl": "http://127.0.0.1:9/callbacks",
        "notificationToken": "merchant_notification_token",
        "internalId": internal_id,
        "userId": "uid-1",
        "paymentOption": null,
        "paymentMethod": null,
    })
}

/// A body that asks for a deal.
pub fn deal_body(internal_id: &str, amount: &str) -> Value {
    let mut b = body(internal_id, amount);
    b["startDeal"] = json!(true);
    b
}

pub fn rub() -> Currency {
    Currency::from_code("RUB").unwrap()
}

/// The test merchant as the engine keeps it.
pub async fn merchant(app: &TestApp) -> Merchant {
    app.engine()
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap()
}

/// A test trader with one active RUB cabinet of `method` at `bank`: the
/// sandbox that the test key's deals go to.
pub async fn cabinet(app: &TestApp, method: &str, bank: &str, requisite: &str) -> Cabinet {
    let (trader, _token) = app
        .engine()
        .create_trader_in(format!("Trader {requisite}"), true)
        .await
        .unwrap();
    app.engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id,
            method: method.into(),
            currency: rub(),
            bank_name: bank.into(),
            requisite: requisite.into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .unwrap()
}

/// The keys of an InvoiceDTO, in the specification's order.
pub const INVOICE_KEYS: [&str; 20] = [
    "id",
    "internalId",
    "userId",
    "type",
    "status",
    "paymentMethod",
    "paymentOption",
    "paymentRequisites",
    "sum",
    "storeId",
    "storeName",
    "receivedSumFromTaker",
    "receivedSumFromMaker",
    "serviceFeeSum",
    "payoutSum",
    "createdAt",
    "expireAt",
    "updatedAt",
    "invoiceUrl",
    "deals",
];

/// The keys of a deal of an InvoiceDTO.
pub const DEAL_KEYS: [&str; 14] = [
    "id",
    "type",
    "status",
    "paymentMethod",
    "paymentOption",
    "requisites",
    "canceledAt",
    "disputeAttachment",
    "disputeReason",
    "disputeReasonData",
    "payment",
    "rate",
    "isActive",
    "qrCodeLink",
];

/// Checks that `dto` has exactly the InvoiceDTO's keys, in its order, and so
/// has each deal.
#[track_caller]
pub fn assert_shape(dto: &Value) {
    let keys: Vec<&str> = dto
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {dto}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, INVOICE_KEYS, "{dto}");
    let sum: Vec<&str> = dto["sum"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sum, ["amount", "currency", "subunit"]);
    for deal in dto["deals"].as_array().expect("deals is an array") {
        let keys: Vec<&str> = deal
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, DEAL_KEYS, "{deal}");
        let requisites: Vec<&str> = deal["requisites"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(requisites, ["requisites", "holder"]);
    }
    for key in ["createdAt", "expireAt", "updatedAt"] {
        assert_iso(&dto[key]);
    }
}

/// `2024-11-04T13:55:45+00:00`.
#[track_caller]
pub fn assert_iso(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    assert_eq!(text.len(), 25, "{text}");
    assert!(text.ends_with("+00:00"), "{text}");
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

/// Unix seconds of an ISO time of an answer.
pub fn secs(value: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp()
}

/// Waits until every callback of the invoice is recorded as delivered. A
/// receiver has the request a moment before the worker records it, and a
/// clock moved in that moment past the worker's lease would make the callback
/// due again: tests wait for this before moving the clock.
pub async fn callbacks_settled(app: &TestApp, invoice_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let callbacks = app
            .engine()
            .callbacks(invoice_id.to_string())
            .await
            .unwrap();
        if callbacks
            .iter()
            .all(|c| c.state == kassa_domain::CallbackState::Done)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "callbacks not delivered: {callbacks:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
