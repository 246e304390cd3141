//! The trader API (`/trader-api/`): cabinets, deals, bank notifications,
//! the bank messages its devices forward, and the payouts traders execute.
//!
//! A trader authenticates with `Authorization: Bearer <trader token>`
//! ([`TraderAuth`]) and sees and acts on its own cabinets, deals and
//! notifications only; anything else is answered as unknown (404). Its
//! devices post bank messages with tokens of their own ([`DeviceAuth`]). Bodies
//! and answers are JSON; every error has one shape,
//! `{"error": {"code", "message", "fields"}}`, which the admin API shares
//! ([`ApiError`]), as it shares the handlers of what both do: the actor
//! ([`Acting`]) says whose things are within reach.

pub mod auth;
pub mod cabinets;
pub mod deals;
mod devices;
pub mod error;
pub mod messages;
pub mod notifications;
mod openapi;
pub(crate) mod payouts;
pub mod request;
pub mod response;

use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::routing::{get, post, MethodRouter};
use axum::Router;

pub use auth::{Acting, DeviceAuth, OperatorAuth, TraderAuth};
pub use error::{not_found_as, ApiError, ErrorBody};
pub use openapi::{BearerToken, ClosedBodies, TraderDoc};

use crate::AppState;

/// The largest request body the trader and admin APIs read.
pub const BODY_MAX_BYTES: usize = 64 * 1024;
/// Ids in paths longer than this name nothing.
const PATH_ID_MAX: usize = 255;

pub type Result<T> = std::result::Result<T, ApiError>;

/// A path's id as axum read it, or why not.
pub type PathId = std::result::Result<Path<String>, PathRejection>;

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/cabinets", route(get(cabinets::list_own)))
        .route("/collateral", route(get(cabinets::collateral_own)))
        .route(
            "/cabinets/{id}/active",
            route(post(cabinets::set_own_active)),
        )
        .route("/deals", route(get(deals::list_own)))
        .route("/deals/{id}", route(get(deals::get_own)))
        .route("/deals/{id}/confirm", route(post(deals::confirm_own)))
        .route("/deals/{id}/resolve", route(post(deals::resolve_own)))
        .route("/deals/{id}/settle", route(post(deals::settle_own)))
        .route(
            "/notifications",
            route(post(notifications::post).get(notifications::list_own)),
        )
        .route(
            "/messages",
            route(post(messages::post).get(messages::list_own)),
        )
        .route("/devices", route(post(devices::create).get(devices::list)))
        .route("/devices/heartbeat", route(post(devices::heartbeat)))
        .route("/devices/{id}/revoke", route(post(devices::revoke)))
        .route("/devices/{id}/cabinets", route(post(devices::set_cabinets)))
        .route("/payouts", route(get(payouts::list)))
        .route("/payouts/offered", route(get(payouts::offered)))
        .route("/payouts/{id}", route(get(payouts::get)))
        .route("/payouts/{id}/take", route(post(payouts::take)))
        .route("/payouts/{id}/done", route(post(payouts::complete)))
        .route("/payouts/{id}/decline", route(post(payouts::decline)))
        .fallback(not_found);
    Router::new()
        .nest("/trader-api", api)
        .route("/trader-api/", axum::routing::any(not_found))
}

/// A path id, or 404 for one that cannot name anything.
pub fn path_id(path: PathId, what: &str) -> Result<String> {
    match path {
        Ok(Path(id)) if !id.is_empty() && id.len() <= PATH_ID_MAX => Ok(id),
        _ => Err(ApiError::not_found(what)),
    }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("No such endpoint.".into())
}

/// A route whose other methods answer 405 in this face's shape.
pub fn route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.fallback(method_not_allowed)
}
