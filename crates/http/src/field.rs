//! Request fields read leniently. Each field of a request DTO keeps what the
//! client sent: nothing (absent or null), a value of its kind, or something
//! else, remembered as the kind it should have been. Reading a body into a
//! DTO therefore never stops at the first bad field: the face's conversion
//! to an engine command names every one in a single answer, in the face's
//! own words.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// What a field should have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    /// A JSON number or a string of one.
    Numeric,
    Bool,
    Object,
}

/// One field of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    /// Not sent, or sent as null.
    #[default]
    Absent,
    Given(T),
    /// Sent as something that is not this kind.
    Wrong(Kind),
}

impl<T> Field<T> {
    /// The value, if one of the right kind was sent.
    pub fn given(self) -> Option<T> {
        match self {
            Field::Given(v) => Some(v),
            _ => None,
        }
    }
}

/// A kind of value a field may carry, read from the JSON text the client
/// sent. Fields are read from text, never through a `Value` tree: exact
/// numbers (`arbitrary_precision`) do not survive a second deserialization
/// from one (`0.000001` comes back as `1e-6`).
pub trait FromJson: Sized {
    const KIND: Kind;
    fn from_json(text: &str) -> Option<Self>;
}

impl<'de, T: FromJson> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        Ok(match raw.get() {
            "null" => Field::Absent,
            text => T::from_json(text).map_or(Field::Wrong(T::KIND), Field::Given),
        })
    }
}

/// Why a body is not a JSON object.
pub enum NotAnObject {
    Malformed(serde_json::Error),
    /// Valid JSON of another type.
    Other,
}

/// Reads a JSON object into a DTO whose fields are all [`Field`]s (or
/// options of them): whatever the fields hold, this fails only when the
/// text is not an object.
pub fn read_object<T: DeserializeOwned>(text: &[u8]) -> Result<T, NotAnObject> {
    // A derived struct also reads from an array of its fields in order, and
    // skips the fields it does not know without checking their text.
    let object = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if object && std::str::from_utf8(text).is_ok() {
        if let Ok(dto) = serde_json::from_slice(text) {
            return Ok(dto);
        }
    }
    match serde_json::from_slice::<Value>(text) {
        Err(e) => Err(NotAnObject::Malformed(e)),
        // A name written twice: the last one counts, as it does in a tree.
        Ok(object @ Value::Object(_)) => {
            let text = serde_json::to_vec(&object).expect("a tree writes");
            serde_json::from_slice(&text).map_err(NotAnObject::Malformed)
        }
        Ok(_) => Err(NotAnObject::Other),
    }
}

impl FromJson for String {
    const KIND: Kind = Kind::String;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl FromJson for bool {
    const KIND: Kind = Kind::Bool;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl FromJson for Map<String, Value> {
    const KIND: Kind = Kind::Object;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// A decimal amount, sent as a JSON number or a string, kept as its exact
/// text (the engine reads it in the currency's minor units).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decimal(pub String);

impl FromJson for Decimal {
    const KIND: Kind = Kind::Numeric;
    fn from_json(text: &str) -> Option<Self> {
        match serde_json::from_str(text).ok()? {
            Value::Number(n) => Some(Decimal(n.to_string())),
            Value::String(s) => Some(Decimal(s.trim().to_string())),
            _ => None,
        }
    }
}

/// A JSON number, kept as its exact text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Number(pub String);

impl FromJson for Number {
    const KIND: Kind = Kind::Numeric;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .map(|n| Number(n.to_string()))
    }
}

/// A value of one of two kinds, the first tried first; wrong when neither.
/// For a face that words one mistake apart from the others (a number sent
/// where text belongs).
#[derive(Clone, Debug, PartialEq)]
pub enum Either<A, B> {
    First(A),
    Second(B),
}

impl<A: FromJson, B: FromJson> FromJson for Either<A, B> {
    const KIND: Kind = A::KIND;
    fn from_json(text: &str) -> Option<Self> {
        A::from_json(text)
            .map(Either::First)
            .or_else(|| B::from_json(text).map(Either::Second))
    }
}

/// A nested object of a request whose own fields are [`Field`]s, with the
/// schema its derive gives it.
#[macro_export]
macro_rules! nested_fields {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::field::KindSchema for $t {
            fn kind_name() -> std::borrow::Cow<'static, str> {
                <$t as utoipa::ToSchema>::name()
            }
            fn kind_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <$t as utoipa::PartialSchema>::schema()
            }
            fn kind_schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                <$t as utoipa::ToSchema>::schemas(schemas)
            }
        }
        impl $crate::field::FromJson for $t {
            const KIND: $crate::field::Kind = $crate::field::Kind::Object;
            fn from_json(text: &str) -> Option<Self> {
                $crate::field::read_object(text.as_bytes()).ok()
            }
        }
    )*};
}

