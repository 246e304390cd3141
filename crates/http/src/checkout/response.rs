//! The Checkout API's answers as types: what `render.rs` fills in and the
//! OpenAPI document describes. Borrowed where they can be, so that an answer
//! is written straight from the invoice.

use std::borrow::Cow;

use kassa_domain::money::format_short;
use kassa_domain::Currency;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// An amount written as an exact JSON number: `100`, `123.45`.
#[derive(Clone, Copy)]
pub struct Amount(pub i64, pub Currency);

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = format_short(self.0, self.1.exponent());
        let number: serde_json::Number = text.parse().expect("formatted amounts are numbers");
        number.serialize(s)
    }
}

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some(
                "An exact decimal amount in the currency's major units.",
            ))
            .into()
    }
}

impl ToSchema for Amount {
    fn name() -> Cow<'static, str> {
        "Amount".into()
    }
}

/// A field the spec always writes as `null`.
#[derive(Clone, Copy)]
pub struct Null;

impl Serialize for Null {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_none()
    }
}

impl PartialSchema for Null {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Null).into()
    }
}

impl ToSchema for Null {
    fn name() -> Cow<'static, str> {
        "Null".into()
    }
}

/// An empty JSON array (`params` of a flow that takes none).
#[derive(Clone, Copy, Serialize)]
pub struct Nothing([(); 0]);

impl Nothing {
    pub const NONE: Nothing = Nothing([]);
}

impl PartialSchema for Nothing {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().max_items(Some(0)).into()
    }
}

impl ToSchema for Nothing {
    fn name() -> Cow<'static, str> {
        "EmptyArray".into()
    }
}

/// `callback_logs`: one entry per attempt keyed by its unix time, or `[]`
/// before the first attempt, as the spec shows.
pub struct CallbackLogs(pub Value);

impl Serialize for CallbackLogs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl PartialSchema for CallbackLogs {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ArrayBuilder::new().max_items(Some(0)))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(CallbackLog::schema())),
            )
            .into()
    }
}

impl ToSchema for CallbackLogs {
    fn name() -> Cow<'static, str> {
        "CallbackLogs".into()
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("CallbackLog".into(), CallbackLog::schema()));
    }
}

/// One attempt of `callback_logs`.
#[derive(Serialize, ToSchema)]
pub struct CallbackLog<'a> {
    pub status: &'a str,
    pub processed: i64,
    pub response_code: Option<u16>,
    pub transaction_status: &'a str,
}

/// `{"data": ...}`, the JSON:API envelope.
#[derive(Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

#[derive(Serialize, ToSchema)]
pub struct Ref<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct Related<'a> {
    pub data: Ref<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_link: String,
}

/// Where the customer is sent to pay: the hosted page.
#[derive(Serialize, ToSchema)]
pub struct FlowData<'a> {
    pub action: &'a str,
    pub method: &'static str,
    pub params: Nothing,
    pub metadata: Sid<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct Sid<'a> {
    pub sid: &'a str,
}

/// `GET /public-api/payment-invoices/{id}` and the public creation.
#[derive(Serialize, ToSchema)]
pub struct PublicInvoice<'a> {
    pub id: &'a str,
    pub serial_number: &'a str,
    pub created: i64,
    pub test_mode: bool,
    pub reference_id: &'a str,
    pub currency: &'static str,
    pub amount: Amount,
    pub payment_amount: Amount,
    pub processed_amount: Option<Amount>,
    pub refunded_amount: Option<Amount>,
    pub description: &'a Option<String>,
    pub has_return_url: bool,
    pub status: &'static str,
    /// The resolution in capitals (`OK`, ...).
    pub resolution: String,
    pub service: &'a str,
    pub service_method: &'a str,
    pub service_flow: &'a str,
    pub service_currency: &'static str,
    #[schema(value_type = Option<Object>)]
    pub metadata: &'a Option<Value>,
    pub hpp_url: String,
    pub active_payment: ActivePayment<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivePayment<'a> {
    pub payload: FlowData<'a>,
    pub status: &'static str,
    pub resolution: String,
}

