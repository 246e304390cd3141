//! The service catalog: every service with its limits and fees, and one
//! service changed as `kassa service set` changes it (limits and fees in
//! the currency's units, rates in percent), applied by the engine to the
//! service as it is inside the write.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::fee::format_rate_percent;
use kassa_domain::money::format_fixed;
use kassa_domain::{RefundFee, Service};
use kassa_engine::console_money::ServiceChange;
use maud::{html, Markup};
use serde::Deserialize;

use super::input::{amount, percent};
use super::{console_page, csrf_field, done, words, ConsoleAdmin, ConsoleUser, Done, Page};
use crate::web::format::money;
use crate::web::{Lang, WebError};
use crate::AppState;

fn yes_no(lang: Lang, v: bool) -> Markup {
    html! {
        @if v { span.badge.ok { (lang.t(words::YES)) } } @else { span.badge.bad { (lang.t(words::NO)) } }
    }
}

/// `1.5% + 10.00 RUB, min 5.00, max 100.00`: the parts that are set.
fn fee(s: &Service) -> String {
    let e = s.currency.exponent();
    let mut text = format!(
        "{}% + {}",
        format_rate_percent(s.fee.rate_ppm),
        money(s.fee.fix_minor, s.currency)
    );
    if s.fee.min_minor > 0 {
        text += &format!(", min {}", format_fixed(s.fee.min_minor, e));
    }
    if s.fee.max_minor > 0 {
        text += &format!(", max {}", format_fixed(s.fee.max_minor, e));
    }
    text
}

fn refund_fee(lang: Lang, r: RefundFee) -> &'static str {
    match r {
        RefundFee::Kept => lang.t(words::KEPT),
        RefundFee::Returned => lang.t(words::RETURNED),
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let catalog = app.engine.catalog().await.map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::SERVICES)) }
            div.scroll { table #services {
                thead { tr { th { (lang.t(words::CODE)) } th { (lang.t(words::METHOD)) } th { (lang.t(words::FLOW)) }
                    th { (lang.t(words::CURRENCY)) } th { (lang.t(words::LIMITS)) } th { (lang.t(words::FEE)) }
                    th { (lang.t(words::RESERVE)) } th { (lang.t(words::REFUND_FEE)) } th { (lang.t(words::VERIFICATION_AMOUNT)) }
                    th { (lang.t(words::ENABLED)) } th { (lang.t(words::AVAILABLE)) } } }
                tbody {
                    @for s in catalog.services.iter() {
                        tr id={ "service-" (s.code) } {
                            td { a href={ "/console/services/" (s.code) } { (s.code) } }
                            td { (s.method) } td { (s.flow.as_str()) } td { (s.currency.code()) }
                            td.limits { (money(s.amount_min_minor, s.currency)) " – " (money(s.amount_max_minor, s.currency)) }
                            td.fee { (fee(s)) }
                            td { (format_rate_percent(s.reserve.rate_ppm)) "% · " (s.reserve.lifetime_secs) " s" }
                            td { (refund_fee(lang, s.refund_fee)) }
                            td { @match s.verification_amount_minor { Some(v) => (money(v, s.currency)), None => "—" } }
                            td.enabled { (yes_no(lang, s.enabled)) }
                            td { (yes_no(lang, s.available)) }
                        }
                    }
                }
            } }
            @if catalog.services.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Services, &d, main))
}

fn field(id: &str, label: &str, value: String) -> Markup {
    html! {
        div { label for=(id) { (label) } input id=(id) type="text" name=(id) value=(value); }
    }
}

fn choice(id: &str, label: &str, options: [(&str, &str, bool); 2]) -> Markup {
    html! {
        div { label for=(id) { (label) }
            select id=(id) name=(id) {
                @for (value, text, on) in options { option value=(value) selected[on] { (text) } }
            }
        }
    }
}

