//! The operator's admin API (`/admin-api/`): traders, cabinets, rates,
//! amount rules, deals and disputes, bank notifications under review.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
