//! Deals: those waiting for the customer's transfer, with the exact amount
//! to expect, the time left and a confirm button; disputes, with their two
//! resolutions; and the deals that ended.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::{Currency, Deal, DealStatus};
use kassa_engine::EngineError;
use maud::{html, Markup};
use serde::Deserialize;

use super::PanelError;
use super::{
    action_form, after, csrf_field, panel_page, path_id, time_left, watched_page, words,
    ActionError, Done, Page, TraderUser,
};
use crate::web::evidence::receipts;
use crate::web::format::{money, time};
use crate::web::{Lang, WebError};
use crate::AppState;
use words::Words;

/// Ended deals shown under the open ones.
const ENDED_SHOWN: usize = 20;

/// Each of the trader's cabinets' currency, to write its deals' amounts.
async fn currencies(
    app: &AppState,
    user: &TraderUser,
) -> Result<HashMap<String, Currency>, WebError> {
    Ok(app
        .engine
        .trader_cabinets(user.trader.id.clone())
        .await
        .map_err(|e| WebError::from_engine(&e, user.lang))?
        .into_iter()
        .map(|c| (c.id, c.currency))
        .collect())
}

fn amount(d: &Deal, currencies: &HashMap<String, Currency>) -> String {
    match currencies.get(&d.cabinet_id) {
        Some(c) => money(d.amount_minor, *c),
        None => d.amount_minor.to_string(),
    }
}

fn status_badge(status: DealStatus) -> Markup {
    let class = match status {
        DealStatus::Completed => "badge ok",
        DealStatus::Canceled => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (status.as_str()) } }
}

