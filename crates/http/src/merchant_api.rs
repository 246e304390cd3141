//! The Merchant API (spec 001): pay-in invoices with P2P deals.
//!
//! Every request is signed: `X-Identity` is the merchant's Merchant API key,
//! `X-Signature` the lowercase hex HMAC-SHA256 of the raw body under the
//! key's secret, or of the path with its query for a request without a body.
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
use kassa_domain::money::format_fixed;
use kassa_domain::{
    Callback, CallbackAttempt, Deal, DealStatus, Invoice, InvoiceStatus, Merchant, Source,
};
use kassa_engine::p2p_invoices::NewP2pInvoice;
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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, post(create).get(list).fallback(method_not_allowed))
        .route(
            "/api/merchant/invoices/{id}",
            get(show).fallback(method_not_allowed),
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
    axum::body::to_bytes(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("The body is larger than {BODY_MAX_BYTES} bytes."),
                )
            } else {
                ApiError::bad_request("The request body could not be read.")
            }
        })
}

/// Checks `X-Identity` and `X-Signature`: the HMAC of the raw body, or of the
/// path with its query when there is no body. Compared in constant time.
async fn verify(app: &AppState, headers: &HeaderMap, uri: &Uri, body: Body) -> Result<Signed> {
    let identity = header_text(headers, "x-identity")
        .ok_or_else(|| ApiError::unauthorized("The X-Identity header is missing."))?;
    let (merchant, test_mode) = app
        .engine
        .authenticate_merchant_api(identity.to_string())
        .await?;
    let body = read_body(body).await?;
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
    invoice_url: String,
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
        invoice_url: format!("{base_url}/hpp/{}", invoice.id),
        deals: deal.map(|d| deal_dto(invoice, d)).into_iter().collect(),
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

/// Parses a create request into the engine's command.
fn parse_new(bytes: &[u8]) -> Result<NewP2pInvoice> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}.")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request("The body must be a JSON object."));
    };
    let mut errors = BTreeMap::new();
    match body.get("type") {
        Some(Value::String(t)) if t == "in" => {}
        Some(Value::String(t)) if t == "out" => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_type",
                "Payout invoices (type \"out\") are not available yet; only type \"in\" is.",
            )
            .with_field("type", "Only \"in\" is supported for now."));
        }
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
    Ok(NewP2pInvoice {
        internal_id,
        user_id,
        amount: amount.unwrap_or_default(),
        currency: currency.unwrap_or_default(),
        notification_url: notification_url.unwrap_or_default(),
        notification_token: notification_token.unwrap_or_default(),
        payment_method,
        payment_option,
        start_deal,
    })
}

/// `POST /api/merchant/invoices`: 201 and the new invoice; 200 and the same
/// invoice for a repeat of the same body under the same `internalId`.
async fn create(State(app): State<AppState>, headers: HeaderMap, uri: Uri, body: Body) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, body).await?;
        let new = parse_new(&signed.body)?;
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
    body: Body,
) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, body).await?;
        // An id that does not even decode names no invoice.
        let id = id.map(|Path(id)| id).unwrap_or_default();
        if id.is_empty() || id.len() > ID_MAX {
            return Err(ApiError::not_found());
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
        let store = StoreInfo::of(&signed.merchant);
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
async fn list(State(app): State<AppState>, headers: HeaderMap, uri: Uri, body: Body) -> Response {
    let result = async {
        let signed = verify(&app, &headers, &uri, body).await?;
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
        let mut next_after = None;
        if let Some(reference) = internal_id {
            let invoice = app
                .engine
                .invoice_by_reference(merchant_id, test_mode, reference)
                .await?;
            found.extend(invoice.filter(|i| i.source == Source::MerchantApi));
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
        let items = found
            .iter()
            .zip(&deals)
            .map(|(invoice, deal)| invoice_dto(&app.base_url, Some(&store), invoice, deal.as_ref()))
            .collect();
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

/// Renders a Merchant API `type: out` callback: the InvoiceDTO of the payout.
pub fn render_payout_callback(base_url: &str, callback: &Callback, secret: &str) -> Rendered {
    let _ = (base_url, secret);
    Rendered {
        body: serde_json::to_vec(&callback.snapshot).expect("JSON"),
        headers: Vec::new(),
    }
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
    fn times_and_references() {
        assert_eq!(iso(1_730_728_545), "2024-11-04T13:55:45+00:00");
    }
}
