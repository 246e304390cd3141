//! The H2H API (specs 000 and 002): signed JSON bodies, answered in the
//! spec's shapes (`{"error": "..."}` on failure).
//!
//! Every request carries `merchant_id`, `site_id`, `site_login` and a
//! `signature`: lowercase hex `HMAC-SHA256(h2h_secret, canonical(body))`
//! (see [`canonical`]). Answers carry a `signature` made the same way, so the
//! merchant can check them. Amounts are integers of minor units.
//!
//! `POST /api/book_cabinet`: holds a unique amount on a trader's cabinet for
//! the hold's lifetime (30 s by default), the exact amount when it is free,
//! else one of the alternatives the currency's rule generates.
//!
//! `POST /api/payout` (spec 002): a live payout with the method's
//! `additional_fields`, its amount held from the merchant's available
//! balance; answered, and later announced by callbacks to the site's callback
//! URL, with the payout's numeric status.
//!
//! `POST /api/balance`: the merchant's live balances per currency.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use kassa_domain::payout::{Payout, PayoutSource};
use kassa_domain::{Currency, Merchant};
use kassa_engine::ledger::Balance;
use kassa_engine::p2p::{BookAnswer, BookRequest};
use kassa_engine::payouts::NewPayout;
use kassa_engine::secrets::constant_time_eq;
use kassa_engine::{Engine, EngineError};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::AppState;

/// The largest request body the H2H API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Longest `merchant_id` looked up; anything longer is no merchant's.
const MERCHANT_ID_MAX: usize = 64;
/// Most entries a payout's `additional_fields` may have.
pub const ADDITIONAL_FIELDS_MAX: usize = 32;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/book_cabinet", post(book_cabinet))
        .route("/api/book_cabinet/", post(book_cabinet))
        .route("/api/payout", post(payout))
        .route("/api/payout/", post(payout))
        .route("/api/balance", post(balance))
        .route("/api/balance/", post(balance))
}

// ---------------------------------------------------------------------------
// Signatures

/// The text an H2H signature covers: every top-level field except
/// `signature`, sorted by key, each written `key:value;`. A string is written
/// as is, a number in its decimal form, a boolean as `true`/`false`, an
/// object or array as compact JSON with sorted keys; null fields are left
/// out.
///
/// `{"b": 2, "a": "x", "signature": "..", "c": null}` gives `a:x;b:2;`.
pub fn canonical(map: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = map
        .iter()
        .filter(|(k, v)| k.as_str() != "signature" && !v.is_null())
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    let mut out = String::new();
    for key in keys {
        out.push_str(key);
        out.push(':');
        match &map[key] {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&number_text(n)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Objects and arrays (null was left out above).
            other => compact_sorted(other, &mut out),
        }
        out.push(';');
    }
    out
}

/// A number's decimal text: integers without exponent or fraction, others as
/// JSON writes them.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.to_string()
    }
}

/// Compact JSON with the keys of every object sorted.
fn compact_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                compact_sorted(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact_sorted(v, out);
            }
            out.push(']');
        }
        Value::Number(n) => out.push_str(&number_text(n)),
        other => out.push_str(&other.to_string()),
    }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The H2H signature of a body: lowercase hex `HMAC-SHA256(secret,
/// canonical(map))`.
pub fn sign(secret: &str, map: &Map<String, Value>) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), canonical(map).as_bytes()))
}

/// Whether `map`'s `signature` is the one `secret` makes, compared in
/// constant time (hex case is ignored).
pub fn verify(secret: &str, map: &Map<String, Value>) -> bool {
    match map.get("signature") {
        Some(Value::String(given)) => {
            constant_time_eq(&sign(secret, map), &given.to_ascii_lowercase())
        }
        _ => false,
    }
}

/// An answer body with its `signature` added.
pub fn signed(secret: &str, mut map: Map<String, Value>) -> Value {
    map.remove("signature");
    let signature = sign(secret, &map);
    map.insert("signature".into(), Value::String(signature));
    Value::Object(map)
}

