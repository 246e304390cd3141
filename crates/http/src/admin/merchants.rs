//! Merchants in the admin API: listed and shown without secrets, their
//! settings changed as `kassa merchant set` changes them. The engine checks
//! every setting; this face only reads the JSON.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::CallbackStatuses;
use kassa_engine::merchants::{MerchantChange, MerchantSummary};
use serde_json::{json, Value};

use super::{authenticate, not_found_as};
use crate::trader::{path_id, Input, Result};
use crate::AppState;

pub(super) async fn list_merchants(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let merchants = state.engine.merchants().await?;
    let data: Vec<MerchantSummary> = merchants.iter().map(Into::into).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

pub(super) async fn get_merchant(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "merchant")?;
    let merchant = state
        .engine
        .merchant(id)
        .await
        .map_err(not_found_as("merchant"))?;
    Ok(Json(MerchantSummary::from(&merchant)).into_response())
}

/// Changes the settings the body names; `null` clears a URL or gives back
/// the operator's retry schedule. Nothing changes when one is wrong.
pub(super) async fn patch_merchant(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "merchant")?;
    let mut input = Input::read(body, false).await?;
    let change = MerchantChange {
        forbid_public_api: input.boolean("forbid_public_api", false),
        callback_url: nullable(&mut input, "callback_url", string),
        return_url: nullable(&mut input, "return_url", string),
        url_hosts: strings(&mut input, "url_hosts"),
        frame_ancestors: strings(&mut input, "frame_ancestors").map(|o| o.join(",")),
        callback_statuses: callback_statuses(&mut input),
        callback_retry_secs: nullable(&mut input, "callback_retry_secs", delays),
        callback_max_attempts: nullable(&mut input, "callback_max_attempts", attempts),
    };
    // An unknown merchant is a 404 whatever the body says.
    state
        .engine
        .merchant(id.clone())
        .await
        .map_err(not_found_as("merchant"))?;
    input.finish()?;
    let merchant = state
        .engine
        .change_merchant(id, change)
        .await
        .map_err(not_found_as("merchant"))?;
    Ok(Json(MerchantSummary::from(&merchant)).into_response())
}

/// A field that may be `null` (`Some(None)`), read by `read` otherwise;
/// absent or unreadable: `None`, the latter with an error recorded.
fn nullable<T>(
    input: &mut Input,
    field: &str,
    read: fn(Value) -> std::result::Result<T, &'static str>,
) -> Option<Option<T>> {
    match input.nullable(field)? {
        Value::Null => Some(None),
        value => match read(value) {
            Ok(v) => Some(Some(v)),
            Err(message) => {
                input.error(field, message);
                None
            }
        },
    }
}

fn string(value: Value) -> std::result::Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err("This value should be a string or null."),
    }
}

fn delays(value: Value) -> std::result::Result<Vec<i64>, &'static str> {
    const WRONG: &str = "This value should be a list of whole seconds, or null.";
    match value {
        Value::Array(items) => items
            .iter()
            .map(|d| d.as_i64().ok_or(WRONG))
            .collect::<std::result::Result<_, _>>(),
        _ => Err(WRONG),
    }
}

fn attempts(value: Value) -> std::result::Result<u32, &'static str> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("This value should be a positive integer, or null.")
}

/// A list of strings, one item each (so no item may hold a comma).
fn strings(input: &mut Input, field: &str) -> Option<Vec<String>> {
    let value = input.nullable(field)?;
    let items: Option<Vec<String>> = match &value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().filter(|s| !s.contains(',')).map(str::to_string))
            .collect(),
        _ => None,
    };
    if items.is_none() {
        input.error(
            field,
            "This value should be a list of strings, one item each.",
        );
    }
    items
}

fn callback_statuses(input: &mut Input) -> Option<CallbackStatuses> {
    let text = input.string("callback_statuses", false)?;
    let statuses = CallbackStatuses::parse(&text);
    if statuses.is_none() {
        input.error("callback_statuses", "Use all or final.");
    }
    statuses
}
