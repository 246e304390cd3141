//! The Checkout API's error answers, in the spec's exact shapes, and the rule
//! that a refused request changes nothing and is never a 500 (every request
//! goes through `checkout_support::send`, which fails on a 5xx).

mod checkout_support;
mod common;

use checkout_support::*;
use common::{test_invoice, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Every route of the private API, with a path that exists.
fn private_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/api/payment-services"),
        (Method::GET, "/api/payment-services/comcps_AAAAAAAAAAAAAAAA"),
        (Method::POST, "/api/payment-invoices"),
        (Method::GET, "/api/payment-invoices"),
        (Method::GET, "/api/payment-invoices?filter[reference_id]=x"),
        (Method::GET, "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA"),
        (
            Method::POST,
            "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA/callbacks",
        ),
    ]
}

fn valid_create_body() -> Value {
    json!({"data": {"type": "payment-invoices", "attributes": test_invoice("processed")}})
}

// ---------------------------------------------------------------- 401

#[tokio::test]
async fn the_private_api_refuses_bad_credentials_with_401() {
    let app = TestApp::spawn().await;
    let test = &app.merchant.test;
    let live = &app.merchant.live;
    let other = other_merchant(&app).await;
    let basic = |user: &str, password: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let variants: Vec<(&str, Option<String>)> = vec![
        ("no Authorization", None),
        (
            "wrong secret",
            Some(basic(&test.private_key_id, "sk_test_wrong")),
        ),
        ("empty secret", Some(basic(&test.private_key_id, ""))),
        (
            "wrong key id",
            Some(basic("key_test_AAAAAAAAAAAAAAAA", &test.private_key_secret)),
        ),
        (
            "live id, test secret",
            Some(basic(&live.private_key_id, &test.private_key_secret)),
        ),
        (
            "test id, live secret",
            Some(basic(&test.private_key_id, &live.private_key_secret)),
        ),
        (
            "another merchant's secret",
            Some(basic(&test.private_key_id, &other.test.private_key_secret)),
        ),
        (
            "public key as key id",
            Some(basic(&test.public_key, &test.private_key_secret)),
        ),
        (
            "secret as key id",
            Some(basic(&test.private_key_secret, &test.private_key_id)),
        ),
        (
            "Bearer",
            Some(format!("Bearer {}", test.private_key_secret)),
        ),
        ("Basic, not base64", Some("Basic !!!not-base64!!!".into())),
        (
            "Basic, no colon",
            Some({
                use base64::Engine as _;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(&test.private_key_id)
                )
            }),
        ),
        ("Basic, empty", Some("Basic ".into())),
        ("overlong key id", Some(basic(&"k".repeat(10_000), "s"))),
    ];
    for (method, path) in private_routes() {
        for (what, header) in &variants {
            let mut request = app.http.request(method.clone(), app.url(path));
            if let Some(h) = header {
                request = request.header("authorization", h);
            }
            if method == Method::POST {
                request = request.json(&valid_create_body());
            }
            let reply = send(request).await;
            assert_eq!(
                reply.status, 401,
                "{method} {path} with {what}: {}",
                reply.text
            );
            assert_eq!(reply.json, unauthorized(), "{method} {path} with {what}");
            assert!(
                reply
                    .www_authenticate
                    .as_deref()
                    .is_some_and(|v| v.starts_with("Basic")),
                "{what}"
            );
        }
    }
    assert_none_created(invoice_count(&app).await, "unauthenticated creates");

    // The right credentials pass (the check above is not vacuous), and the
    // scheme's name is case-insensitive (RFC 7235).
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            test.private_key_id, test.private_key_secret
        ));
        let reply = send(
            app.http
                .get(app.url("/api/payment-invoices"))
                .header("authorization", format!("{scheme} {token}")),
        )
        .await;
        assert_eq!(reply.status, 200, "scheme {scheme}: {}", reply.text);
    }

    let ok = send(
        app.private(Method::POST, "/api/payment-invoices")
            .json(&valid_create_body()),
    )
    .await;
    ok.expect(201);
}

#[tokio::test]
async fn the_public_api_refuses_bad_public_keys_with_401() {
    let app = TestApp::spawn().await;
    let test = &app.merchant.test;
    let bad_keys: Vec<(&str, Option<Value>)> = vec![
        ("missing", None),
        ("null", Some(Value::Null)),
        ("empty", Some(json!(""))),
        (
            "unknown",
            Some(json!("pk_test_ClSQHi2T9WXuFa76WcwwBB6rspRpg6ANM69cS9zNOJy")),
        ),
        ("a number", Some(json!(42))),
        ("an object", Some(json!({"key": test.public_key}))),
        ("the private key id", Some(json!(test.private_key_id))),
        ("the private secret", Some(json!(test.private_key_secret))),
        ("padded", Some(json!(format!(" {}", test.public_key)))),
        ("upper case", Some(json!(test.public_key.to_uppercase()))),
        ("overlong", Some(json!("p".repeat(10_000)))),
    ];
    for (what, key) in &bad_keys {
        let mut prerequest = json!({"currency": "USD"});
        let mut invoice = json!({"reference_id": "pub", "service": "payment_card_usd_hpp", "currency": "USD", "amount": 10});
        if let Some(k) = key {
            prerequest["public_key"] = k.clone();
            invoice["public_key"] = k.clone();
        }
        for (path, body) in [
            ("/public-api/payment-prerequest", &prerequest),
            ("/public-api/payment-invoices", &invoice),
        ] {
            let reply = post_json(&app, path, body).await;
            assert_eq!(reply.status, 401, "{path} with {what} key: {}", reply.text);
            assert_eq!(reply.json, unauthorized(), "{path} with {what} key");
        }
    }
    assert_none_created(invoice_count(&app).await, "creates with bad public keys");
}

// ---------------------------------------------------------------- 404, 405

