//! The developers' page of one mode: the API keys (the public key, private
//! keys made and revoked here, a new secret shown once) and where and which
//! callbacks go. Every change is the engine's, as the CLI and admin API do it.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kassa_domain::CallbackStatuses;
use kassa_engine::api_keys::IssuedKey;
use kassa_engine::merchants::MerchantChange;
use kassa_engine::EngineError;
use maud::{html, Markup};
use serde::Deserialize;

use super::invoices::time;
use super::{mode_of, top_bar, words, Mode, Page, PortalUser};
use crate::web::session::{read_form, CSRF_FIELD};
use crate::web::{page, Lang, WebError};
use crate::AppState;

#[derive(Deserialize)]
pub struct Outcome {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct CsrfForm {}

#[derive(Deserialize)]
pub struct CallbackForm {
    callback_url: String,
    statuses: String,
}

pub async fn show(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    Query(q): Query<Outcome>,
) -> Result<Response, WebError> {
    let mode = mode_of(&mode, user.lang)?;
    render(&app, &user, mode, None, q.done.as_deref()).await
}

/// Makes a key and shows its secret in this answer only: no later page
/// can show it again.
pub async fn create_key(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let _: CsrfForm = read_form(&app, Some(&user.signed.token), body, lang).await?;
    match app
        .engine
        .create_private_key(user.merchant_id(), mode.is_test())
        .await
    {
        Ok(issued) => render(&app, &user, mode, Some(&issued), None).await,
        Err(EngineError::Conflict(_)) => Ok(back(mode, "too_many")),
        Err(e) => Err(WebError::from_engine(&e, lang)),
    }
}

pub async fn revoke_key(
    State(app): State<AppState>,
    user: PortalUser,
    Path((mode, key_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let _: CsrfForm = read_form(&app, Some(&user.signed.token), body, lang).await?;
    match app
        .engine
        .revoke_private_key(user.merchant_id(), mode.is_test(), key_id)
        .await
    {
        Ok(()) => Ok(back(mode, "revoked")),
        Err(EngineError::Conflict(_)) => Ok(back(mode, "last_key")),
        Err(e) => Err(WebError::from_engine(&e, lang)),
    }
}

pub async fn save_callbacks(
    State(app): State<AppState>,
    user: PortalUser,
    Path(mode): Path<String>,
    body: Body,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let mode = mode_of(&mode, lang)?;
    let form: CallbackForm = read_form(&app, Some(&user.signed.token), body, lang).await?;
    let Some(statuses) = CallbackStatuses::parse(&form.statuses) else {
        return Err(WebError::new(StatusCode::BAD_REQUEST, lang));
    };
    let url = form.callback_url.trim();
    let change = MerchantChange {
        callback_url: Some((!url.is_empty()).then(|| url.to_string())),
        callback_statuses: Some(statuses),
        ..MerchantChange::default()
    };
    match app.engine.change_merchant(user.merchant_id(), change).await {
        Ok(_) => Ok(back(mode, "saved")),
        Err(EngineError::Invalid(_)) => Ok(back(mode, "bad_url")),
        Err(e) => Err(WebError::from_engine(&e, lang)),
    }
}

fn back(mode: Mode, done: &str) -> Response {
    Redirect::to(&format!("/portal/{}/developers?done={done}", mode.as_str())).into_response()
}

async fn render(
    app: &AppState,
    user: &PortalUser,
    mode: Mode,
    issued: Option<&IssuedKey>,
    done: Option<&str>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let merchant = app
        .engine
        .merchant(user.merchant_id())
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let creds = merchant.credentials(mode.is_test());
    let csrf = user.signed.csrf(app);
    let base = format!("/portal/{}/developers", mode.as_str());
    let notice = match done {
        Some("revoked") => Some((true, words::KEY_REVOKED)),
        Some("saved") => Some((true, words::SAVED)),
        Some("last_key") => Some((false, words::LAST_KEY)),
        Some("too_many") => Some((false, words::TOO_MANY_KEYS)),
        Some("bad_url") => Some((false, words::BAD_CALLBACK_URL)),
        _ => None,
    };
    let markup = page(
        lang,
        lang.t(words::DEVELOPERS),
        top_bar(app, user, mode, Page::Developers),
        html! {
            h1 { (lang.t(words::DEVELOPERS)) }
            @if let Some((good, text)) = notice {
                @if good { p.notice #done { (lang.t(text)) } } @else { p.error #problem { (lang.t(text)) } }
            }
            @if let Some(k) = issued {
                div.card #new-key {
                    h2 { (lang.t(words::NEW_KEY)) }
                    p.error { (lang.t(words::SHOWN_ONCE)) }
                    dl {
                        dt { (lang.t(words::KEY_ID)) } dd #new-key-id { code { (k.private_key_id) } }
                        dt { (lang.t(words::KEY_SECRET)) } dd #new-key-secret { code { (k.private_key_secret) } }
                    }
                }
            }
            div.card #keys {
                h2 { (lang.t(words::API_KEYS)) }
                dl { dt { (lang.t(words::PUBLIC_KEY)) } dd #public-key { code { (creds.public_key) } } }
                div.scroll { table {
                    thead { tr { th { (lang.t(words::KEY_ID)) } th { (lang.t(words::CREATED)) } th {} } }
                    tbody {
                        @for key in creds.private_keys() {
                            tr data-key=(key.id) {
                                td { code { (key.id) } }
                                td { @if key.created_at_secs > 0 { (time(key.created_at_secs)) } @else { (time(merchant.created_at_secs)) } }
                                td { (form(&format!("{base}/keys/{}/revoke", key.id), &csrf, html! {
                                    button.no type="submit" data-revoke=(key.id) { (lang.t(words::REVOKE)) }
                                })) }
                            }
                        }
                    }
                } }
                (form(&format!("{base}/keys"), &csrf, html! {
                    button #create-key type="submit" { (lang.t(words::CREATE_KEY)) }
                }))
            }
            (callbacks(lang, &base, &csrf, merchant.callback_url.as_deref(), merchant.callback_statuses))
        },
    );
    Ok((StatusCode::OK, Html(markup.into_string())).into_response())
}

fn callbacks(
    lang: Lang,
    base: &str,
    csrf: &str,
    url: Option<&str>,
    statuses: CallbackStatuses,
) -> Markup {
    html! {
        div.card #callback-settings {
            h2 { (lang.t(words::CALLBACKS)) }
            p.muted { (lang.t(words::BOTH_MODES)) }
            form method="post" action={ (base) "/callbacks" } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                div { label for="callback_url" { (lang.t(words::CALLBACK_URL)) }
                    input #callback_url type="url" name="callback_url" value=(url.unwrap_or_default()); }
                div { label for="statuses" { (lang.t(words::STATUSES_SENT)) }
                    select #statuses name="statuses" {
                        option value="all" selected[statuses == CallbackStatuses::All] { (lang.t(words::ALL_STATUSES)) }
                        option value="final" selected[statuses == CallbackStatuses::Final] { (lang.t(words::FINAL_ONLY)) }
                    }
                }
                button #save-callbacks type="submit" { (lang.t(words::SAVE)) }
            }
        }
    }
}

fn form(action: &str, csrf: &str, button: Markup) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            (button)
        }
    }
}
