//! Cabinets: a trader's own listed; one switched on or off by its trader or
//! the operator; the collateral that bounds what they may hold.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::{Acting, TraderAuth};
use super::error::{not_found_as, ErrorBody};
use super::request::{read_json, ActiveBody};
use super::response::{CabinetView, CollateralView, List, View};
use super::{path_id, PathId, Result};
use crate::AppState;

/// A trader's cabinets, as `view` shows them.
pub async fn of_trader(app: &AppState, trader_id: String, view: View) -> Result<Response> {
    let cabinets = app.engine.trader_cabinets(trader_id).await?;
    let data = cabinets.iter().map(|c| CabinetView::new(c, view)).collect();
    Ok(Json(List { data }).into_response())
}

/// Switches a cabinet within the actor's reach on or off.
pub async fn set_active<A: Acting>(
    app: &AppState,
    who: &A,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "cabinet")?;
    let (dto, problems) = read_json::<ActiveBody>(body, false).await?;
    let active = dto.active(problems)?;
    let cabinet = app
        .engine
        .set_cabinet_active(who.actor(), id, active)
        .await
        .map_err(not_found_as("cabinet"))?;
    Ok(Json(CabinetView::new(&cabinet, who.view())).into_response())
}

/// The trader's cabinets, requisites in full.
#[utoipa::path(get, path = "/trader-api/cabinets", tag = "cabinets", operation_id = "list_cabinets",
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<CabinetView>),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list_own(State(app): State<AppState>, who: TraderAuth) -> Result<Response> {
    of_trader(&app, who.0.id, View::Owner).await
}

/// Switches one of the trader's cabinets on or off: an inactive one takes
/// no new deals.
#[utoipa::path(post, path = "/trader-api/cabinets/{id}/active", tag = "cabinets", operation_id = "set_cabinet_active",
    params(("id" = String, Path)),
    request_body = ActiveBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CabinetView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn set_own_active(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    set_active(&app, &who, path, body).await
}

/// The trader's deposit with the operator, what its cabinets hold and what
/// it owes, in the settlement currency: with collateral required, new deals
/// come only while they fit in what is free.
#[utoipa::path(get, path = "/trader-api/collateral", tag = "cabinets", operation_id = "get_collateral",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CollateralView),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn collateral_own(State(app): State<AppState>, who: TraderAuth) -> Result<Response> {
    let collateral = app.engine.trader_collateral(who.0.id).await?;
    Ok(Json(CollateralView::from(&collateral)).into_response())
}
