//! The Merchant API (spec 001): pay-in invoices with P2P deals, payout
//! invoices (`type: out`) executed by traders, and the merchant's balances.
//!
//! Every request is signed: `X-Identity` is the merchant's Merchant API key,
//! `X-Signature` the lowercase hex HMAC-SHA256 of the raw body of a POST under
//! the key's secret, or of the path with its query for a GET.
//! Answers are InvoiceDTOs; errors are `{"error": {"code", "message",
//! "fields"}}`. `docs/merchant-api.md` states the rules.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use kassa_domain::money::{format_fixed, parse_minor, AmountError};
use kassa_domain::payout::{self as payout_rules, Payout, PayoutSource, PayoutStatus};
use kassa_domain::{
    Callback, CallbackAttempt, Currency, Deal, DealStatus, Invoice, InvoiceStatus, Merchant, Source,
};
use kassa_engine::ledger::Balance;
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::payouts::NewPayout;
use kassa_engine::secrets::constant_time_eq;
use kassa_engine::{EngineError, Rendered};
use kassa_store::Cursor;
use serde::{Deserialize as _, Serialize};
use serde_json::{json, Map, Value};

use crate::AppState;

/// The largest request body the Merchant API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Invoices per page of the listing: default and most.
pub const LIMIT_DEFAULT: usize = 20;
pub const LIMIT_MAX: usize = 100;
/// Pages of the account's invoices scanned for one page of the listing (the
/// account may hold invoices of other APIs, which the listing skips).
const SCAN_PAGES_MAX: usize = 10;
/// Ids, cursors and filters longer than this name nothing.
const ID_MAX: usize = 255;
/// `paymentOption` is a short code (`SBP`, `CARD`, `C2C`).
const OPTION_MAX: usize = 32;

const PATH: &str = "/api/merchant/invoices";
/// Payout ids start with this; pay-in invoice ids do not.
const PAYOUT_PREFIX: &str = "po_";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, post(create).get(list).fallback(method_not_allowed))
        .route(
            "/api/merchant/invoices/{id}",
            get(show).fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/balance",
            get(balance).fallback(method_not_allowed),
        )
        .route("/api/merchant/{*rest}", any(not_found))
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The Merchant API's one error type: `{"error": {"code", "message", "fields"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Field (as the Merchant API names it) to what is wrong with it.
    pub fields: BTreeMap<String, String>,
}

type Result<T> = std::result::Result<T, ApiError>;

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such invoice.")
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error.",
        )
    }

    fn invalid(fields: BTreeMap<String, String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "The request has invalid fields.",
        );
        e.fields = fields;
        e
    }

    fn invalid_field(field: &str, message: &str) -> Self {
        Self::invalid(BTreeMap::from([(field.to_string(), message.to_string())]))
    }

    fn with_field(mut self, field: &str, message: &str) -> Self {
        self.fields.insert(field.to_string(), message.to_string());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": {
            "code": self.code,
            "message": self.message,
            "fields": self.fields,
        }});
        let mut response = (self.status, axum::Json(body)).into_response();
        crate::retry_after_if_unavailable(&mut response);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("HMAC-SHA256 realm=\"kassa-merchant-api\""),
            );
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => ApiError::unauthorized("Unknown X-Identity."),
            EngineError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            EngineError::NotFound => ApiError::not_found(),
            EngineError::Invalid(fields) => ApiError::invalid(fields),
            EngineError::Conflict(m) => {
                let e = ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", m.clone());
                if m.contains("internalId") {
                    e.with_field("internalId", &m)
                } else {
                    e
                }
            }
            EngineError::InsufficientFunds => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_funds",
                "The available balance does not cover the amount and its fee; nothing was created.",
            ),
            EngineError::NoCabinet => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_cabinet",
                "No trader requisites accept this payment option, bank, currency and amount now; \
                 the invoice was not created.",
            ),
            EngineError::AmountsTaken => ApiError::new(
                StatusCode::CONFLICT,
                "amounts_taken",
                "The amount and every alternative to it are held on every matching requisite; \
                 the invoice was not created. Retry later.",
            ),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is briefly unavailable. Retry the request; \
                     a repeat with the same internalId is safe.",
                )
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal()
            }
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed on this path.",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.")
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

use crate::h2h::hmac_sha256;

/// Lowercase hex of HMAC-SHA256(secret, text): the `X-Signature` of requests
/// and of callbacks.
pub fn signature(secret: &str, text: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), text))
}

/// A request that proved it comes from the merchant: its mode and raw body.
struct Signed {
    merchant: Merchant,
    test_mode: bool,
    body: Bytes,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn read_body(body: Body) -> Result<Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The body is larger than {BODY_MAX_BYTES} bytes."),
            ),
            crate::BodyError::Unreadable => {
                ApiError::bad_request("The request body could not be read.")
            }
        })
}

/// Checks `X-Identity` and `X-Signature`: the HMAC of the raw body of a POST
/// (of the path with its query when it has none), and of the path with its
/// query for a read (`body` is `None`), whatever body a read carries: a
/// captured signed POST body must not open a GET. Compared in constant time.
async fn verify(
    app: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: Option<Body>,
) -> Result<Signed> {
    let identity = header_text(headers, "x-identity")
        .ok_or_else(|| ApiError::unauthorized("The X-Identity header is missing."))?;
    let (merchant, test_mode) = app
        .engine
        .authenticate_merchant_api(identity.to_string())
        .await?;
    let body = match body {
        Some(body) => read_body(body).await?,
        None => Bytes::new(),
    };
    let given = header_text(headers, "x-signature")
        .ok_or_else(|| ApiError::unauthorized("The X-Signature header is missing."))?;
    let Some(secret) = app.engine.merchant_api_secret(&merchant, test_mode) else {
        tracing::error!(merchant = %merchant.id, "the Merchant API secret cannot be unsealed");
        return Err(ApiError::internal());
    };
    let signed: &[u8] = if body.is_empty() {
        uri.path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .as_bytes()
    } else {
        &body
    };
    let expected = signature(&secret, signed);
    if !constant_time_eq(&given.to_ascii_lowercase(), &expected) {
        return Err(ApiError::unauthorized(
            "X-Signature does not match: send the lowercase hex HMAC-SHA256 of the raw body \
             (or, without a body, of the path with its query) under the API secret.",
        ));
    }
    Ok(Signed {
        merchant,
        test_mode,
        body,
    })
}

