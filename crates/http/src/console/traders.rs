//! Traders and their cabinets: each cabinet with its limits, open deals and
//! today's turnover, switched on or off by the operator.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::Cabinet;
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    console_page, csrf_field, done, mode_badge, words, ConsoleAdmin, ConsoleUser, Done, Page,
};
use crate::web::format::money;
use crate::web::{Lang, WebError};
use crate::AppState;

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let traders = app.engine.traders().await.map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::TRADERS)) }
            div.scroll { table #traders {
                thead { tr { th { (lang.t(words::NAME)) } th { (lang.t(words::ID)) } th { (lang.t(words::MODE)) } th { (lang.t(words::ACTIVE)) } } }
                tbody {
                    @for t in &traders {
                        tr {
                            td { a href={ "/console/traders/" (t.id) } { (t.name) } }
                            td.muted { (t.id) }
                            td { (mode_badge(lang, t.test_mode)) }
                            td { (on_off(lang, t.active)) }
                        }
                    }
                }
            } }
            @if traders.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Traders, &d, main))
}

fn on_off(lang: Lang, on: bool) -> Markup {
    html! {
        @if on { span.badge.ok { (lang.t(words::ON)) } } @else { span.badge.bad { (lang.t(words::OFF)) } }
    }
}

/// A cabinet's limits: amount range, daily limit, open deals at most (0: none).
fn limits(c: &Cabinet) -> String {
    let m = |v: i64| money(v, c.currency);
    let mut parts = vec![format!(
        "{} – {}",
        m(c.min_amount_minor),
        if c.max_amount_minor > 0 {
            m(c.max_amount_minor)
        } else {
            "∞".into()
        }
    )];
    if c.daily_limit_minor > 0 {
        parts.push(format!("/day {}", m(c.daily_limit_minor)));
    }
    if c.max_open_deals > 0 {
        parts.push(format!("≤ {} open", c.max_open_deals));
    }
    parts.join(", ")
}

pub async fn show(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let trader = app
        .engine
        .traders()
        .await
        .map_err(|e| user.error(&e))?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(user.refuse(StatusCode::NOT_FOUND))?;
    let cabinets = app
        .engine
        .cabinet_overview(trader.id.clone())
        .await
        .map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 #trader-name { (trader.name) " " (mode_badge(lang, trader.test_mode)) }
            p.muted { (trader.id) " · " a href={ "/console/deals?trader=" (trader.id) } { (lang.t(words::DEALS)) } }
        }
        div.card {
            h2 { (lang.t(words::CABINETS)) }
            div.scroll { table #cabinets {
                thead { tr { th { (lang.t(words::BANK)) } th { (lang.t(words::METHOD)) } th { (lang.t(words::REQUISITE)) }
                    th { (lang.t(words::LIMITS)) } th { (lang.t(words::OPEN_DEALS)) } th { (lang.t(words::TURNOVER_TODAY)) }
                    th { (lang.t(words::ACTIVE)) } th {} } }
                tbody {
                    @for o in &cabinets {
                        @let c = &o.cabinet;
                        tr id={ "cabinet-" (c.id) } {
                            td { (c.bank_name) } td { (c.method) } td { (c.masked_requisite()) }
                            td { (limits(c)) }
                            td.open { (o.open_deals) }
                            td.turnover { (money(o.turnover_today_minor, c.currency)) }
                            td.state { (on_off(lang, c.active))
                                @if let Some(r) = c.disabled_reason { " " span.muted { (r.as_str()) } } }
                            td {
                                form method="post" action={ "/console/cabinets/" (c.id) "/active" } {
                                    (csrf_field(&app, &user))
                                    @if c.active {
                                        input type="hidden" name="active" value="false";
                                        button.btn.light.switch type="submit" { (lang.t(words::SWITCH_OFF)) }
                                    } @else {
                                        input type="hidden" name="active" value="true";
                                        button.btn.switch type="submit" { (lang.t(words::SWITCH_ON)) }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            @if cabinets.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Traders, &d, main))
}

#[derive(Deserialize)]
pub struct SwitchForm {
    active: String,
}

pub async fn switch(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let f: SwitchForm = user.form(&app, body).await?;
    let active = match f.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(user.refuse(StatusCode::BAD_REQUEST)),
    };
    let cabinet = app
        .engine
        .console_set_cabinet_active(user.id(), id, active)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done(
        &format!("/console/traders/{}", cabinet.trader_id),
        "cabinet",
    ))
}
