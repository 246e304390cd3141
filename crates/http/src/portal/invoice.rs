//! One invoice: what it is, the timeline of its statuses, the deal that
//! carries it (requisites masked), its ledger postings and every callback
//! attempt, with a button that owes a new callback.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kassa_domain::p2p::mask_card;
use kassa_engine::portal::InvoiceDetails;
use kassa_engine::EngineError;
use maud::{html, Markup};
use serde::Deserialize;

use super::invoices::{money, status_badge, time};
use super::{mode_of, top_bar, words, Mode, PortalUser};
use crate::web::session::{read_form, CSRF_FIELD};
use crate::web::{page, Lang, WebError};
use crate::AppState;

#[derive(Deserialize)]
pub struct ShowQuery {
    /// What the last resend came to: `sent` or `no_url`.
    resend: Option<String>,
}

/// The events of an invoice, oldest first: its creation, each status a
/// callback announced, the deal's steps, and its processing.
fn timeline(d: &InvoiceDetails, lang: Lang) -> Vec<(i64, String)> {
    let i = &d.invoice;
    let mut events = vec![(
        i.created_at_secs,
        lang.t(words::INVOICE_CREATED).to_string(),
    )];
    for c in &d.callbacks {
        events.push((
            c.created_at_secs,
            format!("{}: {}", lang.t(words::OWED), c.transaction_status),
        ));
    }
    if let Some(deal) = &d.deal {
        events.push((
            deal.created_at_secs,
            format!("{}: {}", lang.t(words::DEAL), "created"),
        ));
        if let Some(t) = deal.customer_says_paid_at_secs {
            events.push((t, format!("{}: customer says paid", lang.t(words::DEAL))));
        }
        if let Some(t) = deal.ended_at_secs {
            events.push((
                t,
                format!("{}: {}", lang.t(words::DEAL), deal.status.as_str()),
            ));
        }
    }
    if let Some(t) = i.processed_at_secs {
        events.push((
            t,
            format!("{}: {}", lang.t(words::PROCESSED_AT), i.status.as_str()),
        ));
    }
    events.sort_by_key(|e| e.0);
    events
}

fn summary(d: &InvoiceDetails, lang: Lang) -> Markup {
    let i = &d.invoice;
    let c = i.currency;
    html! {
        dl #summary {
            dt { "ID" } dd #invoice-id { (i.id) }
            dt { (lang.t(words::REFERENCE)) } dd #reference { (i.reference_id) }
            dt { (lang.t(words::STATUS)) } dd #status { (status_badge(i.status)) }
            dt { (lang.t(words::RESOLUTION)) } dd { (i.resolution.as_str()) }
            dt { (lang.t(words::AMOUNT)) } dd #amount { (money(i.amount_minor, c)) }
            dt { (lang.t(words::FEE)) } dd #fee { (money(i.processed_fee_minor.unwrap_or(i.fee_minor), c)) }
            dt { (lang.t(words::DEPOSIT)) } dd { (money(i.processed_deposit_minor.unwrap_or(i.deposit_minor), c)) }
            @if let Some(p) = i.processed_amount_minor {
                dt { (lang.t(words::PROCESSED_AMOUNT)) } dd { (money(p, c)) }
            }
            dt { (lang.t(words::SERVICE)) } dd { (i.service) }
            @if let Some(text) = &i.description { dt { (lang.t(words::DESCRIPTION)) } dd { (text) } }
            dt { (lang.t(words::CREATED)) } dd { (time(i.created_at_secs)) }
            dt { (lang.t(words::EXPIRES)) } dd { (time(i.expires_at_secs)) }
            dt { (lang.t(words::CALLBACK_URL)) } dd { (i.callback_url.as_deref().unwrap_or("—")) }
        }
    }
}

fn deal(d: &InvoiceDetails, lang: Lang) -> Markup {
    let Some(deal) = &d.deal else {
        return html! {};
    };
    html! {
        div.card #deal {
            h2 { (lang.t(words::DEAL)) }
            dl {
                dt { "ID" } dd { (deal.id) }
                dt { (lang.t(words::STATUS)) } dd { (deal.status.as_str()) }
                dt { (lang.t(words::METHOD)) } dd { (deal.method) }
                dt { (lang.t(words::BANK)) } dd { (deal.bank_name) }
                // A card number as its first 6 and last 4 digits, as in every log.
                dt { (lang.t(words::REQUISITE)) } dd #requisite { (mask_card(&deal.requisite)) }
                dt { (lang.t(words::HOLDER)) } dd { (deal.holder) }
                dt { (lang.t(words::AMOUNT)) } dd { (money(deal.amount_minor, d.invoice.currency)) }
                dt { (lang.t(words::DEADLINE)) } dd { (time(deal.deadline_secs)) }
            }
        }
    }
}

