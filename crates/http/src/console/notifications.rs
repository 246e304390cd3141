//! Bank notifications no deal matched, each with a form that settles an
//! open deal of its trader with it by hand: the engine refuses when the deal
//! is not open, or the amounts differ and the operator has not confirmed
//! that the deal's amount was received.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kassa_domain::bank_message::mask_card_numbers;
use kassa_domain::p2p::mask_card;
use kassa_domain::{Actor, BankNotification, Deal, DealStatus};
use maud::{html, Markup};
use serde::Deserialize;

use super::directory::Directory;
use super::{console_page, csrf_field, done, words, ConsoleAdmin, ConsoleUser, Done, Page};
use crate::web::format::time;
use crate::web::WebError;
use crate::AppState;

fn match_form(
    app: &AppState,
    user: &ConsoleUser,
    dir: &Directory,
    n: &BankNotification,
    open: &[Deal],
) -> Markup {
    let lang = user.lang;
    let theirs: Vec<&Deal> = open.iter().filter(|d| d.trader_id == n.trader_id).collect();
    html! {
        @if theirs.is_empty() {
            span.muted { (lang.t(words::NO_OPEN_DEAL)) }
        } @else {
            form.match method="post" action={ "/console/notifications/" (n.id) "/match" } {
                (csrf_field(app, user))
                label for={ "deal-for-" (n.id) } { (lang.t(words::DEAL)) }
                select id={ "deal-for-" (n.id) } name="deal" {
                    @for d in &theirs {
                        // The deal on the notification's cabinet of the same amount first.
                        option value=(d.id) selected[d.cabinet_id == n.cabinet_id && d.amount_minor == n.amount_minor] {
                            (dir.money(&d.cabinet_id, d.amount_minor)) " · " (d.bank_name) " " (mask_card(&d.requisite)) " · " (d.id)
                        }
                    }
                }
                label { input type="checkbox" name="confirm_amount" value="yes"; " " (lang.t(words::CONFIRM_AMOUNT)) }
                button.btn type="submit" { (lang.t(words::MATCH)) }
            }
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let err = |e: kassa_engine::EngineError| user.error(&e);
    let dir = Directory::load(&app.engine).await.map_err(err)?;
    let unmatched = app
        .engine
        .notifications(Actor::Operator, true)
        .await
        .map_err(err)?;
    let open = app
        .engine
        .all_deals(Some(DealStatus::TransferWaiting), None)
        .await
        .map_err(err)?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::NOTIFICATIONS)) }
            div.scroll { table #notifications {
                thead { tr { th { (lang.t(words::RECEIVED)) } th { (lang.t(words::AMOUNT)) } th { (lang.t(words::TRADER)) }
                    th { (lang.t(words::REQUISITE)) } th { (lang.t(words::TEXT)) } th { (lang.t(words::DEAL)) } } }
                tbody {
                    @for n in &unmatched {
                        tr id={ "notification-" (n.id) } {
                            td { (time(n.received_at_secs.unwrap_or(n.created_at_secs))) }
                            td.amount { (dir.money(&n.cabinet_id, n.amount_minor)) }
                            td { (dir.trader_name(&n.trader_id)) }
                            td { @if let Some(c) = dir.cabinet(&n.cabinet_id) { (c.bank_name) " " (c.masked_requisite()) } }
                            td { (mask_card_numbers(n.text.as_deref().unwrap_or(""))) }
                            td { (match_form(&app, &user, &dir, n, &open)) }
                        }
                    }
                }
            } }
            @if unmatched.is_empty() { p.muted #no-notifications { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Notifications, &d, main))
}

#[derive(Deserialize)]
pub struct MatchForm {
    #[serde(default)]
    deal: String,
    confirm_amount: Option<String>,
}

pub async fn match_deal(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let f: MatchForm = user.form(&app, body).await?;
    let confirmed = f.confirm_amount.as_deref() == Some("yes");
    app.engine
        .match_notification(user.id(), id, f.deal, confirmed)
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done("/console/notifications", "matched"))
}
