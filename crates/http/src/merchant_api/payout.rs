//! Payout invoices (`type: out`): the payment options a RequisitesDTO can
//! describe, the request as a payout command, and the payout engine's
//! answers in the Merchant API's names.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::payout::{self as payout_rules, Payout, PayoutSource};
use kassa_domain::Currency;
use kassa_engine::payouts::NewPayout;
use kassa_engine::EngineError;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::render::header_safe;
use super::request::{CreateInvoiceRequest, Problems, REQUIRED};
use super::{Result, ID_MAX};
use crate::field::Field;

/// The largest `paymentMethod` (bank code).
const BANK_MAX: usize = 64;

/// How a `paymentOption` maps to a payout method, and which
/// `additional_fields` carry the RequisitesDTO's `requisites` and `holder`.
pub struct OutOption {
    pub method: &'static str,
    pub requisite_field: &'static str,
    pub holder_field: Option<&'static str>,
}

/// The payout methods a RequisitesDTO can describe. `CARD` and `C2C` are
/// `card`, `SBP` is `sbp`; the others are the method's name in any case.
/// (`cash`, `binance` and `sbp_qr` take fields a RequisitesDTO has no room
/// for: they are the H2H payout API's.)
const OUT_OPTIONS: [(&str, OutOption); 6] = [
    (
        "card",
        OutOption {
            method: "card",
            requisite_field: "card_number",
            holder_field: Some("card_holder"),
        },
    ),
    (
        "sbp",
        OutOption {
            method: "sbp",
            requisite_field: "phone_number",
            holder_field: Some("phone_holder"),
        },
    ),
    (
        "localbanks",
        OutOption {
            method: "localbanks",
            requisite_field: "account_number",
            holder_field: Some("account_holder"),
        },
    ),
    (
        "mts",
        OutOption {
            method: "MTS",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
    (
        "walletm10",
        OutOption {
            method: "WalletM10",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
    (
        "emanat",
        OutOption {
            method: "Emanat",
            requisite_field: "phone_number",
            holder_field: None,
        },
    ),
];

pub fn out_option_of_method(method: &str) -> Option<&'static OutOption> {
    OUT_OPTIONS
        .iter()
        .map(|(_, o)| o)
        .find(|o| o.method == method)
}

pub fn out_option(option: &str) -> Option<&'static OutOption> {
    let key = match option.to_ascii_lowercase().as_str() {
        "c2c" => "card".to_string(),
        other => other.to_string(),
    };
    OUT_OPTIONS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, o)| o)
}

