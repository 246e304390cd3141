//! The Checkout API (spec 003): pre-request, services, invoices over the
//! public and private API, the HTML form, reconciliation and listing.

mod account;
mod auth;
mod error;
mod invoices;
mod openapi;
pub mod parse;
mod public;
mod refunds;
pub mod render;
pub mod request;
pub mod response;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

pub use error::{CheckoutError, ErrorBody};
pub use openapi::{CheckoutPrivateDoc, CheckoutPublicDoc};

use crate::AppState;

/// The largest request body the Checkout API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
const PAGE_SIZE_DEFAULT: usize = 20;
const PAGE_SIZE_MAX: usize = 100;

type Result<T> = std::result::Result<T, CheckoutError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/public-api/payment-prerequest", post(public::prerequest))
        .route("/public-api/payment-invoices", post(public::create_public))
        .route(
            "/public-api/payment-invoices/process",
            post(public::create_from_form),
        )
        .route("/public-api/payment-invoices/{id}", get(public::get_public))
        .route("/api/payment-services", get(account::list_services))
        .route("/api/payment-services/{id}", get(account::get_service))
        .route(
            "/api/payment-invoices",
            post(invoices::create_private).get(invoices::list_invoices),
        )
        .route("/api/payment-invoices/{id}", get(invoices::get_private))
        .route(
            "/api/payment-invoices/{id}/callbacks",
            post(invoices::resend_callback),
        )
        .route(
            "/api/payment-invoices/{id}/refund",
            post(refunds::create_refund),
        )
        .route(
            "/api/payment-invoices/{id}/refunds",
            get(refunds::list_refunds),
        )
        .route("/api/refunds/{id}", get(refunds::get_refund))
        .route("/api/reports/daily", get(account::daily_report))
        .route("/api/balance", get(account::balance))
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

pub(crate) fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| CheckoutError::BadRequest("Malformed query string.".into()))
}

pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

pub(crate) fn page_size(pairs: &[(String, String)]) -> Result<usize> {
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
