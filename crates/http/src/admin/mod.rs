//! The operator's admin API (`/admin-api/`): merchants' settings, traders,
//! cabinets, rates, amount rules, deals and disputes, bank notifications
//! under review.
//!
//! Every request carries `Authorization: Bearer <admin_token>` (the
//! configuration's `admin_token`); with none configured the API answers 401
//! to everyone. Errors share the trader API's shape ([`ApiError`]).
//! Requisites are shown masked: card numbers as first 6 and last 4.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kassa_domain::money::{format_fixed, parse_minor, AmountError};
use kassa_domain::{AlternativeRule, Currency, Direction, Trader};
use kassa_engine::p2p::NewCabinet;
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Value};

use crate::trader::{
    bearer, cabinet_json, currencies_of, deal_filter, deal_json, filtered_deals, list, not_found,
    notification_json, outcome, path_id, query, query_flag, route, trader_json, ApiError,
    Currencies, Input, Result, View,
};
use crate::AppState;

mod merchants;

const REALM: &str = "kassa-admin";

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/merchants", route(get(merchants::list_merchants)))
        .route(
            "/merchants/{id}",
            route(get(merchants::get_merchant).patch(merchants::patch_merchant)),
        )
        .route("/traders", route(get(list_traders).post(create_trader)))
        .route("/traders/{id}", route(get(get_trader)))
        .route(
            "/traders/{id}/cabinets",
            route(get(list_cabinets).post(add_cabinet)),
        )
        .route("/traders/{id}/deals", route(get(list_deals)))
        .route("/cabinets/{id}/active", route(post(set_cabinet_active)))
        .route("/deals/{id}", route(get(get_deal)))
        .route("/deals/{id}/confirm", route(post(confirm_deal)))
        .route("/deals/{id}/resolve", route(post(resolve_deal)))
        .route("/notifications", route(get(list_notifications)))
        .route("/callbacks/stats", route(get(callback_stats)))
        .route("/rates/{currency}", route(get(get_rate).put(put_rate)))
        .route(
            "/amount-rules/{currency}",
            route(get(get_amount_rule).put(put_amount_rule)),
        )
        .fallback(not_found);
    Router::new()
        .nest("/admin-api", api)
        .route("/admin-api/", axum::routing::any(not_found))
}

fn authenticate(engine: &Engine, headers: &HeaderMap) -> Result<()> {
    let token = bearer(headers).ok_or(ApiError::Unauthorized(REALM))?;
    engine
        .authenticate_admin(token)
        .map_err(|_| ApiError::Unauthorized(REALM))
}

async fn find_trader(engine: &Engine, id: &str) -> Result<Trader> {
    engine
        .traders()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("trader"))
}

fn currency_of(path: std::result::Result<Path<String>, PathRejection>) -> Result<Currency> {
    let code = path_id(path, "currency")?;
    Currency::from_code(&code.to_ascii_uppercase()).ok_or_else(|| ApiError::not_found("currency"))
}

