//! The Merchant API (spec 001): pay-in invoices with P2P deals.

use axum::Router;
use kassa_domain::{Callback, CallbackAttempt};
use kassa_engine::Rendered;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

/// Renders a Merchant API callback: the InvoiceDTO, signed.
pub fn render_callback(
    base_url: &str,
    callback: &Callback,
    attempts: &[CallbackAttempt],
    secret: &str,
) -> Rendered {
    let _ = (base_url, attempts, secret);
    Rendered {
        body: serde_json::to_vec(&callback.snapshot).expect("JSON"),
        headers: Vec::new(),
    }
}
