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
use serde_json::{json, Map, Number, Value};

use super::response::*;
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// An amount as an exact JSON number: `100`, `123.45`.
pub fn amount(minor: i64, currency: Currency) -> Value {
    let text = format_short(minor, currency.exponent());
    Value::Number(Number::from_str(&text).expect("formatted amounts are numbers"))
}

fn amount_of(minor: Option<i64>, currency: Currency) -> Option<Amount> {
    minor.map(|m| Amount(m, currency))
}

/// A rate in millionths as a percentage number.
fn rate(ppm: i64) -> Number {
    Number::from_str(&kassa_domain::fee::format_rate_percent(ppm)).expect("rates are numbers")
}

pub fn hpp_url(base: &str, invoice: &Invoice) -> String {
    format!("{base}/hpp/{}", invoice.id)
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
pub fn public_invoice<'a>(hpp_url: &'a str, i: &'a Invoice) -> Data<PublicInvoice<'a>> {
    let resolution = i.resolution.as_str().to_uppercase();
    let c = i.currency;
    Data {
        data: PublicInvoice {
            id: &i.id,
            serial_number: serial(&i.id),
            created: i.created_at_secs,
            test_mode: i.test_mode,
            reference_id: &i.reference_id,
            currency: c.code(),
            amount: Amount(i.amount_minor, c),
            payment_amount: Amount(i.amount_minor, c),
            processed_amount: amount_of(i.processed_amount_minor, c),
            refunded_amount: amount_of(i.refunded_amount_minor, c),
            description: &i.description,
            has_return_url: i.return_url.is_some() || i.return_urls.is_some(),
            status: i.status.as_str(),
            resolution: resolution.clone(),
            service: &i.service,
            service_method: &i.service_method,
            service_flow: &i.service_flow,
            service_currency: c.code(),
            metadata: &i.metadata,
            hpp_url: hpp_url.to_string(),
            active_payment: ActivePayment {
                payload: FlowData {
                    action: hpp_url,
                    method: "GET",
                    params: Nothing::NONE,
                    metadata: Sid { sid: &i.id },
                },
                status: if i.status.is_open() {
                    "invoked"
                } else {
                    i.status.as_str()
                },
                resolution,
            },
        },
    }
}

/// A refund as the private API shows it.
pub fn refund_resource(r: &kassa_domain::Refund) -> RefundResource<'_> {
    let c = r.currency;
    RefundResource {
        kind: "refunds",
        id: &r.id,
        attributes: RefundResourceAttributes {
            serial_number: serial(&r.id),
            status: r.status.as_str(),
            reference_id: &r.reference_id,
            amount: Amount(r.amount_minor, c),
            currency: c.code(),
            fee_refunded: Amount(r.fee_returned_minor, c),
            test_mode: r.test_mode,
            created: r.created_at_secs,
            updated: r.updated_at_secs,
            payout_id: r.payout_id.as_deref(),
        },
        relationships: RefundRelationships {
            invoice: Related {
                data: Ref {
                    kind: "payment-invoices",
                    id: &r.invoice_id,
                },
            },
        },
    }
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
                params: Nothing::NONE,
                metadata: Sid { sid: &i.id },
            },
            flow: &i.service_flow,
            hpp_url,
            payment_flow: i.payment_flow.as_str(),
            created: i.created_at_secs,
            updated: i.updated_at_secs,
            expires: i.expires_at_secs,
            payload: Null,
            description: &i.description,
            descriptor: Null,
            callback_url: &i.callback_url,
            return_url: &i.return_url,
            return_urls: i.return_urls.as_ref().map(|u| ReturnUrlsOut {
                success: u.success.as_deref(),
                fail: u.fail.as_deref(),
                pending: &u.pending,
            }),
            original_data: OriginalData {
                external_id: Null,
                merchant_id: Null,
                provider_id: Null,
                external_mid: &i.merchant_id,
                provider_code: (i.service_flow == "test").then_some("test"),
            },
            rrn: Null,
            approval_code: Null,
            reserved_amount: Null,
            reserve_expires: Null,
            unreserved: Null,
            source: source(i.source),
            callback_logs: CallbackLogs(callback_logs(attempts)),
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