fn not_found_as(what: &'static str) -> impl Fn(EngineError) -> ApiError {
    move |e| match e {
        EngineError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

/// Decimal text in `currency`'s units as minor units: positive, or also zero
/// when `zero_ok`.
fn amount_field(input: &mut Input, field: &str, currency: Currency, zero_ok: bool) -> Option<i64> {
    let text = input.string(field, false)?;
    match parse_minor(&text, currency.exponent()) {
        Ok(v) if v > 0 || (v == 0 && zero_ok) => Some(v),
        Ok(_) if zero_ok => {
            input.error(field, "This value should not be negative.");
            None
        }
        Ok(_) => {
            input.error(field, "This value should be greater than 0.");
            None
        }
        Err(AmountError::TooPrecise(p)) => {
            input.error(
                field,
                format!("This value should have at most {p} decimal places."),
            );
            None
        }
        Err(e) => {
            input.error(field, e.to_string());
            None
        }
    }
}

// --- traders ---------------------------------------------------------------

async fn list_traders(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let traders = state.engine.traders().await?;
    Ok(list(traders.iter().map(trader_json).collect()))
}

async fn create_trader(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let mut input = Input::read(body, false).await?;
    let name = input.string("name", true);
    let test_mode = input.boolean("test_mode", false).unwrap_or(false);
    input.finish()?;
    let (trader, token) = state
        .engine
        .create_trader_in(name.expect("checked by finish"), test_mode)
        .await?;
    let mut answer = trader_json(&trader);
    answer["token"] = Value::String(token);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn get_trader(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "trader")?;
    let trader = find_trader(&state.engine, &id).await?;
    Ok(Json(trader_json(&trader)).into_response())
}

// --- cabinets --------------------------------------------------------------

async fn list_cabinets(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "trader")?;
    let trader = find_trader(&state.engine, &id).await?;
    let cabinets = state.engine.trader_cabinets(trader.id).await?;
    Ok(list(
        cabinets
            .iter()
            .map(|c| cabinet_json(c, View::Operator))
            .collect(),
    ))
}

async fn add_cabinet(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let trader_id = path_id(path, "trader")?;
    let mut input = Input::read(body, false).await?;
    let method = input.string("method", true);
    let currency = match input.string("currency", true) {
        Some(code) => {
            let c = Currency::from_code(&code.to_ascii_uppercase());
            if c.is_none() {
                input.error("currency", "Unknown currency.");
            }
            c
        }
        None => None,
    };
    let bank = input.string("bank", true);
    let requisite = input.string("requisite", true);
    let holder = input.string("holder", true);
    let (min, max, daily) = match currency {
        Some(c) => (
            amount_field(&mut input, "min_amount", c, false),
            amount_field(&mut input, "max_amount", c, true),
            amount_field(&mut input, "daily_limit", c, true),
        ),
        None => {
            // The amounts cannot be read without the currency; drop them
            // quietly rather than report them as unknown fields.
            for f in ["min_amount", "max_amount", "daily_limit"] {
                input.string(f, false);
            }
            (None, None, None)
        }
    };
    let max_open_deals = input.count("max_open_deals", u32::MAX as u64);
    let active = input.boolean("active", false);
    input.finish()?;
    let currency = currency.expect("checked by finish");
    let new = NewCabinet {
        trader_id,
        method: method.expect("checked by finish").to_ascii_lowercase(),
        currency,
        bank_name: bank.expect("checked by finish"),
        requisite: requisite.expect("checked by finish"),
        holder: holder.expect("checked by finish"),
        min_amount_minor: min.unwrap_or(1),
        max_amount_minor: max.unwrap_or(0),
        daily_limit_minor: daily.unwrap_or(0),
        max_open_deals: max_open_deals.unwrap_or(0) as u32,
        active: active.unwrap_or(true),
    };
    let cabinet = state.engine.add_cabinet(new).await.map_err(|e| match e {
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
        Json(cabinet_json(&cabinet, View::Operator)),
    )
        .into_response())
}

async fn set_cabinet_active(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "cabinet")?;
    let mut input = Input::read(body, false).await?;
    let active = input.boolean("active", true);
    input.finish()?;
    let cabinet = state
        .engine
        .set_cabinet_active(None, id, active.expect("checked by finish"))
        .await
        .map_err(not_found_as("cabinet"))?;
    Ok(Json(cabinet_json(&cabinet, View::Operator)).into_response())
}

// --- deals -----------------------------------------------------------------

async fn list_deals(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "trader")?;
    let filter = deal_filter(&query(raw, &["status"])?)?;
    let trader = find_trader(&state.engine, &id).await?;
    let currencies = currencies_of(&state.engine, &trader.id).await?;
    let deals = filtered_deals(&state.engine, trader.id, filter).await?;
    Ok(list(
        deals
            .iter()
            .map(|d| deal_json(d, &currencies, View::Operator))
            .collect(),
    ))
}

