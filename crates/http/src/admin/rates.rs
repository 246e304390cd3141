//! Rates and amount rules, one of each per currency.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::currency_of;
use super::request::{AmountRuleBody, RateBody};
use super::response::{AmountRuleView, RateView};
use crate::trader::request::read_json;
use crate::trader::{ErrorBody, OperatorAuth, PathId, Result};
use crate::AppState;

#[utoipa::path(get, path = "/admin-api/rates/{currency}", tag = "rates", operation_id = "get_rate",
    params(("currency" = String, Path, description = "ISO 4217 code, any case.")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RateView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get(State(app): State<AppState>, _: OperatorAuth, path: PathId) -> Result<Response> {
    let currency = currency_of(path)?;
    let rate = app.engine.rate(currency).await?;
    Ok(Json(RateView { currency, rate }).into_response())
}

#[utoipa::path(put, path = "/admin-api/rates/{currency}", tag = "rates", operation_id = "set_rate",
    params(("currency" = String, Path, description = "ISO 4217 code, any case.")),
    request_body = RateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = RateView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn put(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let currency = currency_of(path)?;
    let (dto, problems) = read_json::<RateBody>(body, false).await?;
    let rate = dto.rate(problems)?;
    app.engine.set_rate(currency, rate.clone()).await?;
    Ok(Json(RateView {
        currency,
        rate: Some(rate),
    })
    .into_response())
}

#[utoipa::path(get, path = "/admin-api/amount-rules/{currency}", tag = "rates", operation_id = "get_amount_rule",
    params(("currency" = String, Path, description = "ISO 4217 code, any case.")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AmountRuleView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_rule(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
) -> Result<Response> {
    let currency = currency_of(path)?;
    let rule = app.engine.amount_rule(currency).await?;
    Ok(Json(AmountRuleView::new(currency, rule)).into_response())
}

#[utoipa::path(put, path = "/admin-api/amount-rules/{currency}", tag = "rates", operation_id = "set_amount_rule",
    params(("currency" = String, Path, description = "ISO 4217 code, any case.")),
    request_body = AmountRuleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = AmountRuleView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn put_rule(
    State(app): State<AppState>,
    _: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let currency = currency_of(path)?;
    let (dto, problems) = read_json::<AmountRuleBody>(body, false).await?;
    let rule = dto.rule(currency, problems)?;
    app.engine.set_amount_rule(currency, rule).await?;
    Ok(Json(AmountRuleView::new(currency, rule)).into_response())
}
