//! The invoices of one mode: searched by id or reference, status, creation
//! date, currency and amount; newest first, a page at a time.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kassa_domain::money::parse_minor;
use kassa_domain::{Currency, Invoice, InvoiceStatus};
use kassa_engine::report::{day_start_secs, parse_report_date};
use kassa_store::InvoiceSearch;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::{mode_of, top_bar, words, Mode, PortalUser};
use crate::web::{page, Lang, WebError};
use crate::AppState;

const PER_PAGE: usize = 25;

pub use crate::web::format::{money, time};

/// A status as a badge: green when paid, red when it failed or ended unpaid.
pub fn status_badge(status: InvoiceStatus) -> Markup {
    use InvoiceStatus::*;
    let class = match status {
        Processed | PartiallyProcessed | Refunded | PartiallyRefunded => "badge ok",
        ProcessFailed | Expired | Terminated | RefundFailed => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (status.as_str()) } }
}

/// The filters as sent: text, so that a bad one is shown back as typed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    q: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    from: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    to: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    currency: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    amount: String,
    #[serde(default, skip_serializing)]
    page: Option<String>,
}

impl Filters {
    /// The search they describe, or what is wrong with them.
    fn search(&self, lang: Lang) -> Result<InvoiceSearch, Vec<String>> {
        let mut problems = Vec::new();
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let status = text(&self.status);
        if let Some(s) = &status {
            if !InvoiceStatus::ALL.iter().any(|k| k.as_str() == s) {
                problems.push(format!("{}: {s}", lang.t(words::STATUS)));
            }
        }
        let mut day = |s: &str, label, end: bool| -> Option<i64> {
            let s = text(s)?;
            match parse_report_date(&s) {
                Some(d) => Some(day_start_secs(d) + if end { 86_400 } else { 0 }),
                None => {
                    problems.push(format!("{}: {s}", lang.t(label)));
                    None
                }
            }
        };
        let from_secs = day(&self.from, words::FROM, false);
        let to_secs = day(&self.to, words::TO, true);
        let currency = match text(&self.currency) {
            None => None,
            Some(c) => match Currency::from_code(&c.to_uppercase()) {
                Some(c) => Some(c),
                None => {
                    problems.push(format!("{}: {c}", lang.t(words::CURRENCY)));
                    None
                }
            },
        };
        let amount_minor = match (text(&self.amount), currency) {
            (None, _) => None,
            (Some(a), Some(c)) => match parse_minor(&a, c.exponent()) {
                Ok(m) => Some(m),
                Err(_) => {
                    problems.push(format!("{}: {a}", lang.t(words::AMOUNT)));
                    None
                }
            },
            (Some(a), None) => {
                problems.push(format!(
                    "{}: {a} ({} ?)",
                    lang.t(words::AMOUNT),
                    lang.t(words::CURRENCY)
                ));
                None
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(InvoiceSearch {
            id_or_reference: text(&self.q),
            status,
            from_secs,
            to_secs,
            currency: currency.map(|c| c.code().to_string()),
            amount_minor,
        })
    }

    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| (1..=10_000).contains(p))
            .unwrap_or(1)
    }

    fn link(&self, mode: Mode, page: usize) -> String {
        let mut query = serde_urlencoded::to_string(self).unwrap_or_default();
        if page > 1 {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("page={page}"));
        }
        format!("/portal/{}/invoices?{query}", mode.as_str())
    }
}

fn filter_form(f: &Filters, mode: Mode, lang: Lang) -> Markup {
    html! {
        form.card.filters #filters method="get" action={ "/portal/" (mode.as_str()) "/invoices" } {
            div { label for="q" { (lang.t(words::ID_OR_REFERENCE)) } input #q name="q" value=(f.q); }
            div { label for="status" { (lang.t(words::STATUS)) }
                select #status name="status" {
                    option value="" { (lang.t(words::ANY)) }
                    @for s in InvoiceStatus::ALL {
                        option value=(s.as_str()) selected[f.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            div { label for="from" { (lang.t(words::FROM)) } input #from type="date" name="from" value=(f.from); }
            div { label for="to" { (lang.t(words::TO)) } input #to type="date" name="to" value=(f.to); }
            div { label for="currency" { (lang.t(words::CURRENCY)) }
                select #currency name="currency" {
                    option value="" { (lang.t(words::ANY)) }
                    @for c in Currency::all() {
                        option value=(c.code()) selected[f.currency.eq_ignore_ascii_case(c.code())] { (c.code()) }
                    }
                }
            }
            div { label for="amount" { (lang.t(words::AMOUNT)) } input #amount name="amount" inputmode="decimal" value=(f.amount); }
            div { button.btn #search type="submit" { (lang.t(words::SEARCH)) } " "
                a.btn.light href={ "/portal/" (mode.as_str()) "/invoices" } { (lang.t(words::RESET)) } }
        }
    }
}

fn table(invoices: &[Invoice], mode: Mode, lang: Lang) -> Markup {
    html! {
        div.scroll { table #invoices {
            thead { tr {
                th { (lang.t(words::CREATED)) }
                th { "ID" }
                th.hide-sm { (lang.t(words::REFERENCE)) }
                th { (lang.t(words::AMOUNT)) }
                th { (lang.t(words::STATUS)) }
                th.hide-sm { (lang.t(words::SERVICE)) }
            } }
            tbody {
                @for i in invoices {
                    tr data-id=(i.id) {
                        td { (time(i.created_at_secs)) }
                        td { a href={ "/portal/" (mode.as_str()) "/invoices/" (i.id) } { (i.id) } }
                        td.hide-sm { (i.reference_id) }
                        td { (money(i.amount_minor, i.currency)) }
                        td { (status_badge(i.status)) }
                        td.hide-sm { (i.service) }
                    }
                }
            }
        } }
    }
}

pub async fn list(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let page_no = filters.page();
    let (status, body) = match filters.search(lang) {
        Err(problems) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! { div.error #problem { (lang.t(words::BAD_FILTER)) ul { @for p in problems { li { (p) } } } } },
        ),
        Ok(search) => {
            let (found, more) = app
                .engine
                .search_invoices(
                    user.merchant_id(),
                    mode.is_test(),
                    search,
                    (page_no - 1) * PER_PAGE,
                    PER_PAGE,
                )
                .await
                .map_err(|e| WebError::from_engine(&e, lang))?;
            let body = html! {
                div.card {
                    @if found.is_empty() { p #empty { (lang.t(words::NONE_FOUND)) } }
                    @else { (table(&found, mode, lang)) }
                    div.pager {
                        @if page_no > 1 { a.btn.light #newer href=(filters.link(mode, page_no - 1)) { (lang.t(words::NEWER)) } }
                        @if more { a.btn.light #older href=(filters.link(mode, page_no + 1)) { (lang.t(words::OLDER)) } }
                    }
                }
            };
            (StatusCode::OK, body)
        }
    };
    let markup = page(
        lang,
        lang.t(words::INVOICES),
        top_bar(&app, &user, mode, super::Page::Invoices),
        html! {
            h1 { (lang.t(words::INVOICES)) }
            @if mode.is_test() { p.notice { (lang.t(words::TEST_NOTE)) } }
            (filter_form(&filters, mode, lang))
            (body)
        },
    );
    Ok((status, Html(markup.into_string())).into_response())
}
