//! Pay-in invoices: creation with idempotency, lookups, and status changes
//! that commit together with the callbacks they owe.

use crate::telemetry::{self, Change};

use kassa_domain::ids::{new_id, prefix};
use kassa_domain::{
    Customer, Invoice, InvoiceStatus, Merchant, PaymentFlow, Resolution, ReturnUrls, Source,
};
use kassa_store::{Cursor, Page, StoreError, Tx};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Engine, EngineError, EngineResult};

mod fingerprint;
mod validate;
use fingerprint::fingerprint;
pub(crate) use fingerprint::{fingerprint_of, normalized_decimal};
use validate::test_outcome;

/// The earliest and latest `expires` a merchant may ask for, from creation.
pub const EXPIRES_MIN_SECS: i64 = 14 * 60;
pub const EXPIRES_MAX_SECS: i64 = 2 * 24 * 3600;
/// Bounds on what a merchant may store with an invoice.
const REFERENCE_ID_MAX: usize = 255;
const TEXT_MAX: usize = 1024;
const URL_MAX: usize = 2048;
const JSON_MAX_BYTES: usize = 16 * 1024;

/// A create command, as a face parsed it: types are right, meaning unchecked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewInvoice {
    pub reference_id: Option<String>,
    pub service: String,
    pub currency: String,
    /// The amount's decimal text, exactly as sent.
    pub amount: String,
    pub payment_flow: Option<String>,
    pub service_fields: Option<Map<String, Value>>,
    pub customer: Option<Map<String, Value>>,
    pub metadata: Option<Value>,
    pub return_url: Option<String>,
    pub return_urls: Option<ReturnUrls>,
    pub callback_url: Option<String>,
    pub gateway_options: Option<Value>,
    /// Unix seconds.
    pub expires_at_secs: Option<i64>,
    pub test_mode: bool,
    pub description: Option<String>,
    #[serde(skip)]
    pub source: Option<Source>,
}

/// The outcome of a create: the invoice, and whether this call made it.
pub struct Created {
    pub invoice: Invoice,
    pub created: bool,
}