/// A Unix time as the H2H API writes it: `2025-05-20T06:54:16Z`.
pub fn utc_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

// ---------------------------------------------------------------------------
// Errors

/// An H2H error: a status and `{"error": "..."}`; field errors also list
/// every field in `fields`.
#[derive(Debug)]
pub struct H2hError {
    pub status: StatusCode,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl H2hError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        H2hError {
            status,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Field errors: the message names each field (`amount: must be ...`).
    pub fn fields(status: StatusCode, fields: BTreeMap<String, String>) -> Self {
        let message = fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        H2hError {
            status,
            message,
            fields,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        H2hError::new(StatusCode::UNAUTHORIZED, message)
    }

    fn internal() -> Self {
        H2hError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

impl IntoResponse for H2hError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(self.message));
        if !self.fields.is_empty() {
            let fields = self
                .fields
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            body.insert("fields".into(), Value::Object(fields));
        }
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        crate::retry_after_if_unavailable(&mut response);
        response
    }
}

impl From<EngineError> for H2hError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => H2hError::unauthorized("Invalid signature"),
            EngineError::Forbidden(m) => H2hError::new(StatusCode::FORBIDDEN, m),
            EngineError::NotFound => H2hError::new(StatusCode::NOT_FOUND, "Not found"),
            EngineError::Invalid(fields) => {
                H2hError::fields(StatusCode::UNPROCESSABLE_ENTITY, fields)
            }
            EngineError::Conflict(m) => H2hError::new(StatusCode::CONFLICT, m),
            EngineError::InsufficientFunds => {
                H2hError::new(StatusCode::UNPROCESSABLE_ENTITY, "Insufficient funds")
            }
            EngineError::NoCabinet => H2hError::new(StatusCode::NOT_FOUND, "Card not found"),
            EngineError::AmountsTaken => H2hError::new(
                StatusCode::NOT_FOUND,
                "All generated amounts were already booked",
            ),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                H2hError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable",
                )
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                H2hError::internal()
            }
        }
    }
}

type Result<T> = std::result::Result<T, H2hError>;

// ---------------------------------------------------------------------------
// Parsing

/// Reads at most [`BODY_MAX_BYTES`]; more is a 413.
pub async fn read_body(body: Body) -> Result<Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => H2hError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {BODY_MAX_BYTES} bytes"),
            ),
            crate::BodyError::Unreadable => H2hError::new(
                StatusCode::BAD_REQUEST,
                "The request body could not be read",
            ),
        })
}

/// The body as a JSON object; anything else is a 400.
pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(H2hError::new(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object",
        )),
        Err(e) => Err(H2hError::new(
            StatusCode::BAD_REQUEST,
            format!("Malformed JSON: {e}"),
        )),
    }
}

/// Reads typed fields of a body, collecting an error per bad field.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: BTreeMap<String, String>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Fields {
            map,
            errors: BTreeMap::new(),
        }
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn fail(&mut self, key: &str, message: &str) {
        self.errors
            .entry(key.to_string())
            .or_insert_with(|| message.to_string());
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.present(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(key, "must be a string");
                None
            }
            None => {
                self.fail(key, "is required");
                None
            }
        }
    }

    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.present(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(key, "must be a string");
                None
            }
            None => None,
        }
    }

    /// An integer (`9000`, not `9000.5`, `"9000"` or `9e3`).
    pub fn integer(&mut self, key: &str, message: &str) -> Option<i64> {
        match self.present(key) {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.fail(key, message);
                    None
                }
            },
            Some(_) => {
                self.fail(key, message);
                None
            }
            None => {
                self.fail(key, "is required");
                None
            }
        }
    }

    /// A payout's `additional_fields`: an object (absent or `null`: empty)
    /// of at most [`ADDITIONAL_FIELDS_MAX`] entries whose values are strings
    /// (`asap` may also be a boolean).
    pub fn additional_fields(&mut self, key: &str) -> Option<Map<String, Value>> {
        let map = match self.present(key) {
            None => return Some(Map::new()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.fail(key, "must be an object whose values are strings");
                return None;
            }
        };
        if map.len() > ADDITIONAL_FIELDS_MAX {
            self.fail(
                key,
                &format!("must have at most {ADDITIONAL_FIELDS_MAX} fields"),
            );
            return None;
        }
        let mut ok = true;
        for (name, value) in map {
            if !(value.is_string() || name == "asap" && value.is_boolean()) {
                self.fail(&format!("{key}.{name}"), "must be a string");
                ok = false;
            }
        }
        ok.then(|| map.clone())
    }

    /// The errors so far as a 400 naming each field.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(H2hError::fields(StatusCode::BAD_REQUEST, self.errors))
        }
    }
}

