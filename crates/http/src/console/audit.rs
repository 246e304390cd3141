//! The audit log: every change made from the console, newest first.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;

use super::{console_page, words, ConsoleUser, Done, Page};
use crate::web::format::time;
use crate::web::WebError;
use crate::AppState;

pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(d): Query<Done>,
) -> Result<Response, WebError> {
    let lang = user.lang;
    let entries = app.engine.audit_log().await.map_err(|e| user.error(&e))?;
    let main = html! {
        div.card {
            h1 { (lang.t(words::AUDIT)) }
            div.scroll { table #audit {
                thead { tr { th { (lang.t(words::TIME)) } th { (lang.t(words::WHO)) } th { (lang.t(words::ACTION)) }
                    th { (lang.t(words::TARGET)) } th { (lang.t(words::DETAIL)) } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td { (time(e.at_secs)) }
                            td.who { (e.email) br; span.muted { (e.user_id) } }
                            td.action { code { (e.action) } }
                            td.target { (e.target) }
                            td.detail { (e.detail) }
                        }
                    }
                }
            } }
            @if entries.is_empty() { p.muted { (lang.t(words::NONE)) } }
        }
    };
    Ok(console_page(&app, &user, Page::Audit, &d, main))
}