impl Engine {
    /// Checks a callback URL: http(s), a host, and unless the operator allows
    /// it, no blocked address written in it (names are checked when they are
    /// resolved for delivery, see [`crate::egress`]).
    pub fn check_callback_url(&self, text: &str) -> Result<(), String> {
        let url = check_url(text)?;
        if !self.config.allow_private_callback_urls {
            let private = match url.host() {
                Some(url::Host::Ipv4(ip)) => crate::egress::is_blocked(ip.into()),
                Some(url::Host::Ipv6(ip)) => crate::egress::is_blocked(ip.into()),
                Some(url::Host::Domain(d)) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    d == "localhost" || d.ends_with(".localhost")
                }
                None => true,
            };
            if private {
                return Err("This URL points to a private address.".into());
            }
        }
        Ok(())
    }

    /// Creates an invoice, or returns the one a repeat of the same request
    /// made. The same `reference_id` with another body is a conflict.
    pub async fn create_invoice(
        &self,
        merchant: Merchant,
        test_mode: bool,
        new: NewInvoice,
    ) -> EngineResult<Created> {
        let source = new.source.unwrap_or(Source::PrivateApi);
        if source != Source::PrivateApi && merchant.forbid_public_api {
            return Err(EngineError::Forbidden(
                "Invoice creation through the public API is forbidden for this account.".into(),
            ));
        }
        let now = self.now_secs();
        let fingerprint = fingerprint(&self.fingerprint_key, &new);
        let service = self.catalog().await?.service(&new.service).cloned();
        let (amount_minor, payment_flow, expires_at_secs) =
            match self.validate(&merchant, &new, service.as_ref(), now) {
                Ok(valid) => valid,
                // A repeat is answered from what the first request made, even when
                // the request would no longer pass: time or the catalog may have
                // moved since (an `expires` 15 minutes away then is nearer than 14
                // now). A valid repeat is settled inside the write below, which
                // also settles concurrent duplicates.
                Err(invalid) => {
                    let Some(reference_id) = new
                        .reference_id
                        .clone()
                        .filter(|r| !r.chars().any(char::is_control))
                    else {
                        return Err(invalid);
                    };
                    let merchant_id = merchant.id.clone();
                    let existing = self
                        .read(move |tx| {
                            Ok(tx.invoice_by_reference(&merchant_id, test_mode, &reference_id)?)
                        })
                        .await?;
                    return match existing {
                        Some(existing) if existing.fingerprint == fingerprint => Ok(Created {
                            invoice: existing,
                            created: false,
                        }),
                        Some(_) => Err(reference_conflict()),
                        None => Err(invalid),
                    };
                }
            };
        let service = service.expect("validation found the service");
        // A verification moves no money: no fee, nothing for the merchant.
        let (fee_minor, deposit_minor) = match payment_flow {
            PaymentFlow::Charge => {
                let fee = service.fee.fee_minor(amount_minor);
                (fee, amount_minor - fee)
            }
            PaymentFlow::Verify => (0, 0),
        };
        let test_outcome = test_outcome(&service, &new);
        let reference_id = new.reference_id.clone().unwrap_or_else(uuid_v4);
        let customer = new.customer.map(|data| Customer {
            id: new_id(prefix::CUSTOMER),
            reference_id: data
                .get("reference_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            data: Value::Object(data),
        });
        let mut invoice = Invoice {
            id: new_id(prefix::INVOICE),
            merchant_id: merchant.id.clone(),
            test_mode,
            reference_id,
            service: service.code.clone(),
            service_method: service.method.clone(),
            service_flow: service.flow.as_str().to_string(),
            currency: service.currency,
            amount_minor,
            fee_minor,
            deposit_minor,
            processed_amount_minor: None,
            processed_fee_minor: None,
            processed_deposit_minor: None,
            refunded_amount_minor: None,
            status: InvoiceStatus::Created,
            resolution: Resolution::Ok,
            payment_flow,
            description: new.description,
            metadata: new.metadata,
            service_fields: new.service_fields.map(Value::Object),
            customer,
            return_url: new.return_url.or(merchant.return_url.clone()),
            return_urls: new.return_urls,
            callback_url: new.callback_url.or(merchant.callback_url.clone()),
            gateway_options: new.gateway_options,
            source,
            created_at_secs: now,
            updated_at_secs: now,
            processed_at_secs: None,
            expires_at_secs,
            test_outcome,
            fingerprint,
            merchant_api: None,
            deal_id: None,
        };
        let engine_wakes = test_outcome.is_some() || invoice.callback_url.is_some();
        let created = self
            .write(move |tx| {
                // Created and handed to the provider at once: one row written
                // in its first visible state.
                invoice.transition(InvoiceStatus::ProcessPending, Resolution::Ok, now);
                // The store's unique key settles repeats, concurrent ones
                // included; only then is the earlier invoice read.
                match tx.insert_invoice(&invoice) {
                    Ok(()) => telemetry::note(Change::Invoice(invoice.status, invoice.test_mode)),
                    Err(StoreError::Duplicate(_)) => {
                        let existing = tx
                            .invoice_by_reference(
                                &invoice.merchant_id,
                                test_mode,
                                &invoice.reference_id,
                            )?
                            .ok_or_else(reference_conflict)?;
                        return if existing.fingerprint == invoice.fingerprint {
                            Ok(Created {
                                invoice: existing,
                                created: false,
                            })
                        } else {
                            Err(reference_conflict())
                        };
                    }
                    Err(e) => return Err(e.into()),
                }
                crate::callbacks::owe(tx, &invoice, now)?;
                Ok(Created {
                    invoice,
                    created: true,
                })
            })
            .await?;
        if created.created && engine_wakes {
            self.wake_workers();
        }
        Ok(created)
    }

    /// An invoice of the merchant's mode, by id.
    pub async fn invoice(
        &self,
        merchant_id: String,
        test_mode: bool,
        id: String,
    ) -> EngineResult<Invoice> {
        self.read(move |tx| {
            tx.invoice(&id)?
                .filter(|i| i.merchant_id == merchant_id && i.test_mode == test_mode)
                .ok_or(EngineError::NotFound)
        })
        .await
    }

    pub async fn invoice_by_reference(
        &self,
        merchant_id: String,
        test_mode: bool,
        reference_id: String,
    ) -> EngineResult<Option<Invoice>> {
        self.read(move |tx| Ok(tx.invoice_by_reference(&merchant_id, test_mode, &reference_id)?))
            .await
    }

    pub async fn invoices(
        &self,
        merchant_id: String,
        test_mode: bool,
        cursor: Cursor,
        limit: usize,
    ) -> EngineResult<Page<Invoice>> {
        assert!((1..=100).contains(&limit));
        self.read(move |tx| {
            let cursor_id = match &cursor {
                Cursor::First => None,
                Cursor::After(id) | Cursor::Before(id) => Some(id.clone()),
            };
            if let Some(id) = cursor_id {
                let known = tx
                    .invoice(&id)?
                    .is_some_and(|i| i.merchant_id == merchant_id && i.test_mode == test_mode);
                if !known {
                    return Err(EngineError::invalid(
                        "page",
                        "The cursor names no invoice of this account.",
                    ));
                }
            }
            Ok(tx.invoices(&merchant_id, test_mode, &cursor, limit)?)
        })
        .await
    }

    /// The invoice behind a hosted page link; the id is the capability.
    pub async fn invoice_for_page(&self, id: String) -> EngineResult<(Invoice, Merchant)> {
        self.read(move |tx| {
            let invoice = tx.invoice(&id)?.ok_or(EngineError::NotFound)?;
            let merchant = tx
                .merchant(&invoice.merchant_id)?
                .ok_or(EngineError::NotFound)?;
            Ok((invoice, merchant))
        })
        .await
    }

    /// The hosted page's test controls: complete or fail a test invoice.
    pub async fn settle_test_payment(&self, id: String, succeed: bool) -> EngineResult<Invoice> {
        let now = self.now_secs();
        let invoice = self
            .write(move |tx| {
                let mut invoice = tx.invoice(&id)?.ok_or(EngineError::NotFound)?;
                if !invoice.test_mode {
                    return Err(EngineError::Forbidden(
                        "Only test payments can be settled here.".into(),
                    ));
                }
                if invoice.deal_id.is_some() {
                    // A P2P deal is settled by its money, not by test buttons.
                    return Err(EngineError::Forbidden(
                        "A P2P invoice is settled by its deal.".into(),
                    ));
                }
                if invoice.status.is_final() {
                    return Ok(invoice);
                }
                let resolution = if succeed {
                    Resolution::Ok
                } else {
                    Resolution::Declined
                };
                let status = invoice.outcome(succeed);
                change_status(tx, &mut invoice, status, resolution, now)?;
                Ok(invoice)
            })
            .await?;
        self.wake_workers();
        Ok(invoice)
    }
}