#[tokio::test]
async fn unknown_routes_are_404_and_known_routes_with_other_methods_are_405() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/api/nope"),
        (Method::GET, "/public-api/nope"),
        (
            Method::POST,
            "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA/nope",
        ),
        (Method::GET, "/"),
        (Method::GET, "/api/payment-services/a/b"),
    ] {
        let reply = send(app.private(method.clone(), path)).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        assert_eq!(reply.json, not_found(), "{method} {path}");
    }

    let method_not_allowed = error_body("Method Not Allowed", 405);
    for (method, path) in [
        (Method::DELETE, "/api/payment-invoices"),
        (Method::PUT, "/api/payment-invoices"),
        (Method::PATCH, "/api/payment-invoices"),
        (Method::DELETE, "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA"),
        (Method::PUT, "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA"),
        (Method::POST, "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA"),
        (
            Method::GET,
            "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA/callbacks",
        ),
        (Method::POST, "/api/payment-services"),
        (
            Method::DELETE,
            "/api/payment-services/comcps_AAAAAAAAAAAAAAAA",
        ),
        (Method::GET, "/public-api/payment-prerequest"),
        (Method::GET, "/public-api/payment-invoices"),
        (
            Method::DELETE,
            "/public-api/payment-invoices/cpi_AAAAAAAAAAAAAAAA",
        ),
        (Method::PUT, "/public-api/payment-invoices/process"),
    ] {
        let reply = send(app.private(method.clone(), path)).await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.text);
        assert_eq!(reply.json, method_not_allowed, "{method} {path}");
    }

    // A DELETE on an existing invoice changes nothing.
    let id = app.create_private(test_invoice("process_pending")).await.1["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(app.private(Method::DELETE, &format!("/api/payment-invoices/{id}")))
        .await
        .expect(405);
    assert_eq!(app.invoice(&id).await["status"], "process_pending");
}

// ---------------------------------------------------------------- 400

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = TestApp::spawn().await;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("truncated", b"{\"data\": {".to_vec()),
        ("not JSON", b"amount=100".to_vec()),
        ("trailing garbage", b"{} x".to_vec()),
        ("an array", b"[]".to_vec()),
        ("a string", b"\"x\"".to_vec()),
        ("a number", b"42".to_vec()),
        ("null", b"null".to_vec()),
        ("not UTF-8", b"{\"a\": \"\xff\xfe\"}".to_vec()),
        (
            "too deep",
            format!("{}{}", "[".repeat(1000), "]".repeat(1000)).into_bytes(),
        ),
    ];
    for (what, body) in &bodies {
        let private = send(
            app.private(Method::POST, "/api/payment-invoices")
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
        assert_eq!(
            private.status, 400,
            "private create with {what}: {}",
            private.text
        );
        assert_error_entry(&private, "Bad Request", 400);
        for path in [
            "/public-api/payment-invoices",
            "/public-api/payment-prerequest",
        ] {
            let reply = post_raw(&app, path, "application/json", body.clone()).await;
            assert_eq!(reply.status, 400, "{path} with {what}: {}", reply.text);
            assert_error_entry(&reply, "Bad Request", 400);
        }
    }
    assert_none_created(invoice_count(&app).await, "malformed bodies");
}

#[tokio::test]
async fn a_private_body_must_be_a_json_api_document() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), "data"),
        (json!({"data": null}), "data"),
        (json!({"data": []}), "data"),
        (json!({"data": "x"}), "data"),
        (json!({"attributes": test_invoice("processed")}), "data"),
        (json!(test_invoice("processed")), "data"),
        (
            json!({"data": {"type": "payment-invoices"}}),
            "data.attributes",
        ),
        (
            json!({"data": {"type": "payment-invoices", "attributes": "x"}}),
            "data.attributes",
        ),
        (
            json!({"data": {"type": "payment-invoices", "attributes": [1]}}),
            "data.attributes",
        ),
        (
            json!({"data": {"type": "payment-services", "attributes": test_invoice("processed")}}),
            "data.type",
        ),
    ];
    for (body, field) in cases {
        let reply = send(
            app.private(Method::POST, "/api/payment-invoices")
                .json(&body),
        )
        .await;
        assert_invalid_field(&reply, field);
    }
    // `type` may be left out.
    let reply = send(
        app.private(Method::POST, "/api/payment-invoices")
            .json(&json!({"data": {"attributes": test_invoice("processed")}})),
    )
    .await;
    reply.expect(201);
    assert_eq!(invoice_count(&app).await, 1);
}

