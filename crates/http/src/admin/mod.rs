//! The operator's admin API (`/admin-api/`): merchants' settings, traders,
//! cabinets, rates, amount rules, deals and disputes, bank notifications
//! under review, the callback backlog.
//!
//! Every request carries `Authorization: Bearer <admin_token>` (the
//! configuration's `admin_token`, [`OperatorAuth`]); with none configured
//! the API answers 401 to everyone. Errors share the trader API's shape
//! ([`ApiError`]), and what both do is done by the same handlers with the
//! operator as the actor. Requisites are shown masked: card numbers as
//! first 6 and last 4.

mod merchants;
mod openapi;
mod operations;
mod rates;
pub mod request;
pub mod response;
mod traders;

use axum::routing::{get, post};
use axum::Router;
use kassa_domain::{Currency, Trader};
use kassa_engine::Engine;

pub use openapi::AdminDoc;

use crate::trader::{not_found, path_id, route, ApiError, PathId, Result};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/merchants", route(get(merchants::list)))
        .route(
            "/merchants/{id}",
            route(get(merchants::get).patch(merchants::patch)),
        )
        .route("/traders", route(get(traders::list).post(traders::create)))
        .route("/traders/{id}", route(get(traders::get)))
        .route(
            "/traders/{id}/deposit",
            route(post(traders::change_deposit)),
        )
        .route(
            "/traders/{id}/cabinets",
            route(get(traders::list_cabinets).post(traders::add_cabinet)),
        )
        .route("/traders/{id}/deals", route(get(traders::list_deals)))
        .route(
            "/cabinets/{id}/active",
            route(post(operations::set_cabinet_active)),
        )
        .route("/deals/{id}", route(get(operations::get_deal)))
        .route("/deals/{id}/confirm", route(post(operations::confirm_deal)))
        .route("/deals/{id}/resolve", route(post(operations::resolve_deal)))
        .route("/deals/{id}/settle", route(post(operations::settle_deal)))
        .route("/notifications", route(get(operations::list_notifications)))
        .route("/messages", route(get(operations::list_messages)))
        .route("/callbacks/stats", route(get(operations::callback_stats)))
        .route("/rates/{currency}", route(get(rates::get).put(rates::put)))
        .route(
            "/amount-rules/{currency}",
            route(get(rates::get_rule).put(rates::put_rule)),
        )
        .fallback(not_found);
    Router::new()
        .nest("/admin-api", api)
        .route("/admin-api/", axum::routing::any(not_found))
}

async fn find_trader(engine: &Engine, id: &str) -> Result<Trader> {
    engine
        .traders()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("trader"))
}

fn currency_of(path: PathId) -> Result<Currency> {
    let code = path_id(path, "currency")?;
    Currency::from_code(&code.to_ascii_uppercase()).ok_or_else(|| ApiError::not_found("currency"))
}