/// A merchant's connection to a service (`/api/payment-services`).
#[derive(Serialize, ToSchema)]
pub struct ServiceResource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub attributes: ServiceAttributes<'a>,
    pub relationships: ServiceRelationships<'a>,
    pub links: SelfLink,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceAttributes<'a> {
    pub service: &'a str,
    pub service_method: &'a str,
    pub service_currency: &'static str,
    pub available: bool,
    pub active: bool,
    pub enabled: bool,
    pub amount_min: Amount,
    pub amount_max: Amount,
    pub fee_min: Amount,
    pub fee_max: Amount,
    /// Percent.
    #[schema(value_type = f64)]
    pub fee_rate: serde_json::Number,
    pub fee_fix: Amount,
    pub reserve_lifetime: i64,
    /// Percent.
    #[schema(value_type = f64)]
    pub reserve_rate: serde_json::Number,
    /// The merchant's account currency.
    pub currency: &'static str,
    pub test_mode: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceRelationships<'a> {
    #[serde(rename = "payment-method")]
    pub payment_method: Related<'a>,
    #[serde(rename = "payment-service")]
    pub payment_service: Related<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceList<'a> {
    pub meta: PageNumberMeta,
    /// `first`, `prev`, `next`, `last` as they apply.
    #[schema(value_type = Object)]
    pub links: Map<String, Value>,
    pub data: Vec<ServiceResource<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct PageNumberMeta {
    pub total: usize,
    pub pages: usize,
    pub page: usize,
}

/// A page of invoices, newest first.
#[derive(Serialize, ToSchema)]
pub struct InvoiceList<'a> {
    pub meta: CursorMeta,
    pub links: CursorLinks,
    pub data: Vec<PrivateInvoice<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct CursorMeta {
    pub count: usize,
    pub size: usize,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Empty when there is no such page.
#[derive(Serialize, ToSchema)]
pub struct CursorLinks {
    pub prev: String,
    pub next: String,
}

/// A refund (`/api/refunds/{id}`).
#[derive(Serialize, ToSchema)]
pub struct RefundResource<'a> {
    /// Always `refunds`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    pub attributes: RefundResourceAttributes<'a>,
    pub relationships: RefundRelationships<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundResourceAttributes<'a> {
    pub serial_number: &'a str,
    /// `refunding`, then `refunded` or `refund_failed`.
    pub status: &'static str,
    pub reference_id: &'a str,
    pub amount: Amount,
    pub currency: &'static str,
    /// The platform's fee given back with the refund (0 when it is kept).
    pub fee_refunded: Amount,
    pub test_mode: bool,
    pub created: i64,
    pub updated: i64,
    /// A refund of an invoice paid by a P2P transfer: the payout a trader
    /// executes to pay the customer back, whose outcome settles the refund.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRelationships<'a> {
    pub invoice: Related<'a>,
}

/// An invoice's refunds, oldest first.
#[derive(Serialize, ToSchema)]
pub struct RefundList<'a> {
    pub meta: RefundListMeta,
    pub data: Vec<RefundResource<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundListMeta {
    pub count: usize,
}

/// The callback owed by a resend.
#[derive(Serialize, ToSchema)]
pub struct CallbackResource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    pub attributes: CallbackAttributes<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAttributes<'a> {
    pub url: &'a str,
    pub transaction_status: &'a str,
    pub status: &'static str,
}

/// A balance in one currency, in the key's mode.
#[derive(Serialize, ToSchema)]
pub struct BalanceResource {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'static str,
    pub attributes: BalanceAttributes,
}

/// Each amount as a decimal string and as an integer of minor units.
#[derive(Serialize, ToSchema)]
pub struct BalanceAttributes {
    pub currency: &'static str,
    pub exponent: u8,
    pub test_mode: bool,
    pub available: String,
    pub available_minor: i64,
    pub pending_payouts: String,
    pub pending_payouts_minor: i64,
    /// Refunds asked for and not yet settled.
    pub pending_refunds: String,
    pub pending_refunds_minor: i64,
    pub reserve: String,
    pub reserve_minor: i64,
}

