//! Merchants in the admin API: listed and shown without secrets, their
//! settings changed as `kassa merchant set` changes them. The engine checks
//! every setting; this face only reads the JSON.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_engine::merchants::MerchantSummary;

use super::request::MerchantPatch;
use super::response::Merchant;
use crate::trader::request::read_json;
use crate::trader::response::List;
use crate::trader::{not_found_as, path_id, ErrorBody, OperatorAuth, PathId, Result};
use crate::AppState;

#[utoipa::path(get, path = "/admin-api/merchants", tag = "merchants", operation_id = "list_merchants",
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<Merchant>),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list(State(app): State<AppState>, _: OperatorAuth) -> Result<Response> {
    let merchants = app.engine.merchants().await?;
    let data: Vec<MerchantSummary> = merchants.iter().map(Into::into).collect();
    Ok(Json(List { data }).into_response())
}

#[utoipa::path(get, path = "/admin-api/merchants/{id}", tag = "merchants", operation_id = "get_merchant",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Merchant),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get(State(app): State<AppState>, _: OperatorAuth, path: PathId) -> Result<Response> {
    let id = path_id(path, "merchant")?;
    let merchant = app
        .engine
        .merchant(id)
        .await
        .map_err(not_found_as("merchant"))?;
    Ok(Json(MerchantSummary::from(&merchant)).into_response())
}

/// Changes the settings the body names; `null` clears a URL or gives back
/// the operator's retry schedule. Nothing changes when one is wrong.
#[utoipa::path(patch, path = "/admin-api/merchants/{id}", tag = "merchants", operation_id = "update_merchant",
    params(("id" = String, Path)),
    request_body = MerchantPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Merchant),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn patch(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "merchant")?;
    let (dto, problems) = read_json::<MerchantPatch>(body, false).await?;
    let (change, problems) = dto.change(problems);
    // An unknown merchant is a 404 whatever the body says.
    app.engine
        .merchant(id.clone())
        .await
        .map_err(not_found_as("merchant"))?;
    problems.finish()?;
    let merchant = app
        .engine
        .change_merchant(id, change)
        .await
        .map_err(not_found_as("merchant"))?;
    Ok(Json(MerchantSummary::from(&merchant)).into_response())
}
