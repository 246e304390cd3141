//! What the operator does as traders do, on anyone's: cabinets switched,
//! deals shown, confirmed and resolved, notifications and bank messages
//! listed (the trader
//! API's handlers, with the operator as the actor); and the callback
//! backlog.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::Actor;

use super::find_trader;
use super::response::CallbackStats;
use crate::trader::request::{query, query_flag, ActiveBody, NoFields, ResolveBody, SettleBody};
use crate::trader::response::{CabinetView, DealView, List, MessageView, NotificationView};
use crate::trader::{
    cabinets, deals, messages, notifications, ErrorBody, OperatorAuth, PathId, Result,
};
use crate::AppState;

#[utoipa::path(post, path = "/admin-api/cabinets/{id}/active", tag = "operations", operation_id = "set_cabinet_active",
    params(("id" = String, Path)),
    request_body = ActiveBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CabinetView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn set_cabinet_active(
    State(app): State<AppState>,
    who: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    cabinets::set_active(&app, &who, path, body).await
}

#[utoipa::path(get, path = "/admin-api/deals/{id}", tag = "operations", operation_id = "get_deal",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DealView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_deal(
    State(app): State<AppState>,
    who: OperatorAuth,
    path: PathId,
) -> Result<Response> {
    deals::show(&app, &who, path).await
}

/// The money of a deal arrived: it completes, settled by the operator.
#[utoipa::path(post, path = "/admin-api/deals/{id}/confirm", tag = "operations", operation_id = "confirm_deal",
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
pub async fn confirm_deal(
    State(app): State<AppState>,
    who: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    deals::confirm(&app, &who, path, body).await
}

/// Ends a disputed deal: completed (the money arrived) or canceled.
#[utoipa::path(post, path = "/admin-api/deals/{id}/resolve", tag = "operations", operation_id = "resolve_deal",
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
pub async fn resolve_deal(
    State(app): State<AppState>,
    who: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    deals::resolve(&app, &who, path, body).await
}

/// Completes a waiting or disputed deal for what actually arrived, when the
/// customer sent another amount (its invoice is paid that amount).
#[utoipa::path(post, path = "/admin-api/deals/{id}/settle", tag = "operations", operation_id = "settle_deal",
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
pub async fn settle_deal(
    State(app): State<AppState>,
    who: OperatorAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    deals::settle(&app, &who, path, body).await
}

/// Every trader's bank notifications, or one trader's, newest first.
#[utoipa::path(get, path = "/admin-api/notifications", tag = "operations", operation_id = "list_notifications",
    params(
        ("unmatched" = Option<bool>, Query, description = "Only those that matched no deal."),
        ("trader" = Option<String>, Query, description = "Only this trader's."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<NotificationView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_notifications(
    State(app): State<AppState>,
    _: OperatorAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(raw, &["unmatched", "trader"])?;
    let unmatched = query_flag(&q, "unmatched")?;
    // One trader's are those it sees itself.
    let actor = match q.get("trader") {
        Some(id) => Actor::Trader(find_trader(&app.engine, id).await?.id),
        None => Actor::Operator,
    };
    notifications::listed(&app, actor, unmatched).await
}

/// Every trader's bank messages, or one trader's, newest first: debits,
/// balances and unknown texts as well as credits.
#[utoipa::path(get, path = "/admin-api/messages", tag = "operations", operation_id = "list_messages",
    params(
        ("kind" = Option<String>, Query,
            description = "`credit`, `debit`, `balance`, `unknown` or `all` (the default)."),
        ("trader" = Option<String>, Query, description = "Only this trader's."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<MessageView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_messages(
    State(app): State<AppState>,
    _: OperatorAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(raw, &["kind", "trader"])?;
    let kind = messages::kind_param(&q)?;
    let actor = match q.get("trader") {
        Some(id) => Actor::Trader(find_trader(&app.engine, id).await?.id),
        None => Actor::Operator,
    };
    messages::listed(&app, actor, kind).await
}

/// The callback backlog over every node, and this node's pipeline.
#[utoipa::path(get, path = "/admin-api/callbacks/stats", tag = "operations", operation_id = "callback_stats",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CallbackStats),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn callback_stats(State(app): State<AppState>, _: OperatorAuth) -> Result<Response> {
    Ok(Json(app.engine.callback_backlog().await?).into_response())
}
