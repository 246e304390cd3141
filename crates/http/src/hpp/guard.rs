//! What keeps browsers from misusing the hosted page: the headers of every
//! response (a Content-Security-Policy that runs only the page's own inline
//! script and style and allows framing only where the merchant said,
//! `nosniff`, a referrer policy that keeps the page's address, a bearer of
//! the invoice, from other sites), and the check on every post (the page's
//! token, and no browser saying the post came from elsewhere).

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::p2p::{COPY_SCRIPT, P2P_STYLE, REFRESH};
use super::{COUNTDOWN, STYLE};
use crate::AppState;

/// The form field that carries the page token.
pub(super) const TOKEN_FIELD: &str = "token";

/// The page's forms carry a few bytes; more is not a form of ours.
const FORM_MAX_BYTES: usize = 4096;

fn hash_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The exact inline texts the page may run: its scripts and its one style
/// element (both style sheets, one after the other). Anything injected
/// would hash differently and not run.
static INLINE_SOURCES: LazyLock<String> = LazyLock::new(|| {
    let scripts: Vec<String> = [COUNTDOWN, COPY_SCRIPT, REFRESH]
        .iter()
        .map(|s| hash_source(s))
        .collect();
    format!(
        "script-src {}; style-src {}",
        scripts.join(" "),
        hash_source(&format!("{STYLE}{P2P_STYLE}"))
    )
});

/// Sets the protective headers on a response of the page, framed only by
/// `frame_ancestors` (the merchant's setting; none: not framed at all).
pub(super) fn protect(headers: &mut HeaderMap, frame_ancestors: &[String]) {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    let policy = |ancestors: &str| {
        format!(
            "default-src 'none'; {}; img-src 'self'; base-uri 'none'; frame-ancestors {ancestors}",
            *INLINE_SOURCES
        )
    };
    // Sources are checked when set; should one ever not make a header
    // value, the page is not framed at all.
    let value = HeaderValue::from_str(&policy(&ancestors))
        .or_else(|_| HeaderValue::from_str(&policy("'none'")))
        .expect("the policy of Kassa's own sources is a header value");
    headers.insert(header::CONTENT_SECURITY_POLICY, value);
    if frame_ancestors.is_empty() {
        // For browsers that predate frame-ancestors.
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    } else {
        headers.remove(header::X_FRAME_OPTIONS);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// Every response of the page's routes gets the headers; one that set its
/// merchant's policy keeps it.
pub(super) async fn protect_response(mut response: Response) -> Response {
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
    {
        protect(response.headers_mut(), &[]);
    }
    response
}

/// Whether a post to invoice `id`'s page came from that page: the page's
/// token in the form, and no browser saying it was sent from another site.
pub(super) async fn post_from_page(
    app: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> bool {
    if sent_from_elsewhere(headers, &app.base_url) {
        return false;
    }
    let Ok(bytes) = crate::read_limited(body, FORM_MAX_BYTES).await else {
        return false;
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    form.iter()
        .find(|(name, _)| name == TOKEN_FIELD)
        .is_some_and(|(_, token)| app.engine.check_page_token(id, token))
}

/// A browser says where a request comes from: `Sec-Fetch-Site`, or, in one
/// that predates it, `Origin` (Kassa's public origin, or the host the
/// request was sent to). A client that sends neither is not a browser
/// another site can drive; the token decides.
pub(super) fn sent_from_elsewhere(headers: &HeaderMap, base_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let ours = url::Url::parse(base_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let authority = origin.split_once("://").map(|(_, a)| a);
    !(origin == ours || (host.is_some() && authority == host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_browser_naming_another_site_is_refused() {
        let base = "https://pay.example.com";
        assert!(!sent_from_elsewhere(&headers(&[]), base));
        assert!(!sent_from_elsewhere(
            &headers(&[("sec-fetch-site", "same-origin")]),
            base
        ));
        assert!(sent_from_elsewhere(
            &headers(&[("sec-fetch-site", "cross-site")]),
            base
        ));
        assert!(sent_from_elsewhere(
            &headers(&[("sec-fetch-site", "same-site")]),
            base
        ));
        assert!(!sent_from_elsewhere(
            &headers(&[("origin", "https://pay.example.com")]),
            base
        ));
        assert!(!sent_from_elsewhere(
            &headers(&[
                ("origin", "http://10.0.0.5:8080"),
                ("host", "10.0.0.5:8080")
            ]),
            base
        ));
        assert!(sent_from_elsewhere(
            &headers(&[("origin", "https://evil.example")]),
            base
        ));
        assert!(sent_from_elsewhere(&headers(&[("origin", "null")]), base));
    }
}
