//! Every face's OpenAPI 3.1 document, generated from its handlers and types,
//! served at `GET /openapi/{face}.json` and committed under `docs/openapi/`
//! (a test fails when the two differ).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;

use crate::admin::AdminDoc;
use crate::checkout::{CheckoutError, CheckoutPrivateDoc, CheckoutPublicDoc};
use crate::h2h::H2hDoc;
use crate::merchant_api::MerchantDoc;
use crate::trader::TraderDoc;
use crate::AppState;

/// The faces with a document, by the name it is served and committed under.
pub const FACES: &[&str] = &[
    "checkout-public",
    "checkout-private",
    "h2h",
    "merchant",
    "trader",
    "admin",
];

/// A face's document.
pub fn document(face: &str) -> Option<utoipa::openapi::OpenApi> {
    match face {
        "checkout-public" => Some(CheckoutPublicDoc::openapi()),
        "checkout-private" => Some(CheckoutPrivateDoc::openapi()),
        "h2h" => Some(H2hDoc::openapi()),
        "merchant" => Some(MerchantDoc::openapi()),
        "trader" => Some(TraderDoc::openapi()),
        "admin" => Some(AdminDoc::openapi()),
        _ => None,
    }
}

/// A face's document as committed: pretty JSON and a final newline.
pub fn document_text(face: &str) -> Option<String> {
    let doc = document(face)?;
    let mut text = doc.to_pretty_json().expect("a document writes");
    text.push('\n');
    Some(text)
}

/// The documents of the faces a listener serves: the admin API's only
/// where the admin API is (`with_admin`), so that a public listener with the
/// admin API on a listener of its own does not describe it.
pub fn routes(with_admin: bool) -> Router<AppState> {
    Router::new().route(
        "/openapi/{file}",
        get(move |Path(file): Path<String>| async move {
            let face = file
                .strip_suffix(".json")
                .filter(|f| with_admin || *f != "admin");
            match face.and_then(document_text) {
                Some(text) => json(text),
                None => CheckoutError::NotFound.into_response(),
            }
        }),
    )
}

/// The admin API's document, on the admin API's own listener.
pub fn admin_routes() -> Router<AppState> {
    Router::new().route(
        "/openapi/admin.json",
        get(|| async {
            match document_text("admin") {
                Some(text) => json(text),
                None => crate::trader::ApiError::not_found("document").into_response(),
            }
        }),
    )
}

fn json(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed documents are the generated ones. After a change to a
    /// face, `KASSA_WRITE_OPENAPI=1 cargo test -p kassa-http openapi`
    /// writes them anew.
    #[test]
    fn committed_openapi_documents_match_the_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi");
        let write = std::env::var_os("KASSA_WRITE_OPENAPI").is_some();
        let mut stale = Vec::new();
        for face in FACES {
            let path = dir.join(format!("{face}.json"));
            let generated = document_text(face).expect("every listed face has a document");
            if write {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &generated).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "{stale:?} differ from the code: run KASSA_WRITE_OPENAPI=1 cargo test -p kassa-http openapi"
        );
    }

    #[test]
    fn every_document_is_openapi_3_1() {
        for face in FACES {
            let doc: serde_json::Value =
                serde_json::from_str(&document_text(face).unwrap()).unwrap();
            assert_eq!(doc["openapi"], "3.1.0", "{face}");
            assert!(doc["paths"].as_object().is_some_and(|p| !p.is_empty()));
        }
    }

    /// Client generators name their methods by `operationId`: two operations
    /// sharing one would collide (or be renamed at random).
    #[test]
    fn every_operation_id_is_unique_within_its_document() {
        for face in FACES {
            let doc: serde_json::Value =
                serde_json::from_str(&document_text(face).unwrap()).unwrap();
            let mut seen = std::collections::BTreeMap::new();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let Some(id) = op.get("operationId").and_then(|v| v.as_str()) else {
                        panic!("{face}: {method} {path} has no operationId");
                    };
                    if let Some(other) = seen.insert(id.to_string(), format!("{method} {path}")) {
                        panic!("{face}: operationId {id} of {method} {path} is also {other}'s");
                    }
                }
            }
        }
    }
}
