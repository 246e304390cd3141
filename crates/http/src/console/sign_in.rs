//! Signing in and out of the console: the shared form
//! ([`crate::web::sign_in`]) for operator users. Signing out is open to
//! either role.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{words, ConsoleUser, REALM};
use crate::web::sign_in::{NextQuery, SignInPage};
use crate::web::{PageLang, WebError};
use crate::AppState;

const SIGN_IN: SignInPage = SignInPage {
    realm: REALM,
    title: words::CONSOLE,
};

pub async fn form(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    Query(q): Query<NextQuery>,
) -> Response {
    SIGN_IN.form(&app, lang, q.next.as_deref())
}

pub async fn submit(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    SIGN_IN
        .submit(&app, lang, &headers, body)
        .await
        .map_err(|e| e.at(REALM.path))
}

pub async fn sign_out(
    State(app): State<AppState>,
    user: ConsoleUser,
    body: Body,
) -> Result<Response, WebError> {
    SIGN_IN
        .sign_out(&app, &user.signed, user.lang, body)
        .await
        .map_err(|e| e.at(REALM.path))
}
