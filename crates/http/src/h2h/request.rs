//! The H2H API's request bodies as types, and their meaning as engine
//! commands. Every field is read leniently (`crate::field`), so a 400 names
//! each bad field at once, in this face's words.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use kassa_domain::payout::PayoutSource;
use kassa_domain::Currency;
use kassa_engine::p2p::BookRequest;
use kassa_engine::payouts::NewPayout;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::error::H2hError;
use super::ADDITIONAL_FIELDS_MAX;
use crate::field::{Field, Integer, Object, Text};

/// The message of an amount that is not an integer.
pub const AMOUNT_NOT_INTEGER: &str = "must be a positive integer of minor units";
const REQUIRED: &str = "is required";
const NOT_STRING: &str = "must be a string";
const NOT_FIELDS_OBJECT: &str = "must be an object whose values are strings";

/// What every request carries beside its own fields: who sends it, and the
/// signature over all its top-level fields.
#[derive(Default, Deserialize, ToSchema)]
pub struct Credentials {
    /// The merchant's Kassa id, `mer_...`.
    #[serde(default)]
    #[schema(required = true)]
    pub merchant_id: Text,
    /// The merchant's site id.
    #[serde(default)]
    #[schema(required = true)]
    pub site_id: Integer,
    /// The merchant's site login.
    #[serde(default)]
    #[schema(required = true)]
    pub site_login: Text,
    /// Lowercase hex `HMAC-SHA256(h2h_secret, canonical)` over every other
    /// top-level field (upper case hex is accepted). Signed with the
    /// `h2h_test_secret`, the request runs in test mode.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[0-9a-fA-F]{64}$")]
    pub signature: Text,
}

/// `POST /api/book_cabinet`: the amount wanted on a cabinet of a method.
#[derive(Default, Deserialize, ToSchema)]
pub struct BookCabinetRequest {
    /// Idempotency key, unique per merchant.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 255)]
    pub request_id: Text,
    /// The cabinet method: `card`, `sbp`, `account`, ... (case is ignored).
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 32)]
    pub method: Text,
    /// ISO code, upper case: `RUB`, `UAH`, ...
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[A-Z]{3,4}$")]
    pub currency: Text,
    /// The amount wanted, in minor units.
    #[serde(default)]
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub amount: Integer,
    /// Only cabinets of this bank (case is ignored; empty: any bank).
    #[schema(value_type = Option<String>, max_length = 128)]
    pub bank_name: Option<Text>,
}

/// `POST /api/payout`: a payout with its method's fields.
#[derive(Default, Deserialize, ToSchema)]
pub struct PayoutRequest {
    /// Idempotency key, unique per merchant and mode: a repeat answers with
    /// the payout as it is now.
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 255)]
    pub request_id: Text,
    /// The amount paid out, in minor units (the fee is held on top).
    #[serde(default)]
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub amount: Integer,
    /// `USD`, `EUR`, `RUB`, `UAH`, `USDT`, `IDR`, `AZN` or `VND`.
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[A-Z]{3,4}$")]
    pub currency: Text,
    /// `card`, `sbp`, `WalletM10`, `localbanks`, `binance`, `cash`, `MTS`,
    /// `sbp_qr` or `Emanat`.
    #[serde(default)]
    #[schema(required = true, value_type = String)]
    pub method: Text,
    /// The method's fields (`card_number`, `phone_number`, ...), strings;
    /// `asap` may be a boolean.
    #[schema(schema_with = additional_fields_schema)]
    pub additional_fields: Option<Object>,
}

/// `POST /api/balance`.
#[derive(Default, Deserialize, ToSchema)]
pub struct BalanceRequest {
    /// Only this currency; one with no money shows zeros.
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{3,4}$")]
    pub currency: Option<Text>,
}

fn additional_fields_schema() -> RefOr<Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "asap",
            OneOfBuilder::new()
                .item(text())
                .item(ObjectBuilder::new().schema_type(Type::Boolean)),
        )
        .additional_properties(Some(text()))
        .max_properties(Some(ADDITIONAL_FIELDS_MAX))
        .into()
}

/// A request body as sent: the [`Credentials`] beside the request's own
/// fields (only in the documents; the two are read apart).
macro_rules! signed_body {
    ($($body:ident => $fields:ident),* $(,)?) => {$(
        #[doc = concat!("[`", stringify!($fields), "`] with the [`Credentials`].")]
        pub struct $body;

        impl PartialSchema for $body {
            fn schema() -> RefOr<Schema> {
                AllOfBuilder::new()
                    .item(RefOr::Ref(Ref::from_schema_name("Credentials")))
                    .item(RefOr::Ref(Ref::from_schema_name(stringify!($fields))))
                    .into()
            }
        }

        impl ToSchema for $body {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push(("Credentials".into(), Credentials::schema()));
                <Credentials as ToSchema>::schemas(schemas);
                schemas.push((stringify!($fields).into(), $fields::schema()));
                <$fields as ToSchema>::schemas(schemas);
            }
        }
    )*};
}

