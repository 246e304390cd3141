//! Refunds of completed pay-ins: refund (part of) one, read a refund, list
//! an invoice's refunds. A Merchant API pay-in was paid by a P2P transfer,
//! so its refund is paid out by a trader to the customer's requisites, which
//! the request gives as a payout's are given (`paymentOption`,
//! `paymentMethod`, `paymentRequisites`).

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::refund::Refund;
use kassa_domain::Source;
use kassa_engine::refunds::{NewRefund, RefundPayee, FIELDS_FIELD, METHOD_FIELD};
use kassa_engine::EngineError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{MerchantRead, MerchantSigned};
use super::error::{ApiError, ErrorBody};
use super::payout::{out_option, requisite_fields};
use super::render::refund_dto;
use super::request::{Problems, RequisitesBody, TextOrNumber};
use super::response::{RefundDto, RefundListDto};
use super::{created_status, json_response, Result, ID_MAX};
use crate::field::{read_object, Field, NotAnObject, Text};
use crate::AppState;

/// `POST /api/merchant/refunds`. The body names the invoice, so that its
/// signature covers which invoice is refunded.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRefundRequest {
    /// The pay-in to refund: a `completed` invoice of this key's mode.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 255, required = true)]
    pub invoice_id: Text,
    /// Your id of the refund: a repeat with the same `internalId` and body
    /// answers 200 with the refund made first; another body, 409.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 255, required = true)]
    pub internal_id: Text,
    /// A decimal string, up to what is left to refund; without it, all that
    /// is left.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "300.00", pattern = r"^[0-9]{1,12}(\.[0-9]{1,8})?$")]
    pub amount: TextOrNumber,
    /// How the customer is paid back: `CARD` (or `C2C`), `SBP`,
    /// `LOCALBANKS`, `MTS`, `WALLETM10`, `EMANAT`.
    #[serde(default)]
    #[schema(value_type = String, example = "CARD", min_length = 1, max_length = 32, required = true)]
    pub payment_option: Text,
    /// The customer's bank (`sberbank`, ...).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "sberbank", min_length = 1, max_length = 64)]
    pub payment_method: Text,
    /// The customer's card, phone or account number and its holder.
    #[serde(default)]
    #[schema(value_type = RequisitesBody, required = true)]
    pub payment_requisites: Field<RequisitesBody>,
}

impl CreateRefundRequest {
    fn read(body: &[u8]) -> Result<Self> {
        read_object(body).map_err(|e| match e {
            NotAnObject::Other => ApiError::bad_request("The body must be a JSON object."),
            NotAnObject::Malformed(e) => {
                ApiError::bad_request(format!("The body is not valid JSON: {e}."))
            }
        })
    }

    /// The engine's command. The requisites are checked by the engine, as a
    /// payout's are; here only their shape.
    fn command(self, test_mode: bool) -> Result<NewRefund> {
        let mut p = Problems::default();
        let invoice_id = p.text("invoiceId", self.invoice_id, true);
        let internal_id = p.text("internalId", self.internal_id, true);
        let amount = match self.amount {
            Field::Absent => None,
            other => p.amount(other),
        };
        let option = p.text("paymentOption", self.payment_option, false);
        let bank = p.text("paymentMethod", self.payment_method, false);
        for (name, value) in [("invoiceId", &invoice_id), ("internalId", &internal_id)] {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || v.len() > ID_MAX)
            {
                p.fail(name, "Must be 1 to 255 characters.");
            }
        }
        let (mut requisite, mut holder) = (None, None);
        match self.payment_requisites {
            Field::Absent => {}
            Field::Given(r) => {
                requisite = p.text("paymentRequisites.requisites", r.requisites, true);
                holder = p.text("paymentRequisites.holder", r.holder, false);
            }
            Field::Wrong(_) => p.fail(
                "paymentRequisites",
                "Must be an object: {\"requisites\": \"...\", \"holder\": \"...\"}.",
            ),
        }
        let option = match option.as_deref() {
            None => None,
            Some(o) => {
                let found = out_option(o);
                if found.is_none() {
                    p.fail(
                        "paymentOption",
                        "Must be one of CARD (or C2C), SBP, LOCALBANKS, MTS, WALLETM10, EMANAT.",
                    );
                }
                found
            }
        };
        p.finish()?;
        // No requisites at all: the engine says which the invoice needs.
        let payee = match (option, requisite) {
            (None, None) => None,
            (Some(option), Some(requisite)) => Some(RefundPayee {
                method: option.method.to_string(),
                fields: requisite_fields(
                    option,
                    &requisite,
                    holder.map(|h| h.trim().to_string()),
                    bank.as_deref(),
                ),
            }),
            (None, Some(_)) => return Err(ApiError::invalid_field("paymentOption", REQUIRED)),
            (Some(_), None) => {
                return Err(ApiError::invalid_field("paymentRequisites", REQUISITES))
            }
        };
        Ok(NewRefund {
            invoice_id: invoice_id.unwrap_or_default(),
            reference_id: internal_id,
            amount,
            service_fields: None,
            payee,
            test_mode,
        })
    }
}

const REQUIRED: &str = "This field is required.";
const REQUISITES: &str = "The customer's requisites to pay the refund to are required: \
    {\"requisites\": \"...\", \"holder\": \"...\"}, with paymentOption.";

