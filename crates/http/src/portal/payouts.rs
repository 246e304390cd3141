//! The payouts of one mode, newest first, a page at a time, with their
//! fields masked as the APIs mask them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kassa_domain::payout::PayoutStatus;
use maud::html;
use serde::Deserialize;

use super::invoices::{money, time};
use super::{mode_of, top_bar, words, Page, PortalUser};
use crate::web::{page, WebError};
use crate::AppState;

const PER_PAGE: usize = 25;
const STATUSES: [PayoutStatus; 4] = [
    PayoutStatus::Pending,
    PayoutStatus::InProgress,
    PayoutStatus::Success,
    PayoutStatus::Failed,
];

#[derive(Deserialize)]
pub struct PayoutQuery {
    #[serde(default)]
    status: String,
    page: Option<String>,
}

/// `card_number: 411111******1111, holder: ...`: the masked fields as text.
fn fields(value: &serde_json::Value) -> String {
    match value.as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => format!("{k}: {s}"),
                None => format!("{k}: {v}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => String::new(),
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    Query(q): Query<PayoutQuery>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let status = Some(q.status.trim()).filter(|s| !s.is_empty());
    if status.is_some_and(|s| !STATUSES.iter().any(|k| k.as_str() == s)) {
        return Err(WebError::new(StatusCode::UNPROCESSABLE_ENTITY, lang));
    }
    let page_no = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    let (found, more) = app
        .engine
        .merchant_payouts(
            user.merchant_id(),
            mode.is_test(),
            status.map(str::to_string),
            (page_no - 1) * PER_PAGE,
            PER_PAGE,
        )
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let link = |n: usize| {
        format!(
            "/portal/{}/payouts?{}",
            mode.as_str(),
            serde_urlencoded::to_string([
                ("status", status.unwrap_or("")),
                ("page", &n.to_string())
            ])
            .unwrap_or_default()
        )
    };
    let markup = page(
        lang,
        lang.t(words::PAYOUTS),
        top_bar(&app, &user, mode, Page::Payouts),
        html! {
            h1 { (lang.t(words::PAYOUTS)) }
            @if mode.is_test() { p.notice { (lang.t(words::TEST_NOTE)) } }
            form.card.filters method="get" action={ "/portal/" (mode.as_str()) "/payouts" } {
                div { label for="status" { (lang.t(words::STATUS)) }
                    select #status name="status" {
                        option value="" { (lang.t(words::ANY)) }
                        @for s in STATUSES { option value=(s.as_str()) selected[status == Some(s.as_str())] { (s.as_str()) } }
                    }
                }
                div { button.btn #search type="submit" { (lang.t(words::SEARCH)) } }
            }
            div.card {
                @if found.is_empty() { p #empty { (lang.t(words::NO_PAYOUTS)) } }
                @else { div.scroll { table #payouts {
                    thead { tr {
                        th { (lang.t(words::CREATED)) } th { "ID" } th.hide-sm { (lang.t(words::REFERENCE)) }
                        th { (lang.t(words::AMOUNT)) } th.hide-sm { (lang.t(words::FEE)) } th.hide-sm { (lang.t(words::METHOD)) }
                        th.hide-sm { (lang.t(words::REQUISITE)) } th { (lang.t(words::STATUS)) }
                    } }
                    tbody { @for p in &found { tr data-id=(p.id) {
                        td { (time(p.created_at_secs)) }
                        td { (p.id) }
                        td.hide-sm { (p.request_id) }
                        td { (money(p.amount_minor, p.currency)) }
                        td.hide-sm { (money(p.fee_minor, p.currency)) }
                        td.hide-sm { (p.method) }
                        td.hide-sm.fields { (fields(&p.fields_masked)) }
                        td { span.badge { (p.status.as_str()) } @if let Some(r) = &p.reason { " " span.muted { (r) } } }
                    } } }
                } } }
                div.pager {
                    @if page_no > 1 { a.btn.light #newer href=(link(page_no - 1)) { (lang.t(words::NEWER)) } }
                    @if more { a.btn.light #older href=(link(page_no + 1)) { (lang.t(words::OLDER)) } }
                }
            }
        },
    );
    Ok((StatusCode::OK, Html(markup.into_string())).into_response())
}
