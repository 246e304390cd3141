//! The trader API (`/trader-api/`): cabinets, deals, bank notifications.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
