//! The private API's invoices: create, read, list, resend a callback.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_domain::{CallbackAttempt, Invoice, Source};
use kassa_store::Cursor;

use super::auth::CheckoutPrivate;
use super::error::{ErrorList, FieldErrors};
use super::parse::json_body;
use super::render::{self, private_invoice_resource};
use super::request::{new_invoice, CreateInvoiceRequest};
use super::response::{
    CallbackAttributes, CallbackResource, CursorLinks, CursorMeta, Data, InvoiceList,
    PrivateInvoice,
};
use super::{
    created_status, page_size, query_pairs, query_value, read_body, CheckoutError, Result,
};
use crate::AppState;

/// Creates an invoice; a repeat of a `reference_id` answers 200 with the
/// first, and its callback attempts.
#[utoipa::path(post, path = "/api/payment-invoices", tag = "invoices",
    request_body = CreateInvoiceRequest,
    security(("private_key" = [])),
    responses(
        (status = 201, body = Data<PrivateInvoice>), (status = 200, body = Data<PrivateInvoice>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 403, body = ErrorList), (status = 409, body = ErrorList),
        (status = 413, body = ErrorList), (status = 422, body = FieldErrors),
    ))]
pub async fn create_private(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    body: Body,
) -> Result<Response> {
    let request: CreateInvoiceRequest = json_body(&read_body(body).await?)?;
    let mut new = new_invoice(request.attributes()?, auth.test_mode)?;
    new.source = Some(Source::PrivateApi);
    let created = app
        .engine
        .create_invoice(auth.merchant, new.test_mode, new)
        .await?;
    let invoice = created.invoice;
    let attempts = if created.created {
        Vec::new()
    } else {
        app.engine.callback_attempts(invoice.id.clone()).await?
    };
    Ok(private_invoice_response(
        &app.base_url,
        created_status(created.created),
        &invoice,
        &attempts,
    ))
}

/// `{"data": <invoice>}` of the private API, rendered straight to bytes.
fn private_invoice_response(
    base: &str,
    status: StatusCode,
    invoice: &Invoice,
    attempts: &[CallbackAttempt],
) -> Response {
    let url = render::hpp_url(base, invoice);
    let body = Data {
        data: private_invoice_resource(&url, invoice, attempts),
    };
    let bytes = serde_json::to_vec(&body).expect("an invoice renders");
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

#[utoipa::path(get, path = "/api/payment-invoices/{id}", tag = "invoices",
    params(("id" = String, Path)),
    security(("private_key" = [])),
    responses(
        (status = 200, body = Data<PrivateInvoice>),
        (status = 401, body = ErrorList), (status = 404, body = ErrorList),
    ))]
pub async fn get_private(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let invoice = app
        .engine
        .invoice(auth.merchant.id, auth.test_mode, id)
        .await?;
    let attempts = app.engine.callback_attempts(invoice.id.clone()).await?;
    Ok(private_invoice_response(
        &app.base_url,
        StatusCode::OK,
        &invoice,
        &attempts,
    ))
}

/// By `filter[reference_id]` (one invoice), or a page of the newest first
/// with `page[after]`/`page[before]` cursors.
#[utoipa::path(get, path = "/api/payment-invoices", tag = "invoices",
    params(
        ("filter[reference_id]" = Option<String>, Query),
        ("page[size]" = Option<u32>, Query, minimum = 1, maximum = 100),
        ("page[after]" = Option<String>, Query),
        ("page[before]" = Option<String>, Query),
    ),
    security(("private_key" = [])),
    responses(
        (status = 200, description = "A page, or with `filter[reference_id]` the one invoice (`Data<PrivateInvoice>`).", body = InvoiceList),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 404, body = ErrorList), (status = 422, body = FieldErrors),
    ))]
pub async fn list_invoices(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(q)?;
    if let Some(reference_id) = query_value(&pairs, "filter[reference_id]") {
        let invoice = app
            .engine
            .invoice_by_reference(auth.merchant.id, auth.test_mode, reference_id.to_string())
            .await?
            .ok_or(CheckoutError::NotFound)?;
        let attempts = app.engine.callback_attempts(invoice.id.clone()).await?;
        return Ok(private_invoice_response(
            &app.base_url,
            StatusCode::OK,
            &invoice,
            &attempts,
        ));
    }
    let size = page_size(&pairs)?;
    let cursor = match (
        query_value(&pairs, "page[after]"),
        query_value(&pairs, "page[before]"),
    ) {
        (Some(_), Some(_)) => {
            return Err(CheckoutError::invalid(
                "page",
                "Use page[after] or page[before], not both.",
            ))
        }
        (Some(id), None) => Cursor::After(id.to_string()),
        (None, Some(id)) => Cursor::Before(id.to_string()),
        (None, None) => Cursor::First,
    };
    let page = app
        .engine
        .invoices(auth.merchant.id, auth.test_mode, cursor, size)
        .await?;
    let mut attempts = Vec::with_capacity(page.items.len());
    for invoice in &page.items {
        attempts.push(app.engine.callback_attempts(invoice.id.clone()).await?);
    }
    let urls: Vec<String> = page
        .items
        .iter()
        .map(|i| render::hpp_url(&app.base_url, i))
        .collect();
    let data: Vec<PrivateInvoice> = page
        .items
        .iter()
        .zip(&urls)
        .zip(&attempts)
        .map(|((invoice, url), attempts)| private_invoice_resource(url, invoice, attempts))
        .collect();
    let first = page.items.first().map(|i| i.id.clone());
    let last = page.items.last().map(|i| i.id.clone());
    let link = |key: &str, id: &Option<String>, exists: bool| match (id, exists) {
        (Some(id), true) => format!("/api/payment-invoices?page[size]={size}&page[{key}]={id}"),
        _ => String::new(),
    };
    let links = CursorLinks {
        prev: link("before", &first, page.has_newer),
        next: link("after", &last, page.has_older),
    };
    Ok(Json(InvoiceList {
        meta: CursorMeta {
            count: data.len(),
            size,
            before: first,
            after: last,
        },
        links,
        data,
    })
    .into_response())
}

/// Owes a fresh callback with the invoice's current status.
#[utoipa::path(post, path = "/api/payment-invoices/{id}/callbacks", tag = "invoices",
    params(("id" = String, Path)),
    security(("private_key" = [])),
    responses(
        (status = 202, body = Data<CallbackResource>),
        (status = 401, body = ErrorList), (status = 404, body = ErrorList),
        (status = 409, body = ErrorList), (status = 422, body = FieldErrors),
    ))]
pub async fn resend_callback(
    State(app): State<AppState>,
    auth: CheckoutPrivate,
    Path(id): Path<String>,
) -> Result<Response> {
    let invoice = app
        .engine
        .invoice(auth.merchant.id.clone(), auth.test_mode, id)
        .await?;
    let callback = app
        .engine
        .resend_callback(Some(auth.merchant.id), invoice.id)
        .await?;
    let body = Data {
        data: CallbackResource {
            kind: "callbacks",
            id: &callback.id,
            attributes: CallbackAttributes {
                url: &callback.url,
                transaction_status: &callback.transaction_status,
                status: callback.state.as_str(),
            },
        },
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