// ---------------------------------------------------------------------------
// The store (site) of a merchant, for callbacks
// ---------------------------------------------------------------------------

/// `storeId` and `storeName` of an InvoiceDTO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    pub id: i64,
    pub name: String,
}

impl StoreInfo {
    fn of(merchant: &Merchant) -> StoreInfo {
        StoreInfo {
            id: merchant.site_id,
            name: merchant.name.clone(),
        }
    }
}

/// The store of a callback, as the engine recorded it in the snapshot.
fn store_of_callback(callback: &Callback) -> Option<StoreInfo> {
    let s = callback.snapshot.get("store")?;
    Some(StoreInfo {
        id: s.get("id")?.as_i64()?,
        name: s.get("name")?.as_str()?.to_string(),
    })
}

// ---------------------------------------------------------------------------
// The InvoiceDTO
// ---------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceDto<'a> {
    id: &'a str,
    internal_id: Option<&'a str>,
    user_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    payment_method: Option<&'a str>,
    payment_option: Option<&'a str>,
    payment_requisites: Option<Value>,
    sum: SumDto,
    store_id: Option<i64>,
    store_name: Option<&'a str>,
    received_sum_from_taker: Option<String>,
    received_sum_from_maker: Option<String>,
    service_fee_sum: Option<String>,
    payout_sum: Option<String>,
    created_at: String,
    expire_at: String,
    updated_at: String,
    /// The hosted page of a pay-in; `null` for a payout (no customer pays it).
    invoice_url: Option<String>,
    deals: Vec<DealDto<'a>>,
}

#[derive(Serialize)]
struct SumDto {
    amount: String,
    currency: &'static str,
    subunit: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DealDto<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    payment_method: &'a str,
    payment_option: String,
    requisites: RequisitesDto<'a>,
    canceled_at: String,
    dispute_attachment: Option<Value>,
    dispute_reason: Option<&'a str>,
    dispute_reason_data: Vec<Value>,
    payment: Option<PaymentDto>,
    rate: Option<&'a str>,
    is_active: bool,
    qr_code_link: Option<String>,
}

#[derive(Serialize)]
struct RequisitesDto<'a> {
    requisites: &'a str,
    holder: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentDto {
    amount: String,
    currency: &'static str,
    paid_at: String,
}

/// `2024-11-04T13:55:45+00:00`.
fn iso(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// The `paymentOption` of a deal's method: `SBP`, `CARD`, ...
fn option_of_method(method: &str) -> String {
    method.to_ascii_uppercase()
}

/// The InvoiceDTO `status`, from the invoice and its deal:
/// `new`, `completed`, `disputed`, `canceled`, `expired`.
pub fn invoice_status(invoice: &Invoice, deal: Option<&Deal>) -> &'static str {
    if let Some(deal) = deal {
        match deal.status {
            DealStatus::Completed => return "completed",
            DealStatus::Disputed => return "disputed",
            DealStatus::Canceled => return "canceled",
            // An open deal follows its invoice, which is open too.
            DealStatus::TransferWaiting => {}
        }
    }
    match invoice.status {
        InvoiceStatus::Created | InvoiceStatus::ProcessPending | InvoiceStatus::Processing => "new",
        InvoiceStatus::Processed
        | InvoiceStatus::PartiallyProcessed
        | InvoiceStatus::Refunding
        | InvoiceStatus::Refunded
        | InvoiceStatus::PartiallyRefunded
        | InvoiceStatus::RefundFailed => "completed",
        InvoiceStatus::Expired => "expired",
        InvoiceStatus::ProcessFailed | InvoiceStatus::Terminated => "canceled",
    }
}

fn deal_dto<'a>(invoice: &Invoice, deal: &'a Deal) -> DealDto<'a> {
    let exponent = invoice.currency.exponent();
    let payment = (deal.status == DealStatus::Completed).then(|| PaymentDto {
        amount: format_fixed(deal.amount_minor, exponent),
        currency: invoice.currency.code(),
        paid_at: iso(deal.ended_at_secs.unwrap_or(deal.deadline_secs)),
    });
    DealDto {
        id: &deal.id,
        kind: "in",
        status: deal.status.as_str(),
        payment_method: &deal.bank_name,
        payment_option: option_of_method(&deal.method),
        requisites: RequisitesDto {
            requisites: &deal.requisite,
            holder: &deal.holder,
        },
        canceled_at: iso(deal.deadline_secs),
        dispute_attachment: None,
        dispute_reason: deal.dispute_reason.as_deref(),
        dispute_reason_data: Vec::new(),
        payment,
        rate: deal.rate.as_deref(),
        is_active: deal.status.is_open(),
        qr_code_link: deal.qr_code_link(),
    }
}