/// One deal as a card, with the buttons its state allows.
fn deal_card(
    app: &AppState,
    user: &TraderUser,
    d: &Deal,
    currencies: &HashMap<String, Currency>,
    now_secs: i64,
) -> Markup {
    let lang = user.lang;
    html! {
        div.card.deal data-id=(d.id) data-status=(d.status.as_str()) {
            @if d.status == DealStatus::TransferWaiting {
                p.muted { (lang.t(words::EXPECT)) }
                h2.amount { (amount(d, currencies)) }
            } @else {
                h2 { a href={ "/trader/deals/" (d.id) } { (amount(d, currencies)) } " " (status_badge(d.status)) }
            }
            dl {
                dt { (lang.t(words::TO_REQUISITE)) } dd.requisite { (d.bank_name) " · " (d.requisite) " · " (d.holder) }
                @if d.status == DealStatus::TransferWaiting {
                    dt { (lang.t(words::TIME_LEFT)) }
                    dd.time-left { (time_left(now_secs, d.deadline_secs).unwrap_or_else(|| lang.t(words::RAN_OUT).to_string())) }
                } @else {
                    dt { (lang.t(words::DEADLINE)) } dd { (time(d.deadline_secs)) }
                }
                @if let Some(at) = d.customer_says_paid_at_secs {
                    dt { (lang.t(words::CUSTOMER_PAID)) } dd { (time(at)) }
                }
                @if let Some(r) = &d.dispute_reason { dt { (lang.t(words::REASON)) } dd { (r) } }
                @if !d.evidence.is_empty() {
                    dt { (lang.t(words::RECEIPTS)) }
                    dd.receipts { a href={ "/trader/deals/" (d.id) "#evidence" } { (d.evidence.len()) } }
                }
                @if let Some(at) = d.ended_at_secs { dt { (lang.t(words::ENDED)) } dd { (time(at)) } }
                dt { (lang.t(words::DEAL)) } dd.muted { a href={ "/trader/deals/" (d.id) } { (d.id) } }
            }
            @match d.status {
                DealStatus::TransferWaiting => {
                    form method="post" action={ "/trader/deals/" (d.id) "/confirm" } {
                        (csrf_field(app, user))
                        button.btn.confirm type="submit" { (lang.t(words::CONFIRM)) }
                    }
                }
                DealStatus::Disputed => {
                    div.filters {
                        @for (outcome, label, class) in [("completed", words::RESOLVE_COMPLETED, "btn resolve-completed"), ("canceled", words::RESOLVE_CANCELED, "btn light resolve-canceled")] {
                            form method="post" action={ "/trader/deals/" (d.id) "/resolve" } {
                                (csrf_field(app, user))
                                input type="hidden" name="outcome" value=(outcome);
                                button class=(class) type="submit" { (lang.t(label)) }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn section(title: Words, id: &str, empty: Words, lang: Lang, cards: Vec<Markup>) -> Markup {
    html! {
        h1 { (lang.t(title)) }
        div id=(id) {
            @if cards.is_empty() { p.card.muted.empty { (lang.t(empty)) } }
            @for c in cards { (c) }
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: TraderUser,
    Query(done): Query<Done>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let deals = app
        .engine
        .trader_deals(user.trader.id.clone(), false)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let currencies = currencies(&app, &user).await?;
    let now = app.engine.now_secs();
    let card = |d: &Deal| deal_card(&app, &user, d, &currencies, now);
    // Soonest deadline first: the one to watch for.
    let mut open: Vec<&Deal> = deals
        .iter()
        .filter(|d| d.status == DealStatus::TransferWaiting)
        .collect();
    open.sort_by_key(|d| d.deadline_secs);
    let open = open.into_iter().map(card).collect();
    let disputed = deals
        .iter()
        .filter(|d| d.status == DealStatus::Disputed)
        .map(card)
        .collect();
    let ended: Vec<&Deal> = deals
        .iter()
        .filter(|d| matches!(d.status, DealStatus::Completed | DealStatus::Canceled))
        .take(ENDED_SHOWN)
        .collect();
    let main = html! {
        (done.notice(lang))
        (section(words::OPEN_DEALS, "open-deals", words::NO_OPEN_DEALS, lang, open))
        (section(words::DISPUTES, "disputes", words::NO_DISPUTES, lang, disputed))
        @if !ended.is_empty() {
            h2 { (lang.t(words::RECENT_DEALS)) }
            div.card { div.scroll { table #ended-deals {
                thead { tr { th { (lang.t(words::AMOUNT)) } th { (lang.t(words::STATUS)) } th.hide-sm { (lang.t(words::ENDED)) } } }
                tbody { @for d in ended { tr data-id=(d.id) {
                    td { a href={ "/trader/deals/" (d.id) } { (amount(d, &currencies)) } }
                    td { (status_badge(d.status)) }
                    td.hide-sm { (d.ended_at_secs.map(time).unwrap_or_default()) }
                } } }
            } } }
        }
    };
    Ok(watched_page(&app, &user, Page::Deals, main))
}

/// One deal of the trader's; another trader's is not found.
pub async fn show(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let deal = match app.engine.deal(id).await {
        Ok(d) if user.actor().reaches(&d.trader_id) => d,
        Ok(_) | Err(EngineError::NotFound) => {
            return Err(WebError::new(StatusCode::NOT_FOUND, lang).into())
        }
        Err(e) => return Err(WebError::from_engine(&e, lang).into()),
    };
    let currencies = currencies(&app, &user).await?;
    let now = app.engine.now_secs();
    let main = html! {
        p { a #back href="/trader/deals" { (lang.t(words::BACK_TO_DEALS)) } }
        (deal_card(&app, &user, &deal, &currencies, now))
        div.card { dl {
            dt { (lang.t(words::STATUS)) } dd #status { (deal.status.as_str()) }
            dt { (lang.t(words::CABINET)) } dd { (deal.cabinet_id) }
            dt { (lang.t(words::CREATED)) } dd { (time(deal.created_at_secs)) }
            dt { (lang.t(words::DEADLINE)) } dd { (time(deal.deadline_secs)) }
        } }
        @if deal.status == DealStatus::Disputed || deal.customer_reason.is_some() {
            div.card #evidence { (receipts(lang, &deal, &app.engine.evidence_links())) }
        }
    };
    Ok(panel_page(&app, &user, Page::Deals, main))
}

#[derive(Deserialize)]
pub struct Empty {}

/// The money arrived: the deal completes and the invoice is paid.
pub async fn confirm(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let Empty {} = action_form(&app, &user, body).await?;
    let result = app.engine.confirm_deal(user.actor(), id).await;
    after(result, lang, "/trader/deals", "confirmed", words::CHANGED)
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    outcome: String,
}

/// Ends a dispute: completed (the money arrived) or canceled.
pub async fn resolve(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let f: ResolveForm = action_form(&app, &user, body).await?;
    let complete = match f.outcome.as_str() {
        "completed" => true,
        "canceled" => false,
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, lang).into()),
    };
    let result = app.engine.resolve_dispute(user.actor(), id, complete).await;
    after(result, lang, "/trader/deals", "resolved", words::CHANGED)
}
