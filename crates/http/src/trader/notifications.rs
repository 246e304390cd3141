//! Bank notifications: a trader forwards what its bank told it, and a
//! notification matching an open deal's amount on that cabinet completes
//! the deal. Listed by the trader (its own) or the operator.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::Actor;

use super::auth::TraderAuth;
use super::error::ErrorBody;
use super::request::{query, query_flag, read_json, NotificationBody};
use super::response::{
    currencies_of, Currencies, DealView, Links, List, NotificationView, PostedNotification, View,
};
use super::Result;
use crate::AppState;

/// The notifications within the actor's reach, newest first.
pub async fn listed(app: &AppState, actor: Actor, unmatched: bool) -> Result<Response> {
    let notifications = app.engine.notifications(actor, unmatched).await?;
    let traders: BTreeSet<&str> = notifications.iter().map(|n| n.trader_id.as_str()).collect();
    let mut currencies = Currencies::new();
    for t in traders {
        currencies.extend(currencies_of(&app.engine, t).await?);
    }
    let data = notifications
        .iter()
        .map(|n| NotificationView::new(n, &currencies))
        .collect();
    Ok(Json(List { data }).into_response())
}

/// Posts a bank notification. A repeat of the same `id` answers with the
/// one posted first and `Idempotent-Replayed: true`.
#[utoipa::path(post, path = "/trader-api/notifications", tag = "notifications", operation_id = "post_notification",
    request_body = NotificationBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PostedNotification, headers(
            ("Idempotent-Replayed" = String, description = "`true` on a repeat."))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn post(State(app): State<AppState>, who: TraderAuth, body: Body) -> Result<Response> {
    let trader = who.0;
    let (dto, problems) = read_json::<NotificationBody>(body, false).await?;
    let new = dto.command(problems)?;
    let outcome = app.engine.post_bank_notification(&trader, new).await?;
    let currencies = currencies_of(&app.engine, &trader.id).await?;
    let n = &outcome.notification;
    let deal = match &n.deal_id {
        Some(id) => Some(DealView::new(
            &app.engine.deal(id.clone()).await?,
            &currencies,
            View::Owner,
            &Links::of(&app),
        )),
        None => None,
    };
    let mut response = Json(PostedNotification {
        notification: NotificationView::new(n, &currencies),
        deal,
    })
    .into_response();
    if !outcome.new {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The trader's notifications, newest first.
#[utoipa::path(get, path = "/trader-api/notifications", tag = "notifications", operation_id = "list_notifications",
    params(("unmatched" = Option<bool>, Query, description = "Only those that matched no deal.")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<NotificationView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list_own(
    State(app): State<AppState>,
    who: TraderAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(raw, &["unmatched"])?;
    let unmatched = query_flag(&q, "unmatched")?;
    listed(&app, Actor::Trader(who.0.id), unmatched).await
}