pub fn service_resource<'a>(
    merchant: &Merchant,
    test_mode: bool,
    s: &'a Service,
) -> ServiceResource<'a> {
    let id = merchant_service_id(&merchant.id, &s.code);
    let c = s.currency;
    ServiceResource {
        kind: "payment-services",
        links: SelfLink {
            self_link: format!("/api/payment-services/{id}"),
        },
        id,
        attributes: ServiceAttributes {
            service: &s.code,
            service_method: &s.method,
            service_currency: c.code(),
            available: s.available,
            active: s.enabled && s.available,
            enabled: s.enabled,
            amount_min: Amount(s.amount_min_minor, c),
            amount_max: Amount(s.amount_max_minor, c),
            fee_min: Amount(s.fee.min_minor, c),
            fee_max: Amount(s.fee.max_minor, c),
            fee_rate: rate(s.fee.rate_ppm),
            fee_fix: Amount(s.fee.fix_minor, c),
            reserve_lifetime: s.reserve.lifetime_secs,
            reserve_rate: rate(s.reserve.rate_ppm),
            currency: merchant.account_currency.code(),
            test_mode,
        },
        relationships: ServiceRelationships {
            payment_method: Related {
                data: Ref {
                    kind: "payment-methods",
                    id: &s.method,
                },
            },
            payment_service: Related {
                data: Ref {
                    kind: "payment-services",
                    id: &s.code,
                },
            },
        },
    }
}

/// The pre-request answer: the services of a currency and their methods.
pub fn prerequest<'a>(
    merchant: &'a Merchant,
    test_mode: bool,
    currency: Currency,
    catalog: &'a Catalog,
) -> Data<Prerequest<'a>> {
    let mut services = Vec::new();
    let mut methods: Vec<(&str, PrerequestMethod)> = Vec::new();
    for s in catalog
        .services
        .iter()
        .filter(|s| s.currency == currency && s.enabled && s.available)
    {
        let fields = s
            .fields
            .iter()
            .map(|f| ServiceField {
                key: &f.key,
                field_type: &f.field_type,
                label: (&f.label).into(),
                example: f.example.as_deref(),
                hint: (&f.hint).into(),
                regexp: f.regexp.as_deref(),
                required: f.required,
                position: f.position,
            })
            .collect();
        services.push((
            s.code.as_str(),
            PrerequestService {
                code: &s.code,
                method: &s.method,
                flow: s.flow.as_str(),
                currency: s.currency.code(),
                fields,
                amount_min: Amount(s.amount_min_minor, s.currency),
                amount_max: Amount(s.amount_max_minor, s.currency),
            },
        ));
        if let Some(m) = catalog.method(&s.method) {
            // A later service of the same method writes it again, in place.
            let method = PrerequestMethod {
                code: &m.code,
                category: &m.category,
                description: "",
                name: (&m.name).into(),
                logo: m.logo.as_deref(),
                icon: m.icon.as_deref(),
                metadata: Null,
                position: Null,
                hide: Null,
            };
            match methods.iter_mut().find(|(code, _)| *code == m.code) {
                Some(entry) => entry.1 = method,
                None => methods.push((m.code.as_str(), method)),
            }
        }
    }
    Data {
        data: Prerequest {
            currency: currency.code(),
            test_mode,
            services: ByCode(services),
            methods: ByCode(methods),
            account: Account {
                name: &merchant.name,
                description: &merchant.name,
                icon: Null,
                website: Null,
            },
        },
    }
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
        let url = hpp_url(&self.public_base_url, &invoice);
        let body = Data {
            data: private_invoice_resource(&url, &invoice, attempts),
        };
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
