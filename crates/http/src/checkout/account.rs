//! The private API's account: the merchant's services, balances and daily
//! statement.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::Currency;
use serde_json::Map;

use super::auth::CheckoutPrivate;
use super::error::{ErrorList, FieldErrors};
use super::render::{self, service_resource};
use super::response::{
    BalanceAttributes, BalanceResource, Data, PageNumberMeta, ServiceList, ServiceResource,
};
use super::{page_size, query_pairs, query_value, CheckoutError, Result};
use crate::AppState;

#[utoipa::path(get, path = "/api/payment-services", tag = "account",
    params(
        ("page[number]" = Option<u32>, Query, minimum = 1, maximum = 1000000),
        ("page[size]" = Option<u32>, Query, minimum = 1, maximum = 100),
    ),
    security(("private_key" = [])),
    responses(
        (status = 200, body = ServiceList),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 422, body = FieldErrors),
    ))]
pub async fn list_services(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Response> {
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
    let data: Vec<ServiceResource> = catalog
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
    Ok(Json(ServiceList {
        meta: PageNumberMeta {
            total,
            pages,
            page: number,
        },
        links,
        data,
    })
    .into_response())
}

/// By the connection's id (`comcps_...`) or the service's code.
#[utoipa::path(get, path = "/api/payment-services/{id}", tag = "account",
    params(("id" = String, Path)),
    security(("private_key" = [])),
    responses(
        (status = 200, body = Data<ServiceResource>),
        (status = 401, body = ErrorList), (status = 404, body = ErrorList),
    ))]
pub async fn get_service(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let catalog = app.engine.catalog().await?;
    let service = catalog
        .services
        .iter()
        .find(|s| render::merchant_service_id(&auth.merchant.id, &s.code) == id || s.code == id)
        .ok_or(CheckoutError::NotFound)?;
    Ok(Json(Data {
        data: service_resource(&auth.merchant, auth.test_mode, service),
    })
    .into_response())
}

/// The merchant's balances in the key's mode, one resource per currency it
/// has had money in (with `currency`, that one, zero when it has none).
#[utoipa::path(get, path = "/api/balance", tag = "account",
    params(("currency" = Option<String>, Query, pattern = "^[A-Z]{3,4}$")),
    security(("private_key" = [])),
    responses(
        (status = 200, body = Data<Vec<BalanceResource>>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 422, body = FieldErrors),
    ))]
pub async fn balance(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Response> {
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
                pending_refunds_minor: 0,
                reserve_minor: 0,
            });
        }
    }
    all.sort_by_key(|b| b.currency.code());
    let data: Vec<BalanceResource> = all
        .iter()
        .map(|b| {
            let e = b.currency.exponent();
            let f = |m: i64| kassa_domain::money::format_fixed(m, e);
            BalanceResource {
                kind: "balances",
                id: b.currency.code(),
                attributes: BalanceAttributes {
                    currency: b.currency.code(),
                    exponent: e,
                    test_mode: b.test_mode,
                    available: f(b.available_minor),
                    available_minor: b.available_minor,
                    pending_payouts: f(b.pending_payouts_minor),
                    pending_payouts_minor: b.pending_payouts_minor,
                    pending_refunds: f(b.pending_refunds_minor),
                    pending_refunds_minor: b.pending_refunds_minor,
                    reserve: f(b.reserve_minor),
                    reserve_minor: b.reserve_minor,
                },
            }
        })
        .collect();
    Ok(Json(Data { data }).into_response())
}

/// The merchant's statement of one UTC day in the key's mode, as CSV
/// (columns in `docs/ledger.md`).
#[utoipa::path(get, path = "/api/reports/daily", tag = "account",
    params(("date" = String, Query, format = Date, description = "A UTC day: YYYY-MM-DD.")),
    security(("private_key" = [])),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 422, body = FieldErrors),
    ))]
pub async fn daily_report(
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