pub async fn show(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(code): Path<String>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let catalog = app.engine.catalog().await.map_err(|e| user.error(&e))?;
    let s = catalog
        .service(&code)
        .ok_or(user.refuse(StatusCode::NOT_FOUND))?;
    let e = s.currency.exponent();
    let a = |v: i64| format_fixed(v, e);
    let p = format_rate_percent;
    let (yes, no) = (lang.t(words::YES), lang.t(words::NO));
    let main = html! {
        div.card {
            h1 #service-code { (s.code) }
            p.muted { (s.method) " · " (s.flow.as_str()) " · " (s.currency.code()) " · " (lang.t(words::FEE)) " " span #service-fee { (fee(s)) } }
        }
        div.card {
            h2 { (lang.t(words::SETTINGS)) }
            p.muted { (lang.t(words::IN_UNITS)) " (" (s.currency.code()) ")" }
            form method="post" action={ "/console/services/" (s.code) } {
                (csrf_field(&app, &user))
                div.filters {
                    (choice("enabled", lang.t(words::ENABLED), [("true", yes, s.enabled), ("false", no, !s.enabled)]))
                    (choice("available", lang.t(words::AVAILABLE), [("true", yes, s.available), ("false", no, !s.available)]))
                    (field("amount_min", lang.t(words::AMOUNT_MIN), a(s.amount_min_minor)))
                    (field("amount_max", lang.t(words::AMOUNT_MAX), a(s.amount_max_minor)))
                    (field("fee_rate", lang.t(words::FEE_RATE), p(s.fee.rate_ppm)))
                    (field("fee_fix", lang.t(words::FEE_FIX), a(s.fee.fix_minor)))
                    (field("fee_min", lang.t(words::FEE_MIN), a(s.fee.min_minor)))
                    (field("fee_max", lang.t(words::FEE_MAX), a(s.fee.max_minor)))
                    (field("reserve_rate", lang.t(words::RESERVE_RATE), p(s.reserve.rate_ppm)))
                    (field("reserve_lifetime_secs", lang.t(words::RESERVE_LIFETIME), s.reserve.lifetime_secs.to_string()))
                    (choice("refund_fee", lang.t(words::REFUND_FEE), [
                        ("kept", lang.t(words::KEPT), s.refund_fee == RefundFee::Kept),
                        ("returned", lang.t(words::RETURNED), s.refund_fee == RefundFee::Returned)]))
                    (field("verification_amount", lang.t(words::VERIFICATION_ZERO), s.verification_amount_minor.map(a).unwrap_or_else(|| a(0))))
                    div { button.btn #save type="submit" { (lang.t(words::SAVE)) } }
                }
            }
        }
    };
    Ok(console_page(&app, &user, Page::Services, &d, main))
}

/// The edit form; a field left out is left as it is, an empty amount is 0.
#[derive(Deserialize)]
pub struct ServiceForm {
    enabled: Option<String>,
    available: Option<String>,
    amount_min: Option<String>,
    amount_max: Option<String>,
    fee_rate: Option<String>,
    fee_fix: Option<String>,
    fee_min: Option<String>,
    fee_max: Option<String>,
    reserve_rate: Option<String>,
    reserve_lifetime_secs: Option<String>,
    refund_fee: Option<String>,
    verification_amount: Option<String>,
}

fn flag(user: &ConsoleUser, v: Option<String>) -> Result<Option<bool>, WebError> {
    match v.as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(user.refuse(StatusCode::BAD_REQUEST)),
    }
}

pub async fn save(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(code): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let f: ServiceForm = user.form(&app, body).await?;
    let catalog = app.engine.catalog().await.map_err(|e| user.error(&e))?;
    // The currency says how amounts are read; a service keeps its currency.
    let c = catalog
        .service(&code)
        .ok_or(user.refuse(StatusCode::NOT_FOUND))?
        .currency;
    let u = &user;
    let money_of = |name: &str, v: Option<String>| v.map(|t| amount(u, name, &t, c)).transpose();
    let rate_of = |name: &str, v: Option<String>| v.map(|t| percent(u, name, &t)).transpose();
    let lifetime = match f.reserve_lifetime_secs.as_deref().map(str::trim) {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            user.error(&kassa_engine::EngineError::invalid(
                "reserve_lifetime_secs",
                format!("{t:?} is not a whole number of seconds."),
            ))
        })?),
    };
    let change = ServiceChange {
        enabled: flag(u, f.enabled)?,
        available: flag(u, f.available)?,
        amount_min_minor: money_of("amount_min", f.amount_min)?,
        amount_max_minor: money_of("amount_max", f.amount_max)?,
        fee_rate_ppm: rate_of("fee_rate", f.fee_rate)?,
        fee_fix_minor: money_of("fee_fix", f.fee_fix)?,
        fee_min_minor: money_of("fee_min", f.fee_min)?,
        fee_max_minor: money_of("fee_max", f.fee_max)?,
        reserve_rate_ppm: rate_of("reserve_rate", f.reserve_rate)?,
        reserve_lifetime_secs: lifetime,
        refund_fee: match f.refund_fee.as_deref() {
            None => None,
            Some("kept") => Some(RefundFee::Kept),
            Some("returned") => Some(RefundFee::Returned),
            Some(_) => return Err(user.refuse(StatusCode::BAD_REQUEST)),
        },
        verification_amount_minor: money_of("verification_amount", f.verification_amount)?
            .map(|v| (v != 0).then_some(v)),
    };
    app.engine
        .console_change_service(user.id(), code.clone(), change)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done(&format!("/console/services/{code}"), "service"))
}
