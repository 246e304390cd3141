//! Merchants: listed (with the form that creates one, see `merchant_new`),
//! shown with their settings (no secret), and changed as
//! the admin API changes them: callback and return URLs, and the public API
//! forbidden or allowed.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_engine::merchants::{MerchantChange, MerchantSummary};
use maud::html;
use serde::Deserialize;

use super::{console_page, csrf_field, done, words, ConsoleAdmin, ConsoleUser, Done, Page};
use crate::web::WebError;
use crate::AppState;

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let merchants = app.engine.merchants().await.map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::MERCHANTS)) }
            div.scroll { table #merchants {
                thead { tr { th { (lang.t(words::NAME)) } th { (lang.t(words::ID)) } th { (lang.t(words::SITE)) }
                    th { (lang.t(words::CURRENCY)) } th { (lang.t(words::PUBLIC_API)) } } }
                tbody {
                    @for m in &merchants {
                        tr {
                            td { a href={ "/console/merchants/" (m.id) } { (m.name) } }
                            td.muted { (m.id) }
                            td { (m.site_id) }
                            td { (m.account_currency.code()) }
                            td { @if m.forbid_public_api { span.badge.bad { (lang.t(words::FORBIDDEN)) } }
                                 @else { span.badge.ok { (lang.t(words::ALLOWED)) } } }
                        }
                    }
                }
            } }
            @if merchants.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
        (super::merchant_new::form(&app, &user))
    };
    Ok(console_page(&app, &user, Page::Merchants, &d, main))
}

pub async fn show(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let m = app.engine.merchant(id).await.map_err(|e| user.error(&e))?;
    let s = MerchantSummary::from(&m);
    let action = format!("/console/merchants/{}/settings", s.merchant_id);
    let main = html! {
        div.card {
            h1 #merchant-name { (s.name) }
            dl {
                dt { (lang.t(words::ID)) } dd #merchant-id { (s.merchant_id) }
                dt { (lang.t(words::SITE)) } dd { (s.site_id) " · " (s.site_login) }
                dt { (lang.t(words::CURRENCY)) } dd { (s.account_currency.code()) }
                dt { (lang.t(words::PUBLIC_API)) } dd #public-api {
                    @if s.forbid_public_api { (lang.t(words::FORBIDDEN)) } @else { (lang.t(words::ALLOWED)) } }
                dt { (lang.t(words::CALLBACK_URL)) } dd #callback-url { (s.callback_url.as_deref().unwrap_or("—")) }
                dt { (lang.t(words::RETURN_URL)) } dd { (s.return_url.as_deref().unwrap_or("—")) }
                dt { "URL hosts" } dd { (s.url_hosts.join(", ")) }
                dt { "Frame ancestors" } dd { (s.frame_ancestors.join(", ")) }
                dt { "Test public key" } dd { (s.test_public_key) }
                dt { "Live public key" } dd { (s.live_public_key) }
            }
        }
        div.card {
            h2 { (lang.t(words::SETTINGS)) }
            form method="post" action=(action) {
                (csrf_field(&app, &user))
                div.filters {
                    div { label for="callback_url" { (lang.t(words::CALLBACK_URL)) }
                        input #callback_url type="url" name="callback_url" value=(s.callback_url.as_deref().unwrap_or("")); }
                    div { label for="return_url" { (lang.t(words::RETURN_URL)) }
                        input #return_url type="url" name="return_url" value=(s.return_url.as_deref().unwrap_or("")); }
                    div { button.btn #save type="submit" { (lang.t(words::SAVE)) } }
                }
            }
            p {}
            form method="post" action=(action) {
                (csrf_field(&app, &user))
                @if s.forbid_public_api {
                    input type="hidden" name="public_api" value="allow";
                    button.btn.light #toggle-public-api type="submit" { (lang.t(words::PUBLIC_API)) ": " (lang.t(words::ALLOWED)) }
                } @else {
                    input type="hidden" name="public_api" value="forbid";
                    button.btn.light #toggle-public-api type="submit" { (lang.t(words::FORBID_PUBLIC_API)) }
                }
            }
        }
    };
    Ok(console_page(&app, &user, Page::Merchants, &d, main))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    callback_url: Option<String>,
    return_url: Option<String>,
    /// `forbid` or `allow`.
    public_api: Option<String>,
}

/// An empty URL field clears the setting.
fn url(field: Option<String>) -> Option<Option<String>> {
    field.map(|u| Some(u.trim().to_string()).filter(|u| !u.is_empty()))
}

pub async fn save(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let f: SettingsForm = user.form(&app, body).await?;
    let forbid = match f.public_api.as_deref() {
        None => None,
        Some("forbid") => Some(true),
        Some("allow") => Some(false),
        Some(_) => return Err(user.refuse(StatusCode::BAD_REQUEST)),
    };
    let change = MerchantChange {
        forbid_public_api: forbid,
        callback_url: url(f.callback_url),
        return_url: url(f.return_url),
        ..Default::default()
    };
    let mut detail = Vec::new();
    if let Some(f) = change.forbid_public_api {
        detail.push(format!(
            "public_api={}",
            if f { "forbidden" } else { "allowed" }
        ));
    }
    for (name, v) in [
        ("callback_url", &change.callback_url),
        ("return_url", &change.return_url),
    ] {
        if let Some(v) = v {
            detail.push(format!("{name}={}", v.as_deref().unwrap_or("(none)")));
        }
    }
    app.engine
        .console_change_merchant(user.id(), id.clone(), change, detail.join(", "))
        .await
        .map_err(|e| user.error(&e))?;
    Ok(done(&format!("/console/merchants/{id}"), "settings"))
}
