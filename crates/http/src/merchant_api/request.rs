//! The Merchant API's requests as types, and their meaning as engine
//! commands. Every field is read leniently (`crate::field`), so a 422 names
//! each bad field at once, in this API's words.

use std::collections::BTreeMap;

use kassa_domain::Currency;
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::payouts::NewPayout;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::render::header_safe;
use super::{Result, ID_MAX, LIMIT_DEFAULT, LIMIT_MAX};
use crate::field::{read_object, Either, Field, Flag, NotAnObject, Number, Text};

/// `paymentOption` is a short code (`SBP`, `CARD`, `C2C`).
const OPTION_MAX: usize = 32;

pub type TextOrNumber = Field<Either<String, Number>>;
type RequisitesField = Field<RequisitesBody>;

/// `POST /api/merchant/invoices`: a pay-in (`type: in`) or a payout
/// (`type: out`).
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateInvoiceRequest {
    /// `in` (a pay-in) or `out` (a payout).
    #[serde(rename = "type", default)]
    #[schema(value_type = String, pattern = "^(in|out)$", required = true)]
    pub kind: Text,
    /// A decimal string with at most the currency's decimal places:
    /// `"1000.00"`; never a JSON number.
    #[serde(default)]
    #[schema(value_type = String, example = "1000.00", pattern = r"^[0-9]{1,12}(\.[0-9]{1,8})?$", required = true)]
    pub amount: TextOrNumber,
    /// ISO 4217 code; payouts are made in the currencies the operator pays
    /// out in.
    #[serde(default)]
    #[schema(value_type = String, example = "RUB", pattern = "^[A-Z]{3,4}$", required = true)]
    pub currency: Text,
    /// Where callbacks go: an `http` or `https` URL.
    #[serde(default)]
    #[schema(value_type = String, example = "https://shop.example/kassa/notify",
        pattern = "^https?://[a-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
        max_length = 2048, required = true)]
    pub notification_url: Text,
    /// Sent back in each callback's `X-Notification-Token`: printable ASCII.
    #[serde(default)]
    #[schema(value_type = String, pattern = "^[ -~]{1,255}$", min_length = 1, max_length = 255,
        required = true)]
    pub notification_token: Text,
    /// Your id of the invoice: a repeat with the same `internalId` and body
    /// answers 200 with the invoice made first.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255)]
    pub internal_id: Text,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 255)]
    pub user_id: Text,
    /// The bank (`sberbank`, ...): optional for a pay-in, required for a
    /// payout.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "sberbank", min_length = 1, max_length = 64)]
    pub payment_method: Text,
    /// `SBP`, `CARD`, ...: optional for a pay-in; for a payout one of `CARD`
    /// (or `C2C`), `SBP`, `LOCALBANKS`, `MTS`, `WALLETM10`, `EMANAT`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "SBP", min_length = 1, max_length = 32)]
    pub payment_option: Text,
    /// A pay-in only: open a deal at once, with a trader's requisites.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub start_deal: Flag,
    /// A payout only (and required there): where the money goes.
    #[serde(default)]
    #[schema(value_type = Option<RequisitesBody>)]
    pub payment_requisites: RequisitesField,
}

/// A payout's RequisitesDTO: the card, phone or account number, and its
/// holder.
#[derive(Default, Deserialize, ToSchema)]
pub struct RequisitesBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub requisites: Text,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub holder: Text,
}

crate::nested_fields!(RequisitesBody);

/// A create request as the engine's command.
pub enum NewRequest {
    In(NewP2pInvoice),
    Out(NewPayout),
}

/// Bad fields, each with the first message found for it.
#[derive(Default)]
pub struct Problems {
    errors: BTreeMap<String, String>,
}

pub const REQUIRED: &str = "This field is required.";
const NOT_A_STRING: &str = "Must be a string.";

impl Problems {
    pub fn fail(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.to_string())
            .or_insert_with(|| message.to_string());
    }

    /// A field that must be a string when sent.
    pub fn text(&mut self, name: &str, field: Text, required: bool) -> Option<String> {
        match field {
            Field::Given(s) => Some(s),
            Field::Absent => {
                if required {
                    self.fail(name, REQUIRED);
                }
                None
            }
            Field::Wrong(_) => {
                self.fail(name, NOT_A_STRING);
                None
            }
        }
    }

    /// The required `amount`: a decimal string, and a JSON number told
    /// apart (it would lose its decimal places in many clients).
    pub fn amount(&mut self, field: TextOrNumber) -> Option<String> {
        match field {
            Field::Given(Either::First(s)) => Some(s),
            Field::Given(Either::Second(_)) => {
                self.fail(
                    "amount",
                    "Must be a decimal string such as \"1000.00\", not a JSON number.",
                );
                None
            }
            Field::Absent => {
                self.fail("amount", REQUIRED);
                None
            }
            Field::Wrong(_) => {
                self.fail("amount", NOT_A_STRING);
                None
            }
        }
    }

    /// `startDeal`, false when not sent.
    pub fn start_deal(&mut self, field: Flag) -> bool {
        match field {
            Field::Given(b) => b,
            Field::Absent => false,
            Field::Wrong(_) => {
                self.fail("startDeal", "Must be true or false.");
                false
            }
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.errors))
        }
    }
}