// ---------------------------------------------------------------- 413

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    let too_large = error_body("Payload Too Large", 413);
    const LIMIT: usize = 64 * 1024;

    // A valid document padded to a size through its description.
    let padded = |wrap: &dyn Fn(&str) -> Value, size: usize| -> Vec<u8> {
        let empty = serde_json::to_vec(&wrap("")).unwrap();
        let body = serde_json::to_vec(&wrap(&"x".repeat(size - empty.len()))).unwrap();
        assert_eq!(body.len(), size);
        body
    };
    let private_doc = |d: &str| {
        let mut a = test_invoice("processed");
        a["description"] = json!(d);
        json!({"data": {"type": "payment-invoices", "attributes": a}})
    };
    let key = app.test_public_key().to_string();
    let public_doc = |d: &str| json!({"public_key": key, "service": "payment_card_usd_hpp", "currency": "USD", "amount": 1, "description": d});
    let prerequest_doc = |d: &str| json!({"public_key": key, "currency": "USD", "padding": d});

    for size in [LIMIT + 1, LIMIT + 100, 1024 * 1024] {
        let private = send(
            app.private(Method::POST, "/api/payment-invoices")
                .header("content-type", "application/json")
                .body(padded(&private_doc, size)),
        )
        .await;
        assert_eq!(
            (private.status, &private.json),
            (413, &too_large),
            "private, {size} bytes"
        );
        let public = post_raw(
            &app,
            "/public-api/payment-invoices",
            "application/json",
            padded(&public_doc, size),
        )
        .await;
        assert_eq!(
            (public.status, &public.json),
            (413, &too_large),
            "public, {size} bytes"
        );
        let pre = post_raw(
            &app,
            "/public-api/payment-prerequest",
            "application/json",
            padded(&prerequest_doc, size),
        )
        .await;
        assert_eq!(
            (pre.status, &pre.json),
            (413, &too_large),
            "prerequest, {size} bytes"
        );
        let form_body = format!(
            "public_key={key}&service=payment_card_usd_hpp&currency=USD&amount=1&description={}",
            "x".repeat(size)
        );
        let form = post_raw(
            &app,
            "/public-api/payment-invoices/process",
            "application/x-www-form-urlencoded",
            form_body.into_bytes(),
        )
        .await;
        assert_eq!(form.status, 413, "form, {size} bytes");
        assert!(
            form.content_type.starts_with("text/html"),
            "{}",
            form.content_type
        );
    }
    assert_none_created(invoice_count(&app).await, "oversized bodies");

    // Exactly at the limit the body is read; the description is then too long.
    let at_limit = send(
        app.private(Method::POST, "/api/payment-invoices")
            .header("content-type", "application/json")
            .body(padded(&private_doc, LIMIT)),
    )
    .await;
    assert_eq!(
        assert_invalid_field(&at_limit, "description"),
        "This value is too long. It should have 1024 characters or less."
    );
    let pre = post_raw(
        &app,
        "/public-api/payment-prerequest",
        "application/json",
        padded(&prerequest_doc, LIMIT),
    )
    .await;
    pre.expect(200);
    assert_none_created(
        invoice_count(&app).await,
        "a body at the limit with a long description",
    );
}

/// Sends raw bytes over a fresh connection and reads the status and body of
/// the answer (the server closes: `Connection: close`).
async fn raw_request(app: &TestApp, request: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base_url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    // Write while reading: the server may answer before it has read it all.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reader.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server answers in time");
    drop(writing.await);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    assert!(status < 500, "server error {status}: {text}");
    (status, body)
}

