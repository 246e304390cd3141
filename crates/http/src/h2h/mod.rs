//! The H2H API (specs 000 and 002): signed JSON bodies, answered in the
//! spec's shapes (`{"error": "..."}` on failure).
//!
//! Every request carries `merchant_id`, `site_id`, `site_login` and a
//! `signature`: lowercase hex `HMAC-SHA256(h2h_secret, canonical(body))`
//! (see [`canonical`]); the [`H2hSigned`] extractor checks it. Answers
//! carry a `signature` made the same way, so the merchant can check them.
//! Amounts are integers of minor units.
//!
//! `POST /api/book_cabinet`: holds a unique amount on a trader's cabinet for
//! the hold's lifetime (30 s by default), the exact amount when it is free,
//! else one of the alternatives the currency's rule generates.
//!
//! `POST /api/payout` (spec 002): a payout with the method's
//! `additional_fields`; callbacks follow its status.
//!
//! `POST /api/balance`: the merchant's balances per currency.

mod auth;
mod balance;
mod booking;
mod error;
mod openapi;
mod payouts;
pub mod request;
pub mod response;
mod signature;

use axum::routing::post;
use axum::Router;

pub use auth::H2hSigned;
pub use error::{ErrorBody, H2hError};
pub use openapi::H2hDoc;
pub use payouts::render_payout_callback;
pub use signature::{canonical, hmac_sha256, sign, signed, utc_text, verify};

use crate::AppState;

/// The largest request body the H2H API reads.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Most entries a payout's `additional_fields` may have.
pub const ADDITIONAL_FIELDS_MAX: usize = 32;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/book_cabinet", post(booking::book_cabinet))
        .route("/api/book_cabinet/", post(booking::book_cabinet))
        .route("/api/payout", post(payouts::payout))
        .route("/api/payout/", post(payouts::payout))
        .route("/api/balance", post(balance::balance))
        .route("/api/balance/", post(balance::balance))
}
