//! Deals over every trader, filtered by status and trader; the disputed
//! ones with the buttons that resolve them (the money arrived, or not).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::p2p::mask_card;
use kassa_domain::{Deal, DealStatus};
use maud::{html, Markup};
use serde::Deserialize;

use super::directory::Directory;
use super::{
    console_page, csrf_field, done, mode_badge, words, ConsoleAdmin, ConsoleUser, Done, Page,
};
use crate::web::evidence::receipts;
use crate::web::format::time;
use crate::web::{Lang, WebError};
use crate::AppState;

const STATUSES: [DealStatus; 4] = [
    DealStatus::TransferWaiting,
    DealStatus::Disputed,
    DealStatus::Completed,
    DealStatus::Canceled,
];

fn parse_status(text: &str) -> Option<DealStatus> {
    STATUSES.into_iter().find(|s| s.as_str() == text)
}

fn status_badge(status: DealStatus) -> Markup {
    let class = match status {
        DealStatus::Completed => "badge ok",
        DealStatus::Canceled => "badge bad",
        DealStatus::Disputed => "badge test",
        DealStatus::TransferWaiting => "badge",
    };
    html! { span class=(class) { (status.as_str()) } }
}

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    trader: String,
    done: Option<String>,
}

/// The deals as a table; `resolve` adds the buttons of a disputed deal.
fn table(
    app: &AppState,
    user: &ConsoleUser,
    dir: &Directory,
    deals: &[Deal],
    resolve: bool,
) -> Markup {
    let lang = user.lang;
    let links = app.engine.evidence_links();
    html! {
        div.scroll { table #deals {
            thead { tr { th { (lang.t(words::DEAL)) } th { (lang.t(words::STATUS)) } th { (lang.t(words::AMOUNT)) }
                th { (lang.t(words::TRADER)) } th { (lang.t(words::REQUISITE)) } th { (lang.t(words::CREATED)) }
                th { (lang.t(if resolve { words::REASON } else { words::DEADLINE })) } th {} } }
            tbody {
                @for d in deals {
                    tr id={ "deal-" (d.id) } {
                        td { (d.id) br; span.muted { (lang.t(words::INVOICE)) " " (d.invoice_id) } }
                        td.status { (status_badge(d.status)) " " (mode_badge(lang, d.test_mode)) }
                        td.amount { (dir.money(&d.cabinet_id, d.amount_minor)) }
                        td { a href={ "/console/traders/" (d.trader_id) } { (dir.trader_name(&d.trader_id)) } }
                        td { (d.bank_name) " " (mask_card(&d.requisite)) }
                        td { (time(d.created_at_secs)) }
                        @if resolve {
                            td { (d.dispute_reason.as_deref().unwrap_or("—")) (receipts(lang, d, &links)) }
                            td { (resolve_buttons(app, user, d)) }
                        } @else {
                            td { (time(d.deadline_secs)) }
                            td { @if d.status.is_open() { (confirm_button(app, user, d)) } }
                        }
                    }
                }
            }
        } }
        @if deals.is_empty() { p.muted #no-deals { (lang.t(words::NONE)) } }
    }
}

fn confirm_button(app: &AppState, user: &ConsoleUser, d: &Deal) -> Markup {
    html! {
        form method="post" action={ "/console/deals/" (d.id) "/confirm" } {
            (csrf_field(app, user))
            button.btn.confirm type="submit" { (user.lang.t(words::CONFIRM)) }
        }
    }
}

fn resolve_buttons(app: &AppState, user: &ConsoleUser, d: &Deal) -> Markup {
    let lang = user.lang;
    let action = format!("/console/deals/{}/resolve", d.id);
    html! {
        form method="post" action=(action) {
            (csrf_field(app, user))
            input type="hidden" name="outcome" value="completed";
            button.btn.complete type="submit" { (lang.t(words::COMPLETED)) }
        }
        form method="post" action=(action) {
            (csrf_field(app, user))
            input type="hidden" name="outcome" value="canceled";
            button.btn.light.cancel type="submit" { (lang.t(words::CANCELED)) }
        }
    }
}

fn filters(lang: Lang, dir: &Directory, f: &Filters) -> Markup {
    html! {
        form.filters method="get" action="/console/deals" {
            div { label for="status" { (lang.t(words::STATUS)) }
                select #status name="status" {
                    option value="" { (lang.t(words::ANY)) }
                    option value="open" selected[f.status == "open"] { "open" }
                    @for s in STATUSES {
                        option value=(s.as_str()) selected[f.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            div { label for="trader" { (lang.t(words::TRADER)) }
                select #trader name="trader" {
                    option value="" { (lang.t(words::ANY)) }
                    @for t in &dir.traders {
                        option value=(t.id) selected[f.trader == t.id] { (t.name) }
                    }
                }
            }
            div { button.btn #show type="submit" { (lang.t(words::SHOW)) } }
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(f): Query<Filters>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let bad = || user.refuse(StatusCode::BAD_REQUEST);
    let (status, open_only) = match f.status.as_str() {
        "" => (None, false),
        "open" => (None, true),
        s => (Some(parse_status(s).ok_or_else(bad)?), false),
    };
    let dir = Directory::load(&app.engine)
        .await
        .map_err(|e| user.error(&e))?;
    let trader = Some(f.trader.clone()).filter(|t| !t.is_empty());
    let mut deals = app
        .engine
        .all_deals(status, trader)
        .await
        .map_err(|e| user.error(&e))?;
    if open_only {
        deals.retain(|d| d.status.is_open());
    }
    let main = html! {
        div.card {
            h1 { (lang.t(words::DEALS)) }
            (filters(lang, &dir, &f))
        }
        div.card { (table(&app, &user, &dir, &deals, false)) }
    };
    let d = Done {
        done: f.done.clone(),
    };
    Ok(console_page(&app, &user, Page::Deals, &d, main))
}

pub async fn disputes(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let dir = Directory::load(&app.engine)
        .await
        .map_err(|e| user.error(&e))?;
    let deals = app
        .engine
        .all_deals(Some(DealStatus::Disputed), None)
        .await
        .map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::DISPUTES)) }
            (table(&app, &user, &dir, &deals, true))
        }
    };
    Ok(console_page(&app, &user, Page::Disputes, &d, main))
}

#[derive(Deserialize)]
pub struct NoFields {}

pub async fn confirm(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let NoFields {} = user.form(&app, body).await?;
    app.engine
        .console_confirm_deal(user.id(), id)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done("/console/deals?status=open", "confirmed"))
}

#[derive(Deserialize)]
pub struct ResolveForm {
    outcome: String,
}

pub async fn resolve(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let f: ResolveForm = user.form(&app, body).await?;
    let complete = match f.outcome.as_str() {
        "completed" => true,
        "canceled" => false,
        _ => return Err(user.refuse(StatusCode::BAD_REQUEST)),
    };
    app.engine
        .console_resolve_dispute(user.id(), id, complete)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done("/console/disputes", "resolved"))
}
