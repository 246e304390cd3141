//! The Merchant API (spec 001): pay-in invoices with P2P deals, payout
//! invoices (`type: out`) executed by traders, refunds of pay-ins (paid out
//! by traders to the customer's requisites), and the merchant's balances.
//!
//! Every request is signed: `X-Identity` is the merchant's Merchant API key,
//! `X-Signature` the lowercase hex HMAC-SHA256 of the raw body of a POST under
//! the key's secret, or of the path with its query for a GET (`auth.rs`).
//! Answers are InvoiceDTOs (`response.rs`, filled by `render.rs`); errors are
//! `{"error": {"code", "message", "fields"}}` (`error.rs`).
//! `docs/merchant-api.md` states the rules.

mod auth;
mod balance;
mod error;
mod invoices;
mod openapi;
mod payout;
mod refunds;
mod render;
pub mod request;
pub mod response;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde::Serialize;

pub use auth::{signature, MerchantRead, MerchantSigned};
pub use error::ApiError;
pub use openapi::MerchantDoc;
pub use render::{
    invoice_status, payout_status, render_callback, render_payout_callback, render_refund_callback,
};

use crate::AppState;

/// The largest request body the Merchant API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Invoices per page of the listing: default and most.
pub const LIMIT_DEFAULT: usize = 20;
pub const LIMIT_MAX: usize = 100;
/// Ids, cursors and filters longer than this name nothing.
const ID_MAX: usize = 255;

const PATH: &str = "/api/merchant/invoices";

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            PATH,
            post(invoices::create)
                .get(invoices::list)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/invoices/{id}",
            get(invoices::show).fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/invoices/{id}/refunds",
            get(refunds::list).fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/refunds",
            post(refunds::create).fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/refunds/{id}",
            get(refunds::show).fallback(method_not_allowed),
        )
        .route(
            "/api/merchant/balance",
            get(balance::balance).fallback(method_not_allowed),
        )
        .route("/api/merchant/{*rest}", any(not_found))
}

/// An answer written straight to bytes.
fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "an answer did not render");
            ApiError::internal().into_response()
        }
    }
}

fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
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
