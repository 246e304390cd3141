//! Invoices: create a pay-in or a payout, read one, list them.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_domain::payout::{Payout, PayoutSource};
use kassa_domain::{Invoice, Source};
use kassa_engine::payouts::NewPayout;
use kassa_engine::EngineError;
use kassa_store::Cursor;

use super::auth::{MerchantRead, MerchantSigned};
use super::error::{ApiError, ErrorBody};
use super::payout::{idempotency_conflict, out_error, same_out_request};
use super::render::{invoice_dto, payout_dto, StoreInfo};
use super::request::{CreateInvoiceRequest, ListQuery, NewRequest};
use super::response::{InvoiceDto, ListDto, PagingDto};
use super::{created_status, json_response, Result, ID_MAX, LIMIT_MAX, PATH};
use crate::AppState;

/// Pages of the account's invoices scanned for one page of the listing (the
/// account may hold invoices of other APIs, which the listing skips).
const SCAN_PAGES_MAX: usize = 10;
/// Payout ids start with this; pay-in invoice ids do not.
const PAYOUT_PREFIX: &str = "po_";

/// Creates a pay-in (`type: in`) or a payout (`type: out`): 201 and the new
/// invoice; 200 and the same invoice for a repeat of the same body under the
/// same `internalId`.
#[utoipa::path(post, path = "/api/merchant/invoices", tag = "invoices", operation_id = "create_invoice",
    request_body = CreateInvoiceRequest,
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 201, body = InvoiceDto), (status = 200, body = InvoiceDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn create(State(app): State<AppState>, signed: MerchantSigned) -> Result<Response> {
    let new = match CreateInvoiceRequest::read(&signed.body)?.command()? {
        NewRequest::In(new) => new,
        NewRequest::Out(new) => return create_out(&app, signed, new).await,
    };
    let store = StoreInfo::of(&signed.merchant);
    let created = app
        .engine
        .create_p2p_invoice(signed.merchant, signed.test_mode, new)
        .await?;
    let deal = match &created.invoice.deal_id {
        Some(id) => Some(app.engine.deal(id.clone()).await?),
        None => None,
    };
    let dto = invoice_dto(
        &app.base_url,
        Some(&store),
        &created.invoice,
        deal.as_ref(),
        Some(&app.engine.evidence_links()),
    );
    Ok(json_response(created_status(created.created), &dto))
}

async fn create_out(app: &AppState, signed: MerchantSigned, new: NewPayout) -> Result<Response> {
    let store = StoreInfo::of(&signed.merchant);
    let created = app
        .engine
        .create_payout(&signed.merchant, signed.test_mode, new.clone())
        .await
        .map_err(out_error)?;
    if !created.created && !same_out_request(&created.payout, &new) {
        return Err(idempotency_conflict());
    }
    Ok(json_response(
        created_status(created.created),
        &payout_dto(Some(&store), &created.payout),
    ))
}

/// A pay-in or a payout of this merchant and mode, by its id.
#[utoipa::path(get, path = "/api/merchant/invoices/{id}", tag = "invoices", operation_id = "get_invoice",
    params(("id" = String, Path)),
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 200, body = InvoiceDto),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
pub async fn show(
    State(app): State<AppState>,
    signed: MerchantRead,
    id: std::result::Result<Path<String>, PathRejection>,
) -> Result<Response> {
    // An id that does not even decode names no invoice.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    if id.is_empty() || id.len() > ID_MAX {
        return Err(ApiError::not_found());
    }
    let store = StoreInfo::of(&signed.merchant);
    if id.starts_with(PAYOUT_PREFIX) {
        let payout = app
            .engine
            .payout(signed.merchant.id.clone(), signed.test_mode, id)
            .await?;
        if payout.source != PayoutSource::MerchantApi {
            return Err(ApiError::not_found());
        }
        return Ok(json_response(
            StatusCode::OK,
            &payout_dto(Some(&store), &payout),
        ));
    }
    let (invoice, deal) = match app.engine.invoice_with_deal(id).await {
        Ok(found) => found,
        Err(EngineError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => return Err(e.into()),
    };
    if invoice.merchant_id != signed.merchant.id
        || invoice.test_mode != signed.test_mode
        || invoice.source != Source::MerchantApi
    {
        return Err(ApiError::not_found());
    }
    let dto = invoice_dto(
        &app.base_url,
        Some(&store),
        &invoice,
        deal.as_ref(),
        Some(&app.engine.evidence_links()),
    );
    Ok(json_response(StatusCode::OK, &dto))
}

