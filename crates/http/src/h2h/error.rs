//! The H2H API's error shape: a status and `{"error": "..."}`, field errors
//! also listed one by one in `fields`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An H2H error: a status and its body.
#[derive(Debug)]
pub struct H2hError {
    pub status: StatusCode,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl H2hError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        H2hError {
            status,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Field errors: the message names each field (`amount: must be ...`).
    pub fn fields(status: StatusCode, fields: BTreeMap<String, String>) -> Self {
        let message = fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        H2hError {
            status,
            message,
            fields,
        }
    }

    /// One field's error.
    pub fn field(status: StatusCode, field: &str, message: &str) -> Self {
        H2hError::fields(status, BTreeMap::from([(field.into(), message.into())]))
    }

    pub fn unauthorized(message: &str) -> Self {
        H2hError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        H2hError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn internal() -> Self {
        H2hError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

/// Every error's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// One line: field errors read `field: message`, several joined by `; `.
    pub error: String,
    /// Each bad field (a dotted path inside `additional_fields`) and its
    /// message; only with field errors.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(required = false)]
    pub fields: BTreeMap<String, String>,
}

impl IntoResponse for H2hError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            fields: self.fields,
        };
        let mut response = (self.status, Json(body)).into_response();
        crate::retry_after_if_unavailable(&mut response);
        response
    }
}

impl From<EngineError> for H2hError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => H2hError::unauthorized("Invalid signature"),
            EngineError::Forbidden(m) => H2hError::new(StatusCode::FORBIDDEN, m),
            EngineError::NotFound => H2hError::new(StatusCode::NOT_FOUND, "Not found"),
            EngineError::Invalid(fields) => {
                H2hError::fields(StatusCode::UNPROCESSABLE_ENTITY, fields)
            }
            EngineError::Conflict(m) => H2hError::new(StatusCode::CONFLICT, m),
            EngineError::InsufficientFunds => {
                H2hError::new(StatusCode::UNPROCESSABLE_ENTITY, "Insufficient funds")
            }
            EngineError::NoCabinet => H2hError::new(StatusCode::NOT_FOUND, "Card not found"),
            EngineError::AmountsTaken => H2hError::new(
                StatusCode::NOT_FOUND,
                "All generated amounts were already booked",
            ),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                H2hError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service temporarily unavailable",
                )
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                H2hError::internal()
            }
        }
    }
}
