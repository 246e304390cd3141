//! The Checkout API (spec 003): pre-request, services, invoices over the
//! public and private API, the HTML form, reconciliation and listing.

mod auth;
mod error;
pub mod parse;
pub mod render;
pub mod request;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kassa_domain::{CallbackAttempt, Currency, Invoice, Source};
use kassa_engine::Engine;
use kassa_store::Cursor;
use serde_json::{json, Map, Value};

use auth::{public_key, CheckoutPrivate};
pub use error::CheckoutError;
use parse::{form_flags, form_object, json_body};
use render::{private_invoice_resource, public_invoice, service_resource, Data};
use request::{new_invoice, CreateInvoiceRequest, PrerequestBody, PublicInvoiceRequest};

use crate::field::Field;
use crate::AppState;

/// The largest request body the Checkout API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
const PAGE_SIZE_DEFAULT: usize = 20;
const PAGE_SIZE_MAX: usize = 100;

type Result<T> = std::result::Result<T, CheckoutError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/public-api/payment-prerequest", post(prerequest))
        .route("/public-api/payment-invoices", post(create_public))
        .route(
            "/public-api/payment-invoices/process",
            post(create_from_form),
        )
        .route("/public-api/payment-invoices/{id}", get(get_public))
        .route("/api/payment-services", get(list_services))
        .route("/api/payment-services/{id}", get(get_service))
        .route(
            "/api/payment-invoices",
            post(create_private).get(list_invoices),
        )
        .route("/api/payment-invoices/{id}", get(get_private))
        .route(
            "/api/payment-invoices/{id}/callbacks",
            post(resend_callback),
        )
        .route("/api/reports/daily", get(daily_report))
        .route("/api/balance", get(balance))
}

pub async fn read_body(body: Body) -> Result<Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => CheckoutError::PayloadTooLarge,
            crate::BodyError::Unreadable => {
                CheckoutError::BadRequest("The request body could not be read.".into())
            }
        })
}

fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| CheckoutError::BadRequest("Malformed query string.".into()))
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

async fn prerequest(State(app): State<AppState>, body: Body) -> Result<Json<Value>> {
    let body: PrerequestBody = json_body(&read_body(body).await?)?;
    let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
    let currency = match body.currency {
        Field::Given(c) => Currency::from_code(&c).ok_or_else(|| {
            CheckoutError::invalid("currency", "This value is not a valid currency.")
        })?,
        Field::Absent => {
            return Err(CheckoutError::invalid(
                "currency",
                "This value should not be blank.",
            ))
        }
        Field::Wrong(kind) => {
            return Err(CheckoutError::invalid(
                "currency",
                request::wrong_kind(kind),
            ))
        }
    };
    let catalog = app.engine.catalog().await?;
    Ok(Json(render::prerequest(
        &merchant, test_mode, currency, &catalog,
    )))
}

async fn create_public(State(app): State<AppState>, body: Body) -> Result<Response> {
    let body = PublicInvoiceRequest::read(&read_body(body).await?)?;
    let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
    let mut new = new_invoice(body.attributes, test_mode)?;
    new.source = Some(Source::PublicApi);
    let created = app
        .engine
        .create_invoice(merchant, new.test_mode, new)
        .await?;
    Ok((
        created_status(created.created),
        Json(public_invoice(&app.base_url, &created.invoice)),
    )
        .into_response())
}

/// The payment link: an HTML form posted by the customer's browser. Success
/// redirects to the hosted page; errors are shown as a page.
async fn create_from_form(State(app): State<AppState>, body: Body) -> Response {
    let result = async {
        let mut form = form_object(&read_body(body).await?)?;
        form_flags(&mut form);
        let form = serde_json::to_vec(&form).expect("a form writes as JSON");
        let body = PublicInvoiceRequest::read(&form)?;
        let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
        let mut new = new_invoice(body.attributes, test_mode)?;
        new.source = Some(Source::HtmlForm);
        let created = app
            .engine
            .create_invoice(merchant, new.test_mode, new)
            .await?;
        Ok::<_, CheckoutError>(render::hpp_url(&app.base_url, &created.invoice))
    }
    .await;
    match result {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => crate::hpp::form_error_page(&e),
    }
}

