//! The Checkout API's resources as its specification writes them.

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kassa_domain::ids::serial;
use kassa_domain::money::format_short;
use kassa_domain::{
    Callback, CallbackAttempt, Catalog, Currency, Invoice, Merchant, Service, Source,
};
use kassa_engine::Rendered;
use serde::Serialize;
use serde_json::{json, Map, Number, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// An amount as an exact JSON number: `100`, `123.45`.
pub fn amount(minor: i64, currency: Currency) -> Value {
    let text = format_short(minor, currency.exponent());
    Value::Number(Number::from_str(&text).expect("formatted amounts are numbers"))
}

fn opt_amount(minor: Option<i64>, currency: Currency) -> Value {
    minor.map_or(Value::Null, |m| amount(m, currency))
}

/// A rate in millionths as a percentage number.
fn rate(ppm: i64) -> Value {
    Value::Number(
        Number::from_str(&kassa_domain::fee::format_rate_percent(ppm)).expect("rates are numbers"),
    )
}

pub fn hpp_url(base: &str, invoice: &Invoice) -> String {
    format!("{base}/hpp/{}", invoice.id)
}

fn flow_data(base: &str, invoice: &Invoice) -> Value {
    json!({
        "action": hpp_url(base, invoice),
        "method": "GET",
        "params": [],
        "metadata": { "sid": invoice.id },
    })
}

fn source(s: Source) -> &'static str {
    match s {
        Source::PrivateApi => "merchant_api",
        Source::PublicApi => "public_api",
        Source::HtmlForm => "payment_link",
        Source::MerchantApi => "merchant_api_v2",
    }
}

/// The invoice as the public API shows it (`GET /public-api/payment-invoices/{id}`).
pub fn public_invoice(base: &str, i: &Invoice) -> Value {
    let resolution = i.resolution.as_str().to_uppercase();
    json!({ "data": {
        "id": i.id,
        "serial_number": serial(&i.id),
        "created": i.created_at_secs,
        "test_mode": i.test_mode,
        "reference_id": i.reference_id,
        "currency": i.currency.code(),
        "amount": amount(i.amount_minor, i.currency),
        "payment_amount": amount(i.amount_minor, i.currency),
        "processed_amount": opt_amount(i.processed_amount_minor, i.currency),
        "refunded_amount": opt_amount(i.refunded_amount_minor, i.currency),
        "description": i.description,
        "has_return_url": i.return_url.is_some() || i.return_urls.is_some(),
        "status": i.status.as_str(),
        "resolution": resolution,
        "service": i.service,
        "service_method": i.service_method,
        "service_flow": i.service_flow,
        "service_currency": i.currency.code(),
        "metadata": i.metadata,
        "hpp_url": hpp_url(base, i),
        "active_payment": {
            "payload": flow_data(base, i),
            "status": if i.status.is_open() { "invoked" } else { i.status.as_str() },
            "resolution": resolution,
        },
    }})
}

/// `callback_logs`: one entry per attempt, keyed by its unix time. Attempts in
/// the same second take the next free second, so that keys stay unique
/// integers in order. No attempt yet: an empty array, as the spec shows.
pub fn callback_logs(attempts: &[CallbackAttempt]) -> Value {
    if attempts.is_empty() {
        return json!([]);
    }
    let mut logs = Map::new();
    let mut last_key = i64::MIN;
    for a in attempts {
        let key = a.at_secs.max(last_key + 1);
        last_key = key;
        logs.insert(
            key.to_string(),
            json!({
                "status": a.status,
                "processed": a.processed_secs,
                "response_code": a.response_code,
                "transaction_status": a.transaction_status,
            }),
        );
    }
    Value::Object(logs)
}

/// An amount written as an exact JSON number, without building a tree.
struct Amount(i64, Currency);

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        amount(self.0, self.1).serialize(s)
    }
}

fn amount_of(minor: Option<i64>, currency: Currency) -> Option<Amount> {
    minor.map(|m| Amount(m, currency))
}

#[derive(Serialize)]
struct Ref<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
}

#[derive(Serialize)]
struct Related<'a> {
    data: Ref<'a>,
}

#[derive(Serialize)]
struct Relationships<'a> {
    #[serde(rename = "payment-service")]
    payment_service: Related<'a>,
    #[serde(rename = "payment-method")]
    payment_method: Related<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<Related<'a>>,
}

#[derive(Serialize)]
struct FlowData<'a> {
    action: &'a str,
    method: &'static str,
    params: [(); 0],
    metadata: Sid<'a>,
}

#[derive(Serialize)]
struct Sid<'a> {
    sid: &'a str,
}

#[derive(Serialize)]
struct OriginalData<'a> {
    external_id: Option<()>,
    merchant_id: Option<()>,
    provider_id: Option<()>,
    external_mid: &'a str,
    provider_code: Option<&'static str>,
}

