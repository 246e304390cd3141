//! The Checkout API's request bodies as types, and their meaning as engine
//! commands. Every field is read leniently (`crate::field`), so a 422 names
//! each bad field at once, in the spec's words.

use std::collections::BTreeMap;

use kassa_domain::ReturnUrls;
use kassa_engine::refunds::RefundPayee;
use kassa_engine::{NewInvoice, NewRefund};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::error::CheckoutError;
use super::parse::json_fields;
use crate::field::{read_fields, Amount, Field, Flag, Kind, Object, Text};

/// The invoice's attributes, shared by the public API, the payment link's
/// form and the private API's `data.attributes`.
#[derive(Default, Deserialize, ToSchema)]
pub struct InvoiceAttributes {
    /// Your id of the invoice: a repeat with the same `reference_id`
    /// answers with the invoice made first.
    pub reference_id: Option<Text>,
    /// The service code (see the pre-request or `/api/payment-services`).
    #[serde(default)]
    pub service: Text,
    /// ISO 4217 code of the invoice's currency.
    #[serde(default)]
    #[schema(value_type = String, pattern = "^[A-Z]{3,4}$")]
    pub currency: Text,
    #[serde(default)]
    pub amount: Amount,
    /// The payment flow asked for (`charge`, ...).
    pub flow: Option<Text>,
    /// Values of the service's fields, by key.
    pub service_fields: Option<Object>,
    pub customer: Option<Object>,
    /// Yours, returned as sent.
    pub metadata: Option<Object>,
    pub return_url: Option<Text>,
    pub return_urls: Option<ReturnUrlsField>,
    pub callback_url: Option<Text>,
    pub gateway_options: Option<Object>,
    /// When the invoice expires (RFC 3339).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires: Option<Text>,
    /// Only `true` with a test key, whose invoices are test invoices anyway.
    pub test_mode: Option<Flag>,
    pub description: Option<Text>,
}

#[derive(Default, Deserialize, ToSchema)]
pub struct ReturnUrlsBody {
    pub success: Option<Text>,
    pub fail: Option<Text>,
    pub pending: Option<Text>,
}

crate::nested_fields!(InvoiceAttributes, ReturnUrlsBody);
type AttributesField = Field<InvoiceAttributes>;
type ReturnUrlsField = Field<ReturnUrlsBody>;

/// The public API's and the payment link's body: the invoice's attributes
/// beside the merchant's public key. Read by hand rather than by
/// `#[serde(flatten)]`, which exact numbers (`arbitrary_precision`) break.
pub struct PublicInvoiceRequest {
    pub public_key: Text,
    pub attributes: InvoiceAttributes,
}

#[derive(Default, Deserialize)]
struct PublicKeyOnly {
    #[serde(default)]
    public_key: Text,
}

impl PublicInvoiceRequest {
    /// One scan of the body, read as the key and as the attributes.
    pub fn read(body: &[u8]) -> Result<Self, CheckoutError> {
        let fields = json_fields(body)?;
        let PublicKeyOnly { public_key } = read_fields(&fields);
        Ok(PublicInvoiceRequest {
            public_key,
            attributes: read_fields(&fields),
        })
    }
}

impl PartialSchema for PublicInvoiceRequest {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                "InvoiceAttributes",
            )))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("public_key", String::schema())
                    .required("public_key"),
            )
            .into()
    }
}

impl ToSchema for PublicInvoiceRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("InvoiceAttributes".into(), InvoiceAttributes::schema()));
        <InvoiceAttributes as ToSchema>::schemas(schemas);
    }
}

/// The payment link's form: the public creation's fields as text, nested
/// ones by bracketed names (`customer[email]`, `return_urls[success]`).
pub struct PaymentLinkForm;

impl PartialSchema for PaymentLinkForm {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let mut form = ObjectBuilder::new().schema_type(Type::Object);
        for name in ["public_key", "service", "currency", "amount"] {
            form = form.property(name, text()).required(name);
        }
        for name in [
            "reference_id",
            "flow",
            "description",
            "return_url",
            "callback_url",
            "expires",
            "test_mode",
        ] {
            form = form.property(name, text());
        }
        form.additional_properties(Some(text())).into()
    }
}

impl ToSchema for PaymentLinkForm {}

/// `POST /api/payment-invoices`: a JSON:API document.
#[derive(Default, Deserialize, ToSchema)]
pub struct CreateInvoiceRequest {
    #[serde(default)]
    pub data: ResourceField,
}

#[derive(Default, Deserialize, ToSchema)]
pub struct InvoiceResource {
    /// Always `payment-invoices`.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, pattern = "^payment-invoices$")]
    pub kind: Option<Text>,
    #[serde(default)]
    pub attributes: AttributesField,
}

crate::nested_fields!(InvoiceResource);
type ResourceField = Field<InvoiceResource>;

