//! The trader API (`/trader-api/`): cabinets, deals, bank notifications and
//! the payouts traders execute.
//!
//! A trader authenticates with `Authorization: Bearer <trader token>` and sees
//! and acts on its own cabinets, deals and notifications only; anything else
//! is answered as unknown (404). Bodies and answers are JSON; every error has
//! one shape, `{"error": {"code", "message", "fields"}}`, which the admin API
//! shares (see [`ApiError`]).

use std::collections::{BTreeMap, HashMap};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use chrono::SecondsFormat;
use kassa_domain::money::format_fixed;
use kassa_domain::p2p::mask_card;
use kassa_domain::payout::{Payout, PayoutStatus};
use kassa_domain::{BankNotification, Cabinet, Currency, Deal, DealStatus, Trader};
use kassa_engine::p2p::NewNotification;
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Map, Value};

use crate::AppState;

/// The largest request body the trader and admin APIs read.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Ids in paths longer than this name nothing.
const PATH_ID_MAX: usize = 255;
const REALM: &str = "kassa-trader";

pub(crate) type Result<T> = std::result::Result<T, ApiError>;

/// The error of the trader and admin APIs:
/// `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body or query could not be read as JSON or a query string.
    BadRequest(String),
    /// 401, with the realm of the face for `WWW-Authenticate`.
    Unauthorized(&'static str),
    Forbidden(String),
    /// 404 with what was not found.
    NotFound(String),
    MethodNotAllowed,
    /// 409: the request is valid but the resource's state refuses it.
    Conflict(String),
    PayloadTooLarge,
    /// 422: field to message.
    Invalid(BTreeMap<String, String>),
    Internal,
    /// 503: the database cannot be reached in time.
    Unavailable,
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("No such {what}."))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Invalid(_) => "invalid",
            ApiError::Internal => "internal",
            ApiError::Unavailable => "unavailable",
        }
    }

    pub fn body(&self) -> Value {
        let message = match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m) => m.clone(),
            ApiError::Unauthorized(_) => {
                "Send a valid token as `Authorization: Bearer <token>`.".into()
            }
            ApiError::MethodNotAllowed => "This method is not allowed here.".into(),
            ApiError::PayloadTooLarge => {
                format!("The body is larger than {BODY_MAX_BYTES} bytes.")
            }
            ApiError::Invalid(fields) => {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                format!("Invalid fields: {}.", names.join(", "))
            }
            ApiError::Internal => "Internal server error.".into(),
            ApiError::Unavailable => {
                "The service is briefly unavailable. Retry the request.".into()
            }
        };
        let fields = match self {
            ApiError::Invalid(fields) => json!(fields),
            _ => json!({}),
        };
        json!({"error": {"code": self.code(), "message": message, "fields": fields}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        crate::retry_after_if_unavailable(&mut response);
        if let ApiError::Unauthorized(realm) = self {
            if let Ok(v) = HeaderValue::from_str(&format!("Bearer realm=\"{realm}\"")) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => ApiError::Unauthorized("kassa"),
            EngineError::Forbidden(m) => ApiError::Forbidden(m),
            EngineError::NotFound => ApiError::NotFound("Not found.".into()),
            EngineError::Invalid(fields) => ApiError::Invalid(fields),
            EngineError::Conflict(m) => ApiError::Conflict(m),
            e @ (EngineError::NoCabinet
            | EngineError::AmountsTaken
            | EngineError::InsufficientFunds) => ApiError::Conflict(e.to_string()),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                ApiError::Unavailable
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Internal
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reading requests (shared with the admin API).

/// The `Bearer` token of the `Authorization` header; the scheme's name is
/// case-insensitive (RFC 7235).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Reads at most [`BODY_MAX_BYTES`] of the body.
pub(crate) async fn read_body(body: Body) -> Result<Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => ApiError::PayloadTooLarge,
            crate::BodyError::Unreadable => {
                ApiError::BadRequest("The request body could not be read.".into())
            }
        })
}

