//! Traders: listed, made (with their token, shown once), shown with their
//! collateral; their deposit credited and debited; their cabinets listed
//! and added, their deals listed.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_engine::EngineError;

use super::find_trader;
use super::request::{DepositBody, NewCabinetBody};
use super::response::TraderRecordView;
use crate::admin::request::NewTraderBody;
use crate::trader::deals::deal_filter;
use crate::trader::request::read_json;
use crate::trader::response::{
    CabinetView, CollateralView, DealView, List, NewTraderView, TraderView, View,
};
use crate::trader::{cabinets, deals, path_id, ApiError, ErrorBody, OperatorAuth, PathId, Result};
use crate::AppState;

#[utoipa::path(get, path = "/admin-api/traders", tag = "traders", operation_id = "list_traders",
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<TraderView>),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list(State(app): State<AppState>, _: OperatorAuth) -> Result<Response> {
    let traders = app.engine.traders().await?;
    let data: Vec<TraderView> = traders.iter().map(Into::into).collect();
    Ok(Json(List { data }).into_response())
}

/// A new trader; the answer carries its token, shown this once.
#[utoipa::path(post, path = "/admin-api/traders", tag = "traders", operation_id = "create_trader",
    request_body = NewTraderBody,
    security(("bearer" = [])),
    responses(
        (status = 201, body = NewTraderView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn create(State(app): State<AppState>, _: OperatorAuth, body: Body) -> Result<Response> {
    let (dto, problems) = read_json::<NewTraderBody>(body, false).await?;
    let (name, test_mode) = dto.command(problems)?;
    let (trader, token) = app.engine.create_trader_in(name, test_mode).await?;
    let answer = NewTraderView {
        trader: TraderView::from(&trader),
        token,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[utoipa::path(get, path = "/admin-api/traders/{id}", tag = "traders", operation_id = "get_trader",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TraderRecordView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get(State(app): State<AppState>, _: OperatorAuth, path: PathId) -> Result<Response> {
    let id = path_id(path, "trader")?;
    let trader = find_trader(&app.engine, &id).await?;
    let collateral = app.engine.trader_collateral(trader.id.clone()).await?;
    Ok(Json(TraderRecordView {
        trader: TraderView::from(&trader),
        collateral: CollateralView::from(&collateral),
    })
    .into_response())
}

/// Credits or debits the trader's deposit; a debit below what the trader
/// holds and owes is refused (422) and changes nothing.
#[utoipa::path(post, path = "/admin-api/traders/{id}/deposit", tag = "traders", operation_id = "change_trader_deposit",
    params(("id" = String, Path)),
    request_body = DepositBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CollateralView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn change_deposit(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "trader")?;
    let (dto, problems) = read_json::<DepositBody>(body, false).await?;
    let (amount_minor, reason) = dto.change(app.engine.config().settlement_currency, problems)?;
    let collateral = app
        .engine
        .change_deposit(id, amount_minor, reason)
        .await
        .map_err(|e| match e {
            EngineError::NotFound => ApiError::not_found("trader"),
            other => other.into(),
        })?;
    Ok(Json(CollateralView::from(&collateral)).into_response())
}

#[utoipa::path(get, path = "/admin-api/traders/{id}/cabinets", tag = "traders", operation_id = "list_trader_cabinets",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<CabinetView>),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_cabinets(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
) -> Result<Response> {
    let id = path_id(path, "trader")?;
    let trader = find_trader(&app.engine, &id).await?;
    cabinets::of_trader(&app, trader.id, View::Operator).await
}

/// A new cabinet of the trader.
#[utoipa::path(post, path = "/admin-api/traders/{id}/cabinets", tag = "traders", operation_id = "add_trader_cabinet",
    params(("id" = String, Path)),
    request_body = NewCabinetBody,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CabinetView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn add_cabinet(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let trader_id = path_id(path, "trader")?;
    let (dto, problems) = read_json::<NewCabinetBody>(body, false).await?;
    let new = dto.command(trader_id, problems)?;
    let cabinet = app.engine.add_cabinet(new).await.map_err(|e| match e {
        EngineError::Invalid(fields) if fields.contains_key("trader") => {
            ApiError::not_found("trader")
        }
        // The engine names the bank `bank_name`; this API calls it `bank`.
        EngineError::Invalid(fields) => ApiError::Invalid(
            fields
                .into_iter()
                .map(|(k, v)| (if k == "bank_name" { "bank".into() } else { k }, v))
                .collect::<BTreeMap<_, _>>(),
        ),
        other => other.into(),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(CabinetView::new(&cabinet, View::Operator)),
    )
        .into_response())
}

/// The trader's deals, newest first, requisites masked.
#[utoipa::path(get, path = "/admin-api/traders/{id}/deals", tag = "traders", operation_id = "list_trader_deals",
    params(("id" = String, Path),
        ("status" = Option<String>, Query,
        pattern = "^(open|all|transfer_waiting|completed|canceled|disputed)$",
        description = "`open`: waiting for the transfer; `all` (the default); or one status.")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<DealView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_deals(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let id = path_id(path, "trader")?;
    let filter = deal_filter(raw)?;
    let trader = find_trader(&app.engine, &id).await?;
    deals::of_trader(&app, trader.id, filter, View::Operator).await
}