impl CreateInvoiceRequest {
    /// The attributes, or the one error the envelope has.
    pub fn attributes(self) -> Result<InvoiceAttributes, CheckoutError> {
        let Field::Given(data) = self.data else {
            return Err(CheckoutError::invalid(
                "data",
                "This value should be an object.",
            ));
        };
        match data.kind {
            None => {}
            Some(Field::Given(kind)) if kind == "payment-invoices" => {}
            Some(_) => {
                return Err(CheckoutError::invalid(
                    "data.type",
                    "This value should be payment-invoices.",
                ))
            }
        }
        data.attributes.given().ok_or_else(|| {
            CheckoutError::invalid("data.attributes", "This value should be an object.")
        })
    }
}

/// `POST /api/payment-invoices/{id}/refund`: a JSON:API document.
#[derive(Default, Deserialize, ToSchema)]
pub struct CreateRefundRequest {
    #[serde(default)]
    pub data: RefundBodyField,
}

#[derive(Default, Deserialize, ToSchema)]
pub struct RefundBody {
    /// `refund` (or `refunds`).
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, pattern = "^refunds?$")]
    pub kind: Option<Text>,
    #[serde(default)]
    pub attributes: RefundAttributesField,
}

/// What to refund.
#[derive(Default, Deserialize, ToSchema)]
pub struct RefundAttributes {
    /// Your id of the refund: a repeat with the same `reference_id` and body
    /// answers 200 with the refund made first; another body, 409.
    pub reference_id: Option<Text>,
    /// How much, up to what is left of the processed amount; without it,
    /// all that is left.
    pub amount: Option<Amount>,
    /// In test mode, `status` chooses the outcome: `refunded` (the
    /// default), `refund_failed`, or `refunding` (refunded a minute later).
    pub service_fields: Option<Object>,
    /// An invoice paid by a P2P transfer is refunded by a trader's payout
    /// to the customer (required there): its method (`card`, `sbp`, ...),
    /// as the H2H payout API names it.
    pub payout_method: Option<Text>,
    /// The customer's requisites for that payout, as the H2H payout API's
    /// `additional_fields` of the method (`card_number`; `phone_number`,
    /// `phone_holder` and `bank_name` for `sbp`; ...).
    pub payout_fields: Option<Object>,
}

crate::nested_fields!(RefundBody, RefundAttributes);
type RefundBodyField = Field<RefundBody>;
type RefundAttributesField = Field<RefundAttributes>;

impl CreateRefundRequest {
    /// The refund of an invoice this body asks for, in the key's mode.
    pub fn new_refund(
        self,
        invoice_id: String,
        test_mode: bool,
    ) -> Result<NewRefund, CheckoutError> {
        let Field::Given(data) = self.data else {
            return Err(CheckoutError::invalid(
                "data",
                "This value should be an object.",
            ));
        };
        match data.kind {
            None => {}
            Some(Field::Given(kind)) if kind == "refund" || kind == "refunds" => {}
            Some(_) => {
                return Err(CheckoutError::invalid(
                    "data.type",
                    "This value should be refund.",
                ))
            }
        }
        let a = match data.attributes {
            Field::Given(a) => a,
            // Every attribute is optional: no attributes refund all that is left.
            Field::Absent => RefundAttributes::default(),
            Field::Wrong(_) => {
                return Err(CheckoutError::invalid(
                    "data.attributes",
                    "This value should be an object.",
                ))
            }
        };
        let mut p = Problems::default();
        let reference_id = p.optional("reference_id", a.reference_id);
        let amount = p.optional("amount", a.amount).map(|d| d.0);
        let service_fields = p.optional("service_fields", a.service_fields);
        let payout_method = p.optional("payout_method", a.payout_method);
        let payout_fields = p.optional("payout_fields", a.payout_fields);
        p.finish()?;
        let payee = match (payout_method, payout_fields) {
            (None, None) => None,
            (method, fields) => Some(RefundPayee {
                method: method.unwrap_or_default(),
                fields: fields.unwrap_or_default(),
            }),
        };
        Ok(NewRefund {
            invoice_id,
            reference_id,
            amount,
            service_fields,
            payee,
            test_mode,
        })
    }
}

/// `POST /public-api/payment-prerequest`.
#[derive(Default, Deserialize, ToSchema)]
pub struct PrerequestBody {
    #[serde(default)]
    pub public_key: Text,
    /// ISO 4217 code: the services of this currency are listed.
    #[serde(default)]
    pub currency: Text,
}

/// The spec's message for a field of the wrong kind.
pub fn wrong_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "This value should be of type string.",
        Kind::Numeric => "This value should be of type numeric.",
        Kind::Bool => "This value should be of type bool.",
        Kind::Object => "This value should be of type object.",
        Kind::Integer => "This value should be of type integer.",
        Kind::List => "This value should be of type array.",
    }
}

const BLANK: &str = "This value should not be blank.";

/// Turns fields into values, one message per bad field.
#[derive(Default)]
pub struct Problems {
    errors: BTreeMap<String, String>,
}