/// The fields of a JSON object body, taken one by one; what is left at the
/// end is unknown and refused, so that a misspelt field never passes silently.
pub(crate) struct Input {
    map: Map<String, Value>,
    errors: BTreeMap<String, String>,
}

impl Input {
    /// Reads a JSON object; an empty body counts as `{}` when `allow_empty`.
    pub(crate) async fn read(body: Body, allow_empty: bool) -> Result<Input> {
        let bytes = read_body(body).await?;
        if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input::new(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Input::new(map)),
            Ok(_) => Err(ApiError::BadRequest(
                "The body must be a JSON object.".into(),
            )),
            Err(_) => Err(ApiError::BadRequest("The body is not valid JSON.".into())),
        }
    }

    pub(crate) fn new(map: Map<String, Value>) -> Input {
        Input {
            map,
            errors: BTreeMap::new(),
        }
    }

    pub(crate) fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// The field's value; `null` counts as absent.
    fn take(&mut self, field: &str, required: bool) -> Option<Value> {
        let value = self.map.remove(field).filter(|v| !v.is_null());
        if value.is_none() && required {
            self.error(field, "This field is required.");
        }
        value
    }

    /// The field's value as given, `null` included: `Some(Value::Null)`
    /// asks for a setting to be cleared.
    pub(crate) fn nullable(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field)
    }

    pub(crate) fn string(&mut self, field: &str, required: bool) -> Option<String> {
        match self.take(field, required)? {
            Value::String(s) => Some(s),
            _ => {
                self.error(field, "This value should be a string.");
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, field: &str, required: bool) -> Option<bool> {
        match self.take(field, required)? {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(field, "This value should be true or false.");
                None
            }
        }
    }

    /// A non-negative integer of at most `max`.
    pub(crate) fn count(&mut self, field: &str, max: u64) -> Option<u64> {
        match self.take(field, false)? {
            Value::Number(n) if n.as_u64().is_some_and(|v| v <= max) => n.as_u64(),
            _ => {
                self.error(
                    field,
                    format!("This value should be an integer from 0 to {max}."),
                );
                None
            }
        }
    }

    pub(crate) fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    /// Refuses unknown fields; any error found so far is a 422.
    pub(crate) fn finish(mut self) -> Result<()> {
        let unknown: Vec<String> = self.map.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "This field is not allowed.");
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.errors))
        }
    }
}

/// The query's parameters (the last of a repeated one wins); a parameter not
/// in `allowed` is refused.
pub(crate) fn query(raw: Option<String>, allowed: &[&str]) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("Malformed query string.".into()))?;
    let mut errors = BTreeMap::new();
    let mut out = HashMap::new();
    for (key, value) in pairs {
        if allowed.contains(&key.as_str()) {
            out.insert(key, value);
        } else {
            errors.insert(key, "This parameter is not allowed.".to_string());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// A `true`/`false` query parameter; absent is `false`.
pub(crate) fn query_flag(q: &HashMap<String, String>, key: &str) -> Result<bool> {
    match q.get(key).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(ApiError::invalid(
            key,
            "This value should be true or false.",
        )),
    }
}

/// Which deals a listing shows: `status=open` (waiting for the transfer),
/// `all` (the default), or one status.
pub(crate) enum DealFilter {
    Open,
    All,
    Only(DealStatus),
}

pub(crate) fn deal_filter(q: &HashMap<String, String>) -> Result<DealFilter> {
    Ok(match q.get("status").map(String::as_str) {
        None | Some("all") => DealFilter::All,
        Some("open") => DealFilter::Open,
        Some("transfer_waiting") => DealFilter::Only(DealStatus::TransferWaiting),
        Some("completed") => DealFilter::Only(DealStatus::Completed),
        Some("canceled") => DealFilter::Only(DealStatus::Canceled),
        Some("disputed") => DealFilter::Only(DealStatus::Disputed),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "Use open, all, transfer_waiting, completed, canceled or disputed.",
            ))
        }
    })
}