// ---------------------------------------------------------------------------
// Authentication

/// A request whose signature checked out: the merchant, the H2H secret that
/// signed it (to sign the answer) and the mode that secret selects.
pub struct Signed {
    pub merchant: Merchant,
    pub secret: String,
    pub test_mode: bool,
}

/// Refuses a body whose canonical string could be read as another body's.
/// With no `:` or `;` in a top-level key, and no top-level string holding a
/// `;` or starting like JSON (`{`, `[`), [`canonical`] reads back one way:
/// each key ends at its first `:`, a value starting with `{` or `[` is JSON
/// (which ends by itself), any other ends at the first `;`. What is left is
/// a string against a number or boolean of the same text, and every field
/// Kassa reads has a fixed type. So one signature stands for one request. A
/// `:` in a value is harmless (URLs and times carry one).
fn unambiguous(map: &Map<String, Value>) -> Result<()> {
    let mut errors = BTreeMap::new();
    for (key, value) in map {
        let problem = if key.contains([':', ';']) {
            Some("field names must not contain ':' or ';' (they delimit the signed text)")
        } else if key == "signature" {
            None
        } else {
            match value.as_str() {
                Some(s) if s.contains(';') => {
                    Some("must not contain ';' (it delimits the signed text)")
                }
                Some(s) if s.starts_with(['{', '[']) => {
                    Some("must not start with '{' or '[' (the signed text writes objects so)")
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            errors.insert(key.clone(), problem.to_string());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(H2hError::fields(StatusCode::BAD_REQUEST, errors))
    }
}

/// Authenticates an H2H body: `merchant_id` names a merchant, the
/// `signature` is the one its live or its test H2H secret makes (the test
/// one puts the request in test mode), and `site_id`/`site_login` are that
/// merchant's. Ill-typed credential fields are a 400; everything else that
/// fails is a 401.
pub async fn authenticate(engine: &Engine, map: &Map<String, Value>) -> Result<Signed> {
    unambiguous(map)?;
    let mut fields = Fields::new(map);
    let merchant_id = fields.string("merchant_id");
    let site_id = fields.integer("site_id", "must be an integer");
    let site_login = fields.string("site_login");
    fields.finish()?;
    let (merchant_id, site_id, site_login) = (
        merchant_id.expect("checked"),
        site_id.expect("checked"),
        site_login.expect("checked"),
    );
    if merchant_id.is_empty() || merchant_id.len() > MERCHANT_ID_MAX {
        return Err(H2hError::unauthorized("Unknown merchant_id"));
    }
    let merchant = match engine.merchant_to_authenticate(merchant_id).await {
        Ok(m) => m,
        Err(EngineError::NotFound) => return Err(H2hError::unauthorized("Unknown merchant_id")),
        Err(e) => return Err(e.into()),
    };
    let mut signed_with = None;
    for (test_mode, sealed) in [
        (false, &merchant.h2h_secret_sealed),
        (true, &merchant.h2h_test_secret_sealed),
    ] {
        if sealed.is_empty() {
            // A merchant made before the secret existed has none: nothing signs.
            continue;
        }
        let secret = engine.h2h_secret(&merchant, test_mode).ok_or_else(|| {
            tracing::error!(
                merchant = %merchant.id,
                "the H2H secret does not unseal: is the master key the one it was sealed with?"
            );
            H2hError::internal()
        })?;
        if verify(&secret, map) {
            signed_with = Some((secret, test_mode));
            break;
        }
    }
    let Some((secret, test_mode)) = signed_with else {
        return Err(H2hError::unauthorized("Invalid signature"));
    };
    if site_id != merchant.site_id || !constant_time_eq(&site_login, &merchant.site_login) {
        return Err(H2hError::unauthorized(
            "site_id and site_login do not belong to the merchant",
        ));
    }
    Ok(Signed {
        merchant,
        secret,
        test_mode,
    })
}

// ---------------------------------------------------------------------------
// book_cabinet

async fn book_cabinet(State(app): State<AppState>, body: Body) -> Response {
    match book(&app, body).await {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn book(app: &AppState, body: Body) -> Result<Value> {
    let map = json_object(&read_body(body).await?)?;
    let signed = authenticate(&app.engine, &map).await?;
    let request = book_request(&map)?;
    let answer = app
        .engine
        .book_cabinet_in(&signed.merchant, signed.test_mode, request)
        .await?;
    Ok(book_answer(&signed.secret, &answer))
}

/// The `book_cabinet` fields of a body, typed; a 400 names each bad field.
fn book_request(map: &Map<String, Value>) -> Result<BookRequest> {
    let mut fields = Fields::new(map);
    let request_id = fields.string("request_id");
    let method = fields.string("method");
    let currency = fields.string("currency");
    let amount = fields.integer("amount", "must be a positive integer of minor units");
    let bank_name = fields.optional_string("bank_name");
    fields.finish()?;
    Ok(BookRequest {
        request_id: request_id.expect("checked"),
        method: method.expect("checked"),
        currency: currency.expect("checked"),
        amount_minor: amount.expect("checked"),
        // An empty bank filter is no filter.
        bank_name: bank_name
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty()),
    })
}

/// `{"amount", "expires_at", "signature"}`.
fn book_answer(secret: &str, answer: &BookAnswer) -> Value {
    let mut map = Map::new();
    map.insert("amount".into(), Value::from(answer.amount_minor));
    map.insert(
        "expires_at".into(),
        Value::String(utc_text(answer.expires_at_secs)),
    );
    signed(secret, map)
}

// ---------------------------------------------------------------------------
// payout

async fn payout(State(app): State<AppState>, body: Body) -> Response {
    match create_payout(&app, body).await {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn create_payout(app: &AppState, body: Body) -> Result<Value> {
    let map = json_object(&read_body(body).await?)?;
    let auth = authenticate(&app.engine, &map).await?;
    let new = payout_request(&map, auth.merchant.callback_url.clone())?;
    // Signed with the test secret: a test payout, settled by the test executor.
    let created = app
        .engine
        .create_payout(&auth.merchant, auth.test_mode, new)
        .await?;
    Ok(payout_answer(
        &auth.secret,
        &created.payout,
        auth.merchant.site_id,
        &auth.merchant.site_login,
    ))
}

/// The payout fields of a body, typed; a 400 names each bad field. Values
/// (which method needs which, Luhn, ...) are the engine's to judge (422).
fn payout_request(map: &Map<String, Value>, callback_url: Option<String>) -> Result<NewPayout> {
    let mut fields = Fields::new(map);
    let request_id = fields.string("request_id");
    let amount = fields.integer("amount", "must be a positive integer of minor units");
    let currency = fields.string("currency");
    let method = fields.string("method");
    let additional_fields = fields.additional_fields("additional_fields");
    fields.finish()?;
    Ok(NewPayout {
        request_id: request_id.expect("checked"),
        amount_minor: amount.expect("checked"),
        currency: currency.expect("checked"),
        method: method.expect("checked"),
        additional_fields: additional_fields.expect("checked"),
        source: PayoutSource::H2h,
        callback_url,
        merchant_api: None,
    })
}

/// The payout's answer fields, as the spec lists them: `request_id`,
/// `success` (false only once it failed), `status` (the numeric code),
/// `amount`, `site_login`, `site_id`, `currency`, `invoice_id` (the payout's
/// id), unsigned.
fn payout_fields(payout: &Payout, site_id: i64, site_login: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "request_id".into(),
        Value::String(payout.request_id.clone()),
    );
    map.insert(
        "success".into(),
        Value::Bool(payout.status != kassa_domain::payout::PayoutStatus::Failed),
    );
    map.insert("status".into(), Value::from(payout.status.code()));
    map.insert("amount".into(), Value::from(payout.amount_minor));
    map.insert("site_login".into(), Value::String(site_login.to_string()));
    map.insert("site_id".into(), Value::from(site_id));
    map.insert(
        "currency".into(),
        Value::String(payout.currency.code().to_string()),
    );
    map.insert("invoice_id".into(), Value::String(payout.id.clone()));
    map
}

/// The signed answer of `POST /api/payout`.
fn payout_answer(secret: &str, payout: &Payout, site_id: i64, site_login: &str) -> Value {
    signed(secret, payout_fields(payout, site_id, site_login))
}

/// Renders an H2H payout callback: the payout's answer fields (its status
/// now), signed with the H2H secret like an answer. Without a secret (it
/// does not unseal) the body goes unsigned, which the merchant rejects.
pub fn render_payout_callback(
    callback: &kassa_domain::Callback,
    secret: Option<&str>,
) -> kassa_engine::Rendered {
    let snapshot = &callback.snapshot;
    let body = match serde_json::from_value::<Payout>(snapshot["payout"].clone()) {
        Ok(payout) => {
            let site_id = snapshot["store"]["id"].as_i64().unwrap_or_default();
            let site_login = snapshot["store"]["site_login"].as_str().unwrap_or_default();
            let fields = payout_fields(&payout, site_id, site_login);
            match secret {
                Some(secret) => signed(secret, fields),
                None => {
                    tracing::error!(
                        callback = %callback.id,
                        "the H2H secret does not unseal: the payout callback goes unsigned"
                    );
                    Value::Object(fields)
                }
            }
        }
        Err(e) => {
            // Never the snapshot itself: it is not the face's shape.
            tracing::error!(callback = %callback.id, error = %e, "unreadable payout snapshot");
            serde_json::json!({ "invoice_id": callback.invoice_id })
        }
    };
    kassa_engine::Rendered {
        body: serde_json::to_vec(&body).expect("JSON"),
        headers: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// balance

async fn balance(State(app): State<AppState>, body: Body) -> Response {
    match balances(&app, body).await {
        Ok(answer) => (StatusCode::OK, Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn balances(app: &AppState, body: Body) -> Result<Value> {
    let map = json_object(&read_body(body).await?)?;
    let auth = authenticate(&app.engine, &map).await?;
    let mut fields = Fields::new(&map);
    let currency = fields.optional_string("currency");
    fields.finish()?;
    let only = match currency {
        None => None,
        Some(code) => Some(Currency::from_code(&code).ok_or_else(|| {
            H2hError::fields(
                StatusCode::UNPROCESSABLE_ENTITY,
                BTreeMap::from([("currency".to_string(), "unknown currency".to_string())]),
            )
        })?),
    };
    let mut all = app
        .engine
        .balances(auth.merchant.id.clone(), auth.test_mode)
        .await?;
    if let Some(currency) = only {
        all.retain(|b| b.currency == currency);
        if all.is_empty() {
            all.push(Balance {
                currency,
                test_mode: auth.test_mode,
                available_minor: 0,
                pending_payouts_minor: 0,
                reserve_minor: 0,
            });
        }
    }
    all.sort_by_key(|b| b.currency.code());
    let list = all
        .iter()
        .map(|b| {
            serde_json::json!({
                "currency": b.currency.code(),
                "available": b.available_minor,
                "pending_payouts": b.pending_payouts_minor,
                "reserve": b.reserve_minor,
            })
        })
        .collect();
    let mut answer = Map::new();
    answer.insert(
        "merchant_id".into(),
        Value::String(auth.merchant.id.clone()),
    );
    answer.insert("site_id".into(), Value::from(auth.merchant.site_id));
    answer.insert(
        "site_login".into(),
        Value::String(auth.merchant.site_login.clone()),
    );
    answer.insert("balances".into(), Value::Array(list));
    Ok(signed(&auth.secret, answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn canonical_text() {
        let map = object(json!({
            "site_id": 1004,
            "amount": 900000,
            "signature": "ignored",
            "bank_name": null,
            "flag": true,
            "additional_fields": {"z": 1, "a": {"y": "b", "x": [2, 1]}},
            "currency": "RUB",
        }));
        assert_eq!(
            canonical(&map),
            r#"additional_fields:{"a":{"x":[2,1],"y":"b"},"z":1};amount:900000;currency:RUB;flag:true;site_id:1004;"#
        );
    }

    #[test]
    fn signed_answers_verify() {
        let body = signed("k", object(json!({"amount": 5, "expires_at": "x"})));
        let map = object(body);
        assert!(verify("k", &map));
        assert!(!verify("other", &map));
        let mut upper = map.clone();
        let s = upper["signature"].as_str().unwrap().to_ascii_uppercase();
        upper.insert("signature".into(), Value::String(s));
        assert!(verify("k", &upper));
    }

    #[test]
    fn payout_callbacks_are_the_signed_answer_fields() {
        let payout: Payout = serde_json::from_value(json!({
            "id": "po_1", "merchant_id": "mer_1", "test_mode": false, "request_id": "r-1",
            "source": "h2h", "amount_minor": 2500, "fee_minor": 0, "currency": "USD",
            "method": "card", "fields_sealed": "sealed",
            "fields_masked": {"card_number": "424242******4242"}, "status": "failed",
            "reason": "deadline", "trader_id": null, "declined_by": [], "receipt": null,
            "created_at_secs": 1, "updated_at_secs": 2, "deadline_secs": 3,
            "test_outcome": null, "fingerprint": "f", "callback_url": "https://shop.example/cb",
        }))
        .unwrap();
        let callback = kassa_domain::Callback {
            id: "cb_1".into(),
            invoice_id: "po_1".into(),
            merchant_id: "mer_1".into(),
            test_mode: false,
            face: kassa_domain::CallbackFace::H2hPayout,
            url: "https://shop.example/cb".into(),
            transaction_status: "failed".into(),
            snapshot: json!({"payout": payout, "store": {"id": 1004, "name": "Shop", "site_login": "shop"}}),
            state: kassa_domain::CallbackState::Pending,
            attempts: 0,
            created_at_secs: 2,
            next_attempt_at_secs: 2,
            lease_until_secs: 0,
        };
        let rendered = render_payout_callback(&callback, Some("k"));
        let body: Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(
            body,
            json!({
                "request_id": "r-1", "success": false, "status": 3, "amount": 2500,
                "site_login": "shop", "site_id": 1004, "currency": "USD", "invoice_id": "po_1",
                "signature": body["signature"],
            })
        );
        assert!(verify("k", body.as_object().unwrap()));
        let unsigned = render_payout_callback(&callback, None);
        let body: Value = serde_json::from_slice(&unsigned.body).unwrap();
        assert!(body.get("signature").is_none());
    }

    #[test]
    fn utc() {
        assert_eq!(utc_text(1_747_724_056), "2025-05-20T06:54:16Z");
    }
}
