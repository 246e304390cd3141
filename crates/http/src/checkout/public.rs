//! The public API: what a page or an app holding only the public key may
//! do (pre-request, create, read), and the payment link's form.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use kassa_domain::{Currency, Source};

use super::auth::public_key;
use super::error::{ErrorList, FieldErrors};
use super::parse::{form_flags, form_object, json_body};
use super::render::{self, public_invoice};
use super::request::{
    new_invoice, PaymentLinkForm, PrerequestBody, Problems, PublicInvoiceRequest,
};
use super::response::{Data, Prerequest, PublicInvoice};
use super::{created_status, query_pairs, query_value, read_body, CheckoutError, Result};
use crate::field::Field;
use crate::AppState;

/// The services a merchant offers in a currency, and their methods.
#[utoipa::path(post, path = "/public-api/payment-prerequest", tag = "public",
    request_body = PrerequestBody,
    responses(
        (status = 200, body = Data<Prerequest>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 422, body = FieldErrors),
    ))]
pub async fn prerequest(State(app): State<AppState>, body: Body) -> Result<Response> {
    let body: PrerequestBody = json_body(&read_body(body).await?)?;
    let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
    let mut problems = Problems::default();
    let code = problems.required("currency", body.currency);
    problems.finish()?;
    let currency = Currency::from_code(&code)
        .ok_or_else(|| CheckoutError::invalid("currency", "This value is not a valid currency."))?;
    let catalog = app.engine.catalog().await?;
    Ok(Json(render::prerequest(&merchant, test_mode, currency, &catalog)).into_response())
}

/// Creates an invoice with the public key; a repeat of a `reference_id`
/// answers 200 with the first.
#[utoipa::path(post, path = "/public-api/payment-invoices", tag = "public",
    request_body = PublicInvoiceRequest,
    responses(
        (status = 201, body = Data<PublicInvoice>), (status = 200, body = Data<PublicInvoice>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 403, body = ErrorList), (status = 409, body = ErrorList),
        (status = 413, body = ErrorList), (status = 422, body = FieldErrors),
    ))]
pub async fn create_public(State(app): State<AppState>, body: Body) -> Result<Response> {
    let body = PublicInvoiceRequest::read(&read_body(body).await?)?;
    let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
    let mut new = new_invoice(body.attributes, test_mode)?;
    new.source = Some(Source::PublicApi);
    let created = app
        .engine
        .create_invoice(merchant, new.test_mode, new)
        .await?;
    let url = render::hpp_url(&app.base_url, &created.invoice);
    Ok((
        created_status(created.created),
        Json(public_invoice(&url, &created.invoice)),
    )
        .into_response())
}

/// The payment link: an HTML form posted by the customer's browser, with
/// the same fields as the public creation (bracketed names for nested ones:
/// `customer[email]`). Success redirects to the hosted page; errors are
/// shown as a page.
#[utoipa::path(post, path = "/public-api/payment-invoices/process", tag = "public",
    request_body(content = PaymentLinkForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To the hosted page."),
        (status = 400, description = "The error, as a page.", content_type = "text/html"),
        (status = 401, description = "The error, as a page.", content_type = "text/html"),
        (status = 403, description = "The error, as a page.", content_type = "text/html"),
        (status = 409, description = "The error, as a page.", content_type = "text/html"),
        (status = 413, description = "The error, as a page.", content_type = "text/html"),
        (status = 422, description = "The error, as a page.", content_type = "text/html"),
    ))]
pub async fn create_from_form(State(app): State<AppState>, body: Body) -> Response {
    let result = async {
        let mut form = form_object(&read_body(body).await?)?;
        form_flags(&mut form);
        let form = serde_json::to_vec(&form).expect("a form writes as JSON");
        let body = PublicInvoiceRequest::read(&form)?;
        let (merchant, test_mode) = public_key(&app.engine, body.public_key).await?;
        let mut new = new_invoice(body.attributes, test_mode)?;
        new.source = Some(Source::HtmlForm);
        let created = app
            .engine
            .create_invoice(merchant, new.test_mode, new)
            .await?;
        Ok::<_, CheckoutError>(render::hpp_url(&app.base_url, &created.invoice))
    }
    .await;
    match result {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => crate::hpp::form_error_page(&e),
    }
}

/// An invoice of the public key's merchant and mode.
#[utoipa::path(get, path = "/public-api/payment-invoices/{id}", tag = "public",
    params(("id" = String, Path), ("public_key" = String, Query)),
    responses(
        (status = 200, body = Data<PublicInvoice>),
        (status = 400, body = ErrorList), (status = 401, body = ErrorList),
        (status = 404, body = ErrorList),
    ))]
pub async fn get_public(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(q)?;
    let key = query_value(&pairs, "public_key").map_or(Field::Absent, |k| Field::Given(k.into()));
    let (merchant, test_mode) = public_key(&app.engine, key).await?;
    let invoice = app.engine.invoice(merchant.id, test_mode, id).await?;
    let url = render::hpp_url(&app.base_url, &invoice);
    Ok(Json(public_invoice(&url, &invoice)).into_response())
}
