//! Who is calling the Checkout API: a merchant by its private key (HTTP
//! Basic, an extractor) or by its public key (in the body or the query).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kassa_domain::Merchant;
use kassa_engine::Engine;

use super::error::CheckoutError;
use crate::field::Text;
use crate::AppState;

/// A merchant authenticated with its private key id and secret (HTTP
/// Basic). The key's mode is the mode of everything the request sees.
pub struct CheckoutPrivate {
    pub merchant: Merchant,
    pub test_mode: bool,
}

impl FromRequestParts<AppState> for CheckoutPrivate {
    type Rejection = CheckoutError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(CheckoutError::Unauthorized)?;
        // The scheme's name is case-insensitive (RFC 7235).
        let (scheme, encoded) = value.split_once(' ').ok_or(CheckoutError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(CheckoutError::Unauthorized);
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(CheckoutError::Unauthorized)?;
        let (id, secret) = decoded.split_once(':').ok_or(CheckoutError::Unauthorized)?;
        let (merchant, test_mode) = app
            .engine
            .authenticate_private(id.to_string(), secret.to_string())
            .await?;
        Ok(CheckoutPrivate {
            merchant,
            test_mode,
        })
    }
}

/// A merchant by the public key a request carries, and the key's mode.
pub async fn public_key(engine: &Engine, key: Text) -> Result<(Merchant, bool), CheckoutError> {
    match key.given() {
        Some(k) => Ok(engine.authenticate_public(k).await?),
        None => Err(CheckoutError::Unauthorized),
    }
}
