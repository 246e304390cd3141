//! The session cookie and the forms of a signed-in person. The cookie holds
//! a random token (HttpOnly, SameSite=Lax, Secure when Kassa is served over
//! https); the store has only a keyed hash of it. Every form carries the
//! session's CSRF token in a hidden field, and a post without it is refused
//! before anything is done.

use axum::body::Body;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use kassa_domain::{WebRealm, WebUser};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{Lang, WebError};
use crate::AppState;

/// The hidden field every form carries.
pub const CSRF_FIELD: &str = "csrf";
/// A form of ours is a few fields.
const FORM_MAX_BYTES: usize = 8 * 1024;
/// The cookie that remembers the language chosen.
pub const LANG_COOKIE: &str = "kassa_lang";

/// Where a set of pages lives and who signs in to it.
#[derive(Clone, Copy, Debug)]
pub struct Realm {
    pub realm: WebRealm,
    /// The session cookie's name; the sign-in form's cookie is this with `_signin`.
    pub cookie: &'static str,
    /// The pages' path prefix, which scopes the cookies.
    pub path: &'static str,
}

/// A signed-in person and the token of the session, which the CSRF token
/// of their forms is made from.
#[derive(Clone, Debug)]
pub struct Signed {
    pub user: WebUser,
    pub token: String,
}

impl Signed {
    pub fn csrf(&self, app: &AppState) -> String {
        app.engine.csrf_token(&self.token)
    }
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` scoped to the realm; `max_age` None: for the browser's session.
pub fn set_cookie(
    app: &AppState,
    realm: &Realm,
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
) -> HeaderValue {
    let mut c = Cookie::build((name.to_string(), value.to_string()))
        .path(realm.path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.base_url.starts_with("https://"));
    if let Some(secs) = max_age_secs {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("a cookie of token characters")
}

pub fn clear_cookie(app: &AppState, realm: &Realm, name: &str) -> HeaderValue {
    set_cookie(app, realm, name, "", Some(0))
}

/// `?lang=` first, then the language chosen before, then the browser's.
pub fn page_lang(query_lang: Option<&str>, headers: &HeaderMap) -> Lang {
    query_lang
        .and_then(Lang::parse)
        .or_else(|| {
            cookie_value(headers, LANG_COOKIE)
                .as_deref()
                .and_then(Lang::parse)
        })
        .or_else(|| Lang::accepted(headers))
        .unwrap_or(Lang::En)
}

/// The signed-in person of `realm`, if the request carries a live session.
pub async fn authenticate(
    app: &AppState,
    realm: &Realm,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<Signed>, WebError> {
    let Some(token) = cookie_value(headers, realm.cookie).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let user = app
        .engine
        .web_session(realm.realm, &token)
        .await
        .map_err(|e| WebError::from_engine(&e, lang))?;
    Ok(user.map(|user| Signed { user, token }))
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

/// Reads a form of at most a few kilobytes and checks that it carries the
/// CSRF token made from `token` (the session's, or the sign-in form's
/// cookie). Refused with 403, before anything is done, when it does not.
pub async fn read_form<T: DeserializeOwned>(
    app: &AppState,
    token: Option<&str>,
    body: Body,
    lang: Lang,
) -> Result<T, WebError> {
    let bytes = crate::read_limited(body, FORM_MAX_BYTES)
        .await
        .map_err(|e| {
            let status = match e {
                crate::BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                crate::BodyError::Unreadable => StatusCode::BAD_REQUEST,
            };
            WebError::new(status, lang)
        })?;
    let sent = serde_urlencoded::from_bytes::<CsrfOnly>(&bytes)
        .ok()
        .and_then(|f| f.csrf);
    let good = match (token, sent) {
        (Some(token), Some(sent)) => app.engine.csrf_matches(token, &sent),
        _ => false,
    };
    if !good {
        return Err(WebError::new(StatusCode::FORBIDDEN, lang));
    }
    serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::new(StatusCode::BAD_REQUEST, lang))
}

#[derive(Deserialize)]
struct LangQuery {
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

/// A `?lang=` choice is kept in a cookie scoped to `path`, so the next
/// pages there speak it too. Wrap it in a closure for `from_fn`.
pub async fn remember_lang(path: &'static str, request: Request<Body>, next: Next) -> Response {
    let chosen = request.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<LangQuery>(q)
            .ok()
            .and_then(|q| q.lang)
            .and_then(|l| Lang::parse(&l))
    });
    let mut response = next.run(request).await;
    if let Some(lang) = chosen {
        let cookie = Cookie::build((LANG_COOKIE, lang.code()))
            .path(path)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::days(365))
            .build()
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// Why a page for signed-in people is not shown: nobody is signed in (sent
/// to the realm's sign-in, and back afterwards), or the store failed.
pub enum NotSignedIn {
    SignIn { path: &'static str, next: String },
    Error(WebError),
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::SignIn { path, next } => {
                let to = format!(
                    "{path}/sign-in?{}",
                    serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
                );
                Redirect::to(&to).into_response()
            }
            NotSignedIn::Error(e) => e.into_response(),
        }
    }
}

/// The signed-in person of `realm` and the page's language, or where to
/// send them.
pub async fn signed_in(
    app: &AppState,
    realm: &Realm,
    parts: &mut Parts,
) -> Result<(Signed, Lang), NotSignedIn> {
    let PageLang(lang) = PageLang::from_request_parts(parts, app)
        .await
        .unwrap_or(PageLang(Lang::En));
    match authenticate(app, realm, &parts.headers, lang).await {
        Ok(Some(signed)) => Ok((signed, lang)),
        Ok(None) => {
            // After signing in, back to the page asked for; a post is not
            // repeated, so back to the start instead.
            let next = if parts.method == axum::http::Method::GET {
                parts.uri.path().to_string()
            } else {
                realm.path.to_string()
            };
            Err(NotSignedIn::SignIn {
                path: realm.path,
                next,
            })
        }
        Err(e) => Err(NotSignedIn::Error(e)),
    }
}