/// A chunked request: no Content-Length tells the server the size up front.
fn chunked(path: &str, authorization: Option<String>, body: &[u8]) -> Vec<u8> {
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: kassa\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
    if let Some(a) = authorization {
        request.push_str(&format!("Authorization: {a}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    for chunk in body.chunks(4096) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

#[tokio::test]
async fn chunked_bodies_over_64_kib_are_413_too() {
    let app = TestApp::spawn().await;
    let authorization = {
        use base64::Engine as _;
        let c = &app.merchant.test;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.private_key_id, c.private_key_secret))
        )
    };
    let mut attributes = test_invoice("processed");
    attributes["description"] = json!("x".repeat(70 * 1024));
    let large = serde_json::to_vec(&json!({"data": {"attributes": attributes}})).unwrap();
    let (status, body) = raw_request(
        &app,
        chunked("/api/payment-invoices", Some(authorization.clone()), &large),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        error_body("Payload Too Large", 413)
    );

    let public = serde_json::to_vec(&json!({"public_key": app.test_public_key(), "currency": "USD", "padding": "p".repeat(70 * 1024)})).unwrap();
    let (status, body) = raw_request(
        &app,
        chunked("/public-api/payment-prerequest", None, &public),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        error_body("Payload Too Large", 413)
    );
    assert_none_created(invoice_count(&app).await, "chunked oversized bodies");

    // A small chunked body is read as any other.
    let small =
        serde_json::to_vec(&json!({"data": {"attributes": test_invoice("processed")}})).unwrap();
    let (status, body) = raw_request(
        &app,
        chunked("/api/payment-invoices", Some(authorization), &small),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(invoice_count(&app).await, 1);
}

// ---------------------------------------------------------------- 422

#[tokio::test]
async fn amount_zero_is_422_in_the_spec_shape() {
    let app = TestApp::spawn().await;
    let expected = invalid("amount", "This value should be greater than 0.");
    for amount in [
        json!(0),
        json!("0"),
        json!("0.00"),
        json!(-1),
        json!("-5.50"),
        json!(-0.01),
    ] {
        let mut a = test_invoice("processed");
        a["amount"] = amount.clone();
        let reply = create(&app, a).await;
        assert_eq!(
            (reply.status, &reply.json),
            (422, &expected),
            "amount {amount}"
        );
        let public = create_public(
            &app,
            json!({"service": "payment_card_usd_hpp", "currency": "USD", "amount": amount}),
        )
        .await;
        assert_eq!(
            (public.status, &public.json),
            (422, &expected),
            "public, amount {amount}"
        );
    }
    assert_none_created(invoice_count(&app).await, "amount 0");
}

/// One bad create: what is changed in a valid invoice, and the error expected.
struct Bad {
    what: &'static str,
    change: Box<dyn Fn(&mut Value)>,
    field: &'static str,
    message: Option<String>,
}

fn set(key: &'static str, value: Value) -> Box<dyn Fn(&mut Value)> {
    Box::new(move |a: &mut Value| a[key] = value.clone())
}

fn remove(key: &'static str) -> Box<dyn Fn(&mut Value)> {
    Box::new(move |a: &mut Value| {
        a.as_object_mut().unwrap().remove(key);
    })
}

fn bad(
    what: &'static str,
    change: Box<dyn Fn(&mut Value)>,
    field: &'static str,
    message: Option<&str>,
) -> Bad {
    Bad {
        what,
        change,
        field,
        message: message.map(str::to_string),
    }
}

fn bad_inputs(now_secs: i64) -> Vec<Bad> {
    const NUMERIC: Option<&str> = Some("This value should be of type numeric.");
    const STRING: Option<&str> = Some("This value should be of type string.");
    const BOOL: Option<&str> = Some("This value should be of type bool.");
    const OBJECT: Option<&str> = Some("This value should be of type object.");
    const BLANK: Option<&str> = Some("This value should not be blank.");
    const URL: Option<&str> = Some("This value is not a valid URL.");
    const EXPIRES: Option<&str> =
        Some("This value should be between 14 minutes and 2 days from now.");
    const DATETIME: Option<&str> = Some("This value is not a valid datetime.");
    const UNAVAILABLE: Option<&str> = Some("This service is not available.");
    const INVALID_AMOUNT: Option<&str> = Some("This value is not a valid amount.");
    let raw = |text: &str| -> Value { serde_json::from_str(text).unwrap() };
    vec![
        // Wrong types.
        bad(
            "amount as an array",
            set("amount", json!([1])),
            "amount",
            NUMERIC,
        ),
        bad(
            "amount as an object",
            set("amount", json!({"value": 1})),
            "amount",
            NUMERIC,
        ),
        bad(
            "amount as a bool",
            set("amount", json!(true)),
            "amount",
            NUMERIC,
        ),
        bad(
            "service as a number",
            set("service", json!(5)),
            "service",
            STRING,
        ),
        bad(
            "currency as a number",
            set("currency", json!(840)),
            "currency",
            STRING,
        ),
        bad(
            "test_mode as a string",
            set("test_mode", json!("true")),
            "test_mode",
            BOOL,
        ),
        bad(
            "test_mode as a number",
            set("test_mode", json!(1)),
            "test_mode",
            BOOL,
        ),
        bad(
            "reference_id as a number",
            set("reference_id", json!(12)),
            "reference_id",
            STRING,
        ),
        bad(
            "description as a number",
            set("description", json!(5)),
            "description",
            STRING,
        ),
        bad("flow as a bool", set("flow", json!(true)), "flow", STRING),
        bad(
            "metadata as a string",
            set("metadata", json!("k=v")),
            "metadata",
            OBJECT,
        ),
        bad(
            "metadata as a list",
            set("metadata", json!([1])),
            "metadata",
            OBJECT,
        ),
        bad(
            "gateway_options as a string",
            set("gateway_options", json!("x")),
            "gateway_options",
            OBJECT,
        ),
        bad(
            "service_fields as a string",
            set("service_fields", json!("processed")),
            "service_fields",
            OBJECT,
        ),
        bad(
            "customer as a string",
            set("customer", json!("c-1")),
            "customer",
            OBJECT,
        ),
        bad(
            "return_url as a number",
            set("return_url", json!(1)),
            "return_url",
            STRING,
        ),
        bad(
            "return_urls as a string",
            set("return_urls", json!("https://example.com")),
            "return_urls",
            OBJECT,
        ),
        bad(
            "callback_url as a list",
            set("callback_url", json!(["https://example.com"])),
            "callback_url",
            STRING,
        ),
        bad(
            "expires as a number",
            set("expires", json!(now_secs + 3600)),
            "expires",
            STRING,
        ),
        // Missing or blank required fields.
        bad("no amount", remove("amount"), "amount", BLANK),
        bad("amount blank", set("amount", json!("")), "amount", BLANK),
        bad("no service", remove("service"), "service", BLANK),
        bad(
            "service blank",
            set("service", json!("  ")),
            "service",
            BLANK,
        ),
        bad("no currency", remove("currency"), "currency", BLANK),
        // The service and its currency.
        bad(
            "unknown service",
            set("service", json!("bitcoin_usd_hpp")),
            "service",
            UNAVAILABLE,
        ),
        bad(
            "currency mismatch",
            set("currency", json!("EUR")),
            "currency",
            Some("This value does not match the service currency."),
        ),
        bad(
            "currency in lower case",
            set("currency", json!("usd")),
            "currency",
            Some("This value does not match the service currency."),
        ),
        bad(
            "unknown currency",
            set("currency", json!("XXX")),
            "currency",
            Some("This value does not match the service currency."),
        ),
        // Amounts.
        bad(
            "above the service maximum",
            set("amount", json!(10_000_000)),
            "amount",
            Some("This value should be between 0.01 and 9999999."),
        ),
        bad(
            "above the maximum as text",
            set("amount", json!("9999999.01")),
            "amount",
            Some("This value should be between 0.01 and 9999999."),
        ),
        bad(
            "more decimals than USD has",
            set("amount", raw("1.001")),
            "amount",
            Some("This value should have at most 2 decimal places."),
        ),
        bad(
            "more decimals as text",
            set("amount", json!("100.555")),
            "amount",
            Some("This value should have at most 2 decimal places."),
        ),
        bad(
            "an exponent",
            set("amount", raw("1e2")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "an exponent as text",
            set("amount", json!("1E2")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "not a number",
            set("amount", json!("ten")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "a comma",
            set("amount", json!("1,50")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "a plus sign",
            set("amount", json!("+1")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "huge",
            set("amount", raw("123456789012345678901234567890")),
            "amount",
            Some("This value is too large."),
        ),
        bad(
            "a float overflow",
            set("amount", raw("1e400")),
            "amount",
            INVALID_AMOUNT,
        ),
        bad(
            "NaN text",
            set("amount", json!("NaN")),
            "amount",
            INVALID_AMOUNT,
        ),
        // URLs.
        bad(
            "return_url not a URL",
            set("return_url", json!("not a url")),
            "return_url",
            URL,
        ),
        bad(
            "return_url relative",
            set("return_url", json!("/thanks")),
            "return_url",
            URL,
        ),
        bad(
            "return_url ftp",
            set("return_url", json!("ftp://example.com/x")),
            "return_url",
            URL,
        ),
        bad(
            "return_url javascript",
            set("return_url", json!("javascript:alert(1)")),
            "return_url",
            URL,
        ),
        bad(
            "return_url too long",
            set(
                "return_url",
                json!(format!("https://example.com/{}", "a".repeat(3000))),
            ),
            "return_url",
            Some("This value is too long."),
        ),
        bad(
            "callback_url not a URL",
            set("callback_url", json!("example.com/cb")),
            "callback_url",
            URL,
        ),
        bad(
            "callback_url file",
            set("callback_url", json!("file:///etc/passwd")),
            "callback_url",
            URL,
        ),
        bad(
            "return_urls without pending",
            set(
                "return_urls",
                json!({"success": "https://example.com/s", "fail": "https://example.com/f"}),
            ),
            "return_urls.pending",
            BLANK,
        ),
        bad(
            "return_urls with empty pending",
            set("return_urls", json!({"pending": ""})),
            "return_urls.pending",
            BLANK,
        ),
        bad(
            "return_urls pending as a number",
            set("return_urls", json!({"pending": 1})),
            "return_urls.pending",
            STRING,
        ),
        bad(
            "return_urls bad success",
            set(
                "return_urls",
                json!({"pending": "https://example.com/p", "success": "nope"}),
            ),
            "return_urls.success",
            URL,
        ),
        bad(
            "return_urls bad fail",
            set(
                "return_urls",
                json!({"pending": "https://example.com/p", "fail": "nope"}),
            ),
            "return_urls.fail",
            URL,
        ),
        bad(
            "return_urls bad pending",
            set("return_urls", json!({"pending": "nope"})),
            "return_urls.pending",
            URL,
        ),
        // Customer.
        bad(
            "customer without reference_id",
            set(
                "customer",
                json!({"name": "John Wick", "email": "j@example.com"}),
            ),
            "customer.reference_id",
            BLANK,
        ),
        bad(
            "customer with empty reference_id",
            set("customer", json!({"reference_id": ""})),
            "customer.reference_id",
            BLANK,
        ),
        bad(
            "customer with null reference_id",
            set("customer", json!({"reference_id": null})),
            "customer.reference_id",
            BLANK,
        ),
        bad(
            "customer reference_id as a number",
            set("customer", json!({"reference_id": 1203515})),
            "customer.reference_id",
            STRING,
        ),
        bad(
            "customer too large",
            set(
                "customer",
                json!({"reference_id": "c", "bio": "x".repeat(17 * 1024)}),
            ),
            "customer",
            Some("This value is too long."),
        ),
        // Expiry.
        bad(
            "expires too soon",
            set("expires", json!(rfc3339(now_secs + 14 * 60 - 1))),
            "expires",
            EXPIRES,
        ),
        bad(
            "expires now",
            set("expires", json!(rfc3339(now_secs))),
            "expires",
            EXPIRES,
        ),
        bad(
            "expires in the past",
            set("expires", json!("2020-12-13T15:52:00+00:00")),
            "expires",
            EXPIRES,
        ),
        bad(
            "expires too late",
            set("expires", json!(rfc3339(now_secs + 2 * 24 * 3600 + 1))),
            "expires",
            EXPIRES,
        ),
        bad(
            "expires far away",
            set("expires", json!("9999-12-31T23:59:59Z")),
            "expires",
            EXPIRES,
        ),
        bad(
            "expires not a datetime",
            set("expires", json!("tomorrow")),
            "expires",
            DATETIME,
        ),
        bad(
            "expires a date only",
            set("expires", json!("2030-01-01")),
            "expires",
            DATETIME,
        ),
        bad(
            "expires without a zone",
            set("expires", json!("2030-01-01T10:00:00")),
            "expires",
            DATETIME,
        ),
        bad(
            "expires empty",
            set("expires", json!("")),
            "expires",
            DATETIME,
        ),
        // Other fields.
        bad(
            "flow unknown",
            set("flow", json!("refund")),
            "flow",
            Some("This value should be one of: charge, verify."),
        ),
        bad(
            "reference_id too long",
            set("reference_id", json!("r".repeat(256))),
            "reference_id",
            Some("This value should be 1 to 255 characters long."),
        ),
        bad(
            "description too long",
            set("description", json!("d".repeat(1025))),
            "description",
            Some("This value is too long. It should have 1024 characters or less."),
        ),
        bad(
            "metadata too large",
            set("metadata", json!({"blob": "m".repeat(17 * 1024)})),
            "metadata",
            Some("This value is too long."),
        ),
        bad(
            "gateway_options too large",
            set("gateway_options", json!({"blob": "g".repeat(17 * 1024)})),
            "gateway_options",
            Some("This value is too long."),
        ),
        // The test service's status field.
        bad(
            "unknown test status",
            set("service_fields", json!({"status": "bogus"})),
            "service_fields.status",
            None,
        ),
        bad(
            "test status created",
            set("service_fields", json!({"status": "created"})),
            "service_fields.status",
            None,
        ),
        bad(
            "test status expired",
            set("service_fields", json!({"status": "expired"})),
            "service_fields.status",
            None,
        ),
        bad(
            "test status refunded",
            set("service_fields", json!({"status": "refunded"})),
            "service_fields.status",
            None,
        ),
        bad(
            "test status missing",
            set("service_fields", json!({})),
            "service_fields.status",
            BLANK,
        ),
        bad(
            "no service_fields",
            remove("service_fields"),
            "service_fields.status",
            BLANK,
        ),
        bad(
            "test status not matching",
            set("service_fields", json!({"status": "pro cessed"})),
            "service_fields.status",
            Some("This value is not valid."),
        ),
        bad(
            "test status as a number",
            set("service_fields", json!({"status": 1})),
            "service_fields.status",
            STRING,
        ),
    ]
}

#[tokio::test]
async fn bad_private_creates_are_422_naming_the_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    for case in bad_inputs(now(&app)) {
        let mut attributes = test_invoice("processed");
        attributes["reference_id"] = json!("bad-input");
        (case.change)(&mut attributes);
        let reply = create(&app, attributes).await;
        assert_eq!(reply.status, 422, "{}: {}", case.what, reply.text);
        let message = assert_invalid_field(&reply, case.field);
        if let Some(expected) = &case.message {
            assert_eq!(&message, expected, "{}", case.what);
        }
        assert!(!message.is_empty());
        assert_none_created(invoice_count(&app).await, case.what);
    }
    // The reference the refused requests named is still free.
    let mut attributes = test_invoice("processed");
    attributes["reference_id"] = json!("bad-input");
    create(&app, attributes).await.expect(201);
}

#[tokio::test]
async fn bad_public_creates_are_422_and_create_nothing() {
    let app = TestApp::spawn().await;
    for case in bad_inputs(now(&app)) {
        let mut body = test_invoice("processed");
        body["reference_id"] = json!("bad-public");
        (case.change)(&mut body);
        let reply = create_public(&app, body).await;
        assert_eq!(reply.status, 422, "{}: {}", case.what, reply.text);
        let message = assert_invalid_field(&reply, case.field);
        if let Some(expected) = &case.message {
            assert_eq!(&message, expected, "{}", case.what);
        }
    }
    assert_none_created(invoice_count(&app).await, "bad public creates");
}

#[tokio::test]
async fn other_currencies_have_their_own_precision() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "test_jpy_test",
            "JPY",
            "1.5",
            "This value should have at most 0 decimal places.",
        ),
        (
            "test_usdt_test",
            "USDT",
            "1.0000001",
            "This value should have at most 6 decimal places.",
        ),
        (
            "test_eur_test",
            "EUR",
            "0.001",
            "This value should have at most 2 decimal places.",
        ),
    ];
    for (service, currency, amount, message) in cases {
        let reply = create(&app, json!({"service": service, "currency": currency, "amount": amount, "service_fields": {"status": "processed"}})).await;
        assert_eq!(
            reply.json,
            invalid("amount", message),
            "{amount} {currency}"
        );
    }
    assert_none_created(invoice_count(&app).await, "too precise amounts");
}

#[tokio::test]
async fn every_problem_is_reported_at_once() {
    let app = TestApp::spawn().await;
    // Type errors, found while reading the body.
    let reply = create(
        &app,
        json!({"amount": [1], "service": 5, "currency": 7, "test_mode": "yes", "metadata": 1}),
    )
    .await;
    reply.expect(422);
    let errors = reply.json["errors"].as_object().unwrap();
    for key in ["amount", "service", "currency", "test_mode", "metadata"] {
        assert!(
            errors.contains_key(key),
            "{key} missing from {}",
            reply.text
        );
    }
    // Meaning errors, found by the engine.
    let t = now(&app);
    let reply = create(
        &app,
        json!({
            "service": "test_usd_test",
            "currency": "EUR",
            "amount": "0.001",
            "service_fields": {"status": "bogus"},
            "flow": "refund",
            "return_url": "x",
            "callback_url": "y",
            "return_urls": {"success": "https://example.com"},
            "customer": {"name": "N"},
            "expires": rfc3339(t + 60)
        }),
    )
    .await;
    reply.expect(422);
    let errors = reply.json["errors"].as_object().unwrap();
    for key in [
        "currency",
        "amount",
        "service_fields.status",
        "flow",
        "return_url",
        "callback_url",
        "return_urls.pending",
        "customer.reference_id",
        "expires",
    ] {
        assert!(
            errors.contains_key(key),
            "{key} missing from {}",
            reply.text
        );
    }
    assert_none_created(invoice_count(&app).await, "many problems");
}

#[tokio::test]
async fn services_that_cannot_take_payments_are_refused() {
    let app = TestApp::spawn().await;
    let catalog = app.engine().catalog().await.unwrap();
    let mut disabled = catalog.service("payment_card_usd_hpp").unwrap().clone();
    disabled.enabled = false;
    app.engine().put_service(disabled).await.unwrap();
    let mut unavailable = catalog.service("applepay_usd_hpp").unwrap().clone();
    unavailable.available = false;
    app.engine().put_service(unavailable).await.unwrap();
    let mut narrow = catalog.service("paypal_usd_hpp").unwrap().clone();
    narrow.amount_min_minor = 1_000;
    narrow.amount_max_minor = 5_000;
    app.engine().put_service(narrow).await.unwrap();

    for service in ["payment_card_usd_hpp", "applepay_usd_hpp"] {
        let reply = create(
            &app,
            json!({"service": service, "currency": "USD", "amount": 10}),
        )
        .await;
        assert_eq!(
            reply.json,
            invalid("service", "This service is not available."),
            "{service}"
        );
    }
    for amount in ["9.99", "50.01", "0.01"] {
        let reply = create(
            &app,
            json!({"service": "paypal_usd_hpp", "currency": "USD", "amount": amount}),
        )
        .await;
        assert_eq!(
            reply.json,
            invalid("amount", "This value should be between 10 and 50."),
            "{amount}"
        );
    }
    assert_none_created(invoice_count(&app).await, "unavailable services");
    for amount in ["10", "50"] {
        create(
            &app,
            json!({"service": "paypal_usd_hpp", "currency": "USD", "amount": amount}),
        )
        .await
        .expect(201);
    }

    // A service's own fields are checked too.
    let reply = create(
        &app,
        json!({"service": "bank_transfer_usd_hpp", "currency": "USD", "amount": 10}),
    )
    .await;
    assert_eq!(
        reply.json,
        invalid(
            "service_fields.account_number",
            "This value should not be blank."
        )
    );
    let reply = create(&app, json!({"service": "bank_transfer_usd_hpp", "currency": "USD", "amount": 10, "service_fields": {"account_number": "12345"}})).await;
    assert_eq!(
        reply.json,
        invalid("service_fields.account_number", "This value is not valid.")
    );
    assert_eq!(invoice_count(&app).await, 2);
}

#[tokio::test]
async fn private_callback_addresses_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(|c| c.allow_private_callback_urls = false).await;
    for url in [
        "http://127.0.0.1:8080/cb",
        "http://localhost/cb",
        "http://LOCALHOST/cb",
        "http://10.1.2.3/cb",
        "http://192.168.0.1/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/cb",
        "http://0.0.0.0/cb",
    ] {
        let mut a = test_invoice("processed");
        a["callback_url"] = json!(url);
        let reply = create(&app, a).await;
        assert_eq!(
            reply.json,
            invalid("callback_url", "This URL points to a private address."),
            "{url}"
        );
    }
    assert_none_created(invoice_count(&app).await, "private callback URLs");
    let mut a = test_invoice("process_pending");
    a["callback_url"] = json!("https://merchant.example/cb");
    create(&app, a).await.expect(201);
}

#[tokio::test]
async fn prerequest_needs_a_known_currency() {
    let app = TestApp::spawn().await;
    let key = app.test_public_key().to_string();
    let cases = [
        (
            json!({"public_key": key}),
            "This value should not be blank.",
        ),
        (
            json!({"public_key": key, "currency": null}),
            "This value should not be blank.",
        ),
        (
            json!({"public_key": key, "currency": "XXX"}),
            "This value is not a valid currency.",
        ),
        (
            json!({"public_key": key, "currency": "usd"}),
            "This value is not a valid currency.",
        ),
        (
            json!({"public_key": key, "currency": ""}),
            "This value is not a valid currency.",
        ),
        (
            json!({"public_key": key, "currency": 840}),
            "This value should be of type string.",
        ),
        (
            json!({"public_key": key, "currency": ["USD"]}),
            "This value should be of type string.",
        ),
    ];
    for (body, message) in cases {
        let reply = post_json(&app, "/public-api/payment-prerequest", &body).await;
        assert_eq!(
            (reply.status, &reply.json),
            (422, &invalid("currency", message)),
            "{body}"
        );
    }
    // The key is checked first.
    let reply = post_json(
        &app,
        "/public-api/payment-prerequest",
        &json!({"public_key": "pk_test_x", "currency": "XXX"}),
    )
    .await;
    assert_eq!((reply.status, &reply.json), (401, &unauthorized()));
}

#[tokio::test]
async fn paging_parameters_are_checked() {
    let app = TestApp::spawn().await;
    for bad in ["0", "101", "-1", "abc", "", "1.5"] {
        let reply = get(&app, &format!("/api/payment-services?page[size]={bad}")).await;
        assert_eq!(
            reply.json,
            invalid("page[size]", "This value should be between 1 and 100."),
            "size {bad:?}"
        );
        let reply = get(&app, &format!("/api/payment-invoices?page[size]={bad}")).await;
        assert_eq!(
            reply.json,
            invalid("page[size]", "This value should be between 1 and 100."),
            "size {bad:?}"
        );
    }
    for bad in ["0", "-1", "abc", "", "99999999999"] {
        let reply = get(&app, &format!("/api/payment-services?page[number]={bad}")).await;
        assert_eq!(
            reply.json,
            invalid("page[number]", "This value should be a positive integer."),
            "number {bad:?}"
        );
    }
    for size in ["1", "100"] {
        get(&app, &format!("/api/payment-services?page[size]={size}"))
            .await
            .expect(200);
        get(&app, &format!("/api/payment-invoices?page[size]={size}"))
            .await
            .expect(200);
    }

    let id = create(&app, test_invoice("process_pending")).await.id();
    let other = other_merchant(&app).await;
    let foreign = create_as(&app, &other.test, test_invoice("process_pending"))
        .await
        .id();
    let live_invoice =
        json!({"amount": "10", "currency": "USD", "service": "payment_card_usd_hpp"});
    let live = create_as(&app, &app.merchant.live, live_invoice).await.id();
    let both = get(
        &app,
        &format!("/api/payment-invoices?page[after]={id}&page[before]={id}"),
    )
    .await;
    assert_eq!(
        both.json,
        invalid("page", "Use page[after] or page[before], not both.")
    );
    for cursor in ["cpi_AAAAAAAAAAAAAAAA", "", foreign.as_str(), live.as_str()] {
        for side in ["after", "before"] {
            let reply = get(
                &app,
                &format!("/api/payment-invoices?page[{side}]={cursor}"),
            )
            .await;
            assert_eq!(
                reply.json,
                invalid("page", "The cursor names no invoice of this account."),
                "page[{side}]={cursor:?}"
            );
        }
    }
    assert_eq!(list_ids(&app).await, [id]);
}

// ---------------------------------------------------------------- the HTML form

#[tokio::test]
async fn a_bad_form_gets_an_html_error_page_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let key = app.test_public_key().to_string();
    let valid: Vec<(&str, &str)> = vec![
        ("public_key", &key),
        ("currency", "USD"),
        ("amount", "100"),
        ("service", "paypal_usd_hpp"),
        ("customer[reference_id]", "c-1"),
    ];
    let without = |name: &str| -> Vec<(&str, &str)> {
        valid.iter().copied().filter(|(k, _)| *k != name).collect()
    };
    let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut pairs = without(name);
        pairs.push((name, value));
        pairs
    };
    // (what, form fields, status, a line the page shows)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("no public key", without("public_key"), 401, "Unauthorized"),
        (
            "wrong public key",
            with("public_key", "pk_test_nope"),
            401,
            "Unauthorized",
        ),
        (
            "no amount",
            without("amount"),
            422,
            "amount: This value should not be blank.",
        ),
        (
            "amount zero",
            with("amount", "0"),
            422,
            "amount: This value should be greater than 0.",
        ),
        (
            "amount too precise",
            with("amount", "1.001"),
            422,
            "amount: This value should have at most 2 decimal places.",
        ),
        (
            "unknown service",
            with("service", "nope"),
            422,
            "service: This service is not available.",
        ),
        (
            "currency mismatch",
            with("currency", "EUR"),
            422,
            "currency: This value does not match the service currency.",
        ),
        (
            "customer without reference",
            {
                let mut p = without("customer[reference_id]");
                p.push(("customer[name]", "Test Customer"));
                p
            },
            422,
            "customer.reference_id: This value should not be blank.",
        ),
        (
            "unclosed bracket",
            with("customer[reference_id", "c-1"),
            422,
            "This field name is malformed.",
        ),
        (
            "empty brackets",
            with("customer[]", "c-1"),
            422,
            "This field name is malformed.",
        ),
        (
            "text after brackets",
            with("customer[a]b", "c-1"),
            422,
            "This field name is malformed.",
        ),
        (
            "too deep",
            with("customer[a][b][c][d]", "x"),
            422,
            "This field name is malformed.",
        ),
        (
            "bad test_mode",
            with("test_mode", "yes"),
            422,
            "test_mode: This value should be of type bool.",
        ),
        (
            "bad expires",
            with("expires", "soon"),
            422,
            "expires: This value is not a valid datetime.",
        ),
        (
            "bad return_url",
            with("return_url", "nope"),
            422,
            "return_url: This value is not a valid URL.",
        ),
    ];
    for (what, pairs, status, line) in cases {
        let reply = post_form(&app, &pairs).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert!(reply.location.is_none(), "{what}: no redirect");
        assert!(
            reply.content_type.starts_with("text/html"),
            "{what}: {}",
            reply.content_type
        );
        assert!(
            reply.text.contains(line),
            "{what}: the page says {line:?}: {}",
            reply.text
        );
    }
    assert_none_created(invoice_count(&app).await, "bad forms");
    let ok = post_form(&app, &valid).await;
    ok.expect(303);
}

