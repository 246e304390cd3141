//! The trader's balance: what the ledger holds between the platform and
//! the trader, per currency (pay-ins its cabinets received count against
//! it, payouts it made for it).

use axum::extract::State;
use axum::response::Response;
use maud::html;

use super::{panel_page, words, Page, PanelError, TraderUser};
use crate::web::format::money;
use crate::web::WebError;
use crate::AppState;

pub async fn show(State(app): State<AppState>, user: TraderUser) -> Result<Response, PanelError> {
    let lang = user.lang;
    let balances = app
        .engine
        .trader_settlement(&user.trader)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let main = html! {
        h1 { (lang.t(words::SETTLEMENT)) }
        div.card {
            p.muted { (lang.t(words::SETTLEMENT_NOTE)) }
            @if balances.is_empty() { p #no-balances { (lang.t(words::NO_SETTLEMENT)) } }
            @else { div.scroll { table #balances {
                thead { tr { th { (lang.t(words::CURRENCY)) } th { (lang.t(words::BALANCE)) } th {} } }
                tbody { @for (c, sum) in &balances { tr data-currency=(c.code()) data-minor=(sum) {
                    td { (c.code()) }
                    td.balance { (money(*sum, *c)) }
                    td.muted { @if *sum < 0 { (lang.t(words::YOU_HOLD)) } @else if *sum > 0 { (lang.t(words::OWED_TO_YOU)) } }
                } } }
            } } }
        }
    };
    Ok(panel_page(&app, &user, Page::Balances, main))
}