impl CreateInvoiceRequest {
    /// Reads the body, which must be a JSON object.
    pub fn read(body: &[u8]) -> Result<Self> {
        read_object(body).map_err(|e| match e {
            NotAnObject::Other => ApiError::bad_request("The body must be a JSON object."),
            NotAnObject::Malformed(e) => {
                ApiError::bad_request(format!("The body is not valid JSON: {e}."))
            }
        })
    }

    /// The engine's command: a pay-in, or by `type: out` a payout.
    pub fn command(self) -> Result<NewRequest> {
        let mut p = Problems::default();
        match &self.kind {
            Field::Given(t) if t == "in" => {}
            Field::Given(t) if t == "out" => return self.payout().map(NewRequest::Out),
            Field::Given(_) => p.fail("type", "Must be \"in\" or \"out\"."),
            Field::Absent => p.fail(
                "type",
                "This field is required: \"in\" (pay-in) or \"out\" (payout).",
            ),
            Field::Wrong(_) => p.fail("type", "Must be the string \"in\" or \"out\"."),
        }
        let amount = p.amount(self.amount);
        let currency = p.text("currency", self.currency, true);
        let notification_url = p.text("notificationUrl", self.notification_url, true);
        let notification_token = p.text("notificationToken", self.notification_token, true);
        let internal_id = p.text("internalId", self.internal_id, false);
        let user_id = p.text("userId", self.user_id, false);
        let payment_method = p.text("paymentMethod", self.payment_method, false);
        let payment_option = p.text("paymentOption", self.payment_option, false);
        if notification_token
            .as_deref()
            .is_some_and(|t| !header_safe(t))
        {
            p.fail(
                "notificationToken",
                "Use printable ASCII only: it is sent back in the X-Notification-Token header.",
            );
        }
        if payment_option
            .as_deref()
            .is_some_and(|o| o.is_empty() || o.len() > OPTION_MAX)
        {
            p.fail(
                "paymentOption",
                "Must be a payment option such as \"SBP\" or \"CARD\".",
            );
        }
        let start_deal = p.start_deal(self.start_deal);
        if !matches!(self.payment_requisites, Field::Absent) {
            p.fail(
                "paymentRequisites",
                "Only payout invoices (type \"out\") take requisites.",
            );
        }
        p.finish()?;
        Ok(NewRequest::In(NewP2pInvoice {
            internal_id,
            user_id,
            amount: amount.unwrap_or_default(),
            currency: currency.unwrap_or_default(),
            notification_url: notification_url.unwrap_or_default(),
            notification_token: notification_token.unwrap_or_default(),
            payment_method,
            payment_option,
            start_deal,
        }))
    }
}

/// `GET /api/merchant/invoices`'s query.
pub struct ListQuery {
    pub limit: usize,
    pub after: Option<String>,
    pub internal_id: Option<String>,
}

fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::bad_request("Malformed query string."))
}

/// An unknown parameter's name, cut short.
fn unknown(name: &str) -> String {
    name.chars().take(64).collect()
}

impl ListQuery {
    /// Every parameter is looked at, and each bad one named.
    pub fn read(query: Option<&str>) -> Result<ListQuery> {
        let mut q = ListQuery {
            limit: LIMIT_DEFAULT,
            after: None,
            internal_id: None,
        };
        let mut p = Problems::default();
        for (key, value) in query_pairs(query)? {
            match key.as_str() {
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=LIMIT_MAX).contains(&n) => q.limit = n,
                    _ => p.fail(
                        "limit",
                        &format!("Must be a whole number from 1 to {LIMIT_MAX}."),
                    ),
                },
                "after" if !value.is_empty() && value.len() <= ID_MAX => q.after = Some(value),
                "after" => p.fail("after", "Must be an invoice id."),
                "internalId" if !value.is_empty() && value.len() <= ID_MAX => {
                    q.internal_id = Some(value)
                }
                "internalId" => p.fail("internalId", "Must be 1 to 255 characters."),
                "page" => p.fail(
                    "page",
                    "Pages are cursors: follow paging.next, or pass after=<last id>.",
                ),
                other => p.fail(
                    &unknown(other),
                    "Unknown parameter: use limit, after or internalId.",
                ),
            }
        }
        p.finish()?;
        Ok(q)
    }
}

/// `GET /api/merchant/balance`'s query: at most one currency.
pub struct BalanceQuery {
    pub currency: Option<Currency>,
}

