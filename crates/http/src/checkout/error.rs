//! The Checkout API's error shapes, as its specification shows them.

use std::collections::BTreeMap;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum CheckoutError {
    BadRequest(String),
    Unauthorized,
    Forbidden(String),
    NotFound,
    MethodNotAllowed,
    Conflict(String),
    PayloadTooLarge,
    /// 422: field to message.
    Invalid(BTreeMap<String, String>),
    Internal,
    /// 503: the database cannot be reached in time.
    Unavailable,
}

impl CheckoutError {
    pub fn invalid(field: &str, message: &str) -> Self {
        CheckoutError::Invalid(BTreeMap::from([(field.into(), message.into())]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CheckoutError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CheckoutError::Unauthorized => StatusCode::UNAUTHORIZED,
            CheckoutError::Forbidden(_) => StatusCode::FORBIDDEN,
            CheckoutError::NotFound => StatusCode::NOT_FOUND,
            CheckoutError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            CheckoutError::Conflict(_) => StatusCode::CONFLICT,
            CheckoutError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            CheckoutError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CheckoutError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            CheckoutError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let status = self.status();
        let entry = |detail: Option<&str>| {
            ErrorBody::List(ErrorList {
                errors: vec![ErrorEntry {
                    status: status.canonical_reason().unwrap_or_default().into(),
                    code: status.as_u16().to_string(),
                    title: None,
                    detail: detail.map(str::to_string),
                }],
            })
        };
        let with_title = |title: &str, detail: &str| {
            ErrorBody::List(ErrorList {
                errors: vec![ErrorEntry {
                    status: title.into(),
                    code: status.as_u16().to_string(),
                    title: Some(title.into()),
                    detail: Some(detail.into()),
                }],
            })
        };
        match self {
            CheckoutError::Invalid(fields) => ErrorBody::Fields(FieldErrors {
                errors: fields.clone(),
            }),
            CheckoutError::Internal => with_title("internal_error", "Internal server error."),
            CheckoutError::Unavailable => with_title(
                "service_unavailable",
                "The service is briefly unavailable. Retry the request; \
                 a repeat with the same reference_id is safe.",
            ),
            CheckoutError::BadRequest(d)
            | CheckoutError::Forbidden(d)
            | CheckoutError::Conflict(d) => entry(Some(d)),
            _ => entry(None),
        }
    }
}

/// An error's body: a list of entries, or for a 422 each bad field's
/// message.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ErrorBody {
    List(ErrorList),
    Fields(FieldErrors),
}

#[derive(Serialize, ToSchema)]
pub struct ErrorList {
    pub errors: Vec<ErrorEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorEntry {
    /// The status's reason phrase (`Not Found`), or a name for 500 and 503.
    pub status: String,
    /// The status code, as text.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// 422: each bad field (a dotted path for nested ones) and its message.
#[derive(Serialize, ToSchema)]
pub struct FieldErrors {
    pub errors: BTreeMap<String, String>,
}

impl IntoResponse for CheckoutError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        crate::retry_after_if_unavailable(&mut response);
        if matches!(self, CheckoutError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"kassa\""),
            );
        }
        response
    }
}

impl From<EngineError> for CheckoutError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => CheckoutError::Unauthorized,
            EngineError::Forbidden(m) => CheckoutError::Forbidden(m),
            EngineError::NotFound => CheckoutError::NotFound,
            EngineError::Invalid(fields) => CheckoutError::Invalid(fields),
            EngineError::Conflict(m) => CheckoutError::Conflict(m),
            EngineError::NoCabinet | EngineError::AmountsTaken => CheckoutError::NotFound,
            EngineError::InsufficientFunds => {
                CheckoutError::invalid("amount", "Insufficient funds.")
            }
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                CheckoutError::Unavailable
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                CheckoutError::Internal
            }
        }
    }
}