fn postings(d: &InvoiceDetails, lang: Lang) -> Markup {
    html! {
        div.card #postings {
            h2 { (lang.t(words::POSTINGS)) }
            @if d.transactions.is_empty() { p.muted { (lang.t(words::NO_POSTINGS)) } }
            @else { div.scroll { table {
                thead { tr { th { (lang.t(words::CREATED)) } th { (lang.t(words::KIND)) } th { (lang.t(words::ACCOUNT)) } th { (lang.t(words::AMOUNT)) } } }
                tbody {
                    @for t in &d.transactions {
                        @for p in &t.postings {
                            tr {
                                td { (time(t.at_secs)) }
                                td { (t.kind.as_str()) }
                                td { (p.account.key()) }
                                td { (money(p.amount_minor, t.currency)) }
                            }
                        }
                    }
                }
            } } }
        }
    }
}

fn callbacks(app: &AppState, user: &PortalUser, mode: Mode, d: &InvoiceDetails) -> Markup {
    let lang = user.lang;
    let announced = |id: &str| {
        d.callbacks
            .iter()
            .find(|c| c.id == id)
            .map_or("", |c| c.transaction_status.as_str())
    };
    html! {
        div.card #callbacks {
            h2 { (lang.t(words::CALLBACKS)) }
            @if d.attempts.is_empty() { p.muted #no-attempts { (lang.t(words::NO_CALLBACKS)) } }
            @else { div.scroll { table #attempts {
                thead { tr { th { (lang.t(words::ATTEMPT_AT)) } th { (lang.t(words::ANNOUNCED)) } th { (lang.t(words::RESULT)) } th { (lang.t(words::HTTP_CODE)) } th.hide-sm { (lang.t(words::ERROR)) } } }
                tbody {
                    @for a in &d.attempts {
                        tr.attempt {
                            td { (time(a.at_secs)) }
                            td { (announced(&a.callback_id)) }
                            td { span class={ "badge " (if a.status == "done" { "ok" } else { "bad" }) } { (a.status) } }
                            td.code { (a.response_code.map_or("—".to_string(), |c| c.to_string())) }
                            td.hide-sm { (a.error.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } } }
            @if d.invoice.callback_url.is_some() {
                form method="post" action={ "/portal/" (mode.as_str()) "/invoices/" (d.invoice.id) "/resend" } {
                    input type="hidden" name=(CSRF_FIELD) value=(user.signed.csrf(app));
                    button.btn #resend type="submit" { (lang.t(words::RESEND)) }
                }
            }
        }
    }
}

async fn details(
    app: &AppState,
    user: &PortalUser,
    mode: Mode,
    id: String,
) -> Result<InvoiceDetails, WebError> {
    app.engine
        .invoice_details(user.merchant_id(), mode.is_test(), id)
        .await
        .map_err(|e| WebError::from_engine(&e, user.lang))
}

pub async fn show(
    State(app): State<AppState>,
    user: PortalUser,
    Path((mode, id)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let d = details(&app, &user, mode, id).await?;
    let markup = page(
        lang,
        &format!("{} {}", lang.t(words::INVOICE), d.invoice.id),
        top_bar(&app, &user, mode, super::Page::Invoices),
        html! {
            p { a #back href={ "/portal/" (mode.as_str()) "/invoices" } { (lang.t(words::BACK)) } }
            h1 { (lang.t(words::INVOICE)) " " (d.invoice.id) }
            @match q.resend.as_deref() {
                Some("sent") => p.notice #resent { (lang.t(words::RESENT)) },
                Some("no_url") => p.error #problem { (lang.t(words::NO_CALLBACK_URL)) },
                _ => {},
            }
            div.card { (summary(&d, lang)) }
            div.card #timeline {
                h2 { (lang.t(words::TIMELINE)) }
                table { tbody { @for (at, what) in timeline(&d, lang) { tr { td { (time(at)) } td { (what) } } } } }
            }
            (deal(&d, lang))
            (postings(&d, lang))
            (callbacks(&app, &user, mode, &d))
        },
    );
    Ok((StatusCode::OK, Html(markup.into_string())).into_response())
}

#[derive(Deserialize)]
pub struct ResendForm {}

/// Owes a new callback with the invoice's current status, through the
/// engine's resend (the same as `kassa callback resend` and the APIs).
pub async fn resend(
    State(app): State<AppState>,
    user: PortalUser,
    Path((mode, id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let _: ResendForm = read_form(&app, Some(&user.signed.token), body, lang).await?;
    // Scoped to the merchant and the mode of the page before anything is owed.
    let d = details(&app, &user, mode, id).await?;
    let back = format!("/portal/{}/invoices/{}", mode.as_str(), d.invoice.id);
    match app
        .engine
        .resend_callback(Some(user.merchant_id()), d.invoice.id)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{back}?resend=sent")).into_response()),
        Err(EngineError::Invalid(_)) => {
            Ok(Redirect::to(&format!("{back}?resend=no_url")).into_response())
        }
        Err(e) => Err(WebError::from_engine(&e, lang)),
    }
}
