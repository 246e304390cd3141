//! The Merchant API's one error shape: `{"error": {"code", "message",
//! "fields"}}`.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kassa_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error of the Merchant API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Field (as the Merchant API names it) to what is wrong with it.
    pub fields: BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such invoice.")
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error.",
        )
    }

    pub fn invalid(fields: BTreeMap<String, String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "The request has invalid fields.",
        );
        e.fields = fields;
        e
    }

    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::invalid(BTreeMap::from([(field.to_string(), message.to_string())]))
    }

    pub fn with_field(mut self, field: &str, message: &str) -> Self {
        self.fields.insert(field.to_string(), message.to_string());
        self
    }

    /// The body of the error.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        }
    }
}

/// Every error's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// What went wrong, for programs: `validation_error`, `unauthorized`,
    /// `not_found`, `idempotency_conflict`, ...
    #[schema(example = "validation_error")]
    pub code: &'a str,
    /// What went wrong, for people.
    pub message: &'a str,
    /// Each bad field (or query parameter), by the Merchant API's name, and
    /// what is wrong with it; `{}` when no field is at fault.
    pub fields: &'a BTreeMap<String, String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let bytes = serde_json::to_vec(&self.body()).expect("an error renders");
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response();
        crate::retry_after_if_unavailable(&mut response);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("HMAC-SHA256 realm=\"kassa-merchant-api\""),
            );
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => ApiError::unauthorized("Unknown X-Identity."),
            EngineError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            EngineError::NotFound => ApiError::not_found(),
            EngineError::Invalid(fields) => ApiError::invalid(fields),
            EngineError::Conflict(m) => {
                let e = ApiError::new(StatusCode::CONFLICT, "idempotency_conflict", m.clone());
                if m.contains("internalId") {
                    e.with_field("internalId", &m)
                } else {
                    e
                }
            }
            EngineError::InsufficientFunds => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "insufficient_funds",
                "The available balance does not cover the amount and its fee; nothing was created.",
            ),
            EngineError::NoCabinet => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_cabinet",
                "No trader requisites accept this payment option, bank, currency and amount now; \
                 the invoice was not created.",
            ),
            EngineError::AmountsTaken => ApiError::new(
                StatusCode::CONFLICT,
                "amounts_taken",
                "The amount and every alternative to it are held on every matching requisite; \
                 the invoice was not created. Retry later.",
            ),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is briefly unavailable. Retry the request; \
                     a repeat with the same internalId is safe.",
                )
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::internal()
            }
        }
    }
}
