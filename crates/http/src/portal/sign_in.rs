//! Signing in and out. The sign-in form has a CSRF token of its own, made
//! from a random cookie set with the form, so that no other site can sign a
//! browser in to an account of its choosing.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use kassa_engine::secrets::random_token;
use kassa_engine::web::SignIn;
use maud::html;
use serde::Deserialize;

use super::{words, PageLang, PortalUser, REALM};
use crate::web::session::{clear_cookie, cookie_value, read_form, set_cookie, CSRF_FIELD};
use crate::web::{page, Lang, WebError};
use crate::AppState;

/// The sign-in form's cookie lives as long as one sitting at the form.
const FORM_COOKIE_SECS: i64 = 3600;

fn form_cookie() -> String {
    format!("{}_signin", REALM.cookie)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a page of the portal itself: never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/portal/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/portal",
    }
}

fn render(
    app: &AppState,
    lang: Lang,
    status: StatusCode,
    next: &str,
    email: &str,
    problem: Option<String>,
) -> Response {
    let form_token = random_token();
    let csrf = app.engine.csrf_token(&form_token);
    let body = page(
        lang,
        lang.t(words::SIGN_IN),
        html! {},
        html! {
            div.card.narrow {
                h1 { (lang.t(words::PORTAL)) }
                @if let Some(p) = problem { p.error #problem { (p) } }
                form method="post" action="/portal/sign-in" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    input type="hidden" name="next" value=(next);
                    div { label for="email" { (lang.t(words::EMAIL)) }
                        input #email type="email" name="email" value=(email) autocomplete="username" required; }
                    div { label for="password" { (lang.t(words::PASSWORD)) }
                        input #password type="password" name="password" autocomplete="current-password" required; }
                    div { label for="code" { (lang.t(words::CODE)) }
                        input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*"; }
                    button.btn #submit type="submit" { (lang.t(words::SIGN_IN)) }
                }
            }
        },
    );
    let mut response = (status, Html(body.into_string())).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            app,
            &REALM,
            &form_cookie(),
            &form_token,
            Some(FORM_COOKIE_SECS),
        ),
    );
    response
}

pub async fn form(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    Query(q): Query<NextQuery>,
) -> Response {
    render(
        &app,
        lang,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        "",
        None,
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    code: Option<String>,
    next: Option<String>,
}

pub async fn submit(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    let form_token = cookie_value(&headers, &form_cookie());
    let f: SignInForm = read_form(&app, form_token.as_deref(), body, lang).await?;
    let next = safe_next(f.next.as_deref()).to_string();
    let code = f.code.filter(|c| !c.trim().is_empty());
    let outcome = app
        .engine
        .sign_in(REALM.realm, &f.email, f.password, code)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    match outcome {
        SignIn::SignedIn { token, .. } => {
            let mut response = Redirect::to(&next).into_response();
            let h = response.headers_mut();
            // A session cookie: gone when the browser closes, and the
            // store ends it sooner when it is idle or old.
            h.append(
                header::SET_COOKIE,
                set_cookie(&app, &REALM, REALM.cookie, &token, None),
            );
            h.append(
                header::SET_COOKIE,
                clear_cookie(&app, &REALM, &form_cookie()),
            );
            Ok(response)
        }
        SignIn::Refused => Ok(render(
            &app,
            lang,
            StatusCode::UNAUTHORIZED,
            &next,
            &f.email,
            Some(lang.t(words::REFUSED).to_string()),
        )),
        SignIn::Locked { until_secs } => Ok(render(
            &app,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &f.email,
            Some(format!(
                "{} {}.",
                lang.t(words::LOCKED),
                super::invoices::time(until_secs)
            )),
        )),
    }
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn sign_out(
    State(app): State<AppState>,
    user: PortalUser,
    body: Body,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let _: Empty = read_form(&app, Some(&user.signed.token), body, lang).await?;
    app.engine
        .sign_out(&user.signed.token)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let mut response = Redirect::to("/portal/sign-in").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app, &REALM, REALM.cookie));
    Ok(response)
}