/// The deals of a trader that `filter` shows, newest first.
pub(crate) async fn filtered_deals(
    engine: &Engine,
    trader_id: String,
    filter: DealFilter,
) -> Result<Vec<Deal>> {
    let open_only = matches!(filter, DealFilter::Open);
    let mut deals = engine.trader_deals(trader_id, open_only).await?;
    if let DealFilter::Only(status) = filter {
        deals.retain(|d| d.status == status);
    }
    Ok(deals)
}

/// A path id, or 404 for one that cannot name anything.
pub(crate) fn path_id(
    path: std::result::Result<Path<String>, PathRejection>,
    what: &str,
) -> Result<String> {
    match path {
        Ok(Path(id)) if !id.is_empty() && id.len() <= PATH_ID_MAX => Ok(id),
        _ => Err(ApiError::not_found(what)),
    }
}

/// `"completed"` or `"canceled"`: how a dispute ends.
pub(crate) fn outcome(input: &mut Input) -> Option<bool> {
    match input.string("outcome", true)?.as_str() {
        "completed" => Some(true),
        "canceled" => Some(false),
        _ => {
            input.error("outcome", "Use completed or canceled.");
            None
        }
    }
}

/// An RFC 3339 time as seconds since the epoch.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("No such endpoint.".into())
}

/// A route whose other methods answer 405 in this face's shape.
pub(crate) fn route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}

// ---------------------------------------------------------------------------
// Rendering (shared with the admin API).

pub(crate) fn time(secs: i64) -> Value {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

pub(crate) fn opt_time(secs: Option<i64>) -> Value {
    secs.map_or(Value::Null, time)
}

fn amount(minor: i64, currency: Option<Currency>) -> Value {
    currency.map_or(Value::Null, |c| {
        Value::String(format_fixed(minor, c.exponent()))
    })
}

/// Who sees a requisite how: the trader that owns it in full, everyone else
/// masked (a card number as first 6 and last 4).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Owner,
    Operator,
}

fn requisite(text: &str, view: View) -> String {
    match view {
        View::Owner => text.to_string(),
        View::Operator => mask_card(text),
    }
}

pub(crate) fn trader_json(t: &Trader) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "active": t.active,
        "test_mode": t.test_mode,
        "created_at": time(t.created_at_secs),
    })
}

pub(crate) fn cabinet_json(c: &Cabinet, view: View) -> Value {
    let e = c.currency.exponent();
    let limit = |minor: i64| (minor > 0).then(|| format_fixed(minor, e));
    json!({
        "id": c.id,
        "trader_id": c.trader_id,
        "method": c.method,
        "currency": c.currency,
        "bank": c.bank_name,
        "requisite": requisite(&c.requisite, view),
        "holder": c.holder,
        "min_amount": format_fixed(c.min_amount_minor, e),
        "max_amount": limit(c.max_amount_minor),
        "daily_limit": limit(c.daily_limit_minor),
        "max_open_deals": (c.max_open_deals > 0).then_some(c.max_open_deals),
        "active": c.active,
        "test_mode": c.test_mode,
        "created_at": time(c.created_at_secs),
    })
}

/// Each cabinet's currency, to write the amounts of its deals.
pub(crate) type Currencies = HashMap<String, Currency>;

pub(crate) async fn currencies_of(engine: &Engine, trader_id: &str) -> Result<Currencies> {
    Ok(engine
        .trader_cabinets(trader_id.to_string())
        .await?
        .into_iter()
        .map(|c| (c.id, c.currency))
        .collect())
}

