//! `POST /api/book_cabinet` (spec 000): a unique amount held on a trader's
//! cabinet for the hold's lifetime.

use axum::extract::State;
use axum::Json;

use super::auth::H2hSigned;
use super::error::{ErrorBody, H2hError};
use super::request::{BookCabinetBody, BookCabinetRequest};
use super::response::BookCabinetAnswer;
use crate::AppState;

/// Holds the exact amount on a matching cabinet when it is free, else the
/// first free one of the alternatives the currency's rule generates.
#[utoipa::path(post, path = "/api/book_cabinet", tag = "book_cabinet",
    request_body = BookCabinetBody,
    responses(
        (status = 200, body = BookCabinetAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No cabinet matches, or every candidate amount is held.",
            body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn book_cabinet(
    State(app): State<AppState>,
    signed: H2hSigned<BookCabinetRequest>,
) -> Result<Json<BookCabinetAnswer>, H2hError> {
    let request = signed.body.command()?;
    let answer = app
        .engine
        .book_cabinet_in(&signed.merchant, signed.test_mode, request)
        .await?;
    Ok(Json(BookCabinetAnswer::new(&signed.secret, &answer)))
}