signed_body!(
    BookCabinetBody => BookCabinetRequest,
    PayoutBody => PayoutRequest,
    BalanceBody => BalanceRequest,
);

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

    /// A required string (an empty one is a string).
    pub fn text(&mut self, name: &str, field: Text) -> String {
        match field {
            Field::Given(s) => s,
            Field::Absent => {
                self.fail(name, REQUIRED);
                String::new()
            }
            Field::Wrong(_) => {
                self.fail(name, NOT_STRING);
                String::new()
            }
        }
    }

    pub fn optional_text(&mut self, name: &str, field: Option<Text>) -> Option<String> {
        match field? {
            Field::Given(s) => Some(s),
            Field::Absent => None,
            Field::Wrong(_) => {
                self.fail(name, NOT_STRING);
                None
            }
        }
    }

    /// A required integer; `message` says what else it was.
    pub fn integer(&mut self, name: &str, field: Integer, message: &str) -> i64 {
        match field {
            Field::Given(i) => i,
            Field::Absent => {
                self.fail(name, REQUIRED);
                0
            }
            Field::Wrong(_) => {
                self.fail(name, message);
                0
            }
        }
    }

    /// A payout's `additional_fields`: an object (absent or `null`: empty)
    /// of at most [`ADDITIONAL_FIELDS_MAX`] entries whose values are strings
    /// (`asap` may also be a boolean).
    fn additional_fields(&mut self, name: &str, field: Option<Object>) -> Map<String, Value> {
        let map = match field.unwrap_or_default() {
            Field::Absent => return Map::new(),
            Field::Given(map) => map,
            Field::Wrong(_) => {
                self.fail(name, NOT_FIELDS_OBJECT);
                return Map::new();
            }
        };
        if map.len() > ADDITIONAL_FIELDS_MAX {
            self.fail(
                name,
                &format!("must have at most {ADDITIONAL_FIELDS_MAX} fields"),
            );
            return Map::new();
        }
        for (key, value) in &map {
            if !(value.is_string() || key == "asap" && value.is_boolean()) {
                self.fail(&format!("{name}.{key}"), NOT_STRING);
            }
        }
        map
    }

    /// The errors so far as a 400 naming each field.
    pub fn finish(self) -> Result<(), H2hError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(H2hError::fields(StatusCode::BAD_REQUEST, self.errors))
        }
    }
}

impl BookCabinetRequest {
    pub fn command(self) -> Result<BookRequest, H2hError> {
        let mut p = Problems::default();
        let request_id = p.text("request_id", self.request_id);
        let method = p.text("method", self.method);
        let currency = p.text("currency", self.currency);
        let amount_minor = p.integer("amount", self.amount, AMOUNT_NOT_INTEGER);
        let bank_name = p.optional_text("bank_name", self.bank_name);
        p.finish()?;
        Ok(BookRequest {
            request_id,
            method,
            currency,
            amount_minor,
            // An empty bank filter is no filter.
            bank_name: bank_name
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty()),
        })
    }
}

impl PayoutRequest {
    /// The payout's fields, typed; values (which method needs which, Luhn,
    /// ...) are the engine's to judge (422).
    pub fn command(self, callback_url: Option<String>) -> Result<NewPayout, H2hError> {
        let mut p = Problems::default();
        let request_id = p.text("request_id", self.request_id);
        let amount_minor = p.integer("amount", self.amount, AMOUNT_NOT_INTEGER);
        let currency = p.text("currency", self.currency);
        let method = p.text("method", self.method);
        let additional_fields = p.additional_fields("additional_fields", self.additional_fields);
        p.finish()?;
        Ok(NewPayout {
            request_id,
            amount_minor,
            currency,
            method,
            additional_fields,
            source: PayoutSource::H2h,
            callback_url,
            merchant_api: None,
        })
    }
}

impl BalanceRequest {
    /// The one currency asked for, if any.
    pub fn only(self) -> Result<Option<Currency>, H2hError> {
        let mut p = Problems::default();
        let currency = p.optional_text("currency", self.currency);
        p.finish()?;
        match currency {
            None => Ok(None),
            Some(code) => Currency::from_code(&code).map(Some).ok_or_else(|| {
                H2hError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "currency",
                    "unknown currency",
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{raw_fields, read_fields};

    fn read<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> T {
        read_fields(&raw_fields(body).ok().unwrap())
    }

    #[test]
    fn every_bad_field_is_named() {
        let r: PayoutRequest = read(
            br#"{"amount": "100", "currency": 5, "additional_fields": {"card_number": 4242, "asap": true, "x": "y"}}"#,
        );
        let Err(e) = r.command(None) else { panic!() };
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.fields["request_id"], REQUIRED);
        assert_eq!(e.fields["amount"], AMOUNT_NOT_INTEGER);
        assert_eq!(e.fields["currency"], NOT_STRING);
        assert_eq!(e.fields["method"], REQUIRED);
        assert_eq!(e.fields["additional_fields.card_number"], NOT_STRING);
        assert_eq!(e.fields.len(), 5);
        let r: PayoutRequest = read(br#"{"additional_fields": [1]}"#);
        let Err(e) = r.command(None) else { panic!() };
        assert_eq!(e.fields["additional_fields"], NOT_FIELDS_OBJECT);
    }

    #[test]
    fn a_booking_reads_its_fields() {
        let r: BookCabinetRequest = read(
            br#"{"request_id": "r", "method": "sbp", "currency": "RUB", "amount": 900000, "bank_name": " "}"#,
        );
        let command = r.command().ok().unwrap();
        assert_eq!(command.amount_minor, 900000);
        assert_eq!(command.bank_name, None);
        let r: BookCabinetRequest =
            read(br#"{"request_id": "r", "method": "sbp", "currency": "RUB", "amount": 9e5}"#);
        let Err(e) = r.command() else { panic!() };
        assert_eq!(
            e.message,
            "amount: must be a positive integer of minor units"
        );
    }
}
