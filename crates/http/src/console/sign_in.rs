//! Signing in and out of the console: the shared [`crate::web::sign_in`]
//! with the console's realm. Signing out is open to either role.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{ConsoleUser, REALM};
use crate::web::sign_in::{self, NextQuery, PageLang};
use crate::web::WebError;
use crate::AppState;

pub async fn form(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    Query(q): Query<NextQuery>,
) -> Response {
    sign_in::form(&app, &REALM, lang, q)
}

pub async fn submit(
    State(app): State<AppState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    sign_in::submit(&app, &REALM, lang, headers, body).await
}

pub async fn sign_out(
    State(app): State<AppState>,
    user: ConsoleUser,
    body: Body,
) -> Result<Response, WebError> {
    sign_in::sign_out(&app, &REALM, &user.signed, user.lang, body).await
}
