//! The schema of each kind of field, so that a DTO's OpenAPI schema shows
//! what the client should send.

use std::borrow::Cow;

use serde_json::{Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::{Change, Decimal, Either, Field, Number};

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

impl KindSchema for i64 {
    fn kind_name() -> Cow<'static, str> {
        "Integer".into()
    }
    fn kind_schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
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
