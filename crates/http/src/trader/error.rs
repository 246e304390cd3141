//! The error of the trader and admin APIs, one shape for both:
//! `{"error": {"code", "message", "fields"}}`.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

use super::BODY_MAX_BYTES;

#[derive(Debug)]
pub enum ApiError {
    /// 400: the body or query could not be read as JSON or a query string.
    BadRequest(String),
    /// 401, with the realm of the face for `WWW-Authenticate`.
    Unauthorized(&'static str),
    Forbidden(String),
    /// 404 with what was not found.
    NotFound(String),
    MethodNotAllowed,
    /// 409: the request is valid but the resource's state refuses it.
    Conflict(String),
    PayloadTooLarge,
    /// 422: field to message.
    Invalid(BTreeMap<String, String>),
    Internal,
    /// 503: the database cannot be reached in time.
    Unavailable,
}

/// Every error's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `invalid`,
    /// `internal` or `unavailable`.
    pub code: &'static str,
    pub message: String,
    /// For `invalid`: each bad field (or query parameter) and its message;
    /// empty otherwise.
    pub fields: BTreeMap<String, String>,
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("No such {what}."))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Invalid(_) => "invalid",
            ApiError::Internal => "internal",
            ApiError::Unavailable => "unavailable",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            ApiError::BadRequest(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m) => m.clone(),
            ApiError::Unauthorized(_) => {
                "Send a valid token as `Authorization: Bearer <token>`.".into()
            }
            ApiError::MethodNotAllowed => "This method is not allowed here.".into(),
            ApiError::PayloadTooLarge => {
                format!("The body is larger than {BODY_MAX_BYTES} bytes.")
            }
            ApiError::Invalid(fields) => {
                let names: Vec<&str> = fields.keys().map(String::as_str).collect();
                format!("Invalid fields: {}.", names.join(", "))
            }
            ApiError::Internal => "Internal server error.".into(),
            ApiError::Unavailable => {
                "The service is briefly unavailable. Retry the request.".into()
            }
        };
        let fields = match self {
            ApiError::Invalid(fields) => fields.clone(),
            _ => BTreeMap::new(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                fields,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        crate::retry_after_if_unavailable(&mut response);
        if let ApiError::Unauthorized(realm) = self {
            if let Ok(v) = HeaderValue::from_str(&format!("Bearer realm=\"{realm}\"")) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthorized => ApiError::Unauthorized("kassa"),
            EngineError::Forbidden(m) => ApiError::Forbidden(m),
            EngineError::NotFound => ApiError::NotFound("Not found.".into()),
            EngineError::Invalid(fields) => ApiError::Invalid(fields),
            EngineError::Conflict(m) => ApiError::Conflict(m),
            e @ (EngineError::NoCabinet
            | EngineError::AmountsTaken
            | EngineError::InsufficientFunds) => ApiError::Conflict(e.to_string()),
            EngineError::Unavailable(why) => {
                tracing::warn!(%why, "database unavailable");
                ApiError::Unavailable
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Internal
            }
        }
    }
}

/// An engine error, with an unknown resource named as `what`.
pub fn not_found_as(what: &'static str) -> impl Fn(EngineError) -> ApiError {
    move |e| match e {
        EngineError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}