/// The Merchant API's name of a field the refund engine found wrong.
fn refund_field(engine_field: &str) -> String {
    let in_fields = engine_field
        .strip_prefix(FIELDS_FIELD)
        .and_then(|f| f.strip_prefix('.'));
    match (engine_field, in_fields) {
        ("reference_id", _) => "internalId".into(),
        (METHOD_FIELD, _) => "paymentRequisites".into(),
        (_, Some("bank_name")) => "paymentMethod".into(),
        (_, Some(f)) if f.ends_with("_holder") => "paymentRequisites.holder".into(),
        (_, Some(_)) => "paymentRequisites.requisites".into(),
        (other, _) => other.into(),
    }
}

/// An engine error of a refund, in the Merchant API's names and codes.
fn refund_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Invalid(fields) => match fields.get("invoice") {
            // Nothing to refund is the invoice's state, not a field's fault.
            Some(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_refundable", message)
            }
            None => {
                let mut renamed = BTreeMap::new();
                for (field, message) in fields {
                    renamed.entry(refund_field(&field)).or_insert(message);
                }
                ApiError::invalid(renamed)
            }
        },
        EngineError::Conflict(_) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "This internalId was used for another refund; nothing was changed.",
        )
        .with_field("internalId", "Already used with another request."),
        other => other.into(),
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("No such {what}."),
    )
}

/// Refunds (part of) a completed pay-in: 201 and the refund, `refunding`
/// until the trader who takes its payout pays it (`refunded`) or it fails
/// (`refund_failed`, the money is yours again). A repeat of an `internalId`
/// with the same body answers 200 with the first refund, another body 409.
/// More than is left to refund, more than the available balance, or an
/// invoice that took no money: 422, and nothing changes.
#[utoipa::path(post, path = "/api/merchant/refunds", tag = "refunds", operation_id = "create_refund",
    request_body = CreateRefundRequest,
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 201, body = RefundDto), (status = 200, body = RefundDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create(State(app): State<AppState>, signed: MerchantSigned) -> Result<Response> {
    let new = CreateRefundRequest::read(&signed.body)?.command(signed.test_mode)?;
    // Only this face's invoices are refunded here.
    match app.engine.invoice_with_deal(new.invoice_id.clone()).await {
        Ok((i, _))
            if i.merchant_id == signed.merchant.id
                && i.test_mode == signed.test_mode
                && i.source == Source::MerchantApi => {}
        Ok(_) | Err(EngineError::NotFound) => return Err(not_found("invoice")),
        Err(e) => return Err(e.into()),
    }
    let created = app
        .engine
        .create_refund(&signed.merchant, new)
        .await
        .map_err(|e| match e {
            EngineError::NotFound => not_found("invoice"),
            other => refund_error(other),
        })?;
    Ok(json_response(
        created_status(created.created),
        &refund_dto(&created.refund, &created.invoice),
    ))
}

/// An id from the path; one that does not decode names nothing.
fn path_id(id: std::result::Result<Path<String>, PathRejection>, what: &str) -> Result<String> {
    match id {
        Ok(Path(id)) if !id.is_empty() && id.len() <= ID_MAX => Ok(id),
        _ => Err(not_found(what)),
    }
}

/// A refund of this merchant and mode, by its id.
#[utoipa::path(get, path = "/api/merchant/refunds/{id}", tag = "refunds", operation_id = "get_refund",
    params(("id" = String, Path)),
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 200, body = RefundDto),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn show(
    State(app): State<AppState>,
    signed: MerchantRead,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = path_id(id, "refund")?;
    let found = app
        .engine
        .refund(signed.merchant.id.clone(), signed.test_mode, id)
        .await;
    let refund = match found {
        Ok(r) => r,
        Err(EngineError::NotFound) => return Err(not_found("refund")),
        Err(e) => return Err(e.into()),
    };
    let (invoice, _) = app
        .engine
        .invoice_with_deal(refund.invoice_id.clone())
        .await?;
    if invoice.source != Source::MerchantApi {
        return Err(not_found("refund"));
    }
    Ok(json_response(
        StatusCode::OK,
        &refund_dto(&refund, &invoice),
    ))
}

/// The refunds of a pay-in of this merchant and mode, oldest first.
#[utoipa::path(get, path = "/api/merchant/invoices/{id}/refunds", tag = "refunds",
    operation_id = "list_refunds",
    params(("id" = String, Path)),
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 200, body = RefundListDto),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    signed: MerchantRead,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    let id = path_id(id, "invoice")?;
    let invoice = match app.engine.invoice_with_deal(id.clone()).await {
        Ok((i, _))
            if i.merchant_id == signed.merchant.id
                && i.test_mode == signed.test_mode
                && i.source == Source::MerchantApi =>
        {
            i
        }
        Ok(_) | Err(EngineError::NotFound) => return Err(not_found("invoice")),
        Err(e) => return Err(e.into()),
    };
    let refunds: Vec<Refund> = app
        .engine
        .refunds_of_invoice(signed.merchant.id.clone(), signed.test_mode, id)
        .await?;
    let items = refunds.iter().map(|r| refund_dto(r, &invoice)).collect();
    Ok(json_response(StatusCode::OK, &RefundListDto { items }))
}
