//! A merchant created from the console: name, account currency and
//! callback URL. Its credentials are shown in the answer to the form and
//! never again (Kassa keeps them hashed or sealed), as `kassa merchant
//! create` prints them once.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use kassa_domain::Currency;
use kassa_engine::merchants::{IssuedCredentials, NewMerchant};
use maud::{html, Markup};
use serde::Deserialize;

use super::input::currency;
use super::{console_page, csrf_field, words, ConsoleAdmin, ConsoleUser, Done, Page};
use crate::web::WebError;
use crate::AppState;

/// The form on the merchants' page.
pub fn form(app: &AppState, user: &ConsoleUser) -> Markup {
    let lang = user.lang;
    let usd = Currency::from_code("USD");
    html! {
        div.card {
            h2 { (lang.t(words::NEW_MERCHANT)) }
            form method="post" action="/console/merchants" {
                (csrf_field(app, user))
                div.filters {
                    div { label for="new-name" { (lang.t(words::NAME)) } input #new-name type="text" name="name" maxlength="200" required; }
                    div { label for="new-currency" { (lang.t(words::CURRENCY)) }
                        select #new-currency name="currency" {
                            @for c in Currency::all() { option value=(c.code()) selected[Some(c) == usd] { (c.code()) } }
                        } }
                    div { label for="new-callback-url" { (lang.t(words::CALLBACK_URL)) } input #new-callback-url type="url" name="callback_url"; }
                    div { button.btn #create-merchant type="submit" { (lang.t(words::CREATE)) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct NewMerchantForm {
    name: String,
    currency: String,
    #[serde(default)]
    callback_url: String,
}

fn credentials(mode: &str, c: &IssuedCredentials) -> Markup {
    html! {
        h3 { (mode) }
        dl id={ "credentials-" (mode) } {
            dt { "Public key" } dd { code { (c.public_key) } }
            dt { "Private key id" } dd { code { (c.private_key_id) } }
            dt { "Private key secret" } dd { code.secret { (c.private_key_secret) } }
            dt { "Callback secret" } dd { code.secret { (c.callback_secret) } }
            dt { "Merchant API key" } dd { code { (c.merchant_api_key) } }
            dt { "Merchant API secret" } dd { code.secret { (c.merchant_api_secret) } }
        }
    }
}

pub async fn create(
    State(app): State<AppState>,
    ConsoleAdmin(user): ConsoleAdmin,
    body: Body,
) -> Result<Response, WebError> {
    let f: NewMerchantForm = user.form(&app, body).await?;
    let c = currency(&user, &f.currency)?;
    let url = f.callback_url.trim();
    let new = NewMerchant {
        name: f.name,
        callback_url: (!url.is_empty()).then(|| url.to_string()),
        account_currency: Some(c),
        ..Default::default()
    };
    let m = app
        .engine
        .console_create_merchant(user.id(), new)
        .await
        .map_err(|e| user.error(&e))?;
    let lang = user.lang;
    let main = html! {
        div.card {
            h1 #merchant-name { (m.name) }
            p.notice #once { (lang.t(words::CREDENTIALS_ONCE)) }
            dl {
                dt { (lang.t(words::ID)) } dd { a #merchant-id href={ "/console/merchants/" (m.merchant_id) } { (m.merchant_id) } }
                dt { (lang.t(words::SITE)) } dd { (m.site_id) " · " (m.site_login) }
                dt { "H2H secret" } dd { code.secret #h2h-secret { (m.h2h_secret) } }
                dt { "H2H test secret" } dd { code.secret { (m.h2h_test_secret) } }
            }
            (credentials("test", &m.test))
            (credentials("live", &m.live))
        }
    };
    // An answer page (not a redirect): the secrets exist only in it.
    Ok(console_page(
        &app,
        &user,
        Page::Merchants,
        &Done::default(),
        main,
    ))
}
