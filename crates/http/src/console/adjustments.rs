//! Hand adjustments of a merchant's available balance in one currency and
//! mode (as `kassa ledger adjust`), each with its reason: a credit (money
//! that came from outside) or a debit (a correction) the balance covers.
//! The page shows a merchant's balances and the adjustments made here.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use kassa_domain::Currency;
use kassa_engine::EngineError;
use maud::html;
use serde::Deserialize;

use super::input::{amount, currency};
use super::{
    console_page, csrf_field, done, mode_badge, words, ConsoleAdmin, ConsoleUser, Done, Page,
};
use crate::web::format::{money, time};
use crate::web::WebError;
use crate::AppState;

/// How many of the latest adjustments the page lists.
const RECENT_MAX: usize = 50;

#[derive(Deserialize, Default)]
pub struct Shown {
    merchant: Option<String>,
    done: Option<String>,
}

pub async fn page(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<Shown>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let merchants = app.engine.merchants().await.map_err(|e| user.error(&e))?;
    let chosen = q
        .merchant
        .as_deref()
        .and_then(|id| merchants.iter().find(|m| m.id == id))
        .or(merchants.first());
    let mut balances = Vec::new();
    if let Some(m) = chosen {
        for test_mode in [false, true] {
            let b = app
                .engine
                .balances(m.id.clone(), test_mode)
                .await
                .map_err(|e| user.error(&e))?;
            balances.extend(b);
        }
    }
    let recent: Vec<_> = app
        .engine
        .audit_log()
        .await
        .map_err(|e| user.error(&e))?
        .into_iter()
        .filter(|e| e.action == "balance.adjust")
        .take(RECENT_MAX)
        .collect();
    let main = html! {
        div.card {
            h1 { (lang.t(words::ADJUST)) }
            form method="post" action="/console/adjustments" {
                (csrf_field(&app, &user))
                div.filters {
                    div { label for="merchant" { (lang.t(words::MERCHANT)) }
                        select #merchant name="merchant" {
                            @for m in &merchants {
                                option value=(m.id) selected[chosen.is_some_and(|c| c.id == m.id)] { (m.name) " · " (m.id) }
                            }
                        } }
                    div { label for="currency" { (lang.t(words::CURRENCY)) }
                        select #currency name="currency" {
                            @for c in Currency::all() {
                                option value=(c.code()) selected[chosen.is_some_and(|m| m.account_currency == c)] { (c.code()) }
                            }
                        } }
                    div { label for="mode" { (lang.t(words::MODE)) }
                        select #mode name="mode" {
                            option value="live" { (lang.t(words::LIVE)) }
                            option value="test" { (lang.t(words::TEST)) }
                        } }
                    div { label for="direction" { (lang.t(words::ACTION)) }
                        select #direction name="direction" {
                            option value="credit" { (lang.t(words::CREDIT)) }
                            option value="debit" { (lang.t(words::DEBIT)) }
                        } }
                    div { label for="amount" { (lang.t(words::AMOUNT)) } input #amount type="text" name="amount" required; }
                    div { label for="reason" { (lang.t(words::REASON)) } input #reason type="text" name="reason" maxlength="255" required; }
                    div { button.btn #adjust type="submit" { (lang.t(words::ADJUST)) } }
                }
            }
        }
        @if let Some(m) = chosen {
            div.card {
                h2 { (lang.t(words::BALANCES)) ": " (m.name) }
                div.scroll { table #balances {
                    thead { tr { th { (lang.t(words::MODE)) } th { (lang.t(words::CURRENCY)) } th { (lang.t(words::AVAILABLE_BALANCE)) }
                        th { (lang.t(words::PENDING_PAYOUTS)) } th { (lang.t(words::RESERVE)) } } }
                    tbody {
                        @for b in &balances {
                            tr id={ "balance-" (if b.test_mode { "test" } else { "live" }) "-" (b.currency.code()) } {
                                td { (mode_badge(lang, b.test_mode)) } td { (b.currency.code()) }
                                td.available { (money(b.available_minor, b.currency)) }
                                td { (money(b.pending_payouts_minor, b.currency)) }
                                td { (money(b.reserve_minor, b.currency)) }
                            }
                        }
                    }
                } }
                @if balances.is_empty() { p.muted { (lang.t(words::NONE)) } }
            }
        }
        div.card {
            h2 { (lang.t(words::ADJUSTMENTS)) }
            div.scroll { table #adjustments {
                thead { tr { th { (lang.t(words::TIME)) } th { (lang.t(words::WHO)) } th { (lang.t(words::MERCHANT)) } th { (lang.t(words::DETAIL)) } } }
                tbody {
                    @for e in &recent {
                        tr { td { (time(e.at_secs)) } td { (e.email) } td { (e.target) } td.detail { (e.detail) } }
                    }
                }
            } }
            @if recent.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    let d = Done { done: q.done };
    Ok(console_page(&app, &user, Page::Adjustments, &d, main))
}

#[derive(Deserialize)]
pub struct AdjustForm {
    merchant: String,
    currency: String,
    /// `live` or `test`.
    mode: String,
    /// `credit` or `debit`.
    direction: String,
    amount: String,
    reason: String,
}

pub async fn adjust(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    body: Body,
) -> Result<Response, WebError> {
    let f: AdjustForm = user.form(&app, body).await?;
    let invalid = |field: &str, why: &str| user.error(&EngineError::invalid(field, why));
    let c = currency(&user, &f.currency)?;
    let test_mode = match f.mode.as_str() {
        "live" => false,
        "test" => true,
        _ => return Err(invalid("mode", "live or test.")),
    };
    let sign = match f.direction.as_str() {
        "credit" => 1,
        "debit" => -1,
        _ => return Err(invalid("direction", "credit or debit.")),
    };
    // The direction gives the sign: the amount itself is a positive one.
    let minor = amount(&user, "amount", &f.amount, c)?;
    if minor <= 0 {
        return Err(invalid("amount", "must be more than 0."));
    }
    app.engine
        .console_adjust_balance(
            user.id(),
            f.merchant.clone(),
            test_mode,
            c,
            sign * minor,
            f.reason,
        )
        .await
        .map_err(|e| user.error(&e))?;
    let q = serde_urlencoded::to_string([("merchant", f.merchant.as_str())]).unwrap_or_default();
    Ok(done(&format!("/console/adjustments?{q}"), "adjustment"))
}
