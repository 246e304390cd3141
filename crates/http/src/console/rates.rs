//! Rates of each currency against the traders' settlement currency (as
//! `kassa rate set`) and the fee charged on top of each payout per
//! currency (as `kassa payout-fee set`).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use kassa_domain::fee::{format_rate_percent, FeeRule};
use kassa_domain::money::format_fixed;
use kassa_domain::Currency;
use maud::{html, Markup};
use serde::Deserialize;

use super::input::{amount, currency, percent};
use super::{console_page, csrf_field, done, words, ConsoleAdmin, ConsoleUser, Done, Page};
use crate::web::WebError;
use crate::AppState;

fn currency_select(id: &str, currencies: impl Iterator<Item = Currency>) -> Markup {
    html! {
        select id=(id) name="currency" {
            @for c in currencies { option value=(c.code()) { (c.code()) } }
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let rates = app.engine.rates().await.map_err(|e| user.error(&e))?;
    let fees = app.engine.payout_fees().await.map_err(|e| user.error(&e))?;
    let settlement = app.engine.config().settlement_currency;
    let main = html! {
        div.card {
            h1 { (lang.t(words::RATES_SHORT)) }
            p.muted { (lang.t(words::AGAINST)) " " (settlement.code()) }
            div.scroll { table #rates {
                thead { tr { th { (lang.t(words::CURRENCY)) } th { (lang.t(words::RATE)) } } }
                tbody {
                    @for (c, rate) in &rates {
                        tr id={ "rate-" (c.code()) } {
                            td { (c.code()) }
                            td.rate { @match rate { Some(r) => (r), None => span.muted { (lang.t(words::NOT_SET)) } } }
                        }
                    }
                }
            } }
            form method="post" action="/console/rates" {
                (csrf_field(&app, &user))
                div.filters {
                    div { label for="rate-currency" { (lang.t(words::CURRENCY)) } (currency_select("rate-currency", Currency::all())) }
                    div { label for="rate" { (lang.t(words::RATE)) } input #rate type="text" name="rate" required; }
                    div { button.btn #save-rate type="submit" { (lang.t(words::SAVE)) } }
                }
            }
        }
        div.card {
            h2 { (lang.t(words::PAYOUT_FEES)) }
            div.scroll { table #payout-fees {
                thead { tr { th { (lang.t(words::CURRENCY)) } th { (lang.t(words::RATE_PERCENT)) } th { (lang.t(words::FIXED)) } th { (lang.t(words::MIN)) } th { (lang.t(words::MAX)) } } }
                tbody {
                    @for (c, f) in &fees {
                        @let e = c.exponent();
                        tr id={ "payout-fee-" (c.code()) } {
                            td { (c.code()) }
                            td.rate { (format_rate_percent(f.rate_ppm)) }
                            td.fix { (format_fixed(f.fix_minor, e)) }
                            td { (format_fixed(f.min_minor, e)) }
                            td { @if f.max_minor > 0 { (format_fixed(f.max_minor, e)) } @else { "—" } }
                        }
                    }
                }
            } }
            p.muted { (lang.t(words::ON_TOP)) }
            form method="post" action="/console/payout-fees" {
                (csrf_field(&app, &user))
                div.filters {
                    div { label for="fee-currency" { (lang.t(words::CURRENCY)) } (currency_select("fee-currency", fees.iter().map(|(c, _)| *c))) }
                    div { label for="fee_rate" { (lang.t(words::RATE_PERCENT)) } input #fee_rate type="text" name="rate"; }
                    div { label for="fee_fix" { (lang.t(words::FIXED)) } input #fee_fix type="text" name="fix"; }
                    div { label for="fee_min" { (lang.t(words::MIN)) } input #fee_min type="text" name="min"; }
                    div { label for="fee_max" { (lang.t(words::MAX)) } input #fee_max type="text" name="max"; }
                    div { button.btn #save-payout-fee type="submit" { (lang.t(words::SAVE)) } }
                }
            }
        }
    };
    Ok(console_page(&app, &user, Page::Rates, &d, main))
}

#[derive(Deserialize)]
pub struct RateForm {
    currency: String,
    rate: String,
}

pub async fn set_rate(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    body: Body,
) -> Result<Response, WebError> {
    let f: RateForm = user.form(&app, body).await?;
    let c = currency(&user, &f.currency)?;
    app.engine
        .console_set_rate(user.id(), c, f.rate.trim().to_string())
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done("/console/rates", "rate"))
}

#[derive(Deserialize)]
pub struct PayoutFeeForm {
    currency: String,
    #[serde(default)]
    rate: String,
    #[serde(default)]
    fix: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
}

pub async fn set_payout_fee(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    body: Body,
) -> Result<Response, WebError> {
    let f: PayoutFeeForm = user.form(&app, body).await?;
    let c = currency(&user, &f.currency)?;
    let rule = FeeRule {
        rate_ppm: percent(&user, "rate", &f.rate)?,
        fix_minor: amount(&user, "fix", &f.fix, c)?,
        min_minor: amount(&user, "min", &f.min, c)?,
        max_minor: amount(&user, "max", &f.max, c)?,
    };
    app.engine
        .console_set_payout_fee(user.id(), c, rule)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done("/console/rates", "payout_fee"))
}
