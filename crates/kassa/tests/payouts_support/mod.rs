//! Helpers of the H2H payout tests: a signer of bodies with objects in them
//! (written apart from the server's code: `additional_fields` as compact JSON
//! with sorted keys), money paid in through the Checkout API with the live
//! key, and waiting for the workers.
#![allow(dead_code)]

use std::time::Duration;

use hmac::{Hmac, Mac};
use kassa_domain::payout::{Payout, PayoutStatus};
use kassa_domain::{Currency, FeeRule};
use kassa_engine::p2p::NewCabinet;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::TestApp;
use crate::h2h_support::{request_id, Client, Reply};

/// The fields every payout answer (and callback) has, and no others.
pub const ANSWER_KEYS: [&str; 9] = [
    "amount",
    "currency",
    "invoice_id",
    "request_id",
    "signature",
    "site_id",
    "site_login",
    "status",
    "success",
];

/// Compact JSON with the keys of every object sorted.
pub fn compact(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", json!(k), compact(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(compact).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// The canonical text of a body: top-level keys sorted, `signature` and nulls
/// left out, `key:value;` each; objects and arrays as sorted compact JSON.
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
            other => compact(other),
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

pub fn signed(secret: &str, mut body: Value) -> Value {
    body["signature"] = Value::String(sign(secret, &body));
    body
}

#[track_caller]
pub fn assert_signed(secret: &str, answer: &Value) {
    let given = answer["signature"]
        .as_str()
        .unwrap_or_else(|| panic!("no signature in {answer}"));
    assert_eq!(given, sign(secret, answer), "signature of {answer}");
}

/// The keys of an object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// A merchant's H2H payout client.
pub struct Payouts {
    pub client: Client,
}

impl Payouts {
    pub fn of(app: &TestApp) -> Payouts {
        Payouts {
            client: Client::of(app),
        }
    }

    pub fn secret(&self) -> &str {
        &self.client.secret
    }

    /// An unsigned payout body with a fresh `request_id`.
    pub fn body(&self, method: &str, currency: &str, amount_minor: i64, fields: Value) -> Value {
        json!({
            "merchant_id": self.client.merchant_id,
            "site_id": self.client.site_id,
            "site_login": self.client.site_login,
            "request_id": request_id(),
            "amount": amount_minor,
            "currency": currency,
            "method": method,
            "additional_fields": fields,
        })
    }

    /// Posts `body` as it is to `/api/payout`.
    pub async fn post(&self, body: &Value) -> Reply {
        self.client.post_json("/api/payout", body).await
    }

    /// Signs and posts `body`; a 200 must be signed and carry exactly the
    /// spec's fields, for this request.
    pub async fn send(&self, body: Value) -> Reply {
        let reply = self.post(&signed(self.secret(), body.clone())).await;
        if reply.status == 200 {
            check_answer(self.secret(), &reply.json);
            assert_eq!(reply.json["request_id"], body["request_id"]);
            assert_eq!(reply.json["amount"], body["amount"]);
            assert_eq!(reply.json["currency"], body["currency"]);
            assert_eq!(reply.json["site_id"], json!(self.client.site_id));
            assert_eq!(reply.json["site_login"], json!(self.client.site_login));
        }
        reply
    }

    /// Creates a payout and expects a new pending one.
    pub async fn create(&self, body: Value) -> Value {
        let reply = self.send(body).await;
        reply.expect(200);
        assert_eq!(reply.json["status"], json!(0), "{}", reply.text);
        assert_eq!(reply.json["success"], json!(true), "{}", reply.text);
        reply.json.clone()
    }

    /// `POST /api/balance`, signed, with `currency` when given.
    pub async fn balance(&self, currency: Option<&str>) -> Reply {
        let mut body = json!({
            "merchant_id": self.client.merchant_id,
            "site_id": self.client.site_id,
            "site_login": self.client.site_login,
        });
        if let Some(c) = currency {
            body["currency"] = json!(c);
        }
        let reply = self
            .client
            .post_json("/api/balance", &signed(self.secret(), body))
            .await;
        if reply.status == 200 {
            assert_signed(self.secret(), &reply.json);
        }
        reply
    }
}

/// An answer or callback body: signed, exactly the spec's fields, typed.
#[track_caller]
pub fn check_answer(secret: &str, body: &Value) {
    assert_eq!(keys(body), ANSWER_KEYS, "{body}");
    assert_signed(secret, body);
    assert!(body["status"].is_i64(), "{body}");
    assert!(body["success"].is_boolean(), "{body}");
    assert!(body["amount"].is_i64(), "{body}");
    assert!(body["site_id"].is_i64(), "{body}");
    let id = body["invoice_id"].as_str().expect("invoice_id");
    assert!(id.starts_with("po"), "{body}");
    let status = body["status"].as_i64().unwrap();
    assert_eq!(body["success"], json!(status != 3), "{body}");
}

/// Credits `amount` (decimal text) in `currency` to the merchant's LIVE
/// available balance, as the operator's top-up (`kassa adjust`): live money
/// for live (H2H) payouts. The test service never books live money.
pub async fn fund(app: &TestApp, currency: &str, amount: &str) {
    let currency = kassa_domain::Currency::from_code(currency).expect("currency");
    let minor = kassa_domain::money::parse_minor(amount, currency.exponent()).expect("amount");
    app.engine()
        .adjust_balance(
            app.merchant.merchant_id.clone(),
            false,
            currency,
            minor,
            "top-up".into(),
        )
        .await
        .expect("top-up");
}

/// The merchant's live balance in a currency: (available, pending payouts,
/// reserve), zeros when it has none.
pub async fn live_balance(app: &TestApp, currency: &str) -> (i64, i64, i64) {
    let balances = app
        .engine()
        .balances(app.merchant.merchant_id.clone(), false)
        .await
        .expect("balances");
    balances
        .iter()
        .find(|b| b.currency.code() == currency)
        .map(|b| (b.available_minor, b.pending_payouts_minor, b.reserve_minor))
        .unwrap_or((0, 0, 0))
}

/// Whether the merchant has a live payout of `request_id`.
pub async fn exists(app: &TestApp, request_id: &Value) -> bool {
    app.engine()
        .payout_by_request(
            app.merchant.merchant_id.clone(),
            false,
            request_id
                .as_str()
                .expect("a string request_id")
                .to_string(),
        )
        .await
        .is_ok()
}

/// Polls the payout of `request_id` until it has `status` (10 s at most).
pub async fn wait_for_status(app: &TestApp, request_id: &Value, status: PayoutStatus) -> Payout {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let payout = app
            .engine()
            .payout_by_request(
                app.merchant.merchant_id.clone(),
                false,
                request_id.as_str().unwrap().to_string(),
            )
            .await
            .expect("the payout");
        if payout.status == status {
            return payout;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {status:?}: {payout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sets the site's callback URL.
pub async fn set_callback_url(app: &TestApp, url: &str) {
    let url = url.to_string();
    app.engine()
        .update_merchant(app.merchant.merchant_id.clone(), move |m| {
            m.callback_url = Some(url)
        })
        .await
        .expect("merchant updated");
}

/// A trader with an active cabinet serving `method` in `currency`; its id.
/// Cabinet methods are lower case (`mts` serves the payout method `MTS`).
pub async fn payout_trader(app: &TestApp, method: &str, currency: &str) -> String {
    let engine = app.engine();
    let trader = engine
        .create_trader(format!("Payout trader {method} {currency}"))
        .await
        .expect("trader")
        .0
        .id;
    engine
        .add_cabinet(NewCabinet {
            trader_id: trader.clone(),
            method: method.to_lowercase(),
            currency: Currency::from_code(currency).expect("currency"),
            bank_name: "Tinkoff".into(),
            requisite: "2200123456789012".into(),
            holder: "IVAN IVANOV".into(),
            min_amount_minor: 1,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .expect("cabinet");
    trader
}

/// A payout fee of `fix_minor` per payout in `currency`.
pub async fn fixed_fee(app: &TestApp, currency: &str, fix_minor: i64) {
    app.engine()
        .set_payout_fee(
            Currency::from_code(currency).unwrap(),
            FeeRule {
                fix_minor,
                ..FeeRule::default()
            },
        )
        .await
        .expect("fee set");
}
