//! Who is calling: a merchant whose Merchant API key is `X-Identity` and
//! whose request is signed in `X-Signature` under the key's secret. A POST
//! signs its raw body (`MerchantSigned`, which reads the body once and hands
//! it on), a GET its path with its query (`MerchantRead`).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use kassa_domain::Merchant;
use kassa_engine::secrets::constant_time_eq;

use super::error::ApiError;
use super::{Result, BODY_MAX_BYTES};
use crate::AppState;

/// Lowercase hex of HMAC-SHA256(secret, text): the `X-Signature` of requests
/// and of callbacks.
pub fn signature(secret: &str, text: &[u8]) -> String {
    hex::encode(crate::h2h::hmac_sha256(secret.as_bytes(), text))
}

/// A POST that proved it comes from the merchant: the key's mode, and the
/// raw body the signature covers.
pub struct MerchantSigned {
    pub merchant: Merchant,
    pub test_mode: bool,
    pub body: Bytes,
}

/// A read that proved it comes from the merchant, by its path and query.
pub struct MerchantRead {
    pub merchant: Merchant,
    pub test_mode: bool,
}

impl FromRequest<AppState> for MerchantSigned {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &AppState) -> Result<Self> {
        let (parts, body) = request.into_parts();
        let (merchant, test_mode, body) =
            verify(app, &parts.headers, &parts.uri, Some(body)).await?;
        Ok(MerchantSigned {
            merchant,
            test_mode,
            body,
        })
    }
}

impl FromRequestParts<AppState> for MerchantRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let (merchant, test_mode, _) = verify(app, &parts.headers, &parts.uri, None).await?;
        Ok(MerchantRead {
            merchant,
            test_mode,
        })
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

async fn read_body(body: Body) -> Result<Bytes> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("The body is larger than {BODY_MAX_BYTES} bytes."),
            ),
            crate::BodyError::Unreadable => {
                ApiError::bad_request("The request body could not be read.")
            }
        })
}

/// Checks `X-Identity` and `X-Signature`: the HMAC of the raw body of a POST
/// (of the path with its query when it has none), and of the path with its
/// query for a read (`body` is `None`), whatever body a read carries: a
/// captured signed POST body must not open a GET. Compared in constant time.
async fn verify(
    app: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: Option<Body>,
) -> Result<(Merchant, bool, Bytes)> {
    let identity = header_text(headers, "x-identity")
        .ok_or_else(|| ApiError::unauthorized("The X-Identity header is missing."))?;
    let (merchant, test_mode) = app
        .engine
        .authenticate_merchant_api(identity.to_string())
        .await?;
    let body = match body {
        Some(body) => read_body(body).await?,
        None => Bytes::new(),
    };
    let given = header_text(headers, "x-signature")
        .ok_or_else(|| ApiError::unauthorized("The X-Signature header is missing."))?;
    let Some(secret) = app.engine.merchant_api_secret(&merchant, test_mode) else {
        tracing::error!(merchant = %merchant.id, "the Merchant API secret cannot be unsealed");
        return Err(ApiError::internal());
    };
    let signed: &[u8] = if body.is_empty() {
        uri.path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .as_bytes()
    } else {
        &body
    };
    let expected = signature(&secret, signed);
    if !constant_time_eq(&given.to_ascii_lowercase(), &expected) {
        return Err(ApiError::unauthorized(
            "X-Signature does not match: send the lowercase hex HMAC-SHA256 of the raw body \
             (or, without a body, of the path with its query) under the API secret.",
        ));
    }
    Ok((merchant, test_mode, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The worked example of `docs/merchant-api.md`.
    #[test]
    fn the_documented_signatures() {
        let secret = "ms_test_Q2xpZW50U2VjcmV0RXhhbXBsZTAxMjM0NTY3ODlhYmM";
        let body = r#"{"type":"in","amount":"1000.00","currency":"RUB","notificationUrl":"https://shop.example/kassa/notify","notificationToken":"merchant_notification_token","internalId":"00001","userId":"uid-1","paymentMethod":"sberbank","startDeal":true}"#;
        assert_eq!(
            signature(secret, body.as_bytes()),
            "ae05896b5d385055c3876155f14c395836f54b17260cc87cb901bd3f923c1943"
        );
        assert_eq!(
            signature(secret, b"/api/merchant/invoices/cpi_0uQ8x3LcJxoBxnY"),
            "ab99b17a78906c0ebc7e15252681b5998cc8cd1e3ef51249f0f624450802d630"
        );
        assert_eq!(
            signature(
                secret,
                b"/api/merchant/invoices?limit=2&after=cpi_0uQ8x3LcJxoBxnY"
            ),
            "0c5820fb3f2fc57c2ea1c179330b8e25dd4511659e559d14d99ac92e0674dba6"
        );
    }
}
