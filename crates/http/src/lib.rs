//! Kassa's HTTP faces. Each face parses its dialect into engine commands and
//! renders results and errors in its own shapes; no business rule lives here.
#![recursion_limit = "256"]

pub mod admin;
pub mod checkout;
pub mod console;
pub mod evidence;
pub mod field;
pub mod h2h;
pub mod hpp;
pub mod merchant_api;
pub mod openapi;
pub mod portal;
pub mod telemetry;
pub mod trader;
pub mod trader_panel;
pub mod web;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kassa_engine::Engine;

use kassa_domain::{Callback, CallbackAttempt, CallbackFace};
use kassa_engine::{CallbackRenderer, CallbackSecrets, Rendered};

/// Renders every face's callbacks, each in its own dialect.
pub struct FaceCallbacks {
    pub public_base_url: String,
}

impl CallbackRenderer for FaceCallbacks {
    fn render(
        &self,
        callback: &Callback,
        attempts: &[CallbackAttempt],
        secrets: &CallbackSecrets,
    ) -> Rendered {
        let base = &self.public_base_url;
        match callback.face {
            CallbackFace::Checkout => checkout::render::CheckoutCallbacks {
                public_base_url: base.clone(),
            }
            .render(callback, attempts, &secrets.callback),
            CallbackFace::MerchantApi => {
                merchant_api::render_callback(base, callback, attempts, &secrets.callback)
            }
            CallbackFace::MerchantApiPayout => {
                merchant_api::render_payout_callback(base, callback, &secrets.callback)
            }
            CallbackFace::MerchantApiRefund => {
                merchant_api::render_refund_callback(callback, &secrets.callback)
            }
            CallbackFace::H2hPayout => {
                h2h::render_payout_callback(callback, secrets.h2h.as_deref())
            }
        }
    }
}
use checkout::CheckoutError;

/// Why a request body could not be read.
pub enum BodyError {
    /// Longer than the face allows: a 413 in the face's shape.
    TooLarge,
    /// The connection failed mid-body.
    Unreadable,
}

/// Reads at most `max_bytes` of a request body: the one body limit every
/// face applies, each rendering the error in its own shape.
pub async fn read_limited(body: Body, max_bytes: usize) -> Result<axum::body::Bytes, BodyError> {
    axum::body::to_bytes(body, max_bytes).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable
        }
    })
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// The public base URL, without a trailing slash.
    pub base_url: String,
}

/// Every route of every face. Unknown paths and methods answer in the
/// Checkout API's error shape. Without `with_admin` the admin API is left
/// out: it is served on a listener of its own ([`admin_router`]).
pub fn router(engine: Arc<Engine>, with_admin: bool) -> Router {
    let state = app_state(engine);
    use telemetry::measured;
    let faces = Router::new()
        .merge(measured("checkout", checkout::routes()))
        .merge(measured("hpp", hpp::routes()))
        .merge(measured("evidence", evidence::routes()))
        .merge(measured("h2h", h2h::routes()))
        .merge(measured("merchant_api", merchant_api::routes()))
        .merge(measured("trader", trader::routes()))
        .merge(measured("portal", portal::routes()))
        .merge(measured("trader_panel", trader_panel::routes()))
        .merge(measured("console", console::routes()))
        .merge(measured("openapi", openapi::routes(with_admin)));
    let faces = if with_admin {
        faces.merge(operator_routes())
    } else {
        faces
    };
    with_probes(faces)
        .fallback(|| async {
            telemetry::unmatched("none", StatusCode::NOT_FOUND);
            CheckoutError::NotFound
        })
        .method_not_allowed_fallback(|| async {
            telemetry::unmatched("none", StatusCode::METHOD_NOT_ALLOWED);
            CheckoutError::MethodNotAllowed
        })
        .with_state(state)
}

/// The admin API and `/metrics`: on the admin listener when there is one,
/// else beside the faces; both for the operator's token.
fn operator_routes() -> Router<AppState> {
    let routes = admin::routes();
    let routes = if telemetry::installed() {
        routes.route("/metrics", get(telemetry::scrape))
    } else {
        routes
    };
    telemetry::measured("admin", routes)
}

/// The admin API alone, with its OpenAPI document, for its own listener
/// (`admin_listen`): other paths answer in the admin API's error shape.
pub fn admin_router(engine: Arc<Engine>) -> Router {
    with_probes(operator_routes().merge(telemetry::measured("openapi", openapi::admin_routes())))
        .fallback(|| async {
            telemetry::unmatched("none", StatusCode::NOT_FOUND);
            trader::not_found().await
        })
        .with_state(app_state(engine))
}

fn app_state(engine: Arc<Engine>) -> AppState {
    let base_url = engine
        .config()
        .public_base_url
        .trim_end_matches('/')
        .to_string();
    AppState { engine, base_url }
}

fn with_probes(routes: Router<AppState>) -> Router<AppState> {
    let probes = Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/ready", get(ready));
    routes.merge(telemetry::measured("probe", probes))
}

/// A 503 says when to try again: the database is usually back, or another
/// node answers, within a second or two.
pub(crate) fn retry_after_if_unavailable(response: &mut Response) {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
}

/// Readiness for a load balancer: 200 when this node can read its database,
/// 503 otherwise (`/health` only says the process answers).
async fn ready(State(app): State<AppState>) -> Response {
    match app.engine.check_store().await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response();
            retry_after_if_unavailable(&mut response);
            response
        }
    }
}

/// The benchmark's baseline on the same HTTP stack: parses the JSON body and
/// writes it back, with no store behind it.
pub fn echo_router() -> Router {
    async fn echo(body: Body) -> Response {
        let bytes = match checkout::read_body(body).await {
            Ok(b) => b,
            Err(e) => return e.into_response(),
        };
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
            Err(_) => CheckoutError::BadRequest("Malformed JSON.".into()).into_response(),
        }
    }
    Router::new().route("/echo", post(echo))
}