fn invoice_dto<'a>(
    base_url: &str,
    store: Option<&'a StoreInfo>,
    invoice: &'a Invoice,
    deal: Option<&'a Deal>,
) -> InvoiceDto<'a> {
    let exponent = invoice.currency.exponent();
    let fixed = |minor: i64| format_fixed(minor, exponent);
    let fields = invoice.merchant_api.as_ref();
    let status = invoice_status(invoice, deal);
    let completed = status == "completed";
    let received = completed.then(|| {
        fixed(
            invoice
                .processed_amount_minor
                .or(deal.map(|d| d.amount_minor))
                .unwrap_or(invoice.amount_minor),
        )
    });
    let fee = completed.then(|| fixed(invoice.processed_fee_minor.unwrap_or(invoice.fee_minor)));
    let updated_at = deal
        .into_iter()
        .flat_map(|d| [Some(d.created_at_secs), d.ended_at_secs])
        .flatten()
        .fold(invoice.updated_at_secs, i64::max);
    let internal_id = fields.and_then(|f| f.internal_id.as_deref());
    InvoiceDto {
        id: &invoice.id,
        internal_id,
        user_id: fields.and_then(|f| f.user_id.as_deref()),
        kind: "in",
        status,
        payment_method: fields
            .and_then(|f| f.payment_method.as_deref())
            .or(deal.map(|d| d.bank_name.as_str())),
        payment_option: fields.and_then(|f| f.payment_option.as_deref()),
        payment_requisites: None,
        sum: SumDto {
            amount: fixed(invoice.amount_minor),
            currency: invoice.currency.code(),
            subunit: exponent,
        },
        store_id: store.map(|s| s.id),
        store_name: store.map(|s| s.name.as_str()),
        received_sum_from_taker: None,
        received_sum_from_maker: received,
        service_fee_sum: fee,
        payout_sum: None,
        created_at: iso(invoice.created_at_secs),
        expire_at: iso(invoice.expires_at_secs),
        updated_at: iso(updated_at),
        invoice_url: Some(format!("{base_url}/hpp/{}", invoice.id)),
        deals: deal.map(|d| deal_dto(invoice, d)).into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------
// Payout invoices (`type: out`)
// ---------------------------------------------------------------------------

/// The InvoiceDTO `status` of a payout: `new` (waiting for a trader, also
/// after one declined it), `in_progress` (a trader took it and is paying),
/// `completed` (paid), `expired` (no trader paid it by its deadline),
/// `canceled` (failed otherwise).
pub fn payout_status(p: &Payout) -> &'static str {
    match p.status {
        PayoutStatus::Pending => "new",
        PayoutStatus::InProgress => "in_progress",
        PayoutStatus::Success => "completed",
        PayoutStatus::Failed if p.reason.as_deref() == Some("deadline") => "expired",
        PayoutStatus::Failed => "canceled",
    }
}

/// How a `paymentOption` maps to a payout method, and which
/// `additional_fields` carry the RequisitesDTO's `requisites` and `holder`.
struct OutOption {
    method: &'static str,
    requisite_field: &'static str,
    holder_field: Option<&'static str>,
}

