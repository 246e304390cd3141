//! What the trader's bank said: the notifications forwarded through the API
//! and the SMS and pushes its phones forwarded, each marked matched (it
//! completed a deal) or unmatched (kept for a person to look at).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

use super::{panel_page, words, Page, PanelError, TraderUser};
use crate::web::format::{money, time};
use crate::web::{Lang, WebError};
use crate::AppState;

#[derive(Deserialize)]
pub struct BankQuery {
    #[serde(default)]
    unmatched: String,
}

fn matched_badge(deal_id: Option<&str>, lang: Lang) -> Markup {
    html! {
        @match deal_id {
            Some(d) => { span.badge.ok.matched { (lang.t(words::MATCHED)) } " " a.muted href={ "/trader/deals/" (d) } { (d) } }
            None => span.badge.bad.unmatched { (lang.t(words::UNMATCHED)) },
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: TraderUser,
    Query(q): Query<BankQuery>,
) -> Result<Response, PanelError> {
    let lang = user.lang;
    let unmatched = !q.unmatched.is_empty() && q.unmatched != "0";
    let err = |e: kassa_engine::EngineError| WebError::from_engine(&e, lang);
    let currencies: HashMap<String, _> = app
        .engine
        .trader_cabinets(user.trader.id.clone())
        .await
        .map_err(err)?
        .into_iter()
        .map(|c| (c.id, c.currency))
        .collect();
    let notifications = app
        .engine
        .notifications(user.actor(), unmatched)
        .await
        .map_err(err)?;
    let mut messages = app
        .engine
        .bank_messages(user.actor(), None)
        .await
        .map_err(err)?;
    if unmatched {
        messages.retain(|m| m.deal_id.is_none());
    }
    let main = html! {
        div.filters {
            a #all href="/trader/bank" class=(if unmatched { "btn light" } else { "btn" }) { (lang.t(words::ALL)) }
            a #only-unmatched href="/trader/bank?unmatched=1" class=(if unmatched { "btn" } else { "btn light" }) { (lang.t(words::ONLY_UNMATCHED)) }
        }
        h1 { (lang.t(words::NOTIFICATIONS)) }
        div #notifications {
            @if notifications.is_empty() { p.card.muted.empty { (lang.t(words::NO_NOTIFICATIONS)) } }
            @for n in &notifications {
                div.card.notification data-id=(n.id) {
                    h2 {
                        @match currencies.get(&n.cabinet_id) { Some(c) => (money(n.amount_minor, *c)), None => (n.amount_minor) }
                        " " (matched_badge(n.deal_id.as_deref(), lang))
                    }
                    dl {
                        dt { (lang.t(words::CABINET)) } dd { (n.cabinet_id) }
                        @if let Some(t) = &n.text { dt { "Text" } dd { (t) } }
                        dt { (lang.t(words::RECEIVED)) } dd { (time(n.received_at_secs.unwrap_or(n.created_at_secs))) }
                        dt { "ID" } dd.muted { (n.external_id) }
                    }
                }
            }
        }
        h1 { (lang.t(words::MESSAGES)) }
        div #messages {
            @if messages.is_empty() { p.card.muted.empty { (lang.t(words::NO_MESSAGES)) } }
            @for m in &messages {
                div.card.message data-id=(m.id) data-kind=(m.reading.kind.as_str()) {
                    h2 {
                        span.badge { (m.reading.kind.as_str()) } " "
                        @if let (Some(a), Some(c)) = (m.reading.amount_minor, m.reading.currency) { (money(a, c)) " " }
                        (matched_badge(m.deal_id.as_deref(), lang))
                    }
                    p.text { (m.text) }
                    dl {
                        dt { (lang.t(words::FROM)) } dd { (m.sender) }
                        dt { (lang.t(words::RECEIVED)) } dd { (time(m.received_at_secs)) }
                        @if let Some(c) = &m.cabinet_id { dt { (lang.t(words::CABINET)) } dd { (c) } }
                    }
                }
            }
        }
    };
    Ok(panel_page(&app, &user, Page::Bank, main))
}
