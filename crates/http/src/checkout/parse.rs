//! The Checkout API's body formats: JSON that must be an object, and the
//! HTML form's bracketed names (`customer[address][city]`) as nested
//! objects. The fields inside are read by `request.rs`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::field::{raw_fields, read_object, NotAnObject, RawFields};

use super::error::CheckoutError;

/// Reads a JSON body that must be an object into its request type.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CheckoutError> {
    read_object(body).map_err(not_an_object)
}

/// A JSON body's top-level fields, for a body read into two types at once.
pub fn json_fields(body: &[u8]) -> Result<RawFields<'_>, CheckoutError> {
    raw_fields(body).map_err(not_an_object)
}

fn not_an_object(e: NotAnObject) -> CheckoutError {
    match e {
        NotAnObject::Other => {
            CheckoutError::BadRequest("The request body must be a JSON object.".into())
        }
        NotAnObject::Malformed(e) => CheckoutError::BadRequest(format!("Malformed JSON: {e}.")),
    }
}

/// Turns form pairs with bracketed names (`customer[address][city]`) into a
/// nested object. A later value for the same name wins.
pub fn form_object(body: &[u8]) -> Result<Map<String, Value>, CheckoutError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| CheckoutError::BadRequest(format!("Malformed form body: {e}.")))?;
    let mut root = Map::new();
    for (name, value) in pairs {
        let mut path: Vec<&str> = Vec::new();
        let (head, mut rest) = match name.find('[') {
            Some(i) => (&name[..i], &name[i..]),
            None => (name.as_str(), ""),
        };
        path.push(head);
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else {
                return Err(CheckoutError::invalid(
                    &name,
                    "This field name is malformed.",
                ));
            };
            path.push(&stripped[..end]);
            rest = &stripped[end + 1..];
        }
        if !rest.is_empty() || path.iter().any(|p| p.is_empty()) || path.len() > 4 {
            return Err(CheckoutError::invalid(
                &name,
                "This field name is malformed.",
            ));
        }
        let mut node = &mut root;
        for key in &path[..path.len() - 1] {
            let entry = node
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            node = entry.as_object_mut().expect("made an object above");
        }
        node.insert(path[path.len() - 1].to_string(), Value::String(value));
    }
    Ok(root)
}

/// The payment link's form carries text only: its one boolean attribute is
/// read as HTML forms write it (`true`/`1`, `false`/`0`/empty), anything
/// else left for the attribute's own type check.
pub fn form_flags(map: &mut Map<String, Value>) {
    if let Some(value) = map.get_mut("test_mode") {
        let flag = match value.as_str() {
            Some("true" | "1") => Some(true),
            Some("false" | "0" | "") => Some(false),
            _ => None,
        };
        if let Some(flag) = flag {
            *value = Value::Bool(flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_form_names_nest() {
        let body = b"public_key=pk&customer%5Breference_id%5D=c1&customer%5Baddress%5D%5Bfull_address%5D=Main+St&amount=100";
        let map = form_object(body).unwrap();
        assert_eq!(map["customer"]["reference_id"], "c1");
        assert_eq!(map["customer"]["address"]["full_address"], "Main St");
        assert_eq!(map["amount"], "100");
        assert!(form_object(b"a%5Bb=1").is_err());
        assert!(form_object(b"a%5B%5D=1").is_err());
    }
}