pub(crate) fn deal_json(d: &Deal, currencies: &Currencies, view: View) -> Value {
    let currency = currencies.get(&d.cabinet_id).copied();
    json!({
        "id": d.id,
        "invoice_id": d.invoice_id,
        "trader_id": d.trader_id,
        "cabinet_id": d.cabinet_id,
        "status": d.status.as_str(),
        "amount": amount(d.amount_minor, currency),
        "currency": currency,
        "method": d.method,
        "bank": d.bank_name,
        "requisite": requisite(&d.requisite, view),
        "holder": d.holder,
        "rate": d.rate,
        "created_at": time(d.created_at_secs),
        "deadline": time(d.deadline_secs),
        "ended_at": opt_time(d.ended_at_secs),
        "customer_says_paid_at": opt_time(d.customer_says_paid_at_secs),
        "dispute_reason": d.dispute_reason,
        "settled_by": d.settled_by,
        "test_mode": d.test_mode,
    })
}

pub(crate) fn notification_json(n: &BankNotification, currencies: &Currencies) -> Value {
    let currency = currencies.get(&n.cabinet_id).copied();
    json!({
        "id": n.external_id,
        "kassa_id": n.id,
        "trader_id": n.trader_id,
        "cabinet": n.cabinet_id,
        "amount": amount(n.amount_minor, currency),
        "currency": currency,
        "text": n.text,
        "time": opt_time(n.received_at_secs),
        "created_at": time(n.created_at_secs),
        "matched": n.deal_id.is_some(),
        "deal_id": n.deal_id,
    })
}

pub(crate) fn list(items: Vec<Value>) -> Response {
    Json(json!({ "data": items })).into_response()
}

// ---------------------------------------------------------------------------
// The trader API.

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/cabinets", route(get(list_cabinets)))
        .route("/cabinets/{id}/active", route(post(set_cabinet_active)))
        .route("/deals", route(get(list_deals)))
        .route("/deals/{id}", route(get(get_deal)))
        .route("/deals/{id}/confirm", route(post(confirm_deal)))
        .route("/deals/{id}/resolve", route(post(resolve_deal)))
        .route(
            "/notifications",
            route(post(post_notification).get(list_notifications)),
        )
        .route("/payouts", route(get(list_payouts)))
        .route("/payouts/offered", route(get(offered_payouts)))
        .route("/payouts/{id}", route(get(get_payout)))
        .route("/payouts/{id}/take", route(post(take_payout)))
        .route("/payouts/{id}/done", route(post(complete_payout)))
        .route("/payouts/{id}/decline", route(post(decline_payout)))
        .fallback(not_found);
    Router::new()
        .nest("/trader-api", api)
        .route("/trader-api/", axum::routing::any(not_found))
}

async fn authenticate(engine: &Engine, headers: &HeaderMap) -> Result<Trader> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized(REALM))?;
    engine
        .authenticate_trader(token.to_string())
        .await
        .map_err(|e| match e {
            EngineError::Unauthorized => ApiError::Unauthorized(REALM),
            other => other.into(),
        })
}

/// A deal of this trader; another trader's is as unknown as a missing one.
async fn own_deal(engine: &Engine, trader: &Trader, id: String) -> Result<Deal> {
    match engine.deal(id).await {
        Ok(d) if d.trader_id == trader.id => Ok(d),
        Ok(_) | Err(EngineError::NotFound) => Err(ApiError::not_found("deal")),
        Err(e) => Err(e.into()),
    }
}

fn not_found_as(what: &'static str) -> impl Fn(EngineError) -> ApiError {
    move |e| match e {
        EngineError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

async fn list_cabinets(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let cabinets = state.engine.trader_cabinets(trader.id).await?;
    Ok(list(
        cabinets
            .iter()
            .map(|c| cabinet_json(c, View::Owner))
            .collect(),
    ))
}

async fn set_cabinet_active(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "cabinet")?;
    let mut input = Input::read(body, false).await?;
    let active = input.boolean("active", true);
    input.finish()?;
    let active = active.expect("checked by finish");
    let cabinet = state
        .engine
        .set_cabinet_active(Some(trader.id), id, active)
        .await
        .map_err(not_found_as("cabinet"))?;
    Ok(Json(cabinet_json(&cabinet, View::Owner)).into_response())
}

async fn list_deals(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let filter = deal_filter(&query(raw, &["status"])?)?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    let deals = filtered_deals(&state.engine, trader.id, filter).await?;
    Ok(list(
        deals
            .iter()
            .map(|d| deal_json(d, &currencies, View::Owner))
            .collect(),
    ))
}

async fn get_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "deal")?;
    let deal = own_deal(&state.engine, &trader, id).await?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    Ok(Json(deal_json(&deal, &currencies, View::Owner)).into_response())
}

