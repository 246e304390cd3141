//! From the Checkout API's request bodies to the engine's commands: JSON, the
//! JSON:API envelope and the HTML form's bracketed names. Types are checked
//! here, meaning in the engine.

use std::collections::BTreeMap;

use kassa_domain::ReturnUrls;
use kassa_engine::NewInvoice;
use serde_json::{Map, Value};

use super::error::CheckoutError;

/// Where a body came from: form values are all text, so booleans and numbers
/// arrive as strings there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Json,
    Form,
}

/// Parses a JSON body that must be an object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, CheckoutError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CheckoutError::BadRequest(
            "The request body must be a JSON object.".into(),
        )),
        Err(e) => Err(CheckoutError::BadRequest(format!("Malformed JSON: {e}."))),
    }
}

/// The `data.attributes` of a JSON:API request.
pub fn jsonapi_attributes(
    mut body: Map<String, Value>,
) -> Result<Map<String, Value>, CheckoutError> {
    match body.remove("data") {
        Some(Value::Object(mut data)) => {
            if let Some(t) = data.get("type") {
                if t != "payment-invoices" {
                    return Err(CheckoutError::invalid(
                        "data.type",
                        "This value should be payment-invoices.",
                    ));
                }
            }
            match data.remove("attributes") {
                Some(Value::Object(attributes)) => Ok(attributes),
                _ => Err(CheckoutError::invalid(
                    "data.attributes",
                    "This value should be an object.",
                )),
            }
        }
        _ => Err(CheckoutError::invalid(
            "data",
            "This value should be an object.",
        )),
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

/// Reads typed fields out of an object, collecting one message per bad field.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    origin: Origin,
    pub errors: BTreeMap<String, String>,
}

const NOT_STRING: &str = "This value should be of type string.";

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, origin: Origin) -> Self {
        Fields {
            map,
            origin,
            errors: BTreeMap::new(),
        }
    }

    fn fail(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.into())
            .or_insert_with(|| message.into());
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(field, NOT_STRING);
                None
            }
        }
    }

    /// A required string: absent or empty is "should not be blank".
    pub fn required_string(&mut self, field: &str) -> String {
        match self.string(field) {
            Some(s) if !s.trim().is_empty() => s,
            Some(_) | None => {
                if !self.errors.contains_key(field) {
                    self.fail(field, "This value should not be blank.");
                }
                String::new()
            }
        }
    }

    /// A number or numeric string, kept as its exact text.
    pub fn decimal(&mut self, field: &str) -> String {
        match self.get(field) {
            None => {
                self.fail(field, "This value should not be blank.");
                String::new()
            }
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => {
                self.fail(field, "This value should be of type numeric.");
                String::new()
            }
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match (self.get(field), self.origin) {
            (None, _) => None,
            (Some(Value::Bool(b)), _) => Some(*b),
            (Some(Value::String(s)), Origin::Form) if s == "true" || s == "1" => Some(true),
            (Some(Value::String(s)), Origin::Form) if s == "false" || s == "0" || s.is_empty() => {
                Some(false)
            }
            _ => {
                self.fail(field, "This value should be of type bool.");
                None
            }
        }
    }

    pub fn object(&mut self, field: &str) -> Option<Map<String, Value>> {
        match self.get(field) {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                self.fail(field, "This value should be of type object.");
                None
            }
        }
    }

    /// Any JSON value but null, kept as given (`metadata`, `gateway_options`).
    pub fn any_object(&mut self, field: &str) -> Option<Value> {
        self.object(field).map(Value::Object)
    }

    /// An RFC 3339 date-time, as unix seconds.
    pub fn datetime(&mut self, field: &str) -> Option<i64> {
        let text = self.string(field)?;
        match chrono::DateTime::parse_from_rfc3339(text.trim()) {
            Ok(t) => Some(t.timestamp()),
            Err(_) => {
                self.fail(field, "This value is not a valid datetime.");
                None
            }
        }
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
pub fn new_invoice(
    map: &Map<String, Value>,
    origin: Origin,
    key_test_mode: bool,
) -> Result<NewInvoice, CheckoutError> {
    let mut f = Fields::new(map, origin);
    let reference_id = f.string("reference_id").filter(|r| !r.is_empty());
    let service = f.required_string("service");
    let currency = f.required_string("currency");
    let amount = f.decimal("amount");
    let payment_flow = f.string("flow");
    let service_fields = f.object("service_fields");
    let customer = f.object("customer");
    let metadata = f.any_object("metadata");
    let return_url = f.string("return_url");
    let return_urls = f.object("return_urls").map(|urls| {
        let mut u = Fields::new(&urls, origin);
        let success = u.string("success");
        let fail = u.string("fail");
        let pending = u.string("pending").unwrap_or_default();
        let errors = std::mem::take(&mut u.errors);
        for (k, v) in errors {
            f.fail(&format!("return_urls.{k}"), &v);
        }
        ReturnUrls {
            success,
            fail,
            pending,
        }
    });
    let callback_url = f.string("callback_url");
    let gateway_options = f.any_object("gateway_options");
    let expires_at_secs = f.datetime("expires");
    // The key decides the mode. A live key asking for a test invoice is
    // refused: the invoice would be invisible to that key and signed with the
    // test secret, and silently making it live would charge for real.
    let test_mode = match f.boolean("test_mode") {
        Some(true) if !key_test_mode => {
            f.fail(
                "test_mode",
                "This value should be false with a live key: test invoices are made with the test key.",
            );
            false
        }
        _ => key_test_mode,
    };
    let description = f.string("description");
    f.finish()?;
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

    #[test]
    fn amounts_keep_their_text() {
        let map = json_object(br#"{"amount": 100.10, "service": "s", "currency": "USD"}"#).unwrap();
        let new = new_invoice(&map, Origin::Json, true).unwrap();
        assert_eq!(new.amount, "100.10");
        assert!(new.test_mode);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let map =
            json_object(br#"{"amount": [1], "service": 5, "currency": "USD", "test_mode": "yes"}"#)
                .unwrap();
        let Err(CheckoutError::Invalid(errors)) = new_invoice(&map, Origin::Json, false) else {
            panic!()
        };
        assert_eq!(errors["amount"], "This value should be of type numeric.");
        assert_eq!(errors["service"], "This value should be of type string.");
        assert_eq!(errors["test_mode"], "This value should be of type bool.");
    }
}
