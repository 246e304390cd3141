//! The payouts a trader executes. Their `additional_fields` are masked
//! (card numbers as first 6 and last 4) to a trader that is only offered one
//! or is done with it, in full to the trader paying it.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::payout::{Payout, PayoutStatus};
use kassa_domain::Trader;
use kassa_engine::{Engine, EngineResult};
use serde_json::Value;

use super::auth::TraderAuth;
use super::error::{not_found_as, ApiError, ErrorBody};
use super::request::{query, read_json, NoFields, ReceiptBody};
use super::response::{List, PayoutView};
use super::{path_id, PathId, Result};
use crate::AppState;

pub(crate) fn masked(p: &Payout) -> PayoutView {
    PayoutView::new(p, p.fields_masked.clone())
}

/// The payout with its fields in clear, for the trader paying it. Fields that
/// cannot be unsealed (the master key changed) are shown masked and logged.
pub(crate) fn full(engine: &Engine, p: &Payout) -> PayoutView {
    match engine.payout_fields(p) {
        Some(fields) => PayoutView::new(p, Value::Object(fields)),
        None => {
            tracing::error!(payout = %p.id, "the payout's fields cannot be unsealed");
            masked(p)
        }
    }
}

/// A trader's own payout: in full while it is paying it, masked once done.
pub(crate) fn own(engine: &Engine, p: &Payout) -> PayoutView {
    if p.status == PayoutStatus::InProgress {
        full(engine, p)
    } else {
        masked(p)
    }
}

/// The payouts offered to a trader, oldest first; one past its deadline is
/// about to fail and is not offered.
pub(crate) async fn offered_to(engine: &Engine, trader: &Trader) -> EngineResult<Vec<Payout>> {
    let now = engine.now_secs();
    let mut payouts = engine.offered_payouts(trader).await?;
    payouts.retain(|p| p.deadline_secs > now);
    Ok(payouts)
}

/// Only a payout a trader took (and is paying) or is offered is its to
/// decline; any other is as unknown to it as a missing one.
pub(crate) async fn may_decline(engine: &Engine, trader: &Trader, id: &str) -> EngineResult<bool> {
    let own = engine
        .trader_payouts(trader.id.clone())
        .await?
        .iter()
        .any(|p| p.id == id && p.status == PayoutStatus::InProgress);
    Ok(own || offered_to(engine, trader).await?.iter().any(|p| p.id == id))
}

/// Pending payouts of a method and currency one of the trader's active
/// cabinets serves, oldest first, masked.
#[utoipa::path(get, path = "/trader-api/payouts/offered", tag = "payouts", operation_id = "list_offered_payouts",
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<PayoutView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn offered(
    State(app): State<AppState>,
    who: TraderAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    query(raw, &[])?;
    let payouts = offered_to(&app.engine, &who.0).await?;
    let data = payouts.iter().map(masked).collect();
    Ok(Json(List { data }).into_response())
}

/// The payouts this trader took, newest first.
#[utoipa::path(get, path = "/trader-api/payouts", tag = "payouts", operation_id = "list_payouts",
    params(("status" = Option<String>, Query, pattern = "^(all|in_progress|success|failed)$")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<PayoutView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    who: TraderAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(raw, &["status"])?;
    let only = match q.get("status").map(String::as_str) {
        None | Some("all") => None,
        Some("in_progress") => Some(PayoutStatus::InProgress),
        Some("success") => Some(PayoutStatus::Success),
        Some("failed") => Some(PayoutStatus::Failed),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "Use all, in_progress, success or failed.",
            ))
        }
    };
    let payouts = app.engine.trader_payouts(who.0.id).await?;
    let data = payouts
        .iter()
        .filter(|p| only.is_none_or(|s| p.status == s))
        .map(|p| own(&app.engine, p))
        .collect();
    Ok(Json(List { data }).into_response())
}

/// One of the trader's payouts.
#[utoipa::path(get, path = "/trader-api/payouts/{id}", tag = "payouts", operation_id = "get_payout",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get(State(app): State<AppState>, who: TraderAuth, path: PathId) -> Result<Response> {
    let id = path_id(path, "payout")?;
    let payout = app
        .engine
        .trader_payouts(who.0.id)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found("payout"))?;
    Ok(Json(own(&app.engine, &payout)).into_response())
}

/// The payout is this trader's to pay; the answer has its fields in full.
#[utoipa::path(post, path = "/trader-api/payouts/{id}/take", tag = "payouts", operation_id = "take_payout",
    params(("id" = String, Path)),
    request_body(content = NoFields, description = "Empty, or `{}`."),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn take(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "payout")?;
    let (NoFields {}, problems) = read_json(body, true).await?;
    problems.finish()?;
    let payout = app
        .engine
        .take_payout(who.0.id, id)
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(full(&app.engine, &payout)).into_response())
}

/// Paid, with the transfer's receipt.
#[utoipa::path(post, path = "/trader-api/payouts/{id}/done", tag = "payouts", operation_id = "complete_payout",
    params(("id" = String, Path)),
    request_body = ReceiptBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn complete(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "payout")?;
    let (dto, problems) = read_json::<ReceiptBody>(body, false).await?;
    let receipt = dto.receipt(problems)?;
    let payout = app
        .engine
        .complete_payout(who.0.id, id, receipt)
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(masked(&payout)).into_response())
}

/// The trader will not pay it (one it took, or one it is offered): it goes
/// back to the other traders and is not offered to this one again.
#[utoipa::path(post, path = "/trader-api/payouts/{id}/decline", tag = "payouts", operation_id = "decline_payout",
    params(("id" = String, Path)),
    request_body(content = NoFields, description = "Empty, or `{}`."),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PayoutView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn decline(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let trader = who.0;
    let id = path_id(path, "payout")?;
    let (NoFields {}, problems) = read_json(body, true).await?;
    problems.finish()?;
    if !may_decline(&app.engine, &trader, &id).await? {
        return Err(ApiError::not_found("payout"));
    }
    let payout = app
        .engine
        .decline_payout(trader.id, id)
        .await
        .map_err(not_found_as("payout"))?;
    Ok(Json(masked(&payout)).into_response())
}
