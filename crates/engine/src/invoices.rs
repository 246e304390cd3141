//! Pay-in invoices: creation with idempotency, lookups, and status changes
//! that commit together with the callbacks they owe.

use crate::telemetry::{self, Change};
use std::collections::BTreeMap;

use kassa_domain::ids::{new_id, prefix};
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{
    Customer, Flow, Invoice, InvoiceStatus, Merchant, PaymentFlow, Resolution, ReturnUrls, Service,
    Source,
};
use kassa_store::{Cursor, Page, StoreError, Tx};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Engine, EngineError, EngineResult};

mod fingerprint;
use fingerprint::{fingerprint, json_size};
pub(crate) use fingerprint::{fingerprint_of, normalized_decimal};

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

    fn validate(
        &self,
        merchant: &Merchant,
        new: &NewInvoice,
        service: Option<&kassa_domain::Service>,
        now_secs: i64,
    ) -> EngineResult<(i64, PaymentFlow, i64)> {
        let mut errors = BTreeMap::new();
        let mut err = |field: &str, message: &str| {
            errors
                .entry(field.to_string())
                .or_insert_with(|| message.to_string());
        };
        if let Some(r) = &new.reference_id {
            if r.is_empty() || r.len() > REFERENCE_ID_MAX || r.chars().any(char::is_control) {
                err(
                    "reference_id",
                    "This value should be 1 to 255 characters long.",
                );
            }
        }
        let payment_flow = match new.payment_flow.as_deref() {
            None => PaymentFlow::Charge,
            Some(text) => PaymentFlow::parse(text).unwrap_or_else(|| {
                err("flow", "This value should be one of: charge, verify.");
                PaymentFlow::Charge
            }),
        };
        let verify = payment_flow == PaymentFlow::Verify;
        let mut amount_minor = 0;
        match service {
            None if new.service.is_empty() => err("service", "This value should not be blank."),
            None => err("service", "This service is not available."),
            Some(s) if !s.enabled || !s.available => {
                err("service", "This service is not available.")
            }
            // The test provider settles what it is asked to: its money is not
            // real, so it never reaches the live books.
            Some(s) if s.flow == Flow::Test && !new.test_mode => {
                err("service", "The test service takes test-mode invoices only.")
            }
            Some(s) => {
                if new.currency.is_empty() {
                    err("currency", "This value should not be blank.");
                } else if new.currency != s.currency.code() {
                    err(
                        "currency",
                        "This value does not match the service currency.",
                    );
                }
                match parse_minor(&new.amount, s.currency.exponent()) {
                    _ if new.amount.is_empty() => err("amount", "This value should not be blank."),
                    // A verification takes no money: nothing, or the amount
                    // the service's provider holds and releases to check a card.
                    Ok(minor) if verify => {
                        if minor == 0 || Some(minor) == s.verification_amount_minor {
                            amount_minor = minor;
                        } else {
                            let e = s.currency.exponent();
                            err(
                                "amount",
                                &match s.verification_amount_minor {
                                    Some(v) => format!(
                                        "This value should be 0 or {} for a verification.",
                                        kassa_domain::money::format_short(v, e)
                                    ),
                                    None => "This value should be 0 for a verification.".into(),
                                },
                            )
                        }
                    }
                    Ok(minor) if minor <= 0 => {
                        err("amount", "This value should be greater than 0.")
                    }
                    Ok(minor) if minor < s.amount_min_minor || minor > s.amount_max_minor => {
                        let e = s.currency.exponent();
                        err(
                            "amount",
                            &format!(
                                "This value should be between {} and {}.",
                                kassa_domain::money::format_short(s.amount_min_minor, e),
                                kassa_domain::money::format_short(s.amount_max_minor, e)
                            ),
                        )
                    }
                    Ok(minor) => amount_minor = minor,
                    Err(AmountError::TooPrecise(places)) => err(
                        "amount",
                        &format!("This value should have at most {places} decimal places."),
                    ),
                    Err(e) => err("amount", &e.to_string()),
                }
                for (field, message) in s.check_fields(new.service_fields.as_ref()) {
                    err(&field, &message);
                }
                // A P2P deal is a transfer of money; there is nothing to verify.
                if verify && s.flow == Flow::P2p {
                    err("flow", "This service takes payments only.");
                }
                if let Some(asked) = test_outcome(s, new) {
                    if !asked.fits(payment_flow) {
                        err(
                            "service_fields.status",
                            &format!(
                                "This value does not fit a {} invoice.",
                                payment_flow.as_str()
                            ),
                        );
                    }
                }
            }
        }
        if let Some(customer) = &new.customer {
            match customer.get("reference_id") {
                Some(Value::String(r)) if !r.is_empty() && r.len() <= REFERENCE_ID_MAX => {}
                Some(Value::String(_)) | None | Some(Value::Null) => {
                    err("customer.reference_id", "This value should not be blank.")
                }
                Some(_) => err(
                    "customer.reference_id",
                    "This value should be of type string.",
                ),
            }
            if json_size(&Value::Object(customer.clone())) > JSON_MAX_BYTES {
                err("customer", "This value is too long.");
            }
        }
        for (field, value) in [
            ("metadata", &new.metadata),
            ("gateway_options", &new.gateway_options),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| json_size(v) > JSON_MAX_BYTES)
            {
                err(field, "This value is too long.");
            }
        }
        if new
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > TEXT_MAX)
        {
            err(
                "description",
                "This value is too long. It should have 1024 characters or less.",
            );
        }
        // A public credential sits in web pages: the URLs it names must be
        // under a host the merchant allowed, or anyone holding it could send
        // signed callbacks, or customers, anywhere.
        let public = matches!(new.source, Some(Source::PublicApi | Source::HtmlForm));
        let check = |text: &str, callback: bool| -> Result<(), String> {
            let url = check_url(text)?;
            if callback {
                self.check_callback_url(text)?;
            }
            if public && !merchant.allows_public_url(&url) {
                return Err("This host is not allowed for this account's public key.".into());
            }
            Ok(())
        };
        if let Some(Err(m)) = new.return_url.as_deref().map(|u| check(u, false)) {
            err("return_url", &m);
        }
        if let Some(urls) = &new.return_urls {
            for (field, url) in [
                ("return_urls.success", urls.success.as_deref()),
                ("return_urls.fail", urls.fail.as_deref()),
                ("return_urls.pending", Some(urls.pending.as_str())),
            ] {
                match url {
                    Some("") if field == "return_urls.pending" => {
                        err(field, "This value should not be blank.")
                    }
                    Some(u) => {
                        if let Err(m) = check(u, false) {
                            err(field, &m);
                        }
                    }
                    None => {}
                }
            }
        }
        if let Some(Err(m)) = new.callback_url.as_deref().map(|u| check(u, true)) {
            err("callback_url", &m);
        }
        let expires_at = match new.expires_at_secs {
            None => now_secs + self.config.invoice_ttl_secs,
            Some(at) => {
                if at < now_secs + EXPIRES_MIN_SECS || at > now_secs + EXPIRES_MAX_SECS {
                    err(
                        "expires",
                        "This value should be between 14 minutes and 2 days from now.",
                    );
                }
                at
            }
        };
        if errors.is_empty() {
            Ok((amount_minor, payment_flow, expires_at))
        } else {
            Err(EngineError::Invalid(errors))
        }
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

/// The outcome the `test` service is asked for in `service_fields.status`.
fn test_outcome(service: &Service, new: &NewInvoice) -> Option<InvoiceStatus> {
    if service.flow != Flow::Test {
        return None;
    }
    new.service_fields
        .as_ref()
        .and_then(|f| f.get("status"))
        .and_then(Value::as_str)
        .and_then(InvoiceStatus::parse)
        .filter(|s| *s != InvoiceStatus::ProcessPending)
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