/// The payout methods a RequisitesDTO can describe. `CARD` and `C2C` are
/// `card`, `SBP` is `sbp`; the others are the method's name in any case.
/// (`cash`, `binance` and `sbp_qr` take fields a RequisitesDTO has no room
/// for: they are the H2H payout API's.)
const OUT_OPTIONS: [(&str, OutOption); 6] = [
    (
        "card",
        OutOption {
            method: "card",
            requisite_field: "card_number",
            holder_field: Some("card_holder"),
        },
    ),
    (
        "sbp",
        OutOption {
            method: "sbp",
            requisite_field: "phone_number",
            holder_field: Some("phone_holder"),
        },
    ),
    (
        "localbanks",
        OutOption {
            method: "localbanks",
            requisite_field: "account_number",
            holder_field: Some("account_holder"),
        },
    ),
    (
        "mts",
        OutOption {
            method: "MTS",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
    (
        "walletm10",
        OutOption {
            method: "WalletM10",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
    (
        "emanat",
        OutOption {
            method: "Emanat",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
];

fn out_option_of_method(method: &str) -> Option<&'static OutOption> {
    OUT_OPTIONS
        .iter()
        .map(|(_, o)| o)
        .find(|o| o.method == method)
}

fn out_option(option: &str) -> Option<&'static OutOption> {
    let key = match option.to_ascii_lowercase().as_str() {
        "c2c" => "card".to_string(),
        other => other.to_string(),
    };
    OUT_OPTIONS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, o)| o)
}

/// A requisite other than a card number, masked: every character but the
/// last four (and a leading `+`) as `*`.
fn mask_tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let keep = chars.len().saturating_sub(4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i >= keep || (i == 0 && *c == '+') {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// The payout's RequisitesDTO, masked: a card number as its first 6 and
/// last 4 digits, a phone or account number as its last 4.
fn payout_requisites(p: &Payout) -> Value {
    let Some(option) = out_option_of_method(&p.method) else {
        return Value::Null;
    };
    let text = |name: &str| {
        p.fields_masked
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let requisites = text(option.requisite_field).map(|r| {
        if option.requisite_field == "card_number" {
            // Masked by the engine already (first 6, last 4); mask whatever
            // did not look like a card number too.
            if r.contains('*') {
                r
            } else {
                mask_tail(&r)
            }
        } else {
            mask_tail(&r)
        }
    });
    let holder = option.holder_field.and_then(text);
    json!({ "requisites": requisites, "holder": holder })
}

fn payout_dto<'a>(store: Option<&'a StoreInfo>, p: &'a Payout) -> InvoiceDto<'a> {
    let exponent = p.currency.exponent();
    let fixed = |minor: i64| format_fixed(minor, exponent);
    let field = |name: &str| {
        p.merchant_api
            .as_ref()
            .and_then(|f| f.get(name))
            .and_then(Value::as_str)
    };
    let status = payout_status(p);
    InvoiceDto {
        id: &p.id,
        internal_id: field("internalId"),
        user_id: field("userId"),
        kind: "out",
        status,
        payment_method: field("paymentMethod"),
        payment_option: field("paymentOption"),
        payment_requisites: Some(payout_requisites(p)),
        sum: SumDto {
            amount: fixed(p.amount_minor),
            currency: p.currency.code(),
            subunit: exponent,
        },
        store_id: store.map(|s| s.id),
        store_name: store.map(|s| s.name.as_str()),
        received_sum_from_taker: None,
        received_sum_from_maker: None,
        // Held with the amount from creation, charged on success, given back
        // on failure.
        service_fee_sum: (p.status != PayoutStatus::Failed).then(|| fixed(p.fee_minor)),
        payout_sum: (p.status == PayoutStatus::Success).then(|| fixed(p.amount_minor)),
        created_at: iso(p.created_at_secs),
        expire_at: iso(p.deadline_secs),
        updated_at: iso(p.updated_at_secs),
        invoice_url: None,
        deals: Vec::new(),
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "an answer did not render");
            ApiError::internal().into_response()
        }
    }
}

// ---------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------

/// A value that may go in an HTTP header as is.
fn header_safe(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Renders a Merchant API callback: the InvoiceDTO as it was at the change,
/// with `X-Notification-Token` (the invoice's `notificationToken`) and
/// `X-Signature` (lowercase hex HMAC-SHA256 of the body under the callback
/// secret). The engine adds the Standard Webhooks headers.
pub fn render_callback(
    base_url: &str,
    callback: &Callback,
    attempts: &[CallbackAttempt],
    secret: &str,
) -> Rendered {
    let _ = attempts;
    let invoice = callback
        .snapshot
        .get("invoice")
        .and_then(|v| Invoice::deserialize(v).ok());
    let deal = callback
        .snapshot
        .get("deal")
        .and_then(|v| Option::<Deal>::deserialize(v).ok())
        .flatten();
    let mut headers = Vec::new();
    let body = match &invoice {
        Some(invoice) => {
            let store = store_of_callback(callback);
            let dto = invoice_dto(base_url, store.as_ref(), invoice, deal.as_ref());
            if let Some(token) = invoice
                .merchant_api
                .as_ref()
                .map(|f| f.notification_token.as_str())
                .filter(|t| header_safe(t))
            {
                headers.push(("X-Notification-Token".to_string(), token.to_string()));
            }
            serde_json::to_vec(&dto).expect("an InvoiceDTO renders")
        }
        None => {
            tracing::error!(callback = %callback.id, "a Merchant API callback without its invoice");
            serde_json::to_vec(&callback.snapshot).expect("JSON")
        }
    };
    headers.push(("X-Signature".to_string(), signature(secret, &body)));
    Rendered { body, headers }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// A field of the body that must be a string (or absent, or null when
/// `required` is false).
fn string_field(
    body: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut BTreeMap<String, String>,
) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => {
            if required {
                errors.insert(name.into(), "This field is required.".into());
            }
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(_)) if name == "amount" => {
            errors.insert(
                name.into(),
                "Must be a decimal string such as \"1000.00\", not a JSON number.".into(),
            );
            None
        }
        Some(_) => {
            errors.insert(name.into(), "Must be a string.".into());
            None
        }
    }
}

/// A create request: a pay-in or a payout.
enum NewRequest {
    In(NewP2pInvoice),
    Out(NewPayout),
}

/// Parses a create request into the engine's command.
fn parse_new(bytes: &[u8]) -> Result<NewRequest> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    let mut errors = BTreeMap::new();
    match body.get("type") {
        Some(Value::String(t)) if t == "in" => {}
        Some(Value::String(t)) if t == "out" => return parse_out(&body).map(NewRequest::Out),
        Some(Value::String(_)) => {
            errors.insert("type".into(), "Must be \"in\" or \"out\".".into());
        }
        None | Some(Value::Null) => {
            errors.insert(
                "type".into(),
                "This field is required: \"in\" (pay-in) or \"out\" (payout).".into(),
            );
        }
        Some(_) => {
            errors.insert(
                "type".into(),
                "Must be the string \"in\" or \"out\".".into(),
            );
        }
    }
    let amount = string_field(&body, "amount", true, &mut errors);
    let currency = string_field(&body, "currency", true, &mut errors);
    let notification_url = string_field(&body, "notificationUrl", true, &mut errors);
    let notification_token = string_field(&body, "notificationToken", true, &mut errors);
    let internal_id = string_field(&body, "internalId", false, &mut errors);
    let user_id = string_field(&body, "userId", false, &mut errors);
    let payment_method = string_field(&body, "paymentMethod", false, &mut errors);
    let payment_option = string_field(&body, "paymentOption", false, &mut errors);
    if notification_token
        .as_deref()
        .is_some_and(|t| !header_safe(t))
    {
        errors.insert(
            "notificationToken".into(),
            "Use printable ASCII only: it is sent back in the X-Notification-Token header.".into(),
        );
    }
    if payment_option
        .as_deref()
        .is_some_and(|o| o.is_empty() || o.len() > OPTION_MAX)
    {
        errors.insert(
            "paymentOption".into(),
            "Must be a payment option such as \"SBP\" or \"CARD\".".into(),
        );
    }
    let start_deal = match body.get("startDeal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.insert("startDeal".into(), "Must be true or false.".into());
            false
        }
    };
    if !matches!(body.get("paymentRequisites"), None | Some(Value::Null)) {
        errors.insert(
            "paymentRequisites".into(),
            "Only payout invoices (type \"out\") take requisites.".into(),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(NewRequest::In(NewP2pInvoice {
        internal_id,
        user_id,
        amount: amount.unwrap_or_default(),
        currency: currency.unwrap_or_default(),
        notification_url: notification_url.unwrap_or_default(),
        notification_token: notification_token.unwrap_or_default(),
        payment_method,
        payment_option,
        start_deal,
    }))
}

/// The largest `paymentMethod` (bank code).
const BANK_MAX: usize = 64;

/// Parses a `type: out` request into a payout: `paymentOption` chooses the
/// method, `paymentRequisites` (a RequisitesDTO, `{"requisites", "holder"}`)
/// fills its fields, `paymentMethod` is the bank.
fn parse_out(body: &Map<String, Value>) -> Result<NewPayout> {
    let mut errors = BTreeMap::new();
    let amount = string_field(body, "amount", true, &mut errors);
    let currency = string_field(body, "currency", true, &mut errors);
    let notification_url = string_field(body, "notificationUrl", true, &mut errors);
    let notification_token = string_field(body, "notificationToken", true, &mut errors);
    let internal_id = string_field(body, "internalId", false, &mut errors);
    let user_id = string_field(body, "userId", false, &mut errors);
    let payment_method = string_field(body, "paymentMethod", true, &mut errors);
    let payment_option = string_field(body, "paymentOption", true, &mut errors);
    let mut error = |field: &str, message: &str| {
        errors
            .entry(field.to_string())
            .or_insert_with(|| message.to_string());
    };
    match notification_token.as_deref() {
        Some(t) if t.is_empty() || t.len() > ID_MAX => {
            error("notificationToken", "Must be 1 to 255 characters.")
        }
        Some(t) if !header_safe(t) => error(
            "notificationToken",
            "Use printable ASCII only: it is sent back in the X-Notification-Token header.",
        ),
        _ => {}
    }
    if internal_id
        .as_deref()
        .is_some_and(|i| i.is_empty() || i.len() > ID_MAX)
    {
        error("internalId", "Must be 1 to 255 characters.");
    }
    if user_id.as_deref().is_some_and(|u| u.len() > ID_MAX) {
        error("userId", "Must be at most 255 characters.");
    }
    if payment_method
        .as_deref()
        .is_some_and(|m| m.trim().is_empty() || m.len() > BANK_MAX)
    {
        error(
            "paymentMethod",
            "Must be a bank code of 1 to 64 characters, such as \"sberbank\".",
        );
    }
    let option = match payment_option.as_deref() {
        None => None,
        Some(o) => match out_option(o) {
            Some(option) => Some(option),
            None if ["cash", "binance", "sbp_qr"].contains(&o.to_ascii_lowercase().as_str()) => {
                error(
                    "paymentOption",
                    "This payout method takes fields a RequisitesDTO cannot carry: use the H2H \
                     payout API (POST /api/payout) for it.",
                );
                None
            }
            None => {
                error(
                    "paymentOption",
                    "Must be one of CARD (or C2C), SBP, LOCALBANKS, MTS, WALLETM10, EMANAT.",
                );
                None
            }
        },
    };
    match body.get("startDeal") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => error(
            "startDeal",
            "Only pay-ins (type \"in\") start deals; a payout goes to a trader on its own.",
        ),
        Some(_) => error("startDeal", "Must be true or false."),
    }
    let (mut requisite, mut holder) = (None, None);
    match body.get("paymentRequisites") {
        None | Some(Value::Null) => error(
            "paymentRequisites",
            "This field is required for a payout: {\"requisites\": \"...\", \"holder\": \"...\"}.",
        ),
        Some(Value::Object(r)) => {
            match r.get("requisites") {
                None | Some(Value::Null) => {
                    error("paymentRequisites.requisites", "This field is required.")
                }
                Some(Value::String(t)) if t.trim().is_empty() => {
                    error("paymentRequisites.requisites", "This field is required.")
                }
                Some(Value::String(t)) => requisite = Some(t.clone()),
                Some(_) => error("paymentRequisites.requisites", "Must be a string."),
            }
            match r.get("holder") {
                None | Some(Value::Null) => {}
                Some(Value::String(t)) => holder = Some(t.trim().to_string()),
                Some(_) => error("paymentRequisites.holder", "Must be a string."),
            }
        }
        Some(_) => error(
            "paymentRequisites",
            "Must be an object: {\"requisites\": \"...\", \"holder\": \"...\"}.",
        ),
    }
    let mut amount_minor = 0;
    if let Some(code) = currency.as_deref() {
        match Currency::from_code(code).filter(|c| payout_rules::CURRENCIES.contains(&c.code())) {
            None => error(
                "currency",
                &format!(
                    "Payouts are made in {}.",
                    payout_rules::CURRENCIES.join(", ")
                ),
            ),
            Some(c) => match amount.as_deref().map(|a| parse_minor(a, c.exponent())) {
                None => {}
                Some(Ok(a)) if a > 0 => amount_minor = a,
                Some(Ok(_)) => error("amount", "Must be greater than 0."),
                Some(Err(AmountError::TooPrecise(p))) => error(
                    "amount",
                    &format!("Must have at most {p} decimal places for this currency."),
                ),
                Some(Err(AmountError::TooLarge)) => error("amount", "This value is too large."),
                Some(Err(AmountError::Invalid)) => {
                    error("amount", "Must be a decimal string such as \"1000.00\".")
                }
            },
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let option = option.expect("checked");
    let mut fields = Map::new();
    let requisite = requisite.expect("checked");
    // The engine stores card and phone numbers as digits (`+` kept).
    fields.insert(
        option.requisite_field.into(),
        Value::String(requisite.trim().to_string()),
    );
    if let (Some(field), Some(holder)) = (option.holder_field, holder.filter(|h| !h.is_empty())) {
        fields.insert(field.into(), Value::String(holder));
    }
    let payment_method = payment_method.expect("checked");
    fields.insert(
        "bank_name".into(),
        Value::String(payment_method.trim().to_string()),
    );
    let merchant_api = json!({
        "internalId": internal_id,
        "userId": user_id,
        "notificationToken": notification_token,
        "paymentMethod": payment_method,
        "paymentOption": payment_option,
    });
    Ok(NewPayout {
        // Without an internalId every request is a new payout.
        request_id: internal_id.unwrap_or_else(|| kassa_domain::ids::new_id("mapo")),
        amount_minor,
        currency: currency.expect("checked"),
        method: option.method.to_string(),
        additional_fields: fields,
        source: PayoutSource::MerchantApi,
        callback_url: notification_url,
        merchant_api: Some(merchant_api),
    })
}

/// The Merchant API's name of a field the payout engine found wrong.
fn out_field(engine_field: &str) -> String {
    match engine_field {
        "request_id" => "internalId".into(),
        "method" => "paymentOption".into(),
        "callback_url" => "notificationUrl".into(),
        "additional_fields.bank_name" => "paymentMethod".into(),
        f if f.ends_with("_holder") => "paymentRequisites.holder".into(),
        f if f.starts_with("additional_fields.") => "paymentRequisites.requisites".into(),
        other => other.into(),
    }
}

/// An engine error of a payout, in the Merchant API's names.
fn out_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Invalid(fields) => {
            let mut renamed = BTreeMap::new();
            for (field, message) in fields {
                renamed.entry(out_field(&field)).or_insert(message);
            }
            ApiError::invalid(renamed)
        }
        EngineError::Conflict(_) => idempotency_conflict(),
        other => other.into(),
    }
}

fn idempotency_conflict() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_conflict",
        "This internalId was used with another request; nothing was changed.",
    )
    .with_field("internalId", "Already used with another request.")
}

