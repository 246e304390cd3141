//! Who calls the trader and admin APIs: a trader by its token, or the
//! operator by the configuration's `admin_token`, both as
//! `Authorization: Bearer <token>`. Each extractor's rejection is this
//! face's 401, with its own realm.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use kassa_domain::bank_message::TraderDevice;
use kassa_domain::{Actor, Trader};
use kassa_engine::EngineError;

use super::error::ApiError;
use super::response::View;
use crate::AppState;

const TRADER_REALM: &str = "kassa-trader";
const OPERATOR_REALM: &str = "kassa-admin";
const DEVICE_REALM: &str = "kassa-device";

/// The `Bearer` token of the `Authorization` header; the scheme's name is
/// case-insensitive (RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A trader, by its token: it acts on its own cabinets, deals and
/// notifications only.
pub struct TraderAuth(pub Trader);

impl FromRequestParts<AppState> for TraderAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized(TRADER_REALM))?;
        app.engine
            .authenticate_trader(token.to_string())
            .await
            .map(TraderAuth)
            .map_err(|e| match e {
                EngineError::Unauthorized => ApiError::Unauthorized(TRADER_REALM),
                other => other.into(),
            })
    }
}

/// A trader's device (the forwarding app on its phone), by the device's own
/// token: it posts bank messages and nothing else. A revoked device, or an
/// inactive trader's, is refused.
pub struct DeviceAuth(pub TraderDevice, pub Trader);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized(DEVICE_REALM))?;
        app.engine
            .authenticate_device(token.to_string())
            .await
            .map(|(device, trader)| DeviceAuth(device, trader))
            .map_err(|e| match e {
                EngineError::Unauthorized => ApiError::Unauthorized(DEVICE_REALM),
                other => other.into(),
            })
    }
}

/// The operator, by the configured `admin_token`; with none configured
/// nobody is.
pub struct OperatorAuth;

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized(OPERATOR_REALM))?;
        app.engine
            .authenticate_admin(token)
            .map(|()| OperatorAuth)
            .map_err(|_| ApiError::Unauthorized(OPERATOR_REALM))
    }
}

/// What the trader and admin APIs share: who acts, and how they see
/// requisites.
pub trait Acting {
    fn actor(&self) -> Actor;
    fn view(&self) -> View;
}

impl Acting for TraderAuth {
    fn actor(&self) -> Actor {
        Actor::Trader(self.0.id.clone())
    }
    fn view(&self) -> View {
        View::Owner
    }
}

impl Acting for OperatorAuth {
    fn actor(&self) -> Actor {
        Actor::Operator
    }
    fn view(&self) -> View {
        View::Operator
    }
}