impl BalanceQuery {
    pub fn read(query: Option<&str>) -> Result<BalanceQuery> {
        let mut currency = None;
        let mut p = Problems::default();
        for (key, value) in query_pairs(query)? {
            match key.as_str() {
                "currency" => match Currency::from_code(&value) {
                    Some(c) => currency = Some(c),
                    None => p.fail("currency", "Unknown currency."),
                },
                other => p.fail(&unknown(other), "Unknown parameter: use currency."),
            }
        }
        p.finish()?;
        Ok(BalanceQuery { currency })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> BTreeMap<String, String> {
        match CreateInvoiceRequest::read(body.as_bytes()).and_then(CreateInvoiceRequest::command) {
            Err(e) => e.fields,
            Ok(_) => panic!("{body} was taken"),
        }
    }

    #[test]
    fn every_bad_field_of_a_pay_in_is_named_at_once() {
        let errors = fields(
            r#"{"type": 1, "amount": 1000.00, "currency": ["RUB"], "notificationToken": "t\u00e9",
                "internalId": 5, "startDeal": "yes", "paymentOption": "", "paymentRequisites": {}}"#,
        );
        assert_eq!(errors["type"], "Must be the string \"in\" or \"out\".");
        assert_eq!(
            errors["amount"],
            "Must be a decimal string such as \"1000.00\", not a JSON number."
        );
        assert_eq!(errors["currency"], "Must be a string.");
        assert_eq!(errors["notificationUrl"], REQUIRED);
        assert!(errors["notificationToken"].starts_with("Use printable ASCII only"));
        assert_eq!(errors["internalId"], "Must be a string.");
        assert_eq!(errors["startDeal"], "Must be true or false.");
        assert!(errors["paymentOption"].starts_with("Must be a payment option"));
        assert!(errors["paymentRequisites"].starts_with("Only payout invoices"));
        assert_eq!(errors.len(), 9);
    }

    #[test]
    fn a_payout_names_its_requisites_and_amount() {
        let errors = fields(
            r#"{"type": "out", "amount": "1.001", "currency": "RUB", "notificationUrl": "https://x.example",
                "notificationToken": "t", "paymentMethod": " ", "paymentOption": "cash",
                "startDeal": true, "paymentRequisites": {"requisites": " ", "holder": 7}}"#,
        );
        assert!(errors["amount"].starts_with("Must have at most 2 decimal places"));
        assert!(errors["paymentMethod"].starts_with("Must be a bank code"));
        assert!(errors["paymentOption"].contains("POST /api/payout"));
        assert!(errors["startDeal"].starts_with("Only pay-ins"));
        assert_eq!(errors["paymentRequisites.requisites"], REQUIRED);
        assert_eq!(errors["paymentRequisites.holder"], "Must be a string.");
        let errors = fields(r#"{"type": "out", "paymentRequisites": "4111"}"#);
        assert!(errors["paymentRequisites"].starts_with("Must be an object"));
        assert_eq!(errors["paymentMethod"], REQUIRED);
    }

    #[test]
    fn a_payout_becomes_its_command() {
        let body = r#"{"type": "out", "amount": "100.50", "currency": "RUB", "notificationUrl": "https://x.example",
            "notificationToken": "t", "internalId": "po-1", "paymentMethod": " sberbank ", "paymentOption": "C2C",
            "paymentRequisites": {"requisites": " 4111111111111111 ", "holder": " IVAN "}}"#;
        let Ok(NewRequest::Out(new)) =
            CreateInvoiceRequest::read(body.as_bytes()).and_then(CreateInvoiceRequest::command)
        else {
            panic!()
        };
        assert_eq!((new.amount_minor, new.method.as_str()), (10050, "card"));
        assert_eq!(new.request_id, "po-1");
        assert_eq!(new.additional_fields["card_number"], "4111111111111111");
        assert_eq!(new.additional_fields["card_holder"], "IVAN");
        assert_eq!(new.additional_fields["bank_name"], "sberbank");
    }

    #[test]
    fn bodies_that_are_not_objects() {
        for (body, message) in [
            ("[]", "The body must be a JSON object."),
            (
                "",
                "The body is not valid JSON: EOF while parsing a value at line 1 column 0.",
            ),
        ] {
            let Err(e) = CreateInvoiceRequest::read(body.as_bytes()) else {
                panic!()
            };
            assert_eq!((e.code, e.message.as_str()), ("bad_request", message));
        }
    }

    #[test]
    fn queries_name_each_bad_parameter() {
        let Err(e) = ListQuery::read(Some("limit=0&after=&page=2&color=red")) else {
            panic!()
        };
        assert_eq!(
            e.fields.keys().collect::<Vec<_>>(),
            ["after", "color", "limit", "page"]
        );
        let q = ListQuery::read(Some("limit=5&internalId=a%20b")).unwrap_or_else(|_| panic!());
        assert_eq!((q.limit, q.internal_id.as_deref()), (5, Some("a b")));
        assert!(BalanceQuery::read(Some("currency=XXX")).is_err());
    }
}
