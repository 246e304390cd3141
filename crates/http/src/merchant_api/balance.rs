//! The merchant's balances.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_engine::ledger::Balance;

use super::auth::MerchantRead;
use super::error::ErrorBody;
use super::render::balance_dto;
use super::request::BalanceQuery;
use super::response::BalancesDto;
use super::{json_response, Result};
use crate::AppState;

/// The merchant's balances in the key's mode, one per currency it has had
/// money in (with `currency`, that one, zero when it has none).
#[utoipa::path(get, path = "/api/merchant/balance", tag = "account", operation_id = "get_balance",
    params(("currency" = Option<String>, Query, example = "RUB")),
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 200, body = BalancesDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn balance(
    State(app): State<AppState>,
    signed: MerchantRead,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let BalanceQuery { currency } = BalanceQuery::read(query.as_deref())?;
    let mut all = app
        .engine
        .balances(signed.merchant.id.clone(), signed.test_mode)
        .await?;
    if let Some(currency) = currency {
        all.retain(|b| b.currency == currency);
        if all.is_empty() {
            all.push(Balance {
                currency,
                test_mode: signed.test_mode,
                available_minor: 0,
                pending_payouts_minor: 0,
                pending_refunds_minor: 0,
                reserve_minor: 0,
            });
        }
    }
    all.sort_by_key(|b| b.currency.code());
    let dto = BalancesDto {
        test_mode: signed.test_mode,
        balances: all.iter().map(balance_dto).collect(),
    };
    Ok(json_response(StatusCode::OK, &dto))
}
