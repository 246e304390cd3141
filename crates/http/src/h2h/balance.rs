//! `POST /api/balance`: the merchant's balances per currency, in the mode
//! of the secret that signed the request.

use axum::extract::State;
use axum::Json;
use kassa_engine::ledger::Balance;

use super::auth::H2hSigned;
use super::error::{ErrorBody, H2hError};
use super::request::{BalanceBody, BalanceRequest};
use super::response::{BalanceAnswer, Signed};
use crate::AppState;

#[utoipa::path(post, path = "/api/balance", tag = "balance",
    request_body = BalanceBody,
    responses(
        (status = 200, body = BalanceAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn balance(
    State(app): State<AppState>,
    signed: H2hSigned<BalanceRequest>,
) -> Result<Json<BalanceAnswer>, H2hError> {
    let only = signed.body.only()?;
    let merchant = signed.merchant;
    let mut all = app
        .engine
        .balances(merchant.id.clone(), signed.test_mode)
        .await?;
    if let Some(currency) = only {
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
    let answer = BalanceAnswer {
        merchant_id: merchant.id,
        site_id: merchant.site_id,
        site_login: merchant.site_login,
        balances: all.iter().map(Into::into).collect(),
        signature: String::new(),
    };
    Ok(Json(answer.signed(&signed.secret)))
}
