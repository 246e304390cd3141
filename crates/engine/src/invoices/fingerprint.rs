//! The fingerprint of a create request, which tells a repeat of the same
//! request from another one under the same `reference_id`: every field but
//! the reference, amounts by value, objects with sorted keys, hashed with a
//! key of the operator's.

use hmac::Mac;
use kassa_domain::ReturnUrls;
use serde::Serialize;
use serde_json::Value;

use super::NewInvoice;
use crate::secrets::{FingerprintKey, HmacSha256};

/// A JSON value written with its object keys sorted at every depth, so that
/// the same body hashes the same whatever order its keys came in.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_unstable();
                let mut out = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    out.serialize_entry(k, &Canonical(&map[k]))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Canonical(item))?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Decimal text without the zeros that carry no value: `0100.50` and `100.5`
/// are the same amount.
pub(crate) fn normalized_decimal(text: &str) -> String {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole = whole.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// Feeds what is written into a keyed hash.
struct HashWriter(HmacSha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fingerprint of what `value` writes: HMAC-SHA256 under the
/// fingerprint key, in hex. Every fingerprint of a request is made here.
fn keyed_fingerprint(key: &FingerprintKey, value: &impl Serialize) -> String {
    let mut hasher = HashWriter(key.mac());
    serde_json::to_writer(&mut hasher, value).expect("hashing cannot fail");
    hex::encode(hasher.0.finalize().into_bytes())
}

/// The fingerprint of a value written with sorted keys: the one fingerprint
/// of a request, whatever order its keys came in.
pub(crate) fn fingerprint_of(key: &FingerprintKey, value: &Value) -> String {
    keyed_fingerprint(key, &Canonical(value))
}

/// Counts what is written.
struct CountWriter(usize);

impl std::io::Write for CountWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The hash of a create request: every field but `reference_id`, amounts by
/// value, objects with sorted keys. Written straight into the hasher.
pub(super) fn fingerprint(key: &FingerprintKey, new: &NewInvoice) -> String {
    #[derive(Serialize)]
    struct View<'a> {
        service: &'a str,
        currency: &'a str,
        amount: String,
        payment_flow: &'a Option<String>,
        service_fields: Option<Canonical<'a>>,
        customer: Option<Canonical<'a>>,
        metadata: Option<Canonical<'a>>,
        return_url: &'a Option<String>,
        return_urls: &'a Option<ReturnUrls>,
        callback_url: &'a Option<String>,
        gateway_options: Option<Canonical<'a>>,
        expires_at_secs: Option<i64>,
        test_mode: bool,
        description: &'a Option<String>,
    }
    let service_fields = new
        .service_fields
        .as_ref()
        .map(|m| Value::Object(m.clone()));
    let customer = new.customer.as_ref().map(|m| Value::Object(m.clone()));
    let view = View {
        service: &new.service,
        currency: &new.currency,
        amount: normalized_decimal(&new.amount),
        payment_flow: &new.payment_flow,
        service_fields: service_fields.as_ref().map(Canonical),
        customer: customer.as_ref().map(Canonical),
        metadata: new.metadata.as_ref().map(Canonical),
        return_url: &new.return_url,
        return_urls: &new.return_urls,
        callback_url: &new.callback_url,
        gateway_options: new.gateway_options.as_ref().map(Canonical),
        expires_at_secs: new.expires_at_secs,
        test_mode: new.test_mode,
        description: &new.description,
    };
    keyed_fingerprint(key, &view)
}

pub(super) fn json_size(value: &Value) -> usize {
    let mut count = CountWriter(0);
    serde_json::to_writer(&mut count, value).expect("counting cannot fail");
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_amount_written_differently_fingerprints_the_same() {
        assert_eq!(normalized_decimal("100.00"), "100");
        assert_eq!(normalized_decimal("0100.50"), "100.5");
        assert_eq!(normalized_decimal("0.10"), "0.1");
        assert_eq!(normalized_decimal("0"), "0");
        let a = NewInvoice {
            amount: "100".into(),
            service: "s".into(),
            ..Default::default()
        };
        let b = NewInvoice {
            amount: "100.00".into(),
            ..a.clone()
        };
        let c = NewInvoice {
            amount: "100.01".into(),
            ..a.clone()
        };
        let key = FingerprintKey::new(&[7u8; 32]);
        assert_eq!(fingerprint(&key, &a), fingerprint(&key, &b));
        assert_ne!(fingerprint(&key, &a), fingerprint(&key, &c));
    }
}