async fn confirm_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "deal")?;
    Input::read(body, true).await?.finish()?;
    let deal = state
        .engine
        .confirm_deal(Some(trader.id.clone()), id)
        .await
        .map_err(not_found_as("deal"))?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    Ok(Json(deal_json(&deal, &currencies, View::Owner)).into_response())
}

async fn resolve_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "deal")?;
    let mut input = Input::read(body, false).await?;
    let complete = outcome(&mut input);
    input.finish()?;
    let deal = state
        .engine
        .resolve_dispute(
            Some(trader.id.clone()),
            id,
            complete.expect("checked by finish"),
        )
        .await
        .map_err(not_found_as("deal"))?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    Ok(Json(deal_json(&deal, &currencies, View::Owner)).into_response())
}

async fn post_notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let mut input = Input::read(body, false).await?;
    let external_id = input.string("id", true);
    let cabinet_id = input.string("cabinet", true);
    let amount = input.string("amount", true);
    let text = input.string("text", false);
    let time = input.string("time", false);
    let received_at_secs = match &time {
        Some(t) => {
            let secs = parse_time(t);
            if secs.is_none() {
                input.error(
                    "time",
                    "This value should be an RFC 3339 time such as 2024-05-01T12:00:00Z.",
                );
            }
            secs
        }
        None => None,
    };
    input.finish()?;
    let new = NewNotification {
        external_id: external_id.expect("checked by finish"),
        cabinet_id: cabinet_id.expect("checked by finish"),
        amount: amount.expect("checked by finish"),
        text,
        received_at_secs,
    };
    let outcome = state.engine.post_bank_notification(&trader, new).await?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    let n = &outcome.notification;
    let mut answer = notification_json(n, &currencies);
    answer["deal"] = match &n.deal_id {
        Some(id) => deal_json(
            &state.engine.deal(id.clone()).await?,
            &currencies,
            View::Owner,
        ),
        None => Value::Null,
    };
    let mut response = Json(answer).into_response();
    if !outcome.new {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

async fn list_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let q = query(raw, &["unmatched"])?;
    let unmatched = query_flag(&q, "unmatched")?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    let notifications = state
        .engine
        .notifications(Some(trader.id), unmatched)
        .await?;
    Ok(list(
        notifications
            .iter()
            .map(|n| notification_json(n, &currencies))
            .collect(),
    ))
}

// ---------------------------------------------------------------------------
// Payouts

/// How a payout's `additional_fields` are shown: masked (card numbers as
/// first 6 and last 4) to a trader that is only offered it or is done with
/// it, in full to the trader paying it.
fn payout_json(p: &Payout, fields: Value) -> Value {
    let e = p.currency.exponent();
    json!({
        "id": p.id,
        "status": p.status.as_str(),
        "amount": format_fixed(p.amount_minor, e),
        "currency": p.currency,
        "method": p.method,
        "bank": fields.get("bank_name").cloned().unwrap_or(Value::Null),
        "additional_fields": fields,
        "trader_id": p.trader_id,
        "receipt": p.receipt,
        "reason": p.reason,
        "created_at": time(p.created_at_secs),
        "updated_at": time(p.updated_at_secs),
        "deadline": time(p.deadline_secs),
    })
}

fn masked_payout_json(p: &Payout) -> Value {
    payout_json(p, p.fields_masked.clone())
}

/// The payout with its fields in clear, for the trader paying it. Fields that
/// cannot be unsealed (the master key changed) are shown masked and logged.
fn full_payout_json(engine: &Engine, p: &Payout) -> Value {
    match engine.payout_fields(p) {
        Some(fields) => payout_json(p, Value::Object(fields)),
        None => {
            tracing::error!(payout = %p.id, "the payout's fields cannot be unsealed");
            masked_payout_json(p)
        }
    }
}