/// Whether a repeat carries the same Merchant API fields as the payout its
/// `internalId` made (the engine compares the amount, method and fields).
fn same_out_request(existing: &Payout, new: &NewPayout) -> bool {
    let get =
        |v: Option<&Value>, name: &str| v.and_then(|f| f.get(name)).cloned().unwrap_or(Value::Null);
    let (old, fresh) = (existing.merchant_api.as_ref(), new.merchant_api.as_ref());
    let option = |v: Option<&Value>| {
        get(v, "paymentOption")
            .as_str()
            .map(|o| out_option(o).map_or(o.to_string(), |o| o.method.to_string()))
    };
    existing.source == PayoutSource::MerchantApi
        && existing.callback_url == new.callback_url
        && ["userId", "notificationToken", "paymentMethod"]
            .iter()
            .all(|name| get(old, name) == get(fresh, name))
        && option(old) == option(fresh)
}

async fn create_out(app: &AppState, signed: Signed, new: NewPayout) -> Result<Response> {
    let store = StoreInfo::of(&signed.merchant);
    let created = app
        .engine
        .create_payout(&signed.merchant, signed.test_mode, new.clone())
        .await
        .map_err(out_error)?;
    if !created.created && !same_out_request(&created.payout, &new) {
        return Err(idempotency_conflict());
    }
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        &payout_dto(Some(&store), &created.payout),
    ))
}

