//! Bank SMS and pushes: the forwarding app on a trader's phone posts each
//! one with its device token; a credit naming one of the trader's cabinets
//! settles the open deal of its amount there, as a bank notification does.
//! Every message is kept and listed, whatever it says.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::bank_message::MessageKind;
use kassa_domain::Actor;
use kassa_engine::EngineError;

use super::auth::{DeviceAuth, TraderAuth};
use super::error::{ApiError, ErrorBody};
use super::request::{query, read_json, MessageBody};
use super::response::{currencies_of, DealView, Links, List, MessageView, PostedMessage, View};
use super::Result;
use crate::AppState;

/// The `kind` query parameter: one kind, or every kind when absent.
pub fn kind_param(q: &std::collections::HashMap<String, String>) -> Result<Option<MessageKind>> {
    match q.get("kind").map(String::as_str) {
        None | Some("") | Some("all") => Ok(None),
        Some(k) => MessageKind::parse(k).map(Some).ok_or_else(|| {
            ApiError::invalid("kind", "Use credit, debit, balance, unknown or all.")
        }),
    }
}

/// The messages within the actor's reach, newest first.
pub async fn listed(app: &AppState, actor: Actor, kind: Option<MessageKind>) -> Result<Response> {
    let messages = app.engine.bank_messages(actor, kind).await?;
    let data = messages.iter().map(MessageView::from).collect();
    Ok(Json(List { data }).into_response())
}

/// Posts a bank message from a device. The same message again (sender,
/// text and time) answers with the one posted first and
/// `Idempotent-Replayed: true`.
#[utoipa::path(post, path = "/trader-api/messages", tag = "messages", operation_id = "post_message",
    request_body = MessageBody,
    security(("device" = [])),
    responses(
        (status = 200, body = PostedMessage, headers(
            ("Idempotent-Replayed" = String, description = "`true` on a repeat."))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn post(State(app): State<AppState>, who: DeviceAuth, body: Body) -> Result<Response> {
    let DeviceAuth(device, trader) = who;
    let (dto, problems) = read_json::<MessageBody>(body, false).await?;
    let new = dto.command(problems)?;
    let outcome = app
        .engine
        .post_bank_message(&device, new)
        .await
        .map_err(|e| match e {
            // Revoked while the message was on its way.
            EngineError::Unauthorized => ApiError::Unauthorized("kassa-device"),
            other => other.into(),
        })?;
    let m = &outcome.message;
    let deal = match &m.deal_id {
        Some(id) => {
            let currencies = currencies_of(&app.engine, &trader.id).await?;
            Some(DealView::new(
                &app.engine.deal(id.clone()).await?,
                &currencies,
                View::Owner,
                &Links::of(&app),
            ))
        }
        None => None,
    };
    let mut response = Json(PostedMessage {
        message: MessageView::from(m),
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

/// The trader's bank messages, newest first.
#[utoipa::path(get, path = "/trader-api/messages", tag = "messages", operation_id = "list_messages",
    params(("kind" = Option<String>, Query,
        description = "`credit`, `debit`, `balance`, `unknown` or `all` (the default).")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<MessageView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list_own(
    State(app): State<AppState>,
    who: TraderAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let q = query(raw, &["kind"])?;
    let kind = kind_param(&q)?;
    listed(&app, Actor::Trader(who.0.id), kind).await
}