/// A trader's own payout: in full while it is paying it, masked once done.
fn own_payout_json(engine: &Engine, p: &Payout) -> Value {
    if p.status == PayoutStatus::InProgress {
        full_payout_json(engine, p)
    } else {
        masked_payout_json(p)
    }
}

/// `GET /trader-api/payouts/offered`: pending payouts of a method and currency
/// one of the trader's active cabinets serves, oldest first, masked.
async fn offered_payouts(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    query(raw, &[])?;
    let now = state.engine.now_secs();
    let payouts = state.engine.offered_payouts(&trader).await?;
    Ok(list(
        payouts
            .iter()
            // One past its deadline is about to fail: it is not offered.
            .filter(|p| p.deadline_secs > now)
            .map(masked_payout_json)
            .collect(),
    ))
}

/// `GET /trader-api/payouts?status=in_progress|success|failed|all`: the
/// payouts this trader took, newest first.
async fn list_payouts(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let q = query(raw, &["status"])?;
    let only = match q.get("status").map(String::as_str) {
        None | Some("all") => None,
        Some("in_progress") => Some(PayoutStatus::InProgress),
        Some("success") => Some(PayoutStatus::Success),
        Some("failed") => Some(PayoutStatus::Failed),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "Use all, in_progress, success or failed.",
            ))
        }
    };
    let payouts = state.engine.trader_payouts(trader.id).await?;
    Ok(list(
        payouts
            .iter()
            .filter(|p| only.is_none_or(|s| p.status == s))
            .map(|p| own_payout_json(&state.engine, p))
            .collect(),
    ))
}

/// `GET /trader-api/payouts/{id}`: one of the trader's payouts.
async fn get_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "payout")?;
    let payout = state
        .engine
        .trader_payouts(trader.id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found("payout"))?;
    Ok(Json(own_payout_json(&state.engine, &payout)).into_response())
}

/// `POST /trader-api/payouts/{id}/take`: the payout is this trader's to pay;
/// the answer has its fields in full.
async fn take_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "payout")?;
    Input::read(body, true).await?.finish()?;
    let payout = state
        .engine
        .take_payout(trader.id, id)
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(full_payout_json(&state.engine, &payout)).into_response())
}

/// `POST /trader-api/payouts/{id}/done` with `{"receipt": "..."}`: paid.
async fn complete_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "payout")?;
    let mut input = Input::read(body, false).await?;
    let receipt = input.string("receipt", true);
    if let Some(r) = &receipt {
        if r.trim().is_empty() || r.len() > 255 {
            input.error("receipt", "This value should be 1 to 255 characters.");
        }
    }
    input.finish()?;
    let payout = state
        .engine
        .complete_payout(trader.id, id, receipt.expect("checked by finish"))
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(masked_payout_json(&payout)).into_response())
}

/// `POST /trader-api/payouts/{id}/decline`: the trader will not pay it (one it
/// took, or one it is offered); it goes back to the other traders and is not
/// offered to this one again.
async fn decline_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    let trader = authenticate(&state.engine, &headers).await?;
    let id = path_id(path, "payout")?;
    Input::read(body, true).await?.finish()?;
    // Only a payout this trader took or is offered is its to decline; any
    // other answers as unknown.
    let own = state
        .engine
        .trader_payouts(trader.id.clone())
        .await?
        .iter()
        .any(|p| p.id == id && p.status == PayoutStatus::InProgress);
    let offered = own
        || state
            .engine
            .offered_payouts(&trader)
            .await?
            .iter()
            .any(|p| p.id == id);
    if !offered {
        return Err(ApiError::not_found("payout"));
    }
    let payout = state
        .engine
        .decline_payout(trader.id, id)
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(masked_payout_json(&payout)).into_response())
}
