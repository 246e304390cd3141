//! Signing in and out, for every set of pages. The sign-in form has a CSRF
//! token of its own, made from a random cookie set with the form, so that no
//! other site can sign a browser in to an account of its choosing. A face
//! wires these to its routes with its [`Realm`].

use axum::body::Body;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kassa_engine::secrets::random_token;
use kassa_engine::web::SignIn;
use maud::html;
use serde::Deserialize;

use super::format::time;
use super::session::{
    authenticate, clear_cookie, cookie_value, page_lang, read_form, set_cookie, CSRF_FIELD,
    LANG_COOKIE,
};
use super::{page, words, Lang, Realm, Signed, WebError};
use crate::AppState;

/// The sign-in form's cookie lives as long as one sitting at the form.
const FORM_COOKIE_SECS: i64 = 3600;

fn form_cookie(realm: &Realm) -> String {
    format!("{}_signin", realm.cookie)
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The language of a request (`?lang=`, the cookie, Accept-Language).
pub struct PageLang(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let q = Query::<LangQuery>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Query(q)| q.lang);
        Ok(PageLang(page_lang(q.as_deref(), &parts.headers)))
    }
}

/// A `?lang=` choice is kept in a cookie of the realm's path, so the next
/// pages speak it too (`axum::middleware::from_fn_with_state` with the realm).
pub async fn remember_lang(
    axum::extract::State(realm): axum::extract::State<&'static Realm>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let chosen = request.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<LangQuery>(q)
            .ok()
            .and_then(|q| q.lang)
            .and_then(|l| Lang::parse(&l))
    });
    let mut response = next.run(request).await;
    if let Some(lang) = chosen {
        let cookie = cookie::Cookie::build((LANG_COOKIE, lang.code()))
            .path(realm.path)
            .same_site(cookie::SameSite::Lax)
            .max_age(cookie::time::Duration::days(365))
            .build()
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// Why a page of a realm is not shown: no session (sign in, then back to
/// `next`), or an error.
pub enum SignInRejection {
    SignIn { realm: &'static Realm, next: String },
    Error(WebError),
}

impl IntoResponse for SignInRejection {
    fn into_response(self) -> Response {
        match self {
            SignInRejection::SignIn { realm, next } => {
                let to = format!(
                    "{}/sign-in?{}",
                    realm.path,
                    serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                );
                Redirect::to(&to).into_response()
            }
            SignInRejection::Error(e) => e.into_response(),
        }
    }
}

/// The signed-in person of `realm` and the page's language; without a
/// session, a redirect to sign in (and back to this page afterwards).
pub async fn signed_in(
    app: &AppState,
    realm: &'static Realm,
    parts: &mut Parts,
) -> Result<(Signed, Lang), SignInRejection> {
    let PageLang(lang) = PageLang::from_request_parts(parts, app)
        .await
        .unwrap_or(PageLang(Lang::En));
    match authenticate(app, realm, &parts.headers, lang).await {
        Ok(Some(signed)) => Ok((signed, lang)),
        Ok(None) => {
            let next = if parts.method == axum::http::Method::GET {
                parts.uri.path().to_string()
            } else {
                realm.path.to_string()
            };
            Err(SignInRejection::SignIn { realm, next })
        }
        Err(e) => Err(SignInRejection::Error(e)),
    }
}

/// Only a page of the realm itself: never another site.
fn safe_next<'a>(realm: &'a Realm, next: Option<&'a str>) -> &'a str {
    match next {
        Some(n)
            if n.strip_prefix(realm.path)
                .is_some_and(|rest| rest.starts_with('/'))
                && !n.starts_with("//")
                && !n.contains('\\') =>
        {
            n
        }
        _ => realm.path,
    }
}

fn render(
    app: &AppState,
    realm: &Realm,
    lang: Lang,
    status: StatusCode,
    next: &str,
    email: &str,
    problem: Option<String>,
) -> Response {
    let form_token = random_token();
    let csrf = app.engine.csrf_token(&form_token);
    let action = format!("{}/sign-in", realm.path);
    let body = page(
        lang,
        lang.t(words::SIGN_IN),
        html! {},
        html! {
            div.card.narrow {
                h1 { (lang.t(realm.title)) }
                @if let Some(p) = problem { p.error #problem { (p) } }
                form method="post" action=(action) {
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
            realm,
            &form_cookie(realm),
            &form_token,
            Some(FORM_COOKIE_SECS),
        ),
    );
    response
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in form.
pub fn form(app: &AppState, realm: &Realm, lang: Lang, q: NextQuery) -> Response {
    let next = safe_next(realm, q.next.as_deref());
    render(app, realm, lang, StatusCode::OK, next, "", None)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    code: Option<String>,
    next: Option<String>,
}

/// The sign-in form posted: a session cookie and on to `next`, or the form
/// again with why not.
pub async fn submit(
    app: &AppState,
    realm: &Realm,
    lang: Lang,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    let form_token = cookie_value(&headers, &form_cookie(realm));
    let f: SignInForm = read_form(app, form_token.as_deref(), body, lang).await?;
    let next = safe_next(realm, f.next.as_deref()).to_string();
    let code = f.code.filter(|c| !c.trim().is_empty());
    let outcome = app
        .engine
        .sign_in(realm.realm, &f.email, f.password, code)
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
                set_cookie(app, realm, realm.cookie, &token, None),
            );
            h.append(
                header::SET_COOKIE,
                clear_cookie(app, realm, &form_cookie(realm)),
            );
            Ok(response)
        }
        SignIn::Refused => Ok(render(
            app,
            realm,
            lang,
            StatusCode::UNAUTHORIZED,
            &next,
            &f.email,
            Some(lang.t(words::REFUSED).to_string()),
        )),
        SignIn::Locked { until_secs } => Ok(render(
            app,
            realm,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &f.email,
            Some(format!("{} {}.", lang.t(words::LOCKED), time(until_secs))),
        )),
    }
}

#[derive(Deserialize)]
struct Empty {}

/// Ends the session (a form with its token) and back to the sign-in form.
pub async fn sign_out(
    app: &AppState,
    realm: &Realm,
    signed: &Signed,
    lang: Lang,
    body: Body,
) -> Result<Response, WebError> {
    let _: Empty = read_form(app, Some(&signed.token), body, lang).await?;
    app.engine
        .sign_out(&signed.token)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    let mut response = Redirect::to(&format!("{}/sign-in", realm.path)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(app, realm, realm.cookie));
    Ok(response)
}
