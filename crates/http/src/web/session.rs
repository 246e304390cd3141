//! The session cookie and the forms of a signed-in person. The cookie holds
//! a random token (HttpOnly, SameSite=Lax, Secure when Kassa is served over
//! https); the store has only a keyed hash of it. Every form carries the
//! session's CSRF token in a hidden field, and a post without it is refused
//! before anything is done.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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
    /// The heading of the sign-in form.
    pub title: super::words::Words,
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
