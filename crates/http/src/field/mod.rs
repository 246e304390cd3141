//! Request fields read leniently. Each field of a request DTO keeps what the
//! client sent: nothing (absent or null), a value of its kind, or something
//! else, remembered as the kind it should have been. Reading a body into a
//! DTO therefore never stops at the first bad field: the face's conversion
//! to an engine command names every one in a single answer, in the face's
//! own words.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

mod schema;

pub use schema::KindSchema;

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
    // Checked once here, the text is read as a `str`, not checked again.
    let object = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if let (true, Ok(checked)) = (object, std::str::from_utf8(text)) {
        if let Ok(dto) = serde_json::from_str(checked) {
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
/// does not read, found in the same pass: a face that refuses unknown
/// fields names each one.
pub fn read_object_strict<T: DeserializeOwned>(
    text: &[u8],
) -> Result<(T, Vec<String>), NotAnObject> {
    let object = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if object && std::str::from_utf8(text).is_ok() {
        if let Ok(read) = strict_from_slice(text) {
            return Ok(read);
        }
    }
    match serde_json::from_slice::<Value>(text) {
        Err(e) => Err(NotAnObject::Malformed(e)),
        Ok(object @ Value::Object(_)) => {
            let text = serde_json::to_vec(&object).expect("a tree writes");
            strict_from_slice(&text).map_err(NotAnObject::Malformed)
        }
        Ok(_) => Err(NotAnObject::Other),
    }
}

fn strict_from_slice<T: DeserializeOwned>(text: &[u8]) -> serde_json::Result<(T, Vec<String>)> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(text);
    let dto = T::deserialize(strict::Names {
        inner: &mut de,
        unknown: &mut unknown,
    })?;
    de.end()?;
    Ok((dto, unknown))
}

/// A deserializer that notes the names of a struct's map that the struct
/// does not read, as the struct's own visitor meets them.
mod strict {
    use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
    use serde::Deserializer;

    pub struct Names<'u, D> {
        pub inner: D,
        pub unknown: &'u mut Vec<String>,
    }

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Names<'_, D> {
        type Error = D::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.inner.deserialize_any(visitor)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            let visitor = Struct {
                visitor,
                fields,
                unknown: self.unknown,
            };
            self.inner.deserialize_struct(name, fields, visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    struct Struct<'u, V> {
        visitor: V,
        fields: &'static [&'static str],
        unknown: &'u mut Vec<String>,
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for Struct<'_, V> {
        type Value = V::Value;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            self.visitor.expecting(f)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.visitor.visit_map(Map {
                map,
                fields: self.fields,
                unknown: self.unknown,
            })
        }
    }

    struct Map<'u, A> {
        map: A,
        fields: &'static [&'static str],
        unknown: &'u mut Vec<String>,
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            let Some(key) = self.map.next_key::<String>()? else {
                return Ok(None);
            };
            if !self.fields.contains(&key.as_str()) {
                self.unknown.push(key.clone());
            }
            seed.deserialize(de::value::StringDeserializer::new(key))
                .map(Some)
        }

        fn next_value_seed<S: DeserializeSeed<'de>>(
            &mut self,
            seed: S,
        ) -> Result<S::Value, A::Error> {
            self.map.next_value_seed(seed)
        }
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

/// A whole number, sent as a JSON integer that fits 64 bits (`9000`; not
/// `9000.5`, `9e3` or `"9000"`).
impl FromJson for i64 {
    const KIND: Kind = Kind::Integer;
    fn from_json(text: &str) -> Option<Self> {
        // Parsed as a number's text (`arbitrary_precision`), so `1.0` and
        // `1e3` are not integers here.
        serde_json::from_str::<serde_json::Number>(text)
            .ok()?
            .as_i64()
    }
}

/// A body's top-level fields, each kept as the JSON text sent (a later
/// value for a name wins, as in a tree). For faces that must see every
/// field as sent, such as a signature over the whole body, and read their
/// DTO from the same single parse with [`read_fields`].
pub type RawFields<'a> = std::collections::BTreeMap<String, &'a RawValue>;

/// The top-level fields of a JSON object.
pub fn raw_fields(text: &[u8]) -> Result<RawFields<'_>, NotAnObject> {
    match serde_json::from_slice::<RawFields<'_>>(text) {
        Ok(fields) => Ok(fields),
        // The error the text gives when read as a tree, so that a face's
        // message does not depend on how it reads.
        Err(raw) => match serde_json::from_slice::<Value>(text) {
            Err(e) => Err(NotAnObject::Malformed(e)),
            Ok(Value::Object(_)) => Err(NotAnObject::Malformed(raw)),
            Ok(_) => Err(NotAnObject::Other),
        },
    }
}

/// Reads a DTO whose fields are all [`Field`]s (or options of them) from a
/// body's raw fields; it cannot fail, whatever the fields hold.
pub fn read_fields<T: DeserializeOwned + Default>(fields: &RawFields<'_>) -> T {
    use serde::de::value::MapDeserializer;
    let pairs = fields.iter().map(|(k, v)| (k.as_str(), *v));
    T::deserialize(MapDeserializer::<_, serde_json::Error>::new(pairs)).unwrap_or_default()
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

pub type Text = Field<String>;
pub type Flag = Field<bool>;
pub type Object = Field<Map<String, Value>>;
pub type Amount = Field<Decimal>;
pub type Count = Field<u64>;
pub type TextOrNull = Change<String>;
pub type TextsOrNull = Change<Vec<String>>;
pub type IntegersOrNull = Change<Vec<i64>>;
pub type Count32OrNull = Change<u32>;
pub type Integer = Field<i64>;

#[cfg(test)]
mod tests;
