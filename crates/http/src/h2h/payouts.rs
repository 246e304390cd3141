//! `POST /api/payout` (spec 002): a payout with the method's
//! `additional_fields`, its amount held from the merchant's available
//! balance; answered, and later announced by callbacks to the site's
//! callback URL, with the payout's numeric status.

use axum::extract::State;
use axum::Json;
use kassa_domain::payout::Payout;

use super::auth::H2hSigned;
use super::error::{ErrorBody, H2hError};
use super::request::{PayoutBody, PayoutRequest};
use super::response::{PayoutAnswer, Signed};
use crate::AppState;

/// Creates a payout; a repeat of a `request_id` with the same request
/// answers with the payout as it is now (the way to poll it). Signed with
/// the test secret, it is a test payout, settled by the test executor.
#[utoipa::path(post, path = "/api/payout", tag = "payout",
    request_body = PayoutBody,
    responses(
        (status = 200, body = PayoutAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, description = "A value is not allowed, or the balance is short.",
            body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn payout(
    State(app): State<AppState>,
    signed: H2hSigned<PayoutRequest>,
) -> Result<Json<PayoutAnswer>, H2hError> {
    let merchant = signed.merchant;
    let new = signed.body.command(merchant.callback_url.clone())?;
    let created = app
        .engine
        .create_payout(&merchant, signed.test_mode, new)
        .await?;
    let answer = PayoutAnswer::unsigned(&created.payout, merchant.site_id, &merchant.site_login);
    Ok(Json(answer.signed(&signed.secret)))
}

/// Renders an H2H payout callback: the payout's answer fields (its status
/// now), signed with the H2H secret like an answer. Without a secret (it
/// does not unseal) the body goes unsigned, which the merchant rejects.
pub fn render_payout_callback(
    callback: &kassa_domain::Callback,
    secret: Option<&str>,
) -> kassa_engine::Rendered {
    let snapshot = &callback.snapshot;
    let body = match serde_json::from_value::<Payout>(snapshot["payout"].clone()) {
        Ok(payout) => {
            let site_id = snapshot["store"]["id"].as_i64().unwrap_or_default();
            let site_login = snapshot["store"]["site_login"].as_str().unwrap_or_default();
            let answer = PayoutAnswer::unsigned(&payout, site_id, site_login);
            match secret {
                Some(secret) => serde_json::to_value(answer.signed(secret)),
                None => {
                    tracing::error!(
                        callback = %callback.id,
                        "the H2H secret does not unseal: the payout callback goes unsigned"
                    );
                    serde_json::to_value(answer).map(|mut v| {
                        v.as_object_mut().map(|m| m.shift_remove("signature"));
                        v
                    })
                }
            }
            .expect("an answer serializes")
        }
        Err(e) => {
            // Never the snapshot itself: it is not the face's shape.
            tracing::error!(callback = %callback.id, error = %e, "unreadable payout snapshot");
            serde_json::json!({ "invoice_id": callback.invoice_id })
        }
    };
    kassa_engine::Rendered {
        body: serde_json::to_vec(&body).expect("JSON"),
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2h::verify;
    use serde_json::{json, Value};

    #[test]
    fn payout_callbacks_are_the_signed_answer_fields() {
        let payout: Payout = serde_json::from_value(json!({
            "id": "po_1", "merchant_id": "mer_1", "test_mode": false, "request_id": "r-1",
            "source": "h2h", "amount_minor": 2500, "fee_minor": 0, "currency": "USD",
            "method": "card", "fields_sealed": "sealed",
            "fields_masked": {"card_number": "424242******4242"}, "status": "failed",
            "reason": "deadline", "trader_id": null, "declined_by": [], "receipt": null,
            "created_at_secs": 1, "updated_at_secs": 2, "deadline_secs": 3,
            "test_outcome": null, "fingerprint": "f", "callback_url": "https://shop.example/cb",
        }))
        .unwrap();
        let callback = kassa_domain::Callback {
            id: "cb_1".into(),
            invoice_id: "po_1".into(),
            merchant_id: "mer_1".into(),
            test_mode: false,
            face: kassa_domain::CallbackFace::H2hPayout,
            url: "https://shop.example/cb".into(),
            transaction_status: "failed".into(),
            snapshot: json!({"payout": payout, "store": {"id": 1004, "name": "Shop", "site_login": "shop"}}),
            state: kassa_domain::CallbackState::Pending,
            attempts: 0,
            created_at_secs: 2,
            next_attempt_at_secs: 2,
            lease_until_secs: 0,
        };
        let rendered = render_payout_callback(&callback, Some("k"));
        let body: Value = serde_json::from_slice(&rendered.body).unwrap();
        assert_eq!(
            body,
            json!({
                "request_id": "r-1", "success": false, "status": 3, "amount": 2500,
                "site_login": "shop", "site_id": 1004, "currency": "USD", "invoice_id": "po_1",
                "signature": body["signature"],
            })
        );
        assert!(verify("k", body.as_object().unwrap()));
        let unsigned = render_payout_callback(&callback, None);
        let body: Value = serde_json::from_slice(&unsigned.body).unwrap();
        assert!(body.get("signature").is_none());
    }
}