#[tokio::test]
async fn the_form_escapes_what_it_echoes() {
    let app = TestApp::spawn().await;
    let key = app.test_public_key().to_string();
    let pairs = [
        ("public_key", key.as_str()),
        ("currency", "USD"),
        ("amount", "100"),
        ("service", "paypal_usd_hpp"),
        ("<script>alert(1)</script>[x", "1"),
    ];
    let reply = post_form(&app, &pairs).await;
    reply.expect(422);
    assert!(
        !reply.text.contains("<script>alert(1)</script>"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("&lt;script&gt;"), "{}", reply.text);
}

// ---------------------------------------------------------------- no 500, whatever the input

#[tokio::test]
async fn odd_values_in_every_attribute_never_make_a_500() {
    let app = TestApp::spawn().await;
    let odd: Vec<Value> = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        serde_json::from_str("1e308").unwrap(),
        serde_json::from_str("-0").unwrap(),
        serde_json::from_str("123456789012345678901234567890.123456789").unwrap(),
        json!(""),
        json!(" "),
        json!("\u{0000}"),
        json!("ü€𝄞"),
        json!("x".repeat(5000)),
        json!([]),
        json!([null]),
        json!({}),
        json!({"reference_id": {"deep": [1, {"x": null}]}}),
    ];
    let keys = [
        "reference_id",
        "service",
        "currency",
        "amount",
        "flow",
        "service_fields",
        "customer",
        "metadata",
        "return_url",
        "return_urls",
        "callback_url",
        "gateway_options",
        "expires",
        "test_mode",
        "description",
    ];
    let mut created = 0;
    let mut i = 0;
    for key in keys {
        for value in &odd {
            i += 1;
            let mut attributes = test_invoice("process_pending");
            attributes["reference_id"] = json!(format!("odd-{i}"));
            attributes[key] = value.clone();
            let reply = create(&app, attributes.clone()).await;
            assert!(
                reply.status == 201 || reply.status == 422,
                "{key} = {value}: {} {}",
                reply.status,
                reply.text
            );
            if reply.status == 201 {
                created += 1;
            }
            // The same through the public API and the form.
            let mut public = attributes.clone();
            public["reference_id"] = json!(format!("odd-public-{i}"));
            let reply = create_public(&app, public).await;
            assert!(
                reply.status == 201 || reply.status == 422,
                "public {key} = {value}: {}",
                reply.text
            );
            if reply.status == 201 {
                created += 1;
            }
            // And as the whole of the attributes.
            let whole = send(
                app.private(Method::POST, "/api/payment-invoices")
                    .json(&json!({"data": {"attributes": value}})),
            )
            .await;
            assert!(
                whole.status == 201 || whole.status == 422,
                "attributes = {value}: {}",
                whole.text
            );
        }
    }
    assert_eq!(
        invoice_count(&app).await,
        created,
        "only the accepted requests made invoices"
    );

    // Form values are text; odd text anywhere.
    let key = app.test_public_key().to_string();
    for name in [
        "amount",
        "currency",
        "service",
        "reference_id",
        "expires",
        "test_mode",
        "customer[reference_id]",
        "metadata[a][b]",
    ] {
        for value in ["", "\u{0000}", "ü€𝄞", "[]", "{}", "-", "1e999"] {
            let mut pairs = vec![
                ("public_key", key.as_str()),
                ("currency", "USD"),
                ("amount", "1"),
                ("service", "paypal_usd_hpp"),
            ];
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let reply = post_form(&app, &pairs).await;
            // The JSON requests above took some of these references.
            let taken = name == "reference_id" && reply.status == 409;
            assert!(
                reply.status == 303 || reply.status == 422 || taken,
                "form {name} = {value:?}: {} {}",
                reply.status,
                reply.text
            );
        }
    }
}

/// The test provider's money is not real: a live key cannot use the test
/// service (nor can `"test_mode": false` with a live key), so it never
/// reaches the live books.
#[tokio::test]
async fn the_test_service_takes_test_invoices_only() {
    let app = TestApp::spawn().await;
    let reply = create_as(&app, &app.merchant.live, test_invoice("processed")).await;
    reply.expect(422);
    assert_eq!(
        reply.json,
        json!({"errors": {"service": "The test service takes test-mode invoices only."}})
    );
    let mut explicit = test_invoice("processed");
    explicit["test_mode"] = json!(true);
    create_as(&app, &app.merchant.live, explicit)
        .await
        .expect(422);
    let books = app
        .engine()
        .balances(app.merchant.merchant_id.clone(), false)
        .await
        .unwrap();
    assert!(books.is_empty(), "{books:?}");
}