async fn get_public(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>> {
    let pairs = query_pairs(q)?;
    let key =
        query_value(&pairs, "public_key").map_or(Field::Absent, |k| Field::Given(k.to_string()));
    let (merchant, test_mode) = public_key(&app.engine, key).await?;
    let invoice = app.engine.invoice(merchant.id, test_mode, id).await?;
    Ok(Json(public_invoice(&app.base_url, &invoice)))
}

async fn create_private(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    body: Body,
) -> Result<Response> {
    let request: CreateInvoiceRequest = json_body(&read_body(body).await?)?;
    let mut new = new_invoice(request.attributes()?, auth.test_mode)?;
    new.source = Some(Source::PrivateApi);
    let created = app
        .engine
        .create_invoice(auth.merchant, new.test_mode, new)
        .await?;
    let invoice = created.invoice;
    let attempts = if created.created {
        Vec::new()
    } else {
        app.engine.callback_attempts(invoice.id.clone()).await?
    };
    Ok(private_invoice_response(
        &app.base_url,
        created_status(created.created),
        &invoice,
        &attempts,
    ))
}

/// `{"data": <invoice>}` of the private API, rendered straight to bytes.
fn private_invoice_response(
    base: &str,
    status: StatusCode,
    invoice: &Invoice,
    attempts: &[CallbackAttempt],
) -> Response {
    let url = render::hpp_url(base, invoice);
    let body = Data {
        data: private_invoice_resource(&url, invoice, attempts),
    };
    let bytes = serde_json::to_vec(&body).expect("an invoice renders");
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

async fn get_private(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let invoice = app
        .engine
        .invoice(auth.merchant.id, auth.test_mode, id)
        .await?;
    let attempts = app.engine.callback_attempts(invoice.id.clone()).await?;
    Ok(private_invoice_response(
        &app.base_url,
        StatusCode::OK,
        &invoice,
        &attempts,
    ))
}

fn page_size(pairs: &[(String, String)]) -> Result<usize> {
    match query_value(pairs, "page[size]") {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=PAGE_SIZE_MAX).contains(&n) => Ok(n),
            _ => Err(CheckoutError::invalid(
                "page[size]",
                "This value should be between 1 and 100.",
            )),
        },
    }
}

/// `GET /api/payment-invoices`: by `filter[reference_id]`, or a page of the
/// newest first with `page[after]`/`page[before]` cursors.
async fn list_invoices(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(q)?;
    if let Some(reference_id) = query_value(&pairs, "filter[reference_id]") {
        let invoice = app
            .engine
            .invoice_by_reference(auth.merchant.id, auth.test_mode, reference_id.to_string())
            .await?
            .ok_or(CheckoutError::NotFound)?;
        let attempts = app.engine.callback_attempts(invoice.id.clone()).await?;
        return Ok(private_invoice_response(
            &app.base_url,
            StatusCode::OK,
            &invoice,
            &attempts,
        ));
    }
    let size = page_size(&pairs)?;
    let cursor = match (
        query_value(&pairs, "page[after]"),
        query_value(&pairs, "page[before]"),
    ) {
        (Some(_), Some(_)) => {
            return Err(CheckoutError::invalid(
                "page",
                "Use page[after] or page[before], not both.",
            ))
        }
        (Some(id), None) => Cursor::After(id.to_string()),
        (None, Some(id)) => Cursor::Before(id.to_string()),
        (None, None) => Cursor::First,
    };
    let page = app
        .engine
        .invoices(auth.merchant.id, auth.test_mode, cursor, size)
        .await?;
    let mut data = Vec::with_capacity(page.items.len());
    for invoice in &page.items {
        let attempts = app.engine.callback_attempts(invoice.id.clone()).await?;
        let url = render::hpp_url(&app.base_url, invoice);
        let resource = private_invoice_resource(&url, invoice, &attempts);
        data.push(serde_json::to_value(resource).expect("an invoice renders"));
    }
    let first = page.items.first().map(|i| i.id.clone());
    let last = page.items.last().map(|i| i.id.clone());
    let link = |key: &str, id: &Option<String>, exists: bool| match (id, exists) {
        (Some(id), true) => format!("/api/payment-invoices?page[size]={size}&page[{key}]={id}"),
        _ => String::new(),
    };
    Ok(Json(json!({
        "meta": { "count": data.len(), "size": size, "before": first, "after": last },
        "links": { "prev": link("before", &first, page.has_newer), "next": link("after", &last, page.has_older) },
        "data": data,
    }))
    .into_response())
}