/// A field's schema is that of the kind it carries.
pub trait KindSchema {
    fn kind_name() -> Cow<'static, str>;
    fn kind_schema() -> RefOr<Schema>;
    /// The components the kind's schema refers to.
    fn kind_schemas(_schemas: &mut Vec<(String, RefOr<Schema>)>) {}
}

impl KindSchema for String {
    fn kind_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

impl KindSchema for bool {
    fn kind_name() -> Cow<'static, str> {
        "Flag".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

impl KindSchema for Map<String, Value> {
    fn kind_name() -> Cow<'static, str> {
        "FreeObject".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("Any JSON object, kept as sent."))
            .into()
    }
}

impl KindSchema for Decimal {
    fn kind_name() -> Cow<'static, str> {
        "Decimal".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^\s*[0-9]+(\.[0-9]+)?\s*$")),
            )
            .description(Some(
                "A decimal amount in the currency's major units, as a number or a string: `100`, `123.45`.",
            ))
            .into()
    }
}

impl KindSchema for Number {
    fn kind_name() -> Cow<'static, str> {
        "Number".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Number).into()
    }
}

impl<A: KindSchema, B: KindSchema> KindSchema for Either<A, B> {
    fn kind_name() -> Cow<'static, str> {
        format!("{}Or{}", A::kind_name(), B::kind_name()).into()
    }
    fn kind_schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(A::kind_schema())
            .item(B::kind_schema())
            .into()
    }
    fn kind_schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        A::kind_schemas(schemas);
        B::kind_schemas(schemas);
    }
}

impl<T: KindSchema> PartialSchema for Field<T> {
    fn schema() -> RefOr<Schema> {
        T::kind_schema()
    }
}

impl<T: KindSchema> ToSchema for Field<T> {
    fn name() -> Cow<'static, str> {
        T::kind_name()
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        T::kind_schemas(schemas)
    }
}

pub type Text = Field<String>;
pub type Flag = Field<bool>;
pub type Object = Field<Map<String, Value>>;
pub type Amount = Field<Decimal>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Deserialize)]
    struct Body {
        #[serde(default)]
        name: Text,
        #[serde(default)]
        amount: Amount,
        flag: Option<Flag>,
    }

    #[test]
    fn every_field_is_read_whatever_it_holds() {
        let Ok(body) = read_object::<Body>(br#"{"name": 5, "amount": 0.000001, "flag": null}"#)
        else {
            panic!()
        };
        assert_eq!(body.name, Field::Wrong(Kind::String));
        assert_eq!(body.amount, Field::Given(Decimal("0.000001".into())));
        assert_eq!(body.flag, None);
        let Ok(body) = read_object::<Body>(br#"{"name": "a", "name": "b"}"#) else {
            panic!()
        };
        assert_eq!(body.name, Field::Given("b".into()));
        assert!(matches!(
            read_object::<Body>(b"[1]"),
            Err(NotAnObject::Other)
        ));
        assert!(matches!(
            read_object::<Body>(b" []"),
            Err(NotAnObject::Other)
        ));
        assert!(matches!(
            read_object::<Body>(b"{"),
            Err(NotAnObject::Malformed(_))
        ));
    }

    #[test]
    fn either_kind_tells_its_two_kinds_apart() {
        type TextOrNumber = Field<Either<String, Number>>;
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            a: TextOrNumber,
            #[serde(default)]
            b: TextOrNumber,
            #[serde(default)]
            c: TextOrNumber,
        }
        let Ok(body) = read_object::<Body>(br#"{"a": "1.0", "b": 1.000, "c": true}"#) else {
            panic!()
        };
        assert_eq!(body.a, Field::Given(Either::First("1.0".into())));
        assert_eq!(body.b, Field::Given(Either::Second(Number("1.000".into()))));
        assert_eq!(body.c, Field::Wrong(Kind::String));
    }
}
