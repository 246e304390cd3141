//! A trader's devices: the forwarding apps that post its bank messages, each
//! with a token of its own (shown once, stored as a keyed hash), revoked
//! without touching the trader's token or the other devices.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::Actor;

use super::auth::{DeviceAuth, TraderAuth};
use super::error::{not_found_as, ErrorBody};
use super::request::{read_json, DeviceBody, DeviceCabinetsBody, NoFields};
use super::response::{DeviceView, List, NewDeviceView};
use super::{path_id, PathId, Result};
use crate::AppState;

/// Adds a device; its token is in this answer only.
#[utoipa::path(post, path = "/trader-api/devices", tag = "devices", operation_id = "create_device",
    request_body = DeviceBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = NewDeviceView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn create(State(app): State<AppState>, who: TraderAuth, body: Body) -> Result<Response> {
    let (dto, problems) = read_json::<DeviceBody>(body, false).await?;
    let (name, cabinets) = dto.command(problems)?;
    let trader_id = who.0.id;
    let (device, token) = app
        .engine
        .create_device(Actor::Trader(trader_id.clone()), trader_id, name, cabinets)
        .await?;
    Ok(Json(NewDeviceView {
        device: DeviceView::from(&device),
        token,
    })
    .into_response())
}

/// The trader's devices, oldest first, revoked ones too.
#[utoipa::path(get, path = "/trader-api/devices", tag = "devices", operation_id = "list_devices",
    security(("bearer" = [])),
    responses(
        (status = 200, body = List<DeviceView>),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn list(State(app): State<AppState>, who: TraderAuth) -> Result<Response> {
    let devices = app.engine.devices(who.0.id).await?;
    let data = devices.iter().map(DeviceView::from).collect();
    Ok(Json(List { data }).into_response())
}

/// Revokes a device: its token is refused from now on. Revoking it again
/// answers it unchanged.
#[utoipa::path(post, path = "/trader-api/devices/{id}/revoke", tag = "devices",
    operation_id = "revoke_device",
    params(("id" = String, Path)),
    request_body(content = NoFields, description = "Empty, or `{}`."),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeviceView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn revoke(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "device")?;
    let (NoFields {}, problems) = read_json(body, true).await?;
    problems.finish()?;
    let device = app
        .engine
        .revoke_device(Actor::Trader(who.0.id), id)
        .await
        .map_err(not_found_as("device"))?;
    Ok(Json(DeviceView::from(&device)).into_response())
}

/// Ties a device to the cabinets it forwards for (empty: all the trader's).
/// Its silence switches those cabinets off.
#[utoipa::path(post, path = "/trader-api/devices/{id}/cabinets", tag = "devices",
    operation_id = "set_device_cabinets",
    params(("id" = String, Path)),
    request_body = DeviceCabinetsBody,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeviceView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn set_cabinets(
    State(app): State<AppState>,
    who: TraderAuth,
    path: PathId,
    body: Body,
) -> Result<Response> {
    let id = path_id(path, "device")?;
    let (dto, problems) = read_json::<DeviceCabinetsBody>(body, false).await?;
    let cabinets = dto.cabinets(problems)?;
    let device = app
        .engine
        .set_device_cabinets(Actor::Trader(who.0.id), id, cabinets)
        .await
        .map_err(not_found_as("device"))?;
    Ok(Json(DeviceView::from(&device)).into_response())
}

/// The device is alive: the forwarding app sends this every minute or so,
/// with its device token. Every bank message it posts counts as one too.
/// A cabinet already switched off stays off.
#[utoipa::path(post, path = "/trader-api/devices/heartbeat", tag = "devices",
    operation_id = "device_heartbeat",
    request_body(content = NoFields, description = "Empty, or `{}`."),
    security(("device" = [])),
    responses(
        (status = 200, body = DeviceView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn heartbeat(
    State(app): State<AppState>,
    who: DeviceAuth,
    body: Body,
) -> Result<Response> {
    let (NoFields {}, problems) = read_json(body, true).await?;
    problems.finish()?;
    let device = app.engine.device_heartbeat(who.0.id).await?;
    Ok(Json(DeviceView::from(&device)).into_response())
}
