//! Pay-in invoices of the Merchant API: an invoice with a P2P deal on a
//! trader's cabinet, made from the merchant's `book_cabinet` hold when it has
//! one for the amount, else booked on the spot with the same rules.

use crate::telemetry::{self, Change};
use std::collections::BTreeMap;

use kassa_domain::ids::{new_id, prefix};
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{
    Currency, Flow, Invoice, InvoiceStatus, Merchant, MerchantApiFields, PaymentFlow, Resolution,
    Source,
};
use kassa_store::StoreError;
use serde::Serialize;

use crate::invoices::Created;
use crate::p2p::{attach_deal_with, rate_key, DealTarget, Pool};
use crate::{Engine, EngineError, EngineResult};

const ID_MAX: usize = 255;

/// A Merchant API `type: in` request, as the face parsed it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewP2pInvoice {
    #[serde(skip)]
    pub internal_id: Option<String>,
    pub user_id: Option<String>,
    /// Decimal text (`"1000.00"`).
    pub amount: String,
    pub currency: String,
    pub notification_url: String,
    pub notification_token: String,
    /// Bank code (`sberbank`): only cabinets of that bank.
    pub payment_method: Option<String>,
    /// `SBP`, `CARD`, ...: the cabinet method.
    pub payment_option: Option<String>,
    pub start_deal: bool,
}

/// The cabinet method a `paymentOption` asks for: `SBP` is `sbp`, `CARD` and
/// `C2C` (or none) are `card`, anything else is taken in lower case.
pub fn method_of_option(option: Option<&str>) -> String {
    match option.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("card") | Some("c2c") => "card".into(),
        Some(other) => other.to_string(),
    }
}