/// Moves an invoice to `next` and owes its callback, in the caller's
/// transaction, so that both commit or neither does.
pub(crate) fn change_status(
    tx: &mut dyn Tx,
    invoice: &mut Invoice,
    next: InvoiceStatus,
    resolution: Resolution,
    now_secs: i64,
) -> EngineResult<()> {
    invoice.transition(next, resolution, now_secs);
    record_change(tx, invoice, next, now_secs)
}

/// As [`change_status`], for a payment of `paid_minor`: what arrived.
pub(crate) fn change_status_paid(
    tx: &mut dyn Tx,
    invoice: &mut Invoice,
    next: InvoiceStatus,
    paid_minor: i64,
    now_secs: i64,
) -> EngineResult<()> {
    invoice.transition_paid(next, Resolution::Ok, paid_minor, now_secs);
    record_change(tx, invoice, next, now_secs)
}

fn record_change(
    tx: &mut dyn Tx,
    invoice: &mut Invoice,
    next: InvoiceStatus,
    now_secs: i64,
) -> EngineResult<()> {
    tx.update_invoice(invoice)?;
    telemetry::note(Change::Invoice(next, invoice.test_mode));
    if next.is_success() {
        crate::ledger::post_pay_in(tx, invoice, now_secs)?;
    }
    crate::callbacks::owe(tx, invoice, now_secs)?;
    Ok(())
}

fn reference_conflict() -> EngineError {
    EngineError::Conflict(
        "An invoice with this reference_id exists with a different request.".into(),
    )
}

pub(crate) fn check_url(text: &str) -> Result<url::Url, String> {
    if text.len() > URL_MAX {
        return Err("This value is too long.".into());
    }
    match url::Url::parse(text) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(u),
        _ => Err("This value is not a valid URL.".into()),
    }
}

/// A random UUID (version 4), the shape merchants use for `reference_id`.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Engine {
    /// How many invoices a merchant has, both modes.
    pub async fn count_invoices(&self, merchant_id: String) -> EngineResult<u64> {
        self.read(move |tx| Ok(tx.count_invoices(&merchant_id)?))
            .await
    }
}
