//! Payouts: those offered to the trader (masked, to take or decline),
//! those it took (the requisites in full, only to it, with the receipt
//! form), and those it finished.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::payout::{Payout, PayoutStatus};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::deals::Empty;
use super::PanelError;
use super::{
    action_form, after, csrf_field, panel_page, path_id, time_left, words, ActionError, Done, Page,
    TraderUser,
};
use crate::trader::payouts::{may_decline, offered_to, own};
use crate::web::format::{money, time};
use crate::web::WebError;
use crate::AppState;

/// Finished payouts shown under the others.
const FINISHED_SHOWN: usize = 20;

/// The payout's fields (card number, holder, bank, ...) as a list.
fn fields(value: &Value) -> Markup {
    html! {
        @if let Some(map) = value.as_object() {
            @for (k, v) in map {
                dt { (k) }
                dd data-field=(k) { @match v.as_str() { Some(s) => (s), None => (v.to_string()) } }
            }
        }
    }
}

fn card(app: &AppState, user: &TraderUser, p: &Payout, shown: &Value, now_secs: i64) -> Markup {
    let lang = user.lang;
    let action = |what: &str| format!("/trader/payouts/{}/{what}", p.id);
    html! {
        div.card.payout data-id=(p.id) data-status=(p.status.as_str()) {
            @if p.status == PayoutStatus::InProgress { p.muted { (lang.t(words::PAY_TO)) } }
            h2.amount { (money(p.amount_minor, p.currency)) }
            dl {
                dt { (lang.t(words::METHOD)) } dd { (p.method) }
                (fields(shown))
                @match p.status {
                    PayoutStatus::Pending | PayoutStatus::InProgress => {
                        dt { (lang.t(words::TIME_LEFT)) }
                        dd.time-left { (time_left(now_secs, p.deadline_secs).unwrap_or_else(|| lang.t(words::RAN_OUT).to_string())) }
                    }
                    _ => {
                        dt { (lang.t(words::STATUS)) } dd { span class=(if p.status == PayoutStatus::Success { "badge ok" } else { "badge bad" }) { (p.status.as_str()) } }
                        @if let Some(r) = &p.receipt { dt { (lang.t(words::RECEIPT)) } dd.receipt { (r) } }
                        @if let Some(r) = &p.reason { dt { (lang.t(words::REASON)) } dd { (r) } }
                        dt { (lang.t(words::ENDED)) } dd { (time(p.updated_at_secs)) }
                    }
                }
            }
            @match p.status {
                PayoutStatus::Pending => {
                    div.filters {
                        form method="post" action=(action("take")) {
                            (csrf_field(app, user))
                            button.btn.take type="submit" { (lang.t(words::TAKE)) }
                        }
                        form method="post" action=(action("decline")) {
                            (csrf_field(app, user))
                            button.btn.light.decline type="submit" { (lang.t(words::DECLINE)) }
                        }
                    }
                }
                PayoutStatus::InProgress => {
                    form.done-form method="post" action=(action("done")) {
                        (csrf_field(app, user))
                        div { label for={ "receipt-" (p.id) } { (lang.t(words::RECEIPT)) }
                            input.receipt id={ "receipt-" (p.id) } type="text" name="receipt" maxlength="255" required; }
                        p { button.btn.done type="submit" { (lang.t(words::DONE)) } }
                    }
                    form method="post" action=(action("decline")) {
                        (csrf_field(app, user))
                        button.btn.light.decline type="submit" { (lang.t(words::DECLINE)) }
                    }
                }
                _ => {}
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
    let err = |e: kassa_engine::EngineError| WebError::from_engine(&e, lang);
    let offered = offered_to(&app.engine, &user.trader).await.map_err(err)?;
    let mine = app
        .engine
        .trader_payouts(user.trader.id.clone())
        .await
        .map_err(err)?;
    let now = app.engine.now_secs();
    let paying: Vec<&Payout> = mine
        .iter()
        .filter(|p| p.status == PayoutStatus::InProgress)
        .collect();
    let finished: Vec<&Payout> = mine
        .iter()
        .filter(|p| p.status != PayoutStatus::InProgress)
        .take(FINISHED_SHOWN)
        .collect();
    // Only the trader paying a payout sees its fields in full.
    let own_card = |p: &Payout| card(&app, &user, p, &own(&app.engine, p).additional_fields, now);
    let main = html! {
        (done.notice(lang))
        h1 { (lang.t(words::IN_PROGRESS)) }
        div #paying {
            @if paying.is_empty() { p.card.muted.empty { (lang.t(words::NO_IN_PROGRESS)) } }
            @for p in &paying { (own_card(p)) }
        }
        h1 { (lang.t(words::OFFERED)) }
        div #offered {
            @if offered.is_empty() { p.card.muted.empty { (lang.t(words::NO_OFFERED)) } }
            @for p in &offered { (card(&app, &user, p, &p.fields_masked, now)) }
        }
        @if !finished.is_empty() {
            h2 { (lang.t(words::FINISHED_PAYOUTS)) }
            div #finished { @for p in &finished { (own_card(p)) } }
        }
    };
    Ok(panel_page(&app, &user, Page::Payouts, main))
}

/// The payout is this trader's to pay.
pub async fn take(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let Empty {} = action_form(&app, &user, body).await?;
    let result = app.engine.take_payout(user.trader.id.clone(), id).await;
    after(result, lang, "/trader/payouts", "taken", words::CHANGED)
}

#[derive(Deserialize)]
pub struct ReceiptForm {
    #[serde(default)]
    receipt: String,
}

/// Paid, with the transfer's receipt.
pub async fn done(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let f: ReceiptForm = action_form(&app, &user, body).await?;
    let result = app
        .engine
        .complete_payout(user.trader.id.clone(), id, f.receipt)
        .await;
    after(result, lang, "/trader/payouts", "paid", words::BAD_RECEIPT)
}

/// The trader will not pay it: it goes back to the other traders.
pub async fn decline(
    State(app): State<AppState>,
    user: TraderUser,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ActionError> {
    let lang = user.lang;
    let id = path_id(&id, lang)?;
    let Empty {} = action_form(&app, &user, body).await?;
    let reach = may_decline(&app.engine, &user.trader, &id)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    if !reach {
        return Err(WebError::new(StatusCode::NOT_FOUND, lang).into());
    }
    let result = app.engine.decline_payout(user.trader.id.clone(), id).await;
    after(result, lang, "/trader/payouts", "declined", words::CHANGED)
}
