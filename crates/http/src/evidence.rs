//! Serves a dispute receipt by its signed, expiring link (made by
//! [`kassa_engine::evidence::EvidenceLinks`]). A bad, expired or unknown
//! link is 404, whichever it is. The file goes out with the type its bytes
//! were found to be, never sniffed by the browser, under a policy that runs
//! nothing; a PDF is downloaded rather than opened in Kassa's origin.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kassa_domain::evidence::FileKind;
use kassa_engine::evidence::ROUTE;
use kassa_engine::EngineError;
use serde::Deserialize;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(&format!("{ROUTE}/{{id}}"), get(file))
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

/// What the browser may do with a receipt it shows: nothing but show it.
const POLICY: &str = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'";

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found.").into_response()
}

async fn file(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let (Some(expires), Some(signature)) = (q.expires, q.signature) else {
        return not_found();
    };
    if !app.engine.check_evidence_link(&id, expires, &signature) {
        return not_found();
    }
    let (content_type, body) = match app.engine.evidence_file(id.clone()).await {
        Ok(found) => found,
        Err(EngineError::NotFound) => return not_found(),
        Err(EngineError::Unavailable(why)) => {
            tracing::warn!(%why, "database unavailable");
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.").into_response();
            crate::retry_after_if_unavailable(&mut response);
            return response;
        }
        Err(e) => {
            tracing::error!(error = %e, "dispute evidence");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response();
        }
    };
    // Stored types are Kassa's own; anything else is not served as itself.
    let Some(kind) = FileKind::from_content_type(&content_type) else {
        return not_found();
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    let disposition = match kind {
        FileKind::Pdf => format!("attachment; filename=\"receipt-{id}.pdf\""),
        _ => format!("inline; filename=\"receipt-{id}.{}\"", kind.extension()),
    };
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
