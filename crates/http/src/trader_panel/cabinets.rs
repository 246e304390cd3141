//! Cabinets: each with its requisite, limits and today's turnover, on or
//! off (and why it is off), and the switch.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::{Cabinet, DisabledReason};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    action_form, after, csrf_field, panel_page, path_id, words, ActionError, Done, Page,
    PanelError, TraderUser,
};
use crate::web::format::money;
use crate::web::{Lang, WebError};
use crate::AppState;

fn reason(r: DisabledReason) -> words::Words {
    match r {
        DisabledReason::Trader => words::OFF_BY_TRADER,
        DisabledReason::Operator => words::OFF_BY_OPERATOR,
        DisabledReason::DeviceSilent => words::OFF_DEVICE_SILENT,
        DisabledReason::DealsExpired => words::OFF_DEALS_EXPIRED,
    }
}

fn limits(c: &Cabinet, lang: Lang) -> String {
    let m = |minor| money(minor, c.currency);
    let mut parts = vec![format!("{} {}", lang.t(words::MIN), m(c.min_amount_minor))];
    if c.max_amount_minor > 0 {
        parts.push(format!("{} {}", lang.t(words::MAX), m(c.max_amount_minor)));
    }
    if c.daily_limit_minor > 0 {
        parts.push(format!(
            "{} {}",
            m(c.daily_limit_minor),
            lang.t(words::DAILY_LIMIT)
        ));
    }
    if c.max_open_deals > 0 {
        parts.push(format!(
            "{} {}",
            c.max_open_deals,
            lang.t(words::OPEN_AT_ONCE)
        ));
    }
    parts.join(", ")
}

fn card(app: &AppState, user: &TraderUser, c: &Cabinet, turnover_minor: i64) -> Markup {
    let lang = user.lang;
    let by_operator = c.disabled_reason == Some(DisabledReason::Operator);
    html! {
        div.card.cabinet data-id=(c.id) data-active=(c.active) {
            h2 {
                (c.bank_name) " · " (c.method) " · " (c.currency.code()) " "
                @if c.active { span.badge.ok.state { (lang.t(words::ON)) } }
                @else { span.badge.bad.state { (lang.t(words::OFF)) } }
            }
            @if let Some(r) = c.disabled_reason.filter(|_| !c.active) {
                p.error.reason data-reason=(r.as_str()) { (lang.t(reason(r))) }
            }
            dl {
                dt { (lang.t(words::REQUISITE)) } dd.requisite { (c.requisite) }
                dt { (lang.t(words::HOLDER)) } dd { (c.holder) }
                dt { (lang.t(words::LIMITS)) } dd.limits { (limits(c, lang)) }
                dt { (lang.t(words::TODAY)) } dd.turnover {
                    (money(turnover_minor, c.currency))
                    @if c.daily_limit_minor > 0 { " / " (money(c.daily_limit_minor, c.currency)) }
                }
                dt { (lang.t(words::CABINET)) } dd.muted { (c.id) }
            }
            @if c.active || !by_operator {
                form method="post" action={ "/trader/cabinets/" (c.id) "/active" } {
                    (csrf_field(app, user))
                    @if c.active {
                        input type="hidden" name="active" value="off";
                        button.btn.light.switch type="submit" { (lang.t(words::SWITCH_OFF)) }
                    } @else {
                        input type="hidden" name="active" value="on";
                        button.btn.switch type="submit" { (lang.t(words::SWITCH_ON)) }
                    }
                }
            }
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: TraderUser,
    Query(done): Query<Done>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let cabinets = app
        .engine
        .cabinets_with_turnover(user.trader.id.clone())
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let main = html! {
        (done.notice(lang))
        h1 { (lang.t(words::CABINETS)) }
        div #cabinets {
            @if cabinets.is_empty() { p.card.muted.empty { (lang.t(words::NO_CABINETS)) } }
            @for (c, turnover) in &cabinets { (card(&app, &user, c, *turnover)) }
        }
    };
    Ok(panel_page(&app, &user, Page::Cabinets, main))
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// Switches one of the trader's cabinets on or off: off, it takes no new deals.
pub async fn set_active(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let f: ActiveForm = action_form(&app, &user, body).await?;
    let active = match f.active.as_str() {
        "on" => true,
        "off" => false,
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, lang).into()),
    };
    let result = app
        .engine
        .set_cabinet_active(user.actor(), id, active)
        .await;
    after(result, lang, "/trader/cabinets", "switched", words::CHANGED)
}