async fn list_services(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>> {
    let pairs = query_pairs(q)?;
    let size = page_size(&pairs)?;
    let number = match query_value(&pairs, "page[number]") {
        None => 1,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1 && *n <= 1_000_000)
            .ok_or_else(|| {
                CheckoutError::invalid("page[number]", "This value should be a positive integer.")
            })?,
    };
    let catalog = app.engine.catalog().await?;
    let total = catalog.services.len();
    let pages = total.div_ceil(size).max(1);
    let data: Vec<Value> = catalog
        .services
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .map(|s| service_resource(&auth.merchant, auth.test_mode, s))
        .collect();
    let link = |n: usize| format!("/api/payment-services?page[number]={n}&page[size]={size}");
    let mut links = Map::new();
    links.insert("first".into(), link(1).into());
    if number > 1 {
        links.insert("prev".into(), link(number - 1).into());
    }
    if number < pages {
        links.insert("next".into(), link(number + 1).into());
    }
    links.insert("last".into(), link(pages).into());
    Ok(Json(json!({
        "meta": { "total": total, "pages": pages, "page": number },
        "links": links,
        "data": data,
    })))
}

async fn get_service(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let catalog = app.engine.catalog().await?;
    let service = catalog
        .services
        .iter()
        .find(|s| render::merchant_service_id(&auth.merchant.id, &s.code) == id || s.code == id)
        .ok_or(CheckoutError::NotFound)?;
    Ok(Json(
        json!({ "data": service_resource(&auth.merchant, auth.test_mode, service) }),
    ))
}

/// Owes a fresh callback with the invoice's current status (manual resend).
async fn resend_callback(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let invoice = app
        .engine
        .invoice(auth.merchant.id.clone(), auth.test_mode, id)
        .await?;
    let callback = app
        .engine
        .resend_callback(Some(auth.merchant.id), invoice.id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "data": {
            "type": "callbacks",
            "id": callback.id,
            "attributes": {
                "url": callback.url,
                "transaction_status": callback.transaction_status,
                "status": callback.state.as_str(),
            },
        }})),
    )
        .into_response())
}

/// `GET /api/balance[?currency=RUB]`: the merchant's balances in the key's
/// mode, one resource per currency it has had money in (with `currency`,
/// that one, zero when it has none). Amounts as decimal strings and as
/// integers of minor units.
async fn balance(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>> {
    let pairs = query_pairs(q)?;
    let mut only = None;
    for (key, value) in &pairs {
        match key.as_str() {
            "currency" => {
                only = Some(Currency::from_code(value).ok_or_else(|| {
                    CheckoutError::invalid("currency", "This value is not a valid currency.")
                })?)
            }
            other => {
                return Err(CheckoutError::invalid(
                    &other.chars().take(64).collect::<String>(),
                    "This parameter is not allowed: use currency.",
                ))
            }
        }
    }
    let mut all = app
        .engine
        .balances(auth.merchant.id.clone(), auth.test_mode)
        .await?;
    if let Some(currency) = only {
        all.retain(|b| b.currency == currency);
        if all.is_empty() {
            all.push(kassa_engine::ledger::Balance {
                currency,
                test_mode: auth.test_mode,
                available_minor: 0,
                pending_payouts_minor: 0,
                reserve_minor: 0,
            });
        }
    }
    all.sort_by_key(|b| b.currency.code());
    let data: Vec<Value> = all
        .iter()
        .map(|b| {
            let e = b.currency.exponent();
            let f = |m: i64| kassa_domain::money::format_fixed(m, e);
            json!({
                "type": "balances",
                "id": b.currency.code(),
                "attributes": {
                    "currency": b.currency.code(),
                    "exponent": e,
                    "test_mode": b.test_mode,
                    "available": f(b.available_minor),
                    "available_minor": b.available_minor,
                    "pending_payouts": f(b.pending_payouts_minor),
                    "pending_payouts_minor": b.pending_payouts_minor,
                    "reserve": f(b.reserve_minor),
                    "reserve_minor": b.reserve_minor,
                },
            })
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

pub type SharedEngine = Arc<Engine>;

/// `GET /api/reports/daily?date=YYYY-MM-DD`: the merchant's statement of one
/// UTC day in the key's mode, as CSV (columns in `docs/ledger.md`).
async fn daily_report(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(q)?;
    let date = match query_value(&pairs, "date") {
        None | Some("") => {
            return Err(CheckoutError::invalid(
                "date",
                "This value should not be blank.",
            ))
        }
        Some(text) => kassa_engine::report::parse_report_date(text).ok_or_else(|| {
            CheckoutError::invalid("date", "This value is not a valid date (YYYY-MM-DD).")
        })?,
    };
    let csv = app
        .engine
        .daily_report(auth.merchant.id, auth.test_mode, date)
        .await?;
    let mode = if auth.test_mode { "test" } else { "live" };
    let disposition = format!("attachment; filename=\"daily-{date}-{mode}.csv\"");
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}
