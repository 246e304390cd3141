//! The H2H API (specs 000 and 002): `book_cabinet`, signed bodies.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
