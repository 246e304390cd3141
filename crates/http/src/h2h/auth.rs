//! Who is calling the H2H API: the merchant whose live or test H2H secret
//! signed the body. The signature covers every top-level field, so the
//! extractor reads the body once, checks it, and hands the handler the
//! verified merchant and its typed request.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use kassa_domain::Merchant;
use kassa_engine::secrets::constant_time_eq;
use kassa_engine::{Engine, EngineError};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::H2hError;
use super::request::{Credentials, Problems};
use super::signature::sign;
use super::BODY_MAX_BYTES;
use crate::field::{raw_fields, read_fields, NotAnObject, RawFields};
use crate::AppState;

/// Longest `merchant_id` looked up; anything longer is no merchant's.
const MERCHANT_ID_MAX: usize = 64;

/// A request whose signature checked out: the merchant, the H2H secret that
/// signed it (to sign the answer), the mode that secret selects, and the
/// request's own fields.
pub struct H2hSigned<T> {
    pub merchant: Merchant,
    pub secret: String,
    pub test_mode: bool,
    pub body: T,
}

impl<T: DeserializeOwned + Default + Send> FromRequest<AppState> for H2hSigned<T> {
    type Rejection = H2hError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, H2hError> {
        let bytes = read_body(req.into_body()).await?;
        let raw = raw_fields(&bytes).map_err(not_an_object)?;
        let values = values(&raw, &bytes)?;
        unambiguous(&values)?;
        let (merchant, secret, test_mode) =
            authenticate(&app.engine, read_fields(&raw), &values).await?;
        // The request's own fields are read only once the signature holds,
        // so an unsigned body never learns more than a 401.
        Ok(H2hSigned {
            merchant,
            secret,
            test_mode,
            body: read_fields(&raw),
        })
    }
}

/// Reads at most [`BODY_MAX_BYTES`]; more is a 413.
async fn read_body(body: axum::body::Body) -> Result<Bytes, H2hError> {
    crate::read_limited(body, BODY_MAX_BYTES)
        .await
        .map_err(|e| match e {
            crate::BodyError::TooLarge => H2hError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {BODY_MAX_BYTES} bytes"),
            ),
            crate::BodyError::Unreadable => {
                H2hError::bad_request("The request body could not be read")
            }
        })
}

fn not_an_object(e: NotAnObject) -> H2hError {
    match e {
        NotAnObject::Other => H2hError::bad_request("The request body must be a JSON object"),
        NotAnObject::Malformed(e) => malformed(e),
    }
}

fn malformed(e: serde_json::Error) -> H2hError {
    H2hError::bad_request(format!("Malformed JSON: {e}"))
}

/// The top-level values, as the signature reads them.
fn values(raw: &RawFields<'_>, bytes: &[u8]) -> Result<Map<String, Value>, H2hError> {
    let mut values = Map::with_capacity(raw.len());
    for (key, text) in raw {
        match serde_json::from_str(text.get()) {
            Ok(value) => {
                values.insert(key.clone(), value);
            }
            // A value the scan let through but a tree refuses: the whole
            // body's error says where.
            Err(e) => {
                return Err(malformed(
                    serde_json::from_slice::<Value>(bytes).err().unwrap_or(e),
                ))
            }
        }
    }
    Ok(values)
}

/// Refuses a body whose canonical string could be read as another body's.
/// With no `:` or `;` in a top-level key, and no top-level string holding a
/// `;` or starting like JSON (`{`, `[`), the canonical text reads back one
/// way: each key ends at its first `:`, a value starting with `{` or `[` is
/// JSON (which ends by itself), any other ends at the first `;`. What is
/// left is a string against a number or boolean of the same text, and every
/// field Kassa reads has a fixed type. So one signature stands for one
/// request. A `:` in a value is harmless (URLs and times carry one).
fn unambiguous(map: &Map<String, Value>) -> Result<(), H2hError> {
    let mut errors = BTreeMap::new();
    for (key, value) in map {
        let problem = if key.contains([':', ';']) {
            Some("field names must not contain ':' or ';' (they delimit the signed text)")
        } else if key == "signature" {
            None
        } else {
            match value.as_str() {
                Some(s) if s.contains(';') => {
                    Some("must not contain ';' (it delimits the signed text)")
                }
                Some(s) if s.starts_with(['{', '[']) => {
                    Some("must not start with '{' or '[' (the signed text writes objects so)")
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            errors.insert(key.clone(), problem.to_string());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(H2hError::fields(StatusCode::BAD_REQUEST, errors))
    }
}

/// Authenticates an H2H body: `merchant_id` names a merchant, the
/// `signature` is the one its live or its test H2H secret makes (the test
/// one puts the request in test mode), and `site_id`/`site_login` are that
/// merchant's. Ill-typed credential fields are a 400; everything else that
/// fails is a 401.
async fn authenticate(
    engine: &Engine,
    credentials: Credentials,
    values: &Map<String, Value>,
) -> Result<(Merchant, String, bool), H2hError> {
    let mut p = Problems::default();
    let merchant_id = p.text("merchant_id", credentials.merchant_id);
    let site_id = p.integer("site_id", credentials.site_id, "must be an integer");
    let site_login = p.text("site_login", credentials.site_login);
    p.finish()?;
    if merchant_id.is_empty() || merchant_id.len() > MERCHANT_ID_MAX {
        return Err(H2hError::unauthorized("Unknown merchant_id"));
    }
    let merchant = match engine.merchant_to_authenticate(merchant_id).await {
        Ok(m) => m,
        Err(EngineError::NotFound) => return Err(H2hError::unauthorized("Unknown merchant_id")),
        Err(e) => return Err(e.into()),
    };
    // Only a string can be the signature.
    let given = credentials
        .signature
        .given()
        .map(|s| s.to_ascii_lowercase());
    let mut signed_with = None;
    for (test_mode, sealed) in [
        (false, &merchant.h2h_secret_sealed),
        (true, &merchant.h2h_test_secret_sealed),
    ] {
        if sealed.is_empty() {
            // A merchant made before the secret existed has none: nothing signs.
            continue;
        }
        let secret = engine.h2h_secret(&merchant, test_mode).ok_or_else(|| {
            tracing::error!(
                merchant = %merchant.id,
                "the H2H secret does not unseal: is the master key the one it was sealed with?"
            );
            H2hError::internal()
        })?;
        if given
            .as_deref()
            .is_some_and(|given| constant_time_eq(&sign(&secret, values), given))
        {
            signed_with = Some((secret, test_mode));
            break;
        }
    }
    let Some((secret, test_mode)) = signed_with else {
        return Err(H2hError::unauthorized("Invalid signature"));
    };
    if site_id != merchant.site_id || !constant_time_eq(&site_login, &merchant.site_login) {
        return Err(H2hError::unauthorized(
            "site_id and site_login do not belong to the merchant",
        ));
    }
    Ok((merchant, secret, test_mode))
}
