//! Payouts no trader has taken yet, oldest first, with their deadlines.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::{console_page, mode_badge, words, ConsoleUser, Done, Page};
use crate::web::format::{money, time};
use crate::web::WebError;
use crate::AppState;

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let payouts = app
        .engine
        .waiting_payouts()
        .await
        .map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::PAYOUTS)) }
            div.scroll { table #payouts {
                thead { tr { th { (lang.t(words::ID)) } th { (lang.t(words::AMOUNT)) } th { (lang.t(words::METHOD)) }
                    th { (lang.t(words::MERCHANT)) } th { (lang.t(words::CREATED)) } th { (lang.t(words::DEADLINE_PAYOUT)) } } }
                tbody {
                    @for p in &payouts {
                        tr id={ "payout-" (p.id) } {
                            td { (p.id) " " (mode_badge(lang, p.test_mode)) }
                            td { (money(p.amount_minor, p.currency)) }
                            td { (p.method) }
                            td { a href={ "/console/merchants/" (p.merchant_id) } { (p.merchant_id) } }
                            td { (time(p.created_at_secs)) }
                            td { (time(p.deadline_secs)) }
                        }
                    }
                }
            } }
            @if payouts.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Payouts, &d, main))
}
