//! The merchant's books of one mode: balances per currency, and the daily
//! report of a chosen UTC day shown and downloadable as CSV (the engine's
//! report, the same numbers as `kassa report daily`).

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use kassa_engine::report::{parse_report_date, DailyReport};
use maud::{html, Markup};
use serde::Deserialize;

use super::invoices::{money, time};
use super::{mode_of, top_bar, words, PortalUser};
use crate::web::{page, Lang, WebError};
use crate::AppState;

#[derive(Deserialize)]
pub struct DateQuery {
    date: Option<String>,
}

/// The day asked for (today, UTC, when none), or a 422 page's reason.
fn day(app: &AppState, q: &DateQuery) -> Result<NaiveDate, String> {
    match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(chrono::DateTime::from_timestamp(app.engine.now_secs(), 0)
            .unwrap_or_default()
            .date_naive()),
        Some(d) => parse_report_date(d).ok_or_else(|| d.to_string()),
    }
}

fn report_table(r: &DailyReport, lang: Lang) -> Markup {
    html! {
        div.scroll { table #report {
            thead { tr {
                th { (lang.t(words::CREATED)) } th { (lang.t(words::KIND)) } th.hide-sm { (lang.t(words::REFERENCE)) }
                th { (lang.t(words::AVAILABLE)) } th.hide-sm { (lang.t(words::PENDING_PAYOUTS)) } th.hide-sm { (lang.t(words::RESERVE)) }
                th { (lang.t(words::FEE)) }
            } }
            tbody {
                @for l in &r.lines {
                    tr data-kind=(l.kind.as_str()) {
                        td { (time(l.at_secs)) }
                        td { (l.kind.as_str()) }
                        td.hide-sm { (l.reference) }
                        td { (money(l.available_minor, l.currency)) }
                        td.hide-sm { (money(l.pending_payouts_minor, l.currency)) }
                        td.hide-sm { (money(l.reserve_minor, l.currency)) }
                        td { (l.fee_minor.map(|f| money(f, l.currency)).unwrap_or_default()) }
                    }
                }
            }
        } }
    }
}

pub async fn show(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    Query(q): Query<DateQuery>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let err = |e: kassa_engine::EngineError| WebError::from_engine(&e, lang);
    let balances = app
        .engine
        .balances(user.merchant_id(), mode.is_test())
        .await
        .map_err(err)?;
    let (status, report) = match day(&app, &q) {
        Ok(date) => {
            let r = app
                .engine
                .daily_report_lines(user.merchant_id(), mode.is_test(), date)
                .await
                .map_err(err)?;
            (StatusCode::OK, Ok((date, r)))
        }
        Err(bad) => (StatusCode::UNPROCESSABLE_ENTITY, Err(bad)),
    };
    let shown = report
        .as_ref()
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let markup = page(
        lang,
        lang.t(words::BALANCES),
        top_bar(&app, &user, mode, Page::Books),
        html! {
            h1 { (lang.t(words::BALANCES)) }
            @if mode.is_test() { p.notice { (lang.t(words::TEST_NOTE)) } }
            div.card {
                @if balances.is_empty() { p.muted #no-balances { (lang.t(words::NO_BALANCES)) } }
                @else { div.scroll { table #balances {
                    thead { tr { th { (lang.t(words::CURRENCY)) } th { (lang.t(words::AVAILABLE)) } th { (lang.t(words::PENDING_PAYOUTS)) } th { (lang.t(words::RESERVE)) } } }
                    tbody { @for b in &balances { tr data-currency=(b.currency.code()) {
                        td { (b.currency.code()) }
                        td.available { (money(b.available_minor, b.currency)) }
                        td { (money(b.pending_payouts_minor, b.currency)) }
                        td { (money(b.reserve_minor, b.currency)) }
                    } } }
                } } }
            }
            h2 { (lang.t(words::DAILY_REPORT)) }
            form.card.filters #report-form method="get" action={ "/portal/" (mode.as_str()) "/books" } {
                div { label for="date" { (lang.t(words::DATE)) } input #date type="date" name="date" value=(shown); }
                div { button.btn #show-report type="submit" { (lang.t(words::SHOW)) } }
                @if let Ok((date, _)) = &report {
                    div { a.btn.light #download href={ "/portal/" (mode.as_str()) "/books/report.csv?date=" (date) } download { (lang.t(words::DOWNLOAD_CSV)) } }
                }
            }
            div.card {
                @match &report {
                    Ok((_, r)) => (report_table(r, lang)),
                    Err(bad) => p.error #problem { (lang.t(words::DATE)) ": " (bad) },
                }
            }
        },
    );
    Ok((status, Html(markup.into_string())).into_response())
}

/// The day's report as a CSV file, byte for byte what `kassa report daily` writes.
pub async fn csv(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    Query(q): Query<DateQuery>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let date = day(&app, &q).map_err(|_| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, lang))?;
    let text = app
        .engine
        .daily_report(user.merchant_id(), mode.is_test(), date)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let name = format!("kassa-{}-{}-{date}.csv", user.merchant_id(), mode.as_str());
    let mut response = text.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Which page of the top bar is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Invoices,
    Payouts,
    Books,
    Developers,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::Invoices => "invoices",
            Page::Payouts => "payouts",
            Page::Books => "books",
            Page::Developers => "developers",
        }
    }
}
