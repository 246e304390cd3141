//! Helpers of the H2H tests: a client that signs bodies with its own
//! implementation of the signature (the `hmac` crate, not the server's code),
//! seeding of traders and cabinets, and answers read whole. Every request
//! fails the test on a 5xx: a client's mistake must never be a server error.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use kassa_domain::{Cabinet, Currency};
use kassa_engine::merchants::IssuedMerchant;
use kassa_engine::p2p::NewCabinet;
use kassa_engine::Engine;
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::common::TestApp;

/// The canonical text of a flat body, written independently of the server:
/// keys sorted, `signature` and nulls left out, `key:value;` each.
pub fn canonical(body: &Value) -> String {
    let map = body.as_object().expect("a body is an object");
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut out = String::new();
    for key in keys {
        let value = &map[key];
        if key == "signature" || value.is_null() {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => panic!("the test signer writes flat bodies only, not {other}"),
        };
        out.push_str(&format!("{key}:{text};"));
    }
    out
}

pub fn sign(secret: &str, body: &Value) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical(body).as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `body` with its `signature` set.
pub fn signed(secret: &str, mut body: Value) -> Value {
    let signature = sign(secret, &body);
    body["signature"] = Value::String(signature);
    body
}

/// Whether an answer's `signature` is the one `secret` makes.
#[track_caller]
pub fn assert_signed(secret: &str, answer: &Value) {
    let given = answer["signature"]
        .as_str()
        .unwrap_or_else(|| panic!("no signature in {answer}"));
    assert_eq!(given, sign(secret, answer), "answer signature of {answer}");
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A request id no other request of this test run has.
pub fn request_id() -> String {
    format!(
        "req-{}-{}",
        std::process::id(),
        REQUESTS.fetch_add(1, Ordering::Relaxed)
    )
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "answer: {}", self.text);
        self
    }

    /// Asserts a failure and its `error` text.
    #[track_caller]
    pub fn expect_error(&self, status: u16, error: &str) -> &Self {
        self.expect(status);
        assert_eq!(
            self.json["error"].as_str(),
            Some(error),
            "answer: {}",
            self.text
        );
        self
    }

    /// The `amount` of a 200.
    #[track_caller]
    pub fn amount(&self) -> i64 {
        self.expect(200);
        self.json["amount"]
            .as_i64()
            .unwrap_or_else(|| panic!("no integer amount in {}", self.text))
    }

    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

/// Who signs: a merchant's H2H identity against one server.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base_url: String,
    pub merchant_id: String,
    pub site_id: i64,
    pub site_login: String,
    pub secret: String,
}

impl Client {
    pub fn new(http: reqwest::Client, base_url: &str, merchant: &IssuedMerchant) -> Client {
        Client {
            http,
            base_url: base_url.to_string(),
            merchant_id: merchant.merchant_id.clone(),
            site_id: merchant.site_id,
            site_login: merchant.site_login.clone(),
            secret: merchant.h2h_secret.clone(),
        }
    }

    pub fn of(app: &TestApp) -> Client {
        Client::new(app.http.clone(), &app.base_url, &app.merchant)
    }

    /// The same merchant against another server.
    pub fn at(&self, base_url: &str) -> Client {
        Client {
            base_url: base_url.to_string(),
            ..self.clone()
        }
    }

    /// An unsigned `book_cabinet` body of this merchant: card, RUB, a fresh
    /// request id.
    pub fn body(&self, amount_minor: i64) -> Value {
        json!({
            "request_id": request_id(),
            "merchant_id": self.merchant_id,
            "site_id": self.site_id,
            "site_login": self.site_login,
            "method": "card",
            "currency": "RUB",
            "amount": amount_minor,
        })
    }

    pub fn sign(&self, body: Value) -> Value {
        signed(&self.secret, body)
    }

    /// Posts `body` as it is (no signing) to `path`.
    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, serde_json::to_vec(body).expect("JSON"))
            .await
    }

    pub async fn post_raw(&self, path: &str, bytes: Vec<u8>) -> Reply {
        let response = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status < 500, "server error {status}: {text}");
        Reply { status, text, json }
    }

    /// Posts `body` (signed as given) to `/api/book_cabinet`.
    pub async fn post(&self, body: &Value) -> Reply {
        self.post_json("/api/book_cabinet", body).await
    }

    /// Signs `body` and books; a 200 must carry a valid signature.
    pub async fn book_body(&self, body: Value) -> Reply {
        let reply = self.post(&self.sign(body)).await;
        if reply.status == 200 {
            assert_signed(&self.secret, &reply.json);
        }
        reply
    }

    /// Books `amount_minor` on a card in RUB.
    pub async fn book(&self, amount_minor: i64) -> Reply {
        self.book_body(self.body(amount_minor)).await
    }

    /// Books with `bank_name` set.
    pub async fn book_at_bank(&self, amount_minor: i64, bank: &str) -> Reply {
        let mut body = self.body(amount_minor);
        body["bank_name"] = json!(bank);
        self.book_body(body).await
    }
}

pub fn rub() -> Currency {
    Currency::from_code("RUB").expect("RUB")
}

pub async fn trader(engine: &Engine) -> String {
    engine
        .create_trader("Trader".into())
        .await
        .expect("trader")
        .0
        .id
}

/// An active card cabinet in RUB at "Tinkoff" with no limits.
pub fn card(trader_id: &str) -> NewCabinet {
    NewCabinet {
        trader_id: trader_id.to_string(),
        method: "card".into(),
        currency: rub(),
        bank_name: "Tinkoff".into(),
        requisite: "2200123456789012".into(),
        holder: "IVAN IVANOV".into(),
        min_amount_minor: 1,
        max_amount_minor: 0,
        daily_limit_minor: 0,
        max_open_deals: 0,
        active: true,
    }
}

pub async fn add(engine: &Engine, cabinet: NewCabinet) -> Cabinet {
    engine.add_cabinet(cabinet).await.expect("cabinet")
}

/// A trader with one plain card cabinet (see [`card`]).
pub async fn one_card(engine: &Engine) -> Cabinet {
    let trader = trader(engine).await;
    add(engine, card(&trader)).await
}

/// The seven amounts the default RUB rule offers for `amount_minor`.
pub fn default_candidates(amount_minor: i64) -> Vec<i64> {
    (0..7).map(|k| amount_minor + 100 * k).collect()
}

/// Every `map` field of a JSON object body, for tests that edit them.
pub fn object(value: &Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}
