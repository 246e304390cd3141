//! The H2H signature: HMAC-SHA256 over a canonical text of the body's
//! top-level fields, made the same way for requests, answers and callbacks.

use kassa_engine::secrets::constant_time_eq;
use serde_json::{Map, Value};
use sha2::Sha256;

/// The text an H2H signature covers: every top-level field except
/// `signature`, sorted by key, each written `key:value;`. A string is written
/// as is, a number in its decimal form, a boolean as `true`/`false`, an
/// object or array as compact JSON with sorted keys; null fields are left
/// out.
///
/// `{"b": 2, "a": "x", "signature": "..", "c": null}` gives `a:x;b:2;`.
pub fn canonical(map: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = map
        .iter()
        .filter(|(k, v)| k.as_str() != "signature" && !v.is_null())
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    let mut out = String::new();
    for key in keys {
        out.push_str(key);
        out.push(':');
        match &map[key] {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&number_text(n)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Objects and arrays (null was left out above).
            other => compact_sorted(other, &mut out),
        }
        out.push(';');
    }
    out
}

/// A number's decimal text: integers without exponent or fraction, others as
/// JSON writes them.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.to_string()
    }
}

/// Compact JSON with the keys of every object sorted.
fn compact_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                compact_sorted(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact_sorted(v, out);
            }
            out.push(']');
        }
        Value::Number(n) => out.push_str(&number_text(n)),
        other => out.push_str(&other.to_string()),
    }
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The H2H signature of a body: lowercase hex `HMAC-SHA256(secret,
/// canonical(map))`.
pub fn sign(secret: &str, map: &Map<String, Value>) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), canonical(map).as_bytes()))
}

/// Whether `map`'s `signature` is the one `secret` makes, compared in
/// constant time (hex case is ignored).
pub fn verify(secret: &str, map: &Map<String, Value>) -> bool {
    match map.get("signature") {
        Some(Value::String(given)) => {
            constant_time_eq(&sign(secret, map), &given.to_ascii_lowercase())
        }
        _ => false,
    }
}

/// An answer body with its `signature` added.
pub fn signed(secret: &str, mut map: Map<String, Value>) -> Value {
    map.remove("signature");
    let signature = sign(secret, &map);
    map.insert("signature".into(), Value::String(signature));
    Value::Object(map)
}

/// A Unix time as the H2H API writes it: `2025-05-20T06:54:16Z`.
pub fn utc_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn canonical_text() {
        let map = object(json!({
            "site_id": 1004,
            "amount": 900000,
            "signature": "ignored",
            "bank_name": null,
            "flag": true,
            "additional_fields": {"z": 1, "a": {"y": "b", "x": [2, 1]}},
            "currency": "RUB",
        }));
        assert_eq!(
            canonical(&map),
            r#"additional_fields:{"a":{"x":[2,1],"y":"b"},"z":1};amount:900000;currency:RUB;flag:true;site_id:1004;"#
        );
    }

    #[test]
    fn signed_answers_verify() {
        let body = signed("k", object(json!({"amount": 5, "expires_at": "x"})));
        let map = object(body);
        assert!(verify("k", &map));
        assert!(!verify("other", &map));
        let mut upper = map.clone();
        let s = upper["signature"].as_str().unwrap().to_ascii_uppercase();
        upper.insert("signature".into(), Value::String(s));
        assert!(verify("k", &upper));
    }

    #[test]
    fn utc() {
        assert_eq!(utc_text(1_747_724_056), "2025-05-20T06:54:16Z");
    }
}