impl Problems {
    pub fn fail(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.into())
            .or_insert_with(|| message.into());
    }

    /// The value of an optional field.
    pub fn optional<T>(&mut self, name: &str, field: Option<Field<T>>) -> Option<T> {
        match field? {
            Field::Absent => None,
            Field::Given(v) => Some(v),
            Field::Wrong(kind) => {
                self.fail(name, wrong_kind(kind));
                None
            }
        }
    }

    /// A required field; blank text counts as absent.
    pub fn required<T: Default>(&mut self, name: &str, field: Field<T>) -> T {
        match field {
            Field::Given(v) => v,
            Field::Absent => {
                self.fail(name, BLANK);
                T::default()
            }
            Field::Wrong(kind) => {
                self.fail(name, wrong_kind(kind));
                T::default()
            }
        }
    }

    pub fn required_text(&mut self, name: &str, field: Text) -> String {
        let text = self.required(name, field);
        if text.trim().is_empty() {
            self.fail(name, BLANK);
        }
        text
    }

    pub fn finish(self) -> Result<(), CheckoutError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(CheckoutError::Invalid(self.errors))
        }
    }
}

/// The invoice attributes every creation path shares. `key_test_mode` is the
/// mode of the credential used, and the mode of the invoice: a test key only
/// ever makes test invoices, a live key live ones.
pub fn new_invoice(a: InvoiceAttributes, key_test_mode: bool) -> Result<NewInvoice, CheckoutError> {
    let mut p = Problems::default();
    let reference_id = p
        .optional("reference_id", a.reference_id)
        .filter(|r| !r.is_empty());
    let service = p.required_text("service", a.service);
    let currency = p.required_text("currency", a.currency);
    let amount = p.required("amount", a.amount).0;
    let payment_flow = p.optional("flow", a.flow);
    let service_fields = p.optional("service_fields", a.service_fields);
    let customer = p.optional("customer", a.customer);
    let metadata = p.optional("metadata", a.metadata).map(Value::Object);
    let return_url = p.optional("return_url", a.return_url);
    let return_urls = p.optional("return_urls", a.return_urls).map(|urls| {
        let mut u = Problems::default();
        let success = u.optional("success", urls.success);
        let fail = u.optional("fail", urls.fail);
        let pending = u.optional("pending", urls.pending).unwrap_or_default();
        for (k, v) in u.errors {
            p.fail(&format!("return_urls.{k}"), &v);
        }
        ReturnUrls {
            success,
            fail,
            pending,
        }
    });
    let callback_url = p.optional("callback_url", a.callback_url);
    let gateway_options = p
        .optional("gateway_options", a.gateway_options)
        .map(Value::Object);
    let expires_at_secs =
        p.optional("expires", a.expires).and_then(
            |text| match chrono::DateTime::parse_from_rfc3339(text.trim()) {
                Ok(t) => Some(t.timestamp()),
                Err(_) => {
                    p.fail("expires", "This value is not a valid datetime.");
                    None
                }
            },
        );
    // The key decides the mode. A live key asking for a test invoice is
    // refused: the invoice would be invisible to that key and signed with the
    // test secret, and silently making it live would charge for real.
    let test_mode = match p.optional("test_mode", a.test_mode) {
        Some(true) if !key_test_mode => {
            p.fail(
                "test_mode",
                "This value should be false with a live key: test invoices are made with the test key.",
            );
            false
        }
        _ => key_test_mode,
    };
    let description = p.optional("description", a.description);
    p.finish()?;
    Ok(NewInvoice {
        reference_id,
        service,
        currency,
        amount,
        payment_flow,
        service_fields,
        customer,
        metadata,
        return_url,
        return_urls,
        callback_url,
        gateway_options,
        expires_at_secs,
        test_mode,
        description,
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(body: &[u8]) -> InvoiceAttributes {
        crate::checkout::parse::json_body(body).unwrap()
    }

    #[test]
    fn amounts_keep_their_text() {
        let a = attributes(br#"{"amount": 100.10, "service": "s", "currency": "USD"}"#);
        let new = new_invoice(a, true).unwrap();
        assert_eq!(new.amount, "100.10");
        assert!(new.test_mode);
    }

    #[test]
    fn wrong_types_name_every_field() {
        let a = attributes(
            br#"{"amount": [1], "service": 5, "currency": "USD", "test_mode": "yes", "return_urls": {"fail": 1}, "expires": "soon"}"#,
        );
        let Err(CheckoutError::Invalid(errors)) = new_invoice(a, false) else {
            panic!()
        };
        assert_eq!(errors["amount"], "This value should be of type numeric.");
        assert_eq!(errors["service"], "This value should be of type string.");
        assert_eq!(errors["test_mode"], "This value should be of type bool.");
        assert_eq!(
            errors["return_urls.fail"],
            "This value should be of type string."
        );
        assert_eq!(errors["expires"], "This value is not a valid datetime.");
    }

    #[test]
    fn blank_and_null_required_fields_are_blank() {
        let a = attributes(br#"{"service": " ", "currency": null}"#);
        let Err(CheckoutError::Invalid(errors)) = new_invoice(a, false) else {
            panic!()
        };
        assert_eq!(errors["service"], BLANK);
        assert_eq!(errors["currency"], BLANK);
        assert_eq!(errors["amount"], BLANK);
    }
}
