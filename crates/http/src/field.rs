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
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
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
    /// A JSON integer in the type's range.
    Integer,
    /// A JSON array of items of one kind.
    List,
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

/// A field where `null` means something (clear a setting): absent, null, a
/// value of its kind, or something else.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
    Wrong(Kind),
}

impl<'de, T: FromJson> Deserialize<'de> for Change<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        Ok(match raw.get() {
            "null" => Change::Clear,
            text => T::from_json(text).map_or(Change::Wrong(T::KIND), Change::Set),
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

/// Reads a JSON object as [`read_object`] does, with the top-level names `T`
/// does not read: a face that refuses unknown fields names each one.
pub fn read_object_strict<T: DeserializeOwned>(
    text: &[u8],
) -> Result<(T, Vec<String>), NotAnObject> {
    let dto = read_object(text)?;
    let known = field_names::<T>();
    // The text was read as an object above, so its names read too.
    let names: std::collections::BTreeMap<String, serde::de::IgnoredAny> =
        serde_json::from_slice(text).unwrap_or_default();
    let unknown = names
        .into_keys()
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    Ok((dto, unknown))
}

/// The names a derived struct reads, as its `Deserialize` tells a
/// deserializer asking for a struct.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names(&'static [&'static str]);
    impl serde::de::Error for Names {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Names(&[])
        }
    }
    impl std::fmt::Display for Names {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names")
        }
    }
    impl std::fmt::Debug for Names {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names")
        }
    }
    impl std::error::Error for Names {}
    struct Ask;
    impl<'de> Deserializer<'de> for Ask {
        type Error = Names;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Names> {
            Err(Names(&[]))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Names> {
            Err(Names(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Ask) {
        Err(Names(fields)) => fields,
        Ok(_) => &[],
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

impl FromJson for u64 {
    const KIND: Kind = Kind::Integer;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl FromJson for u32 {
    const KIND: Kind = Kind::Integer;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl FromJson for Vec<i64> {
    const KIND: Kind = Kind::List;
    fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

impl FromJson for Vec<String> {
    const KIND: Kind = Kind::List;
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

impl KindSchema for u64 {
    fn kind_name() -> Cow<'static, str> {
        "Count".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .into()
    }
}

impl KindSchema for u32 {
    fn kind_name() -> Cow<'static, str> {
        "Count32".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .into()
    }
}

impl KindSchema for Vec<i64> {
    fn kind_name() -> Cow<'static, str> {
        "Integers".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::Integer))
            .into()
    }
}

impl KindSchema for Vec<String> {
    fn kind_name() -> Cow<'static, str> {
        "Texts".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
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

/// `null` is a value of its own: the schema of the kind, or null.
impl<T: KindSchema> PartialSchema for Change<T> {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(T::kind_schema())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    }
}

impl<T: KindSchema> ToSchema for Change<T> {
    fn name() -> Cow<'static, str> {
        format!("{}OrNull", T::kind_name()).into()
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        T::kind_schemas(schemas)
    }
}

pub type Text = Field<String>;
pub type Flag = Field<bool>;
pub type Object = Field<Map<String, Value>>;
pub type Amount = Field<Decimal>;
pub type Count = Field<u64>;
pub type TextOrNull = Change<String>;
pub type TextsOrNull = Change<Vec<String>>;
pub type IntegersOrNull = Change<Vec<i64>>;
pub type Count32OrNull = Change<u32>;

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
    fn names_a_struct_does_not_read_are_told() {
        assert_eq!(field_names::<Body>(), ["name", "amount", "flag"]);
        let Ok((body, unknown)) =
            read_object_strict::<Body>(br#"{"name": "a", "nmae": 1, "x\u0079": {}}"#)
        else {
            panic!()
        };
        assert_eq!(body.name, Field::Given("a".into()));
        assert_eq!(unknown, ["nmae", "xy"]);
    }

    #[derive(Default, Deserialize)]
    struct Patch {
        #[serde(default)]
        url: Change<String>,
        #[serde(default)]
        hosts: Change<Vec<String>>,
        #[serde(default)]
        count: Count,
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let Ok(p) = read_object::<Patch>(br#"{"url": null, "count": 1.5}"#) else {
            panic!()
        };
        assert_eq!(p.url, Change::Clear);
        assert_eq!(p.hosts, Change::Keep);
        assert_eq!(p.count, Field::Wrong(Kind::Integer));
    }
}