/// The merchant's Merchant API invoices of the key's mode, newest first,
/// `limit` (1 to 100, default 20) at a time; `after=<id>` continues after an
/// invoice; `internalId=` finds the pay-in and the payout of that id.
#[utoipa::path(get, path = "/api/merchant/invoices", tag = "invoices", operation_id = "list_invoices",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100),
        ("after" = Option<String>, Query, min_length = 1, max_length = 255),
        ("internalId" = Option<String>, Query, min_length = 1, max_length = 255),
    ),
    security(("identity" = [], "signature" = [])),
    responses(
        (status = 200, body = ListDto),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<AppState>,
    signed: MerchantRead,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let ListQuery {
        limit,
        after,
        internal_id,
    } = ListQuery::read(query.as_deref())?;
    let merchant_id = signed.merchant.id.clone();
    let test_mode = signed.test_mode;
    let mut found: Vec<Invoice> = Vec::new();
    let mut payouts: Vec<Payout> = Vec::new();
    let mut next_after = None;
    if let Some(reference) = internal_id {
        let invoice = app
            .engine
            .invoice_by_reference(merchant_id.clone(), test_mode, reference.clone())
            .await?;
        found.extend(invoice.filter(|i| i.source == Source::MerchantApi));
        match app
            .engine
            .payout_by_request(merchant_id, test_mode, reference)
            .await
        {
            Ok(p) if p.source == PayoutSource::MerchantApi => payouts.push(p),
            Ok(_) | Err(EngineError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        let mut cursor = match after {
            Some(id) => Cursor::After(id),
            None => Cursor::First,
        };
        'scan: for scanned in 1..=SCAN_PAGES_MAX {
            let page = match app
                .engine
                .invoices(merchant_id.clone(), test_mode, cursor, LIMIT_MAX)
                .await
            {
                Ok(page) => page,
                Err(EngineError::Invalid(_)) => {
                    return Err(ApiError::invalid_field(
                        "after",
                        "Names no invoice of this account and mode.",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let count = page.items.len();
            let mut last = None;
            for (i, invoice) in page.items.into_iter().enumerate() {
                last = Some(invoice.id.clone());
                if invoice.source == Source::MerchantApi {
                    found.push(invoice);
                    if found.len() == limit {
                        if i + 1 < count || page.has_older {
                            next_after = last;
                        }
                        break 'scan;
                    }
                }
            }
            match last {
                Some(id) if page.has_older => {
                    if scanned == SCAN_PAGES_MAX {
                        // Enough work for one answer: the client goes on.
                        next_after = Some(id);
                        break;
                    }
                    cursor = Cursor::After(id);
                }
                _ => break,
            }
        }
    }
    let mut deals = Vec::with_capacity(found.len());
    for invoice in &found {
        deals.push(match &invoice.deal_id {
            Some(id) => match app.engine.deal(id.clone()).await {
                Ok(deal) => Some(deal),
                Err(EngineError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        });
    }
    let store = StoreInfo::of(&signed.merchant);
    let links = app.engine.evidence_links();
    let mut items: Vec<InvoiceDto> = found
        .iter()
        .zip(&deals)
        .map(|(invoice, deal)| {
            invoice_dto(
                &app.base_url,
                Some(&store),
                invoice,
                deal.as_ref(),
                Some(&links),
            )
        })
        .chain(payouts.iter().map(|p| payout_dto(Some(&store), p)))
        .collect();
    if !payouts.is_empty() {
        // A pay-in and a payout may share an internalId: newest first.
        items.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    }
    let next = next_after
        .as_ref()
        .map(|id| format!("{PATH}?limit={limit}&after={id}"));
    let dto = ListDto {
        items,
        paging: PagingDto {
            limit,
            has_more: next_after.is_some(),
            next_after,
            next,
        },
    };
    Ok(json_response(StatusCode::OK, &dto))
}