/// `POST /api/merchant/invoices`: 201 and the new invoice; 200 and the same
/// invoice for a repeat of the same body under the same `internalId`.
async fn create(State(app): State<AppState>, headers: HeaderMap, uri: Uri, body: Body) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, Some(body)).await?;
        let new = match parse_new(&signed.body)? {
            NewRequest::In(new) => new,
            NewRequest::Out(new) => return create_out(&app, signed, new).await,
        };
        let store = StoreInfo::of(&signed.merchant);
        let created = app
            .engine
            .create_p2p_invoice(signed.merchant, signed.test_mode, new)
            .await?;
        let deal = match &created.invoice.deal_id {
            Some(id) => Some(app.engine.deal(id.clone()).await?),
            None => None,
        };
        let status = if created.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let dto = invoice_dto(&app.base_url, Some(&store), &created.invoice, deal.as_ref());
        Ok::<_, ApiError>(json_response(status, &dto))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/merchant/invoices/{id}`.
async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, None).await?;
        // An id that does not even decode names no invoice.
        let id = id.map(|Path(id)| id).unwrap_or_default();
        if id.is_empty() || id.len() > ID_MAX {
            return Err(ApiError::not_found());
        }
        let store = StoreInfo::of(&signed.merchant);
        if id.starts_with(PAYOUT_PREFIX) {
            let payout = app
                .engine
                .payout(signed.merchant.id.clone(), signed.test_mode, id)
                .await?;
            if payout.source != PayoutSource::MerchantApi {
                return Err(ApiError::not_found());
            }
            return Ok(json_response(
                StatusCode::OK,
                &payout_dto(Some(&store), &payout),
            ));
        }
        let (invoice, deal) = match app.engine.invoice_with_deal(id).await {
            Ok(found) => found,
            Err(EngineError::NotFound) => return Err(ApiError::not_found()),
            Err(e) => return Err(e.into()),
        };
        if invoice.merchant_id != signed.merchant.id
            || invoice.test_mode != signed.test_mode
            || invoice.source != Source::MerchantApi
        {
            return Err(ApiError::not_found());
        }
        let dto = invoice_dto(&app.base_url, Some(&store), &invoice, deal.as_ref());
        Ok(json_response(StatusCode::OK, &dto))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListDto<'a> {
    items: Vec<InvoiceDto<'a>>,
    paging: PagingDto,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PagingDto {
    limit: usize,
    /// The cursor of the next (older) page, when there may be one.
    next_after: Option<String>,
    has_more: bool,
    /// The path of the next page, ready to sign and request.
    next: Option<String>,
}

/// `GET /api/merchant/invoices`: the merchant's Merchant API invoices of the
/// key's mode, newest first, `limit` (1 to 100, default 20) at a time;
/// `after=<id>` continues after an invoice; `internalId=` finds one.
async fn list(State(app): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, None).await?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|_| ApiError::bad_request("Malformed query string."))?;
        let mut limit = LIMIT_DEFAULT;
        let mut after = None;
        let mut internal_id = None;
        let mut errors = BTreeMap::new();
        for (key, value) in &pairs {
            match key.as_str() {
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=LIMIT_MAX).contains(&n) => limit = n,
                    _ => {
                        errors.insert(
                            "limit".to_string(),
                            format!("Must be a whole number from 1 to {LIMIT_MAX}."),
                        );
                    }
                },
                "after" if !value.is_empty() && value.len() <= ID_MAX => {
                    after = Some(value.clone())
                }
                "after" => {
                    errors.insert("after".into(), "Must be an invoice id.".into());
                }
                "internalId" if !value.is_empty() && value.len() <= ID_MAX => {
                    internal_id = Some(value.clone())
                }
                "internalId" => {
                    errors.insert("internalId".into(), "Must be 1 to 255 characters.".into());
                }
                "page" => {
                    errors.insert(
                        "page".into(),
                        "Pages are cursors: follow paging.next, or pass after=<last id>.".into(),
                    );
                }
                other => {
                    errors.insert(
                        other.chars().take(64).collect(),
                        "Unknown parameter: use limit, after or internalId.".into(),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        let merchant_id = signed.merchant.id.clone();
        let test_mode = signed.test_mode;
        let mut found: Vec<Invoice> = Vec::new();
        let mut payouts: Vec<Payout> = Vec::new();
        let mut next_after = None;
        if let Some(reference) = internal_id {
            let invoice = app
                .engine
                .invoice_by_reference(merchant_id.clone(), test_mode, reference.clone())
                .await?;
            found.extend(invoice.filter(|i| i.source == Source::MerchantApi));
            match app
                .engine
                .payout_by_request(merchant_id, test_mode, reference)
                .await
            {
                Ok(p) if p.source == PayoutSource::MerchantApi => payouts.push(p),
                Ok(_) | Err(EngineError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            let mut cursor = match after {
                Some(id) => Cursor::After(id),
                None => Cursor::First,
            };
            'scan: for scanned in 1..=SCAN_PAGES_MAX {
                let page = match app
                    .engine
                    .invoices(merchant_id.clone(), test_mode, cursor, LIMIT_MAX)
                    .await
                {
                    Ok(page) => page,
                    Err(EngineError::Invalid(_)) => {
                        return Err(ApiError::invalid_field(
                            "after",
                            "Names no invoice of this account and mode.",
                        ))
                    }
                    Err(e) => return Err(e.into()),
                };
                let count = page.items.len();
                let mut last = None;
                for (i, invoice) in page.items.into_iter().enumerate() {
                    last = Some(invoice.id.clone());
                    if invoice.source == Source::MerchantApi {
                        found.push(invoice);
                        if found.len() == limit {
                            if i + 1 < count || page.has_older {
                                next_after = last;
                            }
                            break 'scan;
                        }
                    }
                }
                match last {
                    Some(id) if page.has_older => {
                        if scanned == SCAN_PAGES_MAX {
                            // Enough work for one answer: the client goes on.
                            next_after = Some(id);
                            break;
                        }
                        cursor = Cursor::After(id);
                    }
                    _ => break,
                }
            }
        }
        let mut deals = Vec::with_capacity(found.len());
        for invoice in &found {
            deals.push(match &invoice.deal_id {
                Some(id) => match app.engine.deal(id.clone()).await {
                    Ok(deal) => Some(deal),
                    Err(EngineError::NotFound) => None,
                    Err(e) => return Err(e.into()),
                },
                None => None,
            });
        }
        let store = StoreInfo::of(&signed.merchant);
        let mut items: Vec<InvoiceDto> = found
            .iter()
            .zip(&deals)
            .map(|(invoice, deal)| invoice_dto(&app.base_url, Some(&store), invoice, deal.as_ref()))
            .chain(payouts.iter().map(|p| payout_dto(Some(&store), p)))
            .collect();
        if !payouts.is_empty() {
            // A pay-in and a payout may share an internalId: newest first.
            items.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        }
        let next = next_after
            .as_ref()
            .map(|id| format!("{PATH}?limit={limit}&after={id}"));
        let dto = ListDto {
            items,
            paging: PagingDto {
                limit,
                has_more: next_after.is_some(),
                next_after,
                next,
            },
        };
        Ok(json_response(StatusCode::OK, &dto))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

// ---------------------------------------------------------------------------
// Balances
// ---------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalanceDto {
    currency: &'static str,
    subunit: u8,
    available: String,
    available_minor: i64,
    pending_payouts: String,
    pending_payouts_minor: i64,
    reserve: String,
    reserve_minor: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BalancesDto {
    test_mode: bool,
    balances: Vec<BalanceDto>,
}

fn balance_dto(b: &Balance) -> BalanceDto {
    let e = b.currency.exponent();
    BalanceDto {
        currency: b.currency.code(),
        subunit: e,
        available: format_fixed(b.available_minor, e),
        available_minor: b.available_minor,
        pending_payouts: format_fixed(b.pending_payouts_minor, e),
        pending_payouts_minor: b.pending_payouts_minor,
        reserve: format_fixed(b.reserve_minor, e),
        reserve_minor: b.reserve_minor,
    }
}

/// `GET /api/merchant/balance[?currency=RUB]`: the merchant's balances in
/// the key's mode, one per currency it has had money in (with `currency`,
/// that one, zero when it has none).
async fn balance(State(app): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, None).await?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|_| ApiError::bad_request("Malformed query string."))?;
        let mut only = None;
        let mut errors = BTreeMap::new();
        for (key, value) in &pairs {
            match key.as_str() {
                "currency" => match Currency::from_code(value) {
                    Some(c) => only = Some(c),
                    None => {
                        errors.insert("currency".to_string(), "Unknown currency.".to_string());
                    }
                },
                other => {
                    errors.insert(
                        other.chars().take(64).collect(),
                        "Unknown parameter: use currency.".into(),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        let mut all = app
            .engine
            .balances(signed.merchant.id.clone(), signed.test_mode)
            .await?;
        if let Some(currency) = only {
            all.retain(|b| b.currency == currency);
            if all.is_empty() {
                all.push(Balance {
                    currency,
                    test_mode: signed.test_mode,
                    available_minor: 0,
                    pending_payouts_minor: 0,
                    reserve_minor: 0,
                });
            }
        }
        all.sort_by_key(|b| b.currency.code());
        let dto = BalancesDto {
            test_mode: signed.test_mode,
            balances: all.iter().map(balance_dto).collect(),
        };
        Ok::<_, ApiError>(json_response(StatusCode::OK, &dto))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Renders a Merchant API `type: out` callback: the InvoiceDTO of the payout
/// as it was at the change, with the headers of pay-in callbacks
/// (`X-Notification-Token`, `X-Signature` under the callback secret).
pub fn render_payout_callback(base_url: &str, callback: &Callback, secret: &str) -> Rendered {
    let _ = base_url;
    let payout = callback
        .snapshot
        .get("payout")
        .and_then(|v| Payout::deserialize(v).ok());
    let mut headers = Vec::new();
    let body = match &payout {
        Some(p) => {
            let store = store_of_callback(callback);
            let dto = payout_dto(store.as_ref(), p);
            if let Some(token) = p
                .merchant_api
                .as_ref()
                .and_then(|f| f.get("notificationToken"))
                .and_then(Value::as_str)
                .filter(|t| header_safe(t))
            {
                headers.push(("X-Notification-Token".to_string(), token.to_string()));
            }
            serde_json::to_vec(&dto).expect("an InvoiceDTO renders")
        }
        None => {
            // Never the raw snapshot: it would carry the sealed fields.
            tracing::error!(callback = %callback.id, "a Merchant API payout callback without its payout");
            serde_json::to_vec(&json!({ "id": callback.invoice_id })).expect("JSON")
        }
    };
    headers.push(("X-Signature".to_string(), signature(secret, &body)));
    Rendered { body, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
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

    /// The worked example of `docs/merchant-api.md`.
    #[test]
    fn the_documented_signatures() {
        let secret = "ms_test_Q2xpZW50U2VjcmV0RXhhbXBsZTAxMjM0NTY3ODlhYmM";
        let body = r#"{"type":"in","amount":"1000.00","currency":"RUB","notificationUrl":"https://shop.example/kassa/notify","notificationToken":"merchant_notification_token","internalId":"00001","userId":"uid-1","paymentMethod":"sberbank","startDeal":true}"#;
        assert_eq!(
            signature(secret, body.as_bytes()),
            "ae05896b5d385055c3876155f14c395836f54b17260cc87cb901bd3f923c1943"
        );
        assert_eq!(
            signature(secret, b"/api/merchant/invoices/cpi_0uQ8x3LcJxoBxnY"),
            "ab99b17a78906c0ebc7e15252681b5998cc8cd1e3ef51249f0f624450802d630"
        );
        assert_eq!(
            signature(
                secret,
                b"/api/merchant/invoices?limit=2&after=cpi_0uQ8x3LcJxoBxnY"
            ),
            "0c5820fb3f2fc57c2ea1c179330b8e25dd4511659e559d14d99ac92e0674dba6"
        );
    }

    #[test]
    fn payout_options_and_masks() {
        assert_eq!(out_option("CARD").unwrap().method, "card");
        assert_eq!(out_option("c2c").unwrap().method, "card");
        assert_eq!(out_option("Sbp").unwrap().method, "sbp");
        assert_eq!(out_option("WALLETM10").unwrap().method, "WalletM10");
        assert!(out_option("cash").is_none() && out_option("").is_none());
        for (_, o) in &OUT_OPTIONS {
            assert!(payout_rules::METHODS.contains(&o.method), "{}", o.method);
            assert!(payout_rules::fields_of(o.method)
                .iter()
                .any(|(f, _)| *f == o.requisite_field));
        }
        assert_eq!(mask_tail("+79991234567"), "+*******4567");
        assert_eq!(mask_tail("40817810"), "****7810");
        assert_eq!(mask_tail("123"), "123");
        assert_eq!(
            out_field("additional_fields.card_number"),
            "paymentRequisites.requisites"
        );
        assert_eq!(
            out_field("additional_fields.phone_holder"),
            "paymentRequisites.holder"
        );
        assert_eq!(out_field("additional_fields.bank_name"), "paymentMethod");
        assert_eq!(out_field("request_id"), "internalId");
    }

    #[test]
    fn times_and_references() {
        assert_eq!(iso(1_730_728_545), "2024-11-04T13:55:45+00:00");
    }
}