/// The pre-request answer: the services of a currency and their methods.
#[derive(Serialize, ToSchema)]
pub struct Prerequest<'a> {
    pub currency: &'static str,
    pub test_mode: bool,
    /// By service code.
    #[schema(value_type = std::collections::BTreeMap<String, PrerequestService>)]
    pub services: ByCode<'a, PrerequestService<'a>>,
    /// By method code.
    #[schema(value_type = std::collections::BTreeMap<String, PrerequestMethod>)]
    pub methods: ByCode<'a, PrerequestMethod<'a>>,
    pub account: Account<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct PrerequestService<'a> {
    pub code: &'a str,
    pub method: &'a str,
    pub flow: &'static str,
    pub currency: &'static str,
    pub fields: Vec<ServiceField<'a>>,
    pub amount_min: Amount,
    pub amount_max: Amount,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceField<'a> {
    pub key: &'a str,
    #[serde(rename = "type")]
    pub field_type: &'a str,
    pub label: Localized<'a>,
    pub example: Option<&'a str>,
    pub hint: Localized<'a>,
    pub regexp: Option<&'a str>,
    pub required: bool,
    pub position: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PrerequestMethod<'a> {
    pub code: &'a str,
    pub category: &'a str,
    pub description: &'static str,
    pub name: Localized<'a>,
    pub logo: Option<&'a str>,
    pub icon: Option<&'a str>,
    pub metadata: Null,
    pub position: Null,
    pub hide: Null,
}

#[derive(Serialize, ToSchema)]
pub struct Account<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub icon: Null,
    pub website: Null,
}

/// A text in the languages of the catalog.
#[derive(Serialize, ToSchema)]
pub struct Localized<'a> {
    pub en: &'a str,
    pub ru: &'a str,
    pub uk: &'a str,
}

impl<'a> From<&'a kassa_domain::catalog::Localized> for Localized<'a> {
    fn from(l: &'a kassa_domain::catalog::Localized) -> Self {
        Localized {
            en: &l.en,
            ru: &l.ru,
            uk: &l.uk,
        }
    }
}

/// An object keyed by code, in the catalog's order.
pub struct ByCode<'a, T>(pub Vec<(&'a str, T)>);

impl<T: Serialize> Serialize for ByCode<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The invoice as a JSON:API resource of the private API and the callbacks.
#[derive(Serialize, ToSchema)]
pub struct PrivateInvoice<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    pub attributes: PrivateAttributes<'a>,
    pub relationships: Relationships<'a>,
    pub links: SelfLink,
}

#[derive(Serialize, ToSchema)]
pub struct Relationships<'a> {
    #[serde(rename = "payment-service")]
    pub payment_service: Related<'a>,
    #[serde(rename = "payment-method")]
    pub payment_method: Related<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Related<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct OriginalData<'a> {
    pub external_id: Null,
    pub merchant_id: Null,
    pub provider_id: Null,
    pub external_mid: &'a str,
    pub provider_code: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct ReturnUrlsOut<'a> {
    pub success: Option<&'a str>,
    pub fail: Option<&'a str>,
    pub pending: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct PrivateAttributes<'a> {
    pub serial_number: &'a str,
    pub status: &'static str,
    pub resolution: &'static str,
    pub moderation_required: bool,
    pub amount: Amount,
    pub payment_amount: Amount,
    pub currency: &'static str,
    pub service_currency: &'static str,
    pub reference_id: &'a str,
    pub test_mode: bool,
    pub fee: Amount,
    pub deposit: Amount,
    pub processed: Option<i64>,
    pub processed_amount: Option<Amount>,
    pub refunded_amount: Option<Amount>,
    pub processed_fee: Option<Amount>,
    pub processed_deposit: Option<Amount>,
    #[schema(value_type = Option<Object>)]
    pub metadata: &'a Option<Value>,
    pub flow_data: FlowData<'a>,
    pub flow: &'a str,
    pub hpp_url: &'a str,
    pub payment_flow: &'static str,
    pub created: i64,
    pub updated: i64,
    pub expires: i64,
    pub payload: Null,
    pub description: &'a Option<String>,
    pub descriptor: Null,
    pub callback_url: &'a Option<String>,
    pub return_url: &'a Option<String>,
    pub return_urls: Option<ReturnUrlsOut<'a>>,
    pub original_data: OriginalData<'a>,
    pub rrn: Null,
    pub approval_code: Null,
    pub reserved_amount: Null,
    pub reserve_expires: Null,
    pub unreserved: Null,
    pub source: &'static str,
    pub callback_logs: CallbackLogs,
}