#[derive(Serialize)]
struct PrivateAttributes<'a> {
    serial_number: &'a str,
    status: &'static str,
    resolution: &'static str,
    moderation_required: bool,
    amount: Amount,
    payment_amount: Amount,
    currency: &'static str,
    service_currency: &'static str,
    reference_id: &'a str,
    test_mode: bool,
    fee: Amount,
    deposit: Amount,
    processed: Option<i64>,
    processed_amount: Option<Amount>,
    refunded_amount: Option<Amount>,
    processed_fee: Option<Amount>,
    processed_deposit: Option<Amount>,
    metadata: &'a Option<Value>,
    flow_data: FlowData<'a>,
    flow: &'a str,
    hpp_url: &'a str,
    payment_flow: &'static str,
    created: i64,
    updated: i64,
    expires: i64,
    payload: Option<()>,
    description: &'a Option<String>,
    descriptor: Option<()>,
    callback_url: &'a Option<String>,
    return_url: &'a Option<String>,
    return_urls: &'a Option<kassa_domain::ReturnUrls>,
    original_data: OriginalData<'a>,
    rrn: Option<()>,
    approval_code: Option<()>,
    reserved_amount: Option<()>,
    reserve_expires: Option<()>,
    unreserved: Option<()>,
    source: &'static str,
    callback_logs: Value,
}

#[derive(Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    self_link: String,
}

/// The invoice as a JSON:API resource of the private API and the callbacks:
/// typed, so that rendering writes straight to the output.
#[derive(Serialize)]
pub struct PrivateInvoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    attributes: PrivateAttributes<'a>,
    relationships: Relationships<'a>,
    links: SelfLink,
}

/// `{"data": ...}`, the JSON:API envelope.
#[derive(Serialize)]
pub struct Data<T> {
    pub data: T,
}

pub fn private_invoice_resource<'a>(
    hpp_url: &'a str,
    i: &'a Invoice,
    attempts: &[CallbackAttempt],
) -> PrivateInvoice<'a> {
    let c = i.currency;
    PrivateInvoice {
        kind: "payment-invoices",
        id: &i.id,
        attributes: PrivateAttributes {
            serial_number: serial(&i.id),
            status: i.status.as_str(),
            resolution: i.resolution.as_str(),
            moderation_required: false,
            amount: Amount(i.amount_minor, c),
            payment_amount: Amount(i.amount_minor, c),
            currency: c.code(),
            service_currency: c.code(),
            reference_id: &i.reference_id,
            test_mode: i.test_mode,
            fee: Amount(i.fee_minor, c),
            deposit: Amount(i.deposit_minor, c),
            processed: i.processed_at_secs,
            processed_amount: amount_of(i.processed_amount_minor, c),
            refunded_amount: amount_of(i.refunded_amount_minor, c),
            processed_fee: amount_of(i.processed_fee_minor, c),
            processed_deposit: amount_of(i.processed_deposit_minor, c),
            metadata: &i.metadata,
            flow_data: FlowData {
                action: hpp_url,
                method: "GET",
                params: [],
                metadata: Sid { sid: &i.id },
            },
            flow: &i.service_flow,
            hpp_url,
            payment_flow: i.payment_flow.as_str(),
            created: i.created_at_secs,
            updated: i.updated_at_secs,
            expires: i.expires_at_secs,
            payload: None,
            description: &i.description,
            descriptor: None,
            callback_url: &i.callback_url,
            return_url: &i.return_url,
            return_urls: &i.return_urls,
            original_data: OriginalData {
                external_id: None,
                merchant_id: None,
                provider_id: None,
                external_mid: &i.merchant_id,
                provider_code: (i.service_flow == "test").then_some("test"),
            },
            rrn: None,
            approval_code: None,
            reserved_amount: None,
            reserve_expires: None,
            unreserved: None,
            source: source(i.source),
            callback_logs: callback_logs(attempts),
        },
        relationships: Relationships {
            payment_service: Related {
                data: Ref {
                    kind: "payment-services",
                    id: &i.service,
                },
            },
            payment_method: Related {
                data: Ref {
                    kind: "payment-methods",
                    id: &i.service_method,
                },
            },
            customer: i.customer.as_ref().map(|c| Related {
                data: Ref {
                    kind: "customers",
                    id: &c.id,
                },
            }),
        },
        links: SelfLink {
            self_link: format!("/api/payment-invoices/{}", i.id),
        },
    }
}

/// The id of a merchant's connection to a service (`comcps_...`): derived, so
/// that it is stable without a table.
pub fn merchant_service_id(merchant_id: &str, code: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(format!("{merchant_id}:{code}").as_bytes());
    let tail: String = digest
        .iter()
        .take(16)
        .map(|b| ALPHABET[*b as usize % 62] as char)
        .collect();
    format!("comcps_{tail}")
}