impl CreateInvoiceRequest {
    /// A `type: out` request as a payout: `paymentOption` chooses the
    /// method, `paymentRequisites` (a RequisitesDTO, `{"requisites",
    /// "holder"}`) fills its fields, `paymentMethod` is the bank.
    pub fn payout(self) -> Result<NewPayout> {
        let mut p = Problems::default();
        let amount = p.amount(self.amount);
        let currency = p.text("currency", self.currency, true);
        let notification_url = p.text("notificationUrl", self.notification_url, true);
        let notification_token = p.text("notificationToken", self.notification_token, true);
        let internal_id = p.text("internalId", self.internal_id, false);
        let user_id = p.text("userId", self.user_id, false);
        let payment_method = p.text("paymentMethod", self.payment_method, true);
        let payment_option = p.text("paymentOption", self.payment_option, true);
        match notification_token.as_deref() {
            Some(t) if t.is_empty() || t.len() > ID_MAX => {
                p.fail("notificationToken", "Must be 1 to 255 characters.")
            }
            Some(t) if !header_safe(t) => p.fail(
                "notificationToken",
                "Use printable ASCII only: it is sent back in the X-Notification-Token header.",
            ),
            _ => {}
        }
        if internal_id
            .as_deref()
            .is_some_and(|i| i.is_empty() || i.len() > ID_MAX)
        {
            p.fail("internalId", "Must be 1 to 255 characters.");
        }
        if user_id.as_deref().is_some_and(|u| u.len() > ID_MAX) {
            p.fail("userId", "Must be at most 255 characters.");
        }
        if payment_method
            .as_deref()
            .is_some_and(|m| m.trim().is_empty() || m.len() > BANK_MAX)
        {
            p.fail(
                "paymentMethod",
                "Must be a bank code of 1 to 64 characters, such as \"sberbank\".",
            );
        }
        let option = match payment_option.as_deref() {
            None => None,
            Some(o) => match out_option(o) {
                Some(option) => Some(option),
                None if ["cash", "binance", "sbp_qr"]
                    .contains(&o.to_ascii_lowercase().as_str()) =>
                {
                    p.fail(
                        "paymentOption",
                        "This payout method takes fields a RequisitesDTO cannot carry: use the \
                         H2H payout API (POST /api/payout) for it.",
                    );
                    None
                }
                None => {
                    p.fail(
                        "paymentOption",
                        "Must be one of CARD (or C2C), SBP, LOCALBANKS, MTS, WALLETM10, EMANAT.",
                    );
                    None
                }
            },
        };
        match self.start_deal {
            Field::Absent | Field::Given(false) => {}
            Field::Given(true) => p.fail(
                "startDeal",
                "Only pay-ins (type \"in\") start deals; a payout goes to a trader on its own.",
            ),
            Field::Wrong(_) => p.fail("startDeal", "Must be true or false."),
        }
        let (mut requisite, mut holder) = (None, None);
        match self.payment_requisites {
            Field::Absent => p.fail(
                "paymentRequisites",
                "This field is required for a payout: {\"requisites\": \"...\", \"holder\": \"...\"}.",
            ),
            Field::Given(r) => {
                match r.requisites {
                    Field::Given(t) if t.trim().is_empty() => {
                        p.fail("paymentRequisites.requisites", REQUIRED)
                    }
                    Field::Given(t) => requisite = Some(t),
                    Field::Absent => p.fail("paymentRequisites.requisites", REQUIRED),
                    Field::Wrong(_) => p.fail("paymentRequisites.requisites", "Must be a string."),
                }
                match r.holder {
                    Field::Absent => {}
                    Field::Given(t) => holder = Some(t.trim().to_string()),
                    Field::Wrong(_) => p.fail("paymentRequisites.holder", "Must be a string."),
                }
            }
            Field::Wrong(_) => p.fail(
                "paymentRequisites",
                "Must be an object: {\"requisites\": \"...\", \"holder\": \"...\"}.",
            ),
        }
        let mut amount_minor = 0;
        if let Some(code) = currency.as_deref() {
            let payable =
                Currency::from_code(code).filter(|c| payout_rules::CURRENCIES.contains(&c.code()));
            match payable {
                None => p.fail(
                    "currency",
                    &format!(
                        "Payouts are made in {}.",
                        payout_rules::CURRENCIES.join(", ")
                    ),
                ),
                Some(c) => match amount.as_deref().map(|a| parse_minor(a, c.exponent())) {
                    None => {}
                    Some(Ok(a)) if a > 0 => amount_minor = a,
                    Some(Ok(_)) => p.fail("amount", "Must be greater than 0."),
                    Some(Err(AmountError::TooPrecise(places))) => p.fail(
                        "amount",
                        &format!("Must have at most {places} decimal places for this currency."),
                    ),
                    Some(Err(AmountError::TooLarge)) => {
                        p.fail("amount", "This value is too large.")
                    }
                    Some(Err(AmountError::Invalid)) => {
                        p.fail("amount", "Must be a decimal string such as \"1000.00\".")
                    }
                },
            }
        }
        p.finish()?;
        // Each is there once no field was found wrong.
        let (Some(option), Some(requisite), Some(payment_method), Some(currency)) =
            (option, requisite, payment_method, currency)
        else {
            return Err(ApiError::invalid(BTreeMap::new()));
        };
        let fields = requisite_fields(option, &requisite, holder, Some(&payment_method));
        let merchant_api = json!({
            "internalId": internal_id,
            "userId": user_id,
            "notificationToken": notification_token,
            "paymentMethod": payment_method,
            "paymentOption": payment_option,
        });
        Ok(NewPayout {
            // Without an internalId every request is a new payout.
            request_id: internal_id.unwrap_or_else(|| kassa_domain::ids::new_id("mapo")),
            amount_minor,
            currency,
            method: option.method.to_string(),
            additional_fields: fields,
            source: PayoutSource::MerchantApi,
            callback_url: notification_url,
            merchant_api: Some(merchant_api),
        })
    }
}