async fn render_deal(engine: &Engine, deal: &kassa_domain::Deal) -> Result<Response> {
    let currencies = currencies_of(engine, &deal.trader_id).await?;
    Ok(Json(deal_json(deal, &currencies, View::Operator)).into_response())
}

async fn get_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "deal")?;
    let deal = state.engine.deal(id).await.map_err(not_found_as("deal"))?;
    render_deal(&state.engine, &deal).await
}

async fn confirm_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "deal")?;
    Input::read(body, true).await?.finish()?;
    let deal = state
        .engine
        .confirm_deal(None, id)
        .await
        .map_err(not_found_as("deal"))?;
    render_deal(&state.engine, &deal).await
}

async fn resolve_deal(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let id = path_id(path, "deal")?;
    let mut input = Input::read(body, false).await?;
    let complete = outcome(&mut input);
    input.finish()?;
    let deal = state
        .engine
        .resolve_dispute(None, id, complete.expect("checked by finish"))
        .await
        .map_err(not_found_as("deal"))?;
    render_deal(&state.engine, &deal).await
}

// --- notifications ---------------------------------------------------------

/// The callback backlog over every node, and this node's pipeline.
async fn callback_stats(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    Ok(Json(state.engine.callback_backlog().await?).into_response())
}

async fn list_notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let q = query(raw, &["unmatched", "trader"])?;
    let unmatched = query_flag(&q, "unmatched")?;
    let trader_id = match q.get("trader") {
        Some(id) => Some(find_trader(&state.engine, id).await?.id),
        None => None,
    };
    let notifications = state.engine.notifications(trader_id, unmatched).await?;
    let traders: BTreeSet<&str> = notifications.iter().map(|n| n.trader_id.as_str()).collect();
    let mut currencies: Currencies = HashMap::new();
    for t in traders {
        currencies.extend(currencies_of(&state.engine, t).await?);
    }
    Ok(list(
        notifications
            .iter()
            .map(|n| notification_json(n, &currencies))
            .collect(),
    ))
}

// --- rates and amount rules ------------------------------------------------

async fn get_rate(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let currency = currency_of(path)?;
    let rate = state.engine.rate(currency).await?;
    Ok(Json(json!({"currency": currency, "rate": rate})).into_response())
}

async fn put_rate(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let currency = currency_of(path)?;
    let mut input = Input::read(body, false).await?;
    let rate = input.string("rate", true);
    input.finish()?;
    let rate = rate.expect("checked by finish");
    state.engine.set_rate(currency, rate.clone()).await?;
    Ok(Json(json!({"currency": currency, "rate": rate})).into_response())
}

fn direction_str(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Alternate => "alternate",
    }
}

fn rule_json(currency: Currency, rule: AlternativeRule) -> Value {
    json!({
        "currency": currency,
        "step": format_fixed(rule.step_minor, currency.exponent()),
        "direction": direction_str(rule.direction),
    })
}

async fn get_amount_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let currency = currency_of(path)?;
    let rule = state.engine.amount_rule(currency).await?;
    Ok(Json(rule_json(currency, rule)).into_response())
}

async fn put_amount_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: std::result::Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response> {
    authenticate(&state.engine, &headers)?;
    let currency = currency_of(path)?;
    let mut input = Input::read(body, false).await?;
    let step = amount_field(&mut input, "step", currency, false);
    if step.is_none() && !input.has_error("step") {
        input.error("step", "This field is required.");
    }
    let direction = match input.string("direction", true).as_deref() {
        Some("up") => Some(Direction::Up),
        Some("down") => Some(Direction::Down),
        Some("alternate") => Some(Direction::Alternate),
        Some(_) => {
            input.error("direction", "Use up, down or alternate.");
            None
        }
        None => None,
    };
    input.finish()?;
    let rule = AlternativeRule {
        step_minor: step.expect("checked by finish"),
        direction: direction.expect("checked by finish"),
    };
    state.engine.set_amount_rule(currency, rule).await?;
    Ok(Json(rule_json(currency, rule)).into_response())
}
