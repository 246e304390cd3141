use super::*;

#[derive(Default, Deserialize)]
struct Body {
    #[serde(default)]
    name: Text,
    #[serde(default)]
    amount: Amount,
    flag: Option<Flag>,
}

#[derive(Default, Deserialize)]
struct Counted {
    #[serde(default)]
    count: Integer,
    #[serde(default)]
    name: Text,
}

#[test]
fn raw_fields_read_into_a_dto_and_keep_their_text() {
    let Ok(fields) = raw_fields(br#"{"count": 9e3, "name": "a", "count": 7, "x": 0.000001}"#)
    else {
        panic!()
    };
    assert_eq!(fields["x"].get(), "0.000001");
    let dto: Counted = read_fields(&fields);
    assert_eq!(dto.count, Field::Given(7));
    assert_eq!(dto.name, Field::Given("a".into()));
    let fields = raw_fields(br#"{"count": 1.0, "name": 5}"#).ok().unwrap();
    let dto: Counted = read_fields(&fields);
    assert_eq!(dto.count, Field::Wrong(Kind::Integer));
    assert_eq!(dto.name, Field::Wrong(Kind::String));
    let fields = raw_fields(br#"{"count": "7"}"#).ok().unwrap();
    assert_eq!(
        read_fields::<Counted>(&fields).count,
        Field::Wrong(Kind::Integer)
    );
    assert!(matches!(raw_fields(b"[1]"), Err(NotAnObject::Other)));
    let Err(NotAnObject::Malformed(e)) = raw_fields(b"{") else {
        panic!()
    };
    assert_eq!(
        e.to_string(),
        "EOF while parsing an object at line 1 column 1"
    );
}

#[test]
fn every_field_is_read_whatever_it_holds() {
    let Ok(body) = read_object::<Body>(br#"{"name": 5, "amount": 0.000001, "flag": null}"#) else {
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

#[test]
fn names_a_struct_does_not_read_are_told() {
    let Ok((body, unknown)) = read_object_strict::<Body>(
        br#"{"name": "a", "nmae": 1, "x\u0079": {}, "amount": 0.000001}"#,
    ) else {
        panic!()
    };
    assert_eq!(body.name, Field::Given("a".into()));
    assert_eq!(body.amount, Field::Given(Decimal("0.000001".into())));
    assert_eq!(unknown, ["nmae", "xy"]);
    // A name written twice reads as the last, through a tree.
    let Ok((body, unknown)) =
        read_object_strict::<Body>(br#"{"name": "a", "x": 1, "name": "b", "x": 2}"#)
    else {
        panic!()
    };
    assert_eq!(body.name, Field::Given("b".into()));
    assert_eq!(unknown, ["x"]);
    assert!(matches!(
        read_object_strict::<Body>(b"[\"a\"]"),
        Err(NotAnObject::Other)
    ));
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