impl Engine {
    pub async fn create_p2p_invoice(
        &self,
        merchant: Merchant,
        test_mode: bool,
        new: NewP2pInvoice,
    ) -> EngineResult<Created> {
        let now = self.now_secs();
        let mut errors: BTreeMap<String, String> = BTreeMap::new();
        let mut err = |f: &str, m: &str| {
            errors.entry(f.to_string()).or_insert_with(|| m.to_string());
        };
        if let Some(id) = &new.internal_id {
            if id.is_empty() || id.len() > ID_MAX || id.chars().any(char::is_control) {
                err("internalId", "must be 1 to 255 characters");
            }
        }
        if new.user_id.as_ref().is_some_and(|u| u.len() > ID_MAX) {
            err("userId", "must be at most 255 characters");
        }
        if new.notification_token.is_empty() || new.notification_token.len() > ID_MAX {
            err("notificationToken", "must be 1 to 255 characters");
        }
        if let Err(m) = self.check_callback_url(&new.notification_url) {
            err("notificationUrl", &m);
        }
        let method = method_of_option(new.payment_option.as_deref());
        if new
            .payment_method
            .as_ref()
            .is_some_and(|m| m.is_empty() || m.len() > 64)
        {
            err("paymentMethod", "must be 1 to 64 characters");
        }
        let currency = Currency::from_code(&new.currency);
        let catalog = self.catalog().await?;
        let mut amount_minor = 0;
        let mut service = None;
        match currency {
            None => err("currency", "unknown currency"),
            Some(c) => {
                match parse_minor(&new.amount, c.exponent()) {
                    Ok(a) if a > 0 => amount_minor = a,
                    Ok(_) => err("amount", "must be greater than 0"),
                    Err(AmountError::TooPrecise(p)) => {
                        err("amount", &format!("must have at most {p} decimal places"))
                    }
                    Err(_) => err("amount", "must be a decimal number such as 1000.00"),
                }
                service = catalog
                    .services
                    .iter()
                    .find(|s| {
                        s.flow == Flow::P2p
                            && s.currency == c
                            && s.method == method
                            && s.enabled
                            && s.available
                    })
                    .cloned();
                match &service {
                    None => err(
                        "paymentOption",
                        "no P2P service for this option and currency",
                    ),
                    Some(s)
                        if amount_minor > 0
                            && (amount_minor < s.amount_min_minor
                                || amount_minor > s.amount_max_minor) =>
                    {
                        err("amount", "is outside the service's limits")
                    }
                    Some(_) => {}
                }
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let (currency, service) = (currency.expect("checked"), service.expect("checked"));
        let fingerprint = {
            let mut view = serde_json::to_value(&new).expect("serializes");
            view["amount"] = serde_json::Value::from(amount_minor);
            crate::invoices::fingerprint_of(&self.fingerprint_key, &view)
        };
        let fee_minor = service.fee.fee_minor(amount_minor);
        let mut invoice = Invoice {
            id: new_id(prefix::INVOICE),
            merchant_id: merchant.id.clone(),
            test_mode,
            reference_id: new.internal_id.clone().unwrap_or_else(|| new_id("mi")),
            service: service.code.clone(),
            service_method: service.method.clone(),
            service_flow: service.flow.as_str().to_string(),
            currency,
            amount_minor,
            fee_minor,
            deposit_minor: amount_minor - fee_minor,
            processed_amount_minor: None,
            processed_fee_minor: None,
            processed_deposit_minor: None,
            refunded_amount_minor: None,
            status: InvoiceStatus::Created,
            resolution: Resolution::Ok,
            payment_flow: PaymentFlow::Charge,
            description: None,
            metadata: None,
            service_fields: None,
            customer: None,
            return_url: None,
            return_urls: None,
            callback_url: Some(new.notification_url.clone()),
            gateway_options: None,
            source: Source::MerchantApi,
            created_at_secs: now,
            updated_at_secs: now,
            processed_at_secs: None,
            expires_at_secs: now + self.config.p2p_invoice_ttl_secs,
            test_outcome: None,
            fingerprint,
            merchant_api: Some(MerchantApiFields {
                internal_id: new.internal_id.clone(),
                user_id: new.user_id.clone(),
                notification_token: new.notification_token.clone(),
                payment_method: new.payment_method.clone(),
                payment_option: new.payment_option.clone(),
                requested_amount_minor: amount_minor,
            }),
            deal_id: None,
        };
        let target = DealTarget {
            method,
            currency,
            bank_name: new.payment_method.clone(),
            test_mode,
        };
        let start_deal = new.start_deal;
        let fee_rule = service.fee;
        let config = self.config.clone();
        let cabinets = if start_deal {
            self.candidate_cabinets(target.method.clone(), currency, test_mode)
                .await?
        } else {
            Default::default()
        };
        let hints = self.held_hints.clone();
        let collateral = self.collateral_rule();
        let created = self
            .write(move |tx| {
                invoice.transition(InvoiceStatus::ProcessPending, Resolution::Ok, now);
                match tx.insert_invoice(&invoice) {
                    Ok(()) => telemetry::note(Change::Invoice(invoice.status, invoice.test_mode)),
                    Err(StoreError::Duplicate(_)) => {
                        let existing = tx
                            .invoice_by_reference(
                                &invoice.merchant_id,
                                test_mode,
                                &invoice.reference_id,
                            )?
                            .ok_or_else(|| EngineError::Conflict("internalId is taken".into()))?;
                        return if existing.fingerprint == invoice.fingerprint {
                            Ok(Created {
                                invoice: existing,
                                created: false,
                            })
                        } else {
                            Err(EngineError::Conflict(
                                "internalId was used with another request".into(),
                            ))
                        };
                    }
                    Err(e) => return Err(e.into()),
                }
                if start_deal {
                    let rate = tx
                        .setting(&rate_key(currency))?
                        .and_then(|v| v.as_str().map(str::to_string));
                    let deal = attach_deal_with(
                        tx,
                        &config,
                        &mut invoice,
                        &target,
                        &Pool {
                            cabinets: &cabinets,
                            hints: &hints,
                            collateral,
                        },
                        rate,
                        now,
                    )?;
                    assert_eq!(deal.amount_minor, invoice.amount_minor);
                    // The customer pays the deal's amount, which may be an alternative.
                    invoice.fee_minor = fee_rule.fee_minor(invoice.amount_minor);
                    invoice.deposit_minor = invoice.amount_minor - invoice.fee_minor;
                    tx.update_invoice(&invoice)?;
                }
                crate::callbacks::owe(tx, &invoice, now)?;
                Ok(Created {
                    invoice,
                    created: true,
                })
            })
            .await?;
        if created.created {
            self.wake_workers();
        }
        Ok(created)
    }
}