pub fn service_resource(merchant: &Merchant, test_mode: bool, s: &Service) -> Value {
    let id = merchant_service_id(&merchant.id, &s.code);
    json!({
        "type": "payment-services",
        "id": id,
        "attributes": {
            "service": s.code,
            "service_method": s.method,
            "service_currency": s.currency.code(),
            "available": s.available,
            "active": s.enabled && s.available,
            "enabled": s.enabled,
            "amount_min": amount(s.amount_min_minor, s.currency),
            "amount_max": amount(s.amount_max_minor, s.currency),
            "fee_min": amount(s.fee.min_minor, s.currency),
            "fee_max": amount(s.fee.max_minor, s.currency),
            "fee_rate": rate(s.fee.rate_ppm),
            "fee_fix": amount(s.fee.fix_minor, s.currency),
            "reserve_lifetime": s.reserve.lifetime_secs,
            "reserve_rate": rate(s.reserve.rate_ppm),
            "currency": merchant.account_currency.code(),
            "test_mode": test_mode,
        },
        "relationships": {
            "payment-method": { "data": { "type": "payment-methods", "id": s.method } },
            "payment-service": { "data": { "type": "payment-services", "id": s.code } },
        },
        "links": { "self": format!("/api/payment-services/{id}") },
    })
}

/// The pre-request answer: the services of a currency and their methods.
pub fn prerequest(
    merchant: &Merchant,
    test_mode: bool,
    currency: Currency,
    catalog: &Catalog,
) -> Value {
    let mut services = Map::new();
    let mut methods = Map::new();
    for s in catalog
        .services
        .iter()
        .filter(|s| s.currency == currency && s.enabled && s.available)
    {
        services.insert(
            s.code.clone(),
            json!({
                "code": s.code,
                "method": s.method,
                "flow": s.flow.as_str(),
                "currency": s.currency.code(),
                "fields": s.fields.iter().map(|f| json!({
                    "key": f.key,
                    "type": f.field_type,
                    "label": f.label,
                    "example": f.example,
                    "hint": f.hint,
                    "regexp": f.regexp,
                    "required": f.required,
                    "position": f.position,
                })).collect::<Vec<_>>(),
                "amount_min": amount(s.amount_min_minor, s.currency),
                "amount_max": amount(s.amount_max_minor, s.currency),
            }),
        );
        if let Some(m) = catalog.method(&s.method) {
            methods.insert(
                m.code.clone(),
                json!({
                    "code": m.code,
                    "category": m.category,
                    "description": "",
                    "name": m.name,
                    "logo": m.logo,
                    "icon": m.icon,
                    "metadata": Value::Null,
                    "position": Value::Null,
                    "hide": Value::Null,
                }),
            );
        }
    }
    json!({ "data": {
        "currency": currency.code(),
        "test_mode": test_mode,
        "services": services,
        "methods": methods,
        "account": {
            "name": merchant.name,
            "description": merchant.name,
            "icon": Value::Null,
            "website": Value::Null,
        },
    }})
}

/// The legacy callback signature: base64(sha1(secret + body + secret)).
pub fn legacy_signature(secret: &str, body: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(secret.as_bytes());
    h.update(body);
    h.update(secret.as_bytes());
    STANDARD.encode(h.finalize())
}

/// Renders Checkout callbacks: the private API's invoice, signed.
pub struct CheckoutCallbacks {
    pub public_base_url: String,
}

impl CheckoutCallbacks {
    pub fn render(
        &self,
        callback: &Callback,
        attempts: &[CallbackAttempt],
        secret: &str,
    ) -> Rendered {
        let invoice: Invoice = serde_json::from_value(callback.snapshot.clone())
            .expect("callback snapshots are invoices written by this build");
        let body =
            json!({ "data": private_invoice_resource(&self.public_base_url, &invoice, attempts) });
        let body = serde_json::to_vec(&body).expect("JSON serializes");
        let signature = legacy_signature(secret, &body);
        Rendered {
            body,
            headers: vec![("X-Signature".into(), signature)],
        }
    }
}

/// Groups attempts by invoice for listings.
pub fn attempts_by_invoice(
    attempts: Vec<CallbackAttempt>,
) -> BTreeMap<String, Vec<CallbackAttempt>> {
    let mut map: BTreeMap<String, Vec<CallbackAttempt>> = BTreeMap::new();
    for a in attempts {
        map.entry(a.invoice_id.clone()).or_default().push(a);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_numbers() {
        let usd = Currency::from_code("USD").unwrap();
        assert_eq!(amount(12345, usd).to_string(), "123.45");
        assert_eq!(amount(10000, usd).to_string(), "100");
        assert_eq!(amount(1, usd).to_string(), "0.01");
    }

    #[test]
    fn legacy_signature_is_sha1_sandwich() {
        // sha1("s" + "{}" + "s") in base64.
        let expected = STANDARD.encode(Sha1::digest(b"s{}s"));
        assert_eq!(legacy_signature("s", b"{}"), expected);
    }

    #[test]
    fn logs_keys_stay_unique() {
        let a = |at| CallbackAttempt {
            callback_id: "cb".into(),
            invoice_id: "cpi".into(),
            at_secs: at,
            processed_secs: at,
            status: "done".into(),
            response_code: Some(200),
            transaction_status: "processed".into(),
            error: None,
        };
        let logs = callback_logs(&[a(10), a(10), a(10), a(20)]);
        let keys: Vec<_> = logs.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["10", "11", "12", "20"]);
        assert_eq!(callback_logs(&[]), json!([]));
    }
}
