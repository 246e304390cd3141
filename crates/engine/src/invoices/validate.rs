//! The rules of a create request: every field checked, every broken rule
//! named at once, as the Checkout API answers them.

use std::collections::BTreeMap;

use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{Flow, InvoiceStatus, Merchant, PaymentFlow, Service, Source};
use serde_json::Value;

use super::fingerprint::json_size;
use super::{
    check_url, NewInvoice, EXPIRES_MAX_SECS, EXPIRES_MIN_SECS, JSON_MAX_BYTES, REFERENCE_ID_MAX,
    TEXT_MAX,
};
use crate::{Engine, EngineError, EngineResult};

impl Engine {
    /// Every rule of a create request, each broken one named; the amount,
    /// flow and expiry when all hold.
    pub(super) fn validate(
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
}

/// The outcome the `test` service is asked for in `service_fields.status`.
pub(super) fn test_outcome(service: &Service, new: &NewInvoice) -> Option<InvoiceStatus> {
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
