//! Deals: listed, shown, confirmed and disputes resolved, by their trader
//! or the operator. A deal out of the actor's reach is as unknown as a
//! missing one.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::{Deal, DealStatus};
use kassa_engine::EngineError;

use super::auth::{Acting, TraderAuth};
use super::error::{not_found_as, ApiError, ErrorBody};
use super::request::{query, read_json, NoFields, ResolveBody, SettleBody};
use super::response::{currencies_of, DealView, Links, List, View};
use super::{path_id, PathId, Result};
use crate::AppState;

/// Which deals a listing shows: `status=open` (waiting for the transfer),
/// `all` (the default), or one status.
pub enum DealFilter {
    Open,
    All,
    Only(DealStatus),
}

/// The `status` of a deals listing's query, the only parameter it takes.
pub fn deal_filter(raw: Option<String>) -> Result<DealFilter> {
    let q = query(raw, &["status"])?;
    Ok(match q.get("status").map(String::as_str) {
        None | Some("all") => DealFilter::All,
        Some("open") => DealFilter::Open,
        Some("transfer_waiting") => DealFilter::Only(DealStatus::TransferWaiting),
        Some("completed") => DealFilter::Only(DealStatus::Completed),
        Some("canceled") => DealFilter::Only(DealStatus::Canceled),
        Some("disputed") => DealFilter::Only(DealStatus::Disputed),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "Use open, all, transfer_waiting, completed, canceled or disputed.",
            ))
        }
    })
}

/// The deals of a trader that `filter` shows, newest first.
pub async fn of_trader(
    app: &AppState,
    trader_id: String,
    filter: DealFilter,
    view: View,
) -> Result<Response> {
    let currencies = currencies_of(&app.engine, &trader_id).await?;
    let open_only = matches!(filter, DealFilter::Open);
    let mut deals = app.engine.trader_deals(trader_id, open_only).await?;
    if let DealFilter::Only(status) = filter {
        deals.retain(|d| d.status == status);
    }
    let links = Links::of(app);
    let data = deals
        .iter()
        .map(|d| DealView::new(d, &currencies, view, &links))
        .collect();
    Ok(Json(List { data }).into_response())
}

async fn render(app: &AppState, deal: &Deal, view: View) -> Result<Response> {
    let currencies = currencies_of(&app.engine, &deal.trader_id).await?;
    Ok(Json(DealView::new(deal, &currencies, view, &Links::of(app))).into_response())
}

pub async fn show<A: Acting>(app: &AppState, who: &A, path: PathId) -> Result<Response> {
    let id = path_id(path, "deal")?;
    let deal = match app.engine.deal(id).await {
        Ok(d) if who.actor().reaches(&d.trader_id) => d,
        Ok(_) | Err(EngineError::NotFound) => return Err(ApiError::not_found("deal")),
        Err(e) => return Err(e.into()),
    };
    render(app, &deal, who.view()).await
}

pub async fn confirm<A: Acting>(
    app: &AppState,
    who: &A,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "deal")?;
    let (NoFields {}, problems) = read_json(body, true).await?;
    problems.finish()?;
    let deal = app
        .engine
        .confirm_deal(who.actor(), id)
        .await
        .map_err(not_found_as("deal"))?;
    render(app, &deal, who.view()).await
}

pub async fn resolve<A: Acting>(
    app: &AppState,
    who: &A,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "deal")?;
    let (dto, problems) = read_json::<ResolveBody>(body, false).await?;
    let complete = dto.completes(problems)?;
    let deal = app
        .engine
        .resolve_dispute(who.actor(), id, complete)
        .await
        .map_err(not_found_as("deal"))?;
    render(app, &deal, who.view()).await
}

pub async fn settle<A: Acting>(
    app: &AppState,
    who: &A,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "deal")?;
    let (dto, problems) = read_json::<SettleBody>(body, false).await?;
    let amount = dto.amount(problems)?;
    let deal = app
        .engine
        .settle_deal_received(who.actor(), id, amount)
        .await
        .map_err(not_found_as("deal"))?;
    render(app, &deal, who.view()).await
}

/// The trader's deals, newest first.
#[utoipa::path(get, path = "/trader-api/deals", tag = "deals", operation_id = "list_deals",
    params(("status" = Option<String>, Query,
        pattern = "^(open|all|transfer_waiting|completed|canceled|disputed)$",
        description = "`open`: waiting for the transfer; `all` (the default); or one status.")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<DealView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list_own(
    State(app): State<AppState>,
    who: TraderAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let filter = deal_filter(raw)?;
    of_trader(&app, who.0.id, filter, View::Owner).await
}

#[utoipa::path(get, path = "/trader-api/deals/{id}", tag = "deals", operation_id = "get_deal",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DealView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_own(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
) -> Result<Response> {
    show(&app, &who, path).await
}

/// The money of a deal arrived: it completes (a repeat answers the same).
#[utoipa::path(post, path = "/trader-api/deals/{id}/confirm", tag = "deals", operation_id = "confirm_deal",
    params(("id" = String, Path)),
    request_body(content = NoFields, description = "Empty, or `{}`."),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DealView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn confirm_own(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    confirm(&app, &who, path, body).await
}

/// Ends a disputed deal: completed (the money arrived) or canceled.
#[utoipa::path(post, path = "/trader-api/deals/{id}/resolve", tag = "deals", operation_id = "resolve_deal",
    params(("id" = String, Path)),
    request_body = ResolveBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DealView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn resolve_own(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    resolve(&app, &who, path, body).await
}

/// The money of a waiting or disputed deal arrived, but another amount
/// than the deal's: it completes, and its invoice is paid what arrived
/// (`partially_processed` when less). A repeat with the same amount
/// answers the same; another amount for a completed deal is a 409.
#[utoipa::path(post, path = "/trader-api/deals/{id}/settle", tag = "deals", operation_id = "settle_deal",
    params(("id" = String, Path)),
    request_body = SettleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DealView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn settle_own(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    settle(&app, &who, path, body).await
}
