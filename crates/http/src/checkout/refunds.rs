//! The private API's refunds: refund an invoice, read a refund, list an
//! invoice's refunds.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::CheckoutPrivate;
use super::error::{ErrorList, FieldErrors};
use super::parse::json_body;
use super::render::refund_resource;
use super::request::CreateRefundRequest;
use super::response::{Data, RefundList, RefundListMeta, RefundResource};
use super::{created_status, read_body, Result};
use crate::AppState;

/// Refunds (part of) a processed invoice. 201 with the refund, `refunding`
/// until it settles; a repeat of a `reference_id` with the same body answers
/// 200 with the first, another body 409. More than is left to refund, more
/// than the available balance, or an invoice that took no money: 422, and
/// nothing changes.
#[utoipa::path(post, path = "/api/payment-invoices/{id}/refund", tag = "refunds",
    params(("id" = String, Path)),
    request_body = CreateRefundRequest,
    security(("private_key" = [])),
    responses(
        (status = 201, body = Data<RefundResource>), (status = 200, body = Data<RefundResource>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 404, body = ErrorList), (status = 409, body = ErrorList),
        (status = 413, body = ErrorList), (status = 422, body = FieldErrors),
    ))]
pub async fn create_refund(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response> {
    let request: CreateRefundRequest = json_body(&read_body(body).await?)?;
    let new = request.new_refund(id, auth.test_mode)?;
    let created = app.engine.create_refund(&auth.merchant, new).await?;
    let body = Data {
        data: refund_resource(&created.refund),
    };
    Ok((created_status(created.created), Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/payment-invoices/{id}/refunds", tag = "refunds",
    params(("id" = String, Path)),
    security(("private_key" = [])),
    responses(
        (status = 200, body = RefundList),
        (status = 401, body = ErrorList), (status = 404, body = ErrorList),
    ))]
pub async fn list_refunds(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let refunds = app
        .engine
        .refunds_of_invoice(auth.merchant.id, auth.test_mode, id)
        .await?;
    let data: Vec<RefundResource> = refunds.iter().map(refund_resource).collect();
    Ok(Json(RefundList {
        meta: RefundListMeta { count: data.len() },
        data,
    })
    .into_response())
}

#[utoipa::path(get, path = "/api/refunds/{id}", tag = "refunds",
    params(("id" = String, Path)),
    security(("private_key" = [])),
    responses(
        (status = 200, body = Data<RefundResource>),
        (status = 401, body = ErrorList), (status = 404, body = ErrorList),
    ))]
pub async fn get_refund(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let refund = app
        .engine
        .refund(auth.merchant.id, auth.test_mode, id)
        .await?;
    Ok(Json(Data {
        data: refund_resource(&refund),
    })
    .into_response())
}