/// A RequisitesDTO (and the bank) as the payout method's `additional_fields`.
pub fn requisite_fields(
    option: &OutOption,
    requisite: &str,
    holder: Option<String>,
    bank: Option<&str>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    // The engine stores card and phone numbers as digits (`+` kept).
    fields.insert(
        option.requisite_field.into(),
        Value::String(requisite.trim().to_string()),
    );
    if let (Some(field), Some(holder)) = (option.holder_field, holder.filter(|h| !h.is_empty())) {
        fields.insert(field.into(), Value::String(holder));
    }
    if let Some(bank) = bank {
        fields.insert("bank_name".into(), Value::String(bank.trim().to_string()));
    }
    fields
}

/// The Merchant API's name of a field the payout engine found wrong.
fn out_field(engine_field: &str) -> String {
    match engine_field {
        "request_id" => "internalId".into(),
        "method" => "paymentOption".into(),
        "callback_url" => "notificationUrl".into(),
        "additional_fields.bank_name" => "paymentMethod".into(),
        f if f.ends_with("_holder") => "paymentRequisites.holder".into(),
        f if f.starts_with("additional_fields.") => "paymentRequisites.requisites".into(),
        other => other.into(),
    }
}

/// An engine error of a payout, in the Merchant API's names.
pub fn out_error(e: EngineError) -> ApiError {
    match e {
        EngineError::Invalid(fields) => {
            let mut renamed = BTreeMap::new();
            for (field, message) in fields {
                renamed.entry(out_field(&field)).or_insert(message);
            }
            ApiError::invalid(renamed)
        }
        EngineError::Conflict(_) => idempotency_conflict(),
        other => other.into(),
    }
}

pub fn idempotency_conflict() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_conflict",
        "This internalId was used with another request; nothing was changed.",
    )
    .with_field("internalId", "Already used with another request.")
}

/// Whether a repeat carries the same Merchant API fields as the payout its
/// `internalId` made (the engine compares the amount, method and fields).
pub fn same_out_request(existing: &Payout, new: &NewPayout) -> bool {
    let get =
        |v: Option<&Value>, name: &str| v.and_then(|f| f.get(name)).cloned().unwrap_or(Value::Null);
    let (old, fresh) = (existing.merchant_api.as_ref(), new.merchant_api.as_ref());
    let option = |v: Option<&Value>| {
        get(v, "paymentOption")
            .as_str()
            .map(|o| out_option(o).map_or(o.to_string(), |o| o.method.to_string()))
    };
    existing.source == PayoutSource::MerchantApi
        && existing.callback_url == new.callback_url
        && ["userId", "notificationToken", "paymentMethod"]
            .iter()
            .all(|name| get(old, name) == get(fresh, name))
        && option(old) == option(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payout_options_and_field_names() {
        assert_eq!(out_option("CARD").unwrap().method, "card");
        assert_eq!(out_option("c2c").unwrap().method, "card");
        assert_eq!(out_option("Sbp").unwrap().method, "sbp");
        assert_eq!(out_option("WALLETM10").unwrap().method, "WalletM10");
        assert!(out_option("cash").is_none() && out_option("").is_none());
        for (_, o) in &OUT_OPTIONS {
            assert!(payout_rules::METHODS.contains(&o.method), "{}", o.method);
            assert!(payout_rules::fields_of(o.method)
                .iter()
                .any(|(f, _)| *f == o.requisite_field));
        }
        assert_eq!(
            out_field("additional_fields.card_number"),
            "paymentRequisites.requisites"
        );
        assert_eq!(
            out_field("additional_fields.phone_holder"),
            "paymentRequisites.holder"
        );
        assert_eq!(out_field("additional_fields.bank_name"), "paymentMethod");
        assert_eq!(out_field("request_id"), "internalId");
    }
}
