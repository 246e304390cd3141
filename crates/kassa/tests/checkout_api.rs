//! The Checkout API (spec 003) end to end: a real server on port 0 over a real
//! SQLite file, a clock the tests move. The error paths are in
//! `checkout_errors.rs`.

mod checkout_support;
mod common;

use std::collections::BTreeSet;

use checkout_support::*;
use common::{test_invoice, TestApp};
use kassa_domain::FeeRule;
use reqwest::Method;
use serde_json::{json, Value};

// ---------------------------------------------------------------- pre-request

#[tokio::test]
async fn prerequest_lists_the_services_and_methods_of_a_currency() {
    let app = TestApp::spawn().await;
    let body = json!({"public_key": app.test_public_key(), "currency": "USD"});
    let reply = post_json(&app, "/public-api/payment-prerequest", &body).await;
    reply.expect(200);
    let data = &reply.json["data"];
    assert_eq!(data["currency"], "USD");
    assert_eq!(data["test_mode"], true);

    let services = data["services"].as_object().expect("services by code");
    let catalog = app.engine().catalog().await.unwrap();
    let usd: BTreeSet<&str> = catalog
        .services
        .iter()
        .filter(|s| s.currency.code() == "USD" && s.enabled && s.available)
        .map(|s| s.code.as_str())
        .collect();
    assert_eq!(
        services.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        usd
    );
    for (code, service) in services {
        assert_eq!(service["code"], *code);
        assert_eq!(service["currency"], "USD", "{code} is of another currency");
    }

    // The sample's two services, field for field.
    assert_eq!(
        services["payment_card_usd_hpp"],
        json!({
            "code": "payment_card_usd_hpp",
            "method": "payment_card",
            "flow": "hpp",
            "currency": "USD",
            "fields": [],
            "amount_min": 0.01,
            "amount_max": 1000000
        })
    );
    assert_eq!(
        services["test_usd_test"],
        json!({
            "code": "test_usd_test",
            "method": "test",
            "flow": "test",
            "currency": "USD",
            "fields": [{
                "key": "status",
                "type": "string",
                "label": {"ru": "Статус", "en": "Status", "uk": "Статус"},
                "example": null,
                "hint": {"ru": "Введите статус", "en": "Enter Status", "uk": "Введіть статус"},
                "regexp": "^[a-zA-Z_]*$",
                "required": true,
                "position": 0
            }],
            "amount_min": 0.01,
            "amount_max": 9999999
        })
    );

    // The methods of those services, and only those.
    let methods = data["methods"].as_object().expect("methods by code");
    let used: BTreeSet<&str> = services
        .values()
        .map(|s| s["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        used
    );
    let card = &methods["payment_card"];
    assert_eq!(card["code"], "payment_card");
    assert_eq!(card["category"], "payment_card");
    assert_eq!(
        card["name"],
        json!({"en": "Payment card", "ru": "Платежная карта", "uk": "Платіжна карта"})
    );
    assert_eq!(methods["test"]["category"], "alternative");
    for key in [
        "description",
        "logo",
        "icon",
        "metadata",
        "position",
        "hide",
    ] {
        assert!(card.get(key).is_some(), "method lacks {key}");
    }
    assert_eq!(data["account"]["name"], "Test Shop");
    for key in ["description", "icon", "website"] {
        assert!(data["account"].get(key).is_some(), "account lacks {key}");
    }
}

#[tokio::test]
async fn prerequest_with_the_live_key_is_live_and_other_currencies_have_their_own_services() {
    let app = TestApp::spawn().await;
    let body = json!({"public_key": app.merchant.live.public_key, "currency": "EUR"});
    let reply = post_json(&app, "/public-api/payment-prerequest", &body).await;
    reply.expect(200);
    assert_eq!(reply.json["data"]["test_mode"], false);
    assert_eq!(reply.json["data"]["currency"], "EUR");
    let services = reply.json["data"]["services"].as_object().unwrap();
    assert!(services.contains_key("test_eur_test"));
    assert!(!services.contains_key("payment_card_usd_hpp"));

    // JPY has no minor unit: its limits are whole numbers.
    let body = json!({"public_key": app.test_public_key(), "currency": "JPY"});
    let reply = post_json(&app, "/public-api/payment-prerequest", &body).await;
    reply.expect(200);
    assert_eq!(
        reply.json["data"]["services"]["test_jpy_test"]["amount_min"],
        json!(1)
    );
}

#[tokio::test]
async fn prerequest_leaves_out_disabled_services() {
    let app = TestApp::spawn().await;
    let catalog = app.engine().catalog().await.unwrap();
    let mut paypal = catalog.service("paypal_usd_hpp").unwrap().clone();
    paypal.enabled = false;
    app.engine().put_service(paypal).await.unwrap();
    let body = json!({"public_key": app.test_public_key(), "currency": "USD"});
    let reply = post_json(&app, "/public-api/payment-prerequest", &body).await;
    reply.expect(200);
    let data = &reply.json["data"];
    assert!(data["services"].get("paypal_usd_hpp").is_none());
    assert!(
        data["methods"].get("paypal").is_none(),
        "no service uses paypal any more"
    );
}

// ---------------------------------------------------------------- services

#[tokio::test]
async fn services_list_in_pages_with_meta_and_links() {
    let app = TestApp::spawn().await;
    let total = app.engine().catalog().await.unwrap().services.len();
    assert!(
        total > 20,
        "the shipped catalog fills more than one default page"
    );

    // The default page: number 1, size 20.
    let reply = get(&app, "/api/payment-services").await;
    reply.expect(200);
    let pages = total.div_ceil(20);
    assert_eq!(
        reply.json["meta"],
        json!({"total": total, "pages": pages, "page": 1})
    );
    assert_eq!(
        reply.json["links"]["first"],
        "/api/payment-services?page[number]=1&page[size]=20"
    );
    assert_eq!(
        reply.json["links"]["next"],
        "/api/payment-services?page[number]=2&page[size]=20"
    );
    assert_eq!(
        reply.json["links"]["last"],
        format!("/api/payment-services?page[number]={pages}&page[size]=20")
    );
    assert!(
        reply.json["links"].get("prev").is_none(),
        "the first page has no prev"
    );
    assert_eq!(reply.json["data"].as_array().unwrap().len(), 20);

    // Walk every page of 7 by its next link: each service once.
    let size = 7;
    let pages = total.div_ceil(size);
    let mut path = format!("/api/payment-services?page[number]=1&page[size]={size}");
    let mut seen = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for number in 1..=pages {
        let reply = get(&app, &path).await;
        reply.expect(200);
        assert_eq!(
            reply.json["meta"],
            json!({"total": total, "pages": pages, "page": number})
        );
        let data = reply.json["data"].as_array().unwrap();
        let expected = if number < pages {
            size
        } else {
            total - size * (pages - 1)
        };
        assert_eq!(data.len(), expected, "page {number}");
        for item in data {
            let id = item["id"].as_str().unwrap();
            assert!(
                id.starts_with("comcps_") && id.len() == "comcps_".len() + 16,
                "{id}"
            );
            assert_eq!(item["type"], "payment-services");
            assert_eq!(item["links"]["self"], format!("/api/payment-services/{id}"));
            let service = item["attributes"]["service"].as_str().unwrap();
            assert_eq!(
                item["relationships"]["payment-service"]["data"],
                json!({"type": "payment-services", "id": service})
            );
            assert_eq!(
                item["relationships"]["payment-method"]["data"],
                json!({"type": "payment-methods", "id": item["attributes"]["service_method"]})
            );
            assert!(seen.insert(id.to_string()), "{id} listed twice");
            codes.insert(service.to_string());
        }
        if number > 1 {
            assert_eq!(
                reply.json["links"]["prev"],
                format!(
                    "/api/payment-services?page[number]={}&page[size]={size}",
                    number - 1
                )
            );
        }
        assert_eq!(
            reply.json["links"]["last"],
            format!("/api/payment-services?page[number]={pages}&page[size]={size}")
        );
        match reply.json["links"]["next"].as_str() {
            Some(next) => {
                assert!(number < pages);
                path = next.to_string();
            }
            None => assert_eq!(number, pages, "only the last page lacks next"),
        }
    }
    assert_eq!(seen.len(), total);
    assert_eq!(codes.len(), total);

    // Past the last page: empty, still with meta and links.
    let reply = get(
        &app,
        &format!(
            "/api/payment-services?page[number]={}&page[size]={size}",
            pages + 1
        ),
    )
    .await;
    reply.expect(200);
    assert_eq!(reply.json["data"], json!([]));
    assert_eq!(reply.json["meta"]["total"], total);
}

#[tokio::test]
async fn a_service_by_the_id_from_the_list() {
    let app = TestApp::spawn().await;
    let reply = get(&app, "/api/payment-services?page[size]=100").await;
    reply.expect(200);
    let item = reply.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["service"] == "payment_card_usd_hpp")
        .expect("payment_card_usd_hpp is listed")
        .clone();
    let id = item["id"].as_str().unwrap().to_string();

    let one = get(&app, &format!("/api/payment-services/{id}")).await;
    one.expect(200);
    assert_eq!(one.json["data"], item);
    assert_eq!(
        one.json["data"]["attributes"],
        json!({
            "service": "payment_card_usd_hpp",
            "service_method": "payment_card",
            "service_currency": "USD",
            "available": true,
            "active": true,
            "enabled": true,
            "amount_min": 0.01,
            "amount_max": 1000000,
            "fee_min": 0,
            "fee_max": 0,
            "fee_rate": 0,
            "fee_fix": 0,
            "reserve_lifetime": 0,
            "reserve_rate": 0,
            "currency": "USD",
            "test_mode": true
        })
    );

    // The id is stable across calls and the live key sees the live mode.
    let again = get(&app, &format!("/api/payment-services/{id}")).await;
    assert_eq!(again.json, one.json);
    let live = get_as(
        &app,
        &app.merchant.live,
        &format!("/api/payment-services/{id}"),
    )
    .await;
    live.expect(200);
    assert_eq!(live.json["data"]["attributes"]["test_mode"], false);

    // Unknown ids are 404 in the spec's shape; so is another merchant's id.
    let unknown = get(&app, "/api/payment-services/comcps_AAAAAAAAAAAAAAAA").await;
    unknown.expect(404);
    assert_eq!(unknown.json, not_found());
    let other = other_merchant(&app).await;
    let foreign = get_as(&app, &other.test, &format!("/api/payment-services/{id}")).await;
    foreign.expect(404);
    assert_eq!(foreign.json, not_found());
}

#[tokio::test]
async fn service_fees_are_shown_and_charged() {
    let app = TestApp::spawn().await;
    let catalog = app.engine().catalog().await.unwrap();
    let mut service = catalog.service("test_usd_test").unwrap().clone();
    // 2.5% + 0.30, at least 0.50, at most 10.00.
    service.fee = FeeRule {
        rate_ppm: 25_000,
        fix_minor: 30,
        min_minor: 50,
        max_minor: 1_000,
    };
    app.engine().put_service(service).await.unwrap();

    let list = get(&app, "/api/payment-services?page[size]=100").await;
    let item = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["service"] == "test_usd_test")
        .unwrap()
        .clone();
    let attributes = &item["attributes"];
    assert_eq!(attributes["fee_rate"], json!(2.5));
    assert_eq!(attributes["fee_fix"], json!(0.3));
    assert_eq!(attributes["fee_min"], json!(0.5));
    assert_eq!(attributes["fee_max"], json!(10));

    // 100.00: 2.50 + 0.30 = 2.80.
    let reply = create(&app, json!({"amount": 100, "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "processed"}})).await;
    reply.expect(201);
    assert_eq!(reply.attributes()["fee"], json!(2.8));
    assert_eq!(reply.attributes()["deposit"], json!(97.2));
    assert_eq!(reply.attributes()["processed_fee"], Value::Null);
    let id = reply.id();
    let done = app
        .wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
    assert_eq!(done["processed_amount"], json!(100));
    assert_eq!(done["processed_fee"], json!(2.8));
    assert_eq!(done["processed_deposit"], json!(97.2));

    // 1.00: 0.025 rounds up to 0.03, + 0.30 = 0.33, raised to the 0.50 minimum.
    let small = create(&app, json!({"amount": "1.00", "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "process_pending"}})).await;
    small.expect(201);
    assert_eq!(small.attributes()["fee"], json!(0.5));
    assert_eq!(small.attributes()["deposit"], json!(0.5));

    // 1000.00: 25.30 capped at 10.00.
    let large = create(&app, json!({"amount": 1000, "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "process_pending"}})).await;
    large.expect(201);
    assert_eq!(large.attributes()["fee"], json!(10));
    assert_eq!(large.attributes()["deposit"], json!(990));

    // A service without a fee rule charges nothing.
    let free = create(
        &app,
        json!({"amount": 100, "currency": "USD", "service": "payment_card_usd_hpp"}),
    )
    .await;
    free.expect(201);
    assert_eq!(free.attributes()["fee"], json!(0));
    assert_eq!(free.attributes()["deposit"], json!(100));
}

// ---------------------------------------------------------------- public API

#[tokio::test]
async fn public_create_answers_201_in_the_public_shape() {
    let app = TestApp::spawn().await;
    let created_at = now(&app);
    let reply = create_public(
        &app,
        json!({
            "reference_id": "7135b08b-701b-4fbc-a7d2-b2763d96d415",
            "description": "Invoice Example",
            "service": "payment_card_usd_hpp",
            "currency": "USD",
            "amount": 123.45
        }),
    )
    .await;
    reply.expect(201);
    let data = &reply.json["data"];
    let id = data["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cpi_") && id.len() == 20, "{id}");
    let hpp_url = format!("{}/hpp/{id}", app.base_url);
    assert_eq!(
        *data,
        json!({
            "id": id,
            "serial_number": &id[4..],
            "created": created_at,
            "test_mode": true,
            "reference_id": "7135b08b-701b-4fbc-a7d2-b2763d96d415",
            "currency": "USD",
            "amount": 123.45,
            "payment_amount": 123.45,
            "processed_amount": null,
            "refunded_amount": null,
            "description": "Invoice Example",
            "has_return_url": false,
            "status": "process_pending",
            "resolution": "OK",
            "service": "payment_card_usd_hpp",
            "service_method": "payment_card",
            "service_flow": "hpp",
            "service_currency": "USD",
            "metadata": null,
            "hpp_url": hpp_url,
            "active_payment": {
                "payload": {
                    "action": hpp_url,
                    "method": "GET",
                    "params": [],
                    "metadata": {"sid": id}
                },
                "status": "invoked",
                "resolution": "OK"
            }
        })
    );

    // Reconciliation by id through the public API shows the same.
    let path = format!(
        "/public-api/payment-invoices/{id}?public_key={}",
        app.test_public_key()
    );
    let again = send(app.http.get(app.url(&path))).await;
    again.expect(200);
    assert_eq!(again.json, reply.json);

    // The private API knows where it came from.
    let private = app.invoice(&id).await;
    assert_eq!(private["source"], "public_api");
    assert_eq!(
        private["reference_id"],
        "7135b08b-701b-4fbc-a7d2-b2763d96d415"
    );

    // The hosted page link works.
    let page = send(app.http.get(&hpp_url)).await;
    page.expect(200);
}

#[tokio::test]
async fn public_create_generates_a_reference_id_when_absent() {
    let app = TestApp::spawn().await;
    let body = json!({"service": "payment_card_usd_hpp", "currency": "USD", "amount": "10"});
    let first = create_public(&app, body.clone()).await;
    first.expect(201);
    let reference = first.json["data"]["reference_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A UUID v4: 8-4-4-4-12 lowercase hex, version 4, variant 10xx.
    let parts: Vec<&str> = reference.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{reference}"
    );
    assert!(reference
        .chars()
        .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert!(parts[2].starts_with('4'), "{reference}");
    assert!(
        matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
        "{reference}"
    );

    // Without a key, a repeat is a new invoice with its own reference.
    let second = create_public(&app, body.clone()).await;
    second.expect(201);
    assert_ne!(second.id(), first.id());
    assert_ne!(
        second.json["data"]["reference_id"],
        first.json["data"]["reference_id"]
    );
    // An empty reference counts as absent.
    let third = create_public(&app, json!({"reference_id": "", "service": "payment_card_usd_hpp", "currency": "USD", "amount": "10"})).await;
    third.expect(201);
    assert_eq!(
        third.json["data"]["reference_id"].as_str().unwrap().len(),
        36
    );
    assert_eq!(list_ids(&app).await.len(), 3);

    // The generated reference finds the invoice.
    let found = get(
        &app,
        &format!("/api/payment-invoices?filter[reference_id]={reference}"),
    )
    .await;
    found.expect(200);
    assert_eq!(found.id(), first.id());
}

#[tokio::test]
async fn public_create_is_refused_when_the_merchant_forbids_it() {
    let app = TestApp::spawn().await;
    app.engine()
        .update_merchant(app.merchant.merchant_id.clone(), |m| {
            m.forbid_public_api = true
        })
        .await
        .unwrap();
    let body = json!({"reference_id": "r-1", "service": "payment_card_usd_hpp", "currency": "USD", "amount": 5});
    let reply = create_public(&app, body.clone()).await;
    assert_error_entry(&reply, "Forbidden", 403);

    // The payment link is the public API too.
    let form = post_form(
        &app,
        &[
            ("public_key", app.test_public_key()),
            ("service", "payment_card_usd_hpp"),
            ("currency", "USD"),
            ("amount", "5"),
        ],
    )
    .await;
    form.expect(403);
    assert!(
        form.content_type.starts_with("text/html"),
        "{}",
        form.content_type
    );
    assert_none_created(invoice_count(&app).await, "forbidden public create");

    // The private API is not affected; reading through the public API still works.
    let private = create(&app, body).await;
    private.expect(201);
    let path = format!(
        "/public-api/payment-invoices/{}?public_key={}",
        private.id(),
        app.test_public_key()
    );
    send(app.http.get(app.url(&path))).await.expect(200);

    // Allowed again, the public API creates again.
    app.engine()
        .update_merchant(app.merchant.merchant_id.clone(), |m| {
            m.forbid_public_api = false
        })
        .await
        .unwrap();
    let reply = create_public(&app, json!({"reference_id": "r-2", "service": "payment_card_usd_hpp", "currency": "USD", "amount": 5})).await;
    reply.expect(201);
}

#[tokio::test]
async fn public_create_with_the_live_key_makes_a_live_invoice() {
    let app = TestApp::spawn().await;
    let body = json!({
        "public_key": app.merchant.live.public_key,
        "reference_id": "live-1",
        "service": "payment_card_usd_hpp",
        "currency": "USD",
        "amount": 50
    });
    let reply = post_json(&app, "/public-api/payment-invoices", &body).await;
    reply.expect(201);
    assert_eq!(reply.json["data"]["test_mode"], false);
    let id = reply.id();
    assert_eq!(list_ids_as(&app, &app.merchant.live).await, [id.as_str()]);
    assert!(
        list_ids(&app).await.is_empty(),
        "the test mode does not see live invoices"
    );
    let live = get_as(
        &app,
        &app.merchant.live,
        &format!("/api/payment-invoices/{id}"),
    )
    .await;
    live.expect(200);
    assert_eq!(live.attributes()["test_mode"], false);
    // The public view: the live key sees it, the test key does not.
    let public = |key: &str| format!("/public-api/payment-invoices/{id}?public_key={key}");
    let seen = send(
        app.http
            .get(app.url(&public(&app.merchant.live.public_key))),
    )
    .await;
    seen.expect(200);
    assert_eq!(seen.json["data"]["test_mode"], false);
    let hidden = send(app.http.get(app.url(&public(app.test_public_key())))).await;
    hidden.expect(404);
    assert_eq!(hidden.json, not_found());
}

// ---------------------------------------------------------------- private API

#[tokio::test]
async fn private_create_stores_every_attribute() {
    let app = TestApp::spawn().await;
    let created_at = now(&app);
    let expires = created_at + 3600;
    let attributes = json!({
        "reference_id": "a30ebec4-035c-4fc5-8c48-b525ca601f37",
        "amount": 100,
        "currency": "USD",
        "service": "bank_transfer_usd_hpp",
        "flow": "charge",
        "service_fields": {"account_number": "UA213223130000026007233566001", "extra": "kept"},
        "test_mode": true,
        "description": "Invoice Example",
        "gateway_options": {"cardgate": {"tokenize": false, "list": [1, 2.50, "x", null], "n": 1.10}},
        "customer": {
            "reference_id": "1203515",
            "email": "somename@domain.com",
            "name": "John Wick",
            "phone": "+380987654321",
            "address": {"country": "UA", "full_address": "Main St 1"},
            "metadata": {"key1": "value1", "key2": "value2"}
        },
        "metadata": {"key": "value", "nested": {"a": [1, 2]}},
        "return_url": "https://example.com",
        "return_urls": {
            "success": "https://example.com/1",
            "pending": "https://example.com/2",
            "fail": "https://example.com/3"
        },
        "callback_url": "http://127.0.0.1:9/callback",
        "expires": rfc3339(expires)
    });
    let reply = create(&app, attributes.clone()).await;
    reply.expect(201);
    let id = reply.id();
    assert!(id.starts_with("cpi_") && id.len() == 20);
    let data = &reply.json["data"];
    assert_eq!(data["type"], "payment-invoices");
    assert_eq!(data["links"]["self"], format!("/api/payment-invoices/{id}"));
    assert_eq!(
        data["relationships"]["payment-service"]["data"],
        json!({"type": "payment-services", "id": "bank_transfer_usd_hpp"})
    );
    assert_eq!(
        data["relationships"]["payment-method"]["data"],
        json!({"type": "payment-methods", "id": "bank_transfer"})
    );
    let customer_id = data["relationships"]["customer"]["data"]["id"]
        .as_str()
        .unwrap();
    assert!(customer_id.starts_with("cus_"), "{customer_id}");
    assert_eq!(
        data["relationships"]["customer"]["data"]["type"],
        "customers"
    );

    let a = reply.attributes();
    let hpp_url = format!("{}/hpp/{id}", app.base_url);
    let expected = [
        ("serial_number", json!(&id[4..])),
        ("status", json!("process_pending")),
        ("resolution", json!("ok")),
        ("moderation_required", json!(false)),
        ("amount", json!(100)),
        ("payment_amount", json!(100)),
        ("currency", json!("USD")),
        ("service_currency", json!("USD")),
        (
            "reference_id",
            json!("a30ebec4-035c-4fc5-8c48-b525ca601f37"),
        ),
        ("test_mode", json!(true)),
        ("fee", json!(0)),
        ("deposit", json!(100)),
        ("processed", Value::Null),
        ("processed_amount", Value::Null),
        ("refunded_amount", Value::Null),
        ("processed_fee", Value::Null),
        ("processed_deposit", Value::Null),
        ("metadata", attributes["metadata"].clone()),
        ("flow", json!("hpp")),
        ("hpp_url", json!(hpp_url)),
        ("payment_flow", json!("charge")),
        ("created", json!(created_at)),
        ("updated", json!(created_at)),
        ("expires", json!(expires)),
        ("payload", Value::Null),
        ("description", json!("Invoice Example")),
        ("descriptor", Value::Null),
        ("callback_url", json!("http://127.0.0.1:9/callback")),
        ("return_url", json!("https://example.com")),
        (
            "return_urls",
            json!({"success": "https://example.com/1", "fail": "https://example.com/3", "pending": "https://example.com/2"}),
        ),
        ("source", json!("merchant_api")),
        ("callback_logs", json!([])),
    ];
    for (key, value) in &expected {
        assert_eq!(a[key], *value, "attribute {key}");
    }
    assert_eq!(
        a["flow_data"],
        json!({"action": hpp_url, "method": "GET", "params": [], "metadata": {"sid": id}})
    );
    assert_eq!(a["original_data"]["external_mid"], app.merchant.merchant_id);

    // What the answers do not show is stored as given.
    let invoice = app
        .engine()
        .invoice(app.merchant.merchant_id.clone(), true, id.clone())
        .await
        .unwrap();
    assert_eq!(
        invoice.gateway_options,
        Some(attributes["gateway_options"].clone())
    );
    assert_eq!(
        invoice.service_fields,
        Some(attributes["service_fields"].clone())
    );
    let customer = invoice.customer.expect("customer kept");
    assert_eq!(customer.id, customer_id);
    assert_eq!(customer.reference_id, "1203515");
    assert_eq!(customer.data, attributes["customer"]);

    // Reconciliation by id and by reference answers the same resource.
    let by_id = get(&app, &format!("/api/payment-invoices/{id}")).await;
    by_id.expect(200);
    let by_ref = get(
        &app,
        "/api/payment-invoices?filter[reference_id]=a30ebec4-035c-4fc5-8c48-b525ca601f37",
    )
    .await;
    by_ref.expect(200);
    for found in [&by_id, &by_ref] {
        assert_eq!(found.id(), id);
        for (key, value) in &expected {
            if *key != "callback_logs" {
                assert_eq!(found.attributes()[key], *value, "attribute {key}");
            }
        }
        assert_eq!(found.json["data"]["relationships"], data["relationships"]);
    }

    // The public view says there are return URLs.
    let path = format!(
        "/public-api/payment-invoices/{id}?public_key={}",
        app.test_public_key()
    );
    let public = send(app.http.get(app.url(&path))).await;
    public.expect(200);
    assert_eq!(public.json["data"]["has_return_url"], true);
    assert_eq!(public.json["data"]["metadata"], attributes["metadata"]);
}

#[tokio::test]
async fn private_create_defaults() {
    let app = TestApp::spawn().await;
    let created_at = now(&app);
    let reply = create(
        &app,
        json!({"amount": 10, "currency": "USD", "service": "payment_card_usd_hpp"}),
    )
    .await;
    reply.expect(201);
    let a = reply.attributes();
    assert_eq!(a["payment_flow"], "charge");
    assert_eq!(a["test_mode"], true, "a test key makes test invoices");
    assert_eq!(a["description"], Value::Null);
    assert_eq!(a["metadata"], Value::Null);
    assert_eq!(a["callback_url"], Value::Null);
    assert_eq!(a["return_url"], Value::Null);
    assert_eq!(a["return_urls"], Value::Null);
    assert_eq!(a["expires"], json!(created_at + 24 * 3600));
    assert_eq!(a["reference_id"].as_str().unwrap().len(), 36);
    assert!(reply.json["data"]["relationships"]
        .get("customer")
        .is_none());

    // Explicit charge and explicit test_mode false with a test key.
    let reply = create(&app, json!({"amount": 10, "currency": "USD", "service": "payment_card_usd_hpp", "flow": "charge", "test_mode": false})).await;
    reply.expect(201);
    assert_eq!(reply.attributes()["payment_flow"], "charge");
    assert_eq!(
        reply.attributes()["test_mode"],
        true,
        "the test key decides"
    );

    // The live key makes live invoices.
    let live = create_as(
        &app,
        &app.merchant.live,
        json!({"amount": 10, "currency": "USD", "service": "payment_card_usd_hpp"}),
    )
    .await;
    live.expect(201);
    assert_eq!(live.attributes()["test_mode"], false);
}

#[tokio::test]
async fn amounts_are_read_exactly_as_numbers_or_strings() {
    let app = TestApp::spawn().await;
    // Numbers are written as raw JSON text so that no float is involved.
    let cases: &[(&str, Value, &str)] = &[
        ("test_usd_test", n("100"), "100"),
        ("test_usd_test", json!("100"), "100"),
        ("test_usd_test", n("100.55"), "100.55"),
        ("test_usd_test", json!("100.55"), "100.55"),
        ("test_usd_test", json!("2000.00"), "2000"),
        ("test_usd_test", n("100.50"), "100.5"),
        ("test_usd_test", json!(" 7.5 "), "7.5"),
        ("test_usd_test", n("0.01"), "0.01"),
        ("test_usd_test", n("9999999"), "9999999"),
        ("test_usd_test", json!("9999999.00"), "9999999"),
        ("test_usd_test", n("0.1000000000"), "0.1"),
        ("test_jpy_test", n("1500"), "1500"),
        ("test_jpy_test", json!("1500.0"), "1500"),
        ("test_usdt_test", json!("1.123456"), "1.123456"),
        ("test_usdt_test", n("0.000001"), "0.000001"),
    ];
    for (i, (service, amount, shown)) in cases.iter().enumerate() {
        let currency = app
            .engine()
            .catalog()
            .await
            .unwrap()
            .service(service)
            .unwrap()
            .currency
            .code();
        let reply = create(
            &app,
            json!({"reference_id": format!("amount-{i}"), "amount": amount, "currency": currency, "service": service, "service_fields": {"status": "process_pending"}}),
        )
        .await;
        reply.expect(201);
        assert_eq!(
            reply.attributes()["amount"],
            n(shown),
            "{amount} in {currency}"
        );
        assert_eq!(
            reply.attributes()["payment_amount"],
            n(shown),
            "{amount} in {currency}"
        );
        assert_eq!(
            reply.attributes()["amount"].to_string(),
            *shown,
            "written exactly"
        );
        // The text is exact: 100.55 is 10055 cents, not 10054.999...
        let stored = app
            .engine()
            .invoice(app.merchant.merchant_id.clone(), true, reply.id())
            .await
            .unwrap();
        let exponent = stored.currency.exponent();
        assert_eq!(
            stored.amount_minor,
            kassa_domain::money::parse_minor(shown, exponent).unwrap(),
            "{shown}"
        );
    }
    assert_eq!(stored_amount(&app, "amount-2").await, 10055);
}

/// A JSON number from its exact text.
fn n(text: &str) -> Value {
    serde_json::from_str(text).expect("a JSON number")
}

async fn reply_service(app: &TestApp, id: &str) -> String {
    let reply = get(app, &format!("/api/payment-invoices/{id}")).await;
    reply.json["data"]["relationships"]["payment-service"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn stored_amount(app: &TestApp, reference: &str) -> i64 {
    app.engine()
        .invoice_by_reference(app.merchant.merchant_id.clone(), true, reference.into())
        .await
        .unwrap()
        .expect("invoice")
        .amount_minor
}

#[tokio::test]
async fn expires_may_be_between_14_minutes_and_2_days() {
    let app = TestApp::spawn().await;
    let t = now(&app);
    for (i, at) in [t + 14 * 60, t + 15 * 60, t + 2 * 24 * 3600, t + 36 * 3600]
        .into_iter()
        .enumerate()
    {
        let mut attributes = test_invoice("process_pending");
        attributes["reference_id"] = json!(format!("exp-{i}"));
        attributes["expires"] = json!(rfc3339(at));
        let reply = create(&app, attributes).await;
        reply.expect(201);
        assert_eq!(reply.attributes()["expires"], json!(at));
    }
    // Any offset and the Z form mean the same instant.
    let z = chrono::DateTime::from_timestamp(t + 3600, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let plus3 = chrono::DateTime::from_timestamp(t + 3600, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).unwrap())
        .to_rfc3339();
    for (i, text) in [z, plus3].into_iter().enumerate() {
        let mut attributes = test_invoice("process_pending");
        attributes["reference_id"] = json!(format!("tz-{i}"));
        attributes["expires"] = json!(text);
        let reply = create(&app, attributes).await;
        reply.expect(201);
        assert_eq!(reply.attributes()["expires"], json!(t + 3600), "{text}");
    }
}

// ---------------------------------------------------------------- HTML form

#[tokio::test]
async fn the_payment_link_form_creates_and_redirects_to_the_hosted_page() {
    let app = TestApp::spawn().await;
    // The form names its own return URL: its host must be allowed.
    app.engine()
        .change_merchant(
            app.merchant.merchant_id.clone(),
            kassa_engine::merchants::MerchantChange {
                url_hosts: Some(vec!["shop.example".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let reply = post_form(
        &app,
        &[
            ("public_key", app.test_public_key()),
            ("reference_id", "form-1"),
            ("currency", "USD"),
            ("amount", "100"),
            ("service", "paypal_usd_hpp"),
            ("description", "Paid by link"),
            ("customer[reference_id]", "customer-7"),
            ("customer[name]", "Test Customer"),
            ("customer[address][full_address]", "Test Address"),
            ("customer[address][city]", "Kyiv"),
            ("metadata[order]", "42"),
            ("return_urls[pending]", "https://shop.example/pending"),
        ],
    )
    .await;
    reply.expect(303);
    let location = reply.location.clone().expect("a Location header");
    let prefix = format!("{}/hpp/", app.base_url);
    let id = location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location}"))
        .to_string();
    assert!(id.starts_with("cpi_") && id.len() == 20, "{id}");

    let a = app.invoice(&id).await;
    assert_eq!(a["reference_id"], "form-1");
    assert_eq!(a["amount"], json!(100));
    assert_eq!(reply_service(&app, &id).await, "paypal_usd_hpp");
    assert_eq!(a["status"], "process_pending");
    assert_eq!(a["source"], "payment_link");
    assert_eq!(a["description"], "Paid by link");
    assert_eq!(a["metadata"], json!({"order": "42"}));
    assert_eq!(a["return_urls"]["pending"], "https://shop.example/pending");
    assert_eq!(a["test_mode"], true);
    let invoice = app
        .engine()
        .invoice(app.merchant.merchant_id.clone(), true, id.clone())
        .await
        .unwrap();
    let customer = invoice.customer.expect("customer");
    assert_eq!(customer.reference_id, "customer-7");
    assert_eq!(
        customer.data,
        json!({"reference_id": "customer-7", "name": "Test Customer", "address": {"full_address": "Test Address", "city": "Kyiv"}})
    );

    // The browser follows the redirect to the hosted page.
    send(app.http.get(&location)).await.expect(200);

    // Posting the same form again (a double click) lands on the same invoice.
    let again = post_form(
        &app,
        &[
            ("public_key", app.test_public_key()),
            ("reference_id", "form-1"),
            ("currency", "USD"),
            ("amount", "100"),
            ("service", "paypal_usd_hpp"),
            ("description", "Paid by link"),
            ("customer[reference_id]", "customer-7"),
            ("customer[name]", "Test Customer"),
            ("customer[address][full_address]", "Test Address"),
            ("customer[address][city]", "Kyiv"),
            ("metadata[order]", "42"),
            ("return_urls[pending]", "https://shop.example/pending"),
        ],
    )
    .await;
    again.expect(303);
    assert_eq!(again.location.as_deref(), Some(location.as_str()));
    assert_eq!(list_ids(&app).await, [id]);
}

#[tokio::test]
async fn the_form_drives_the_test_service_and_reads_text_booleans() {
    let app = TestApp::spawn().await;
    let reply = post_form(
        &app,
        &[
            ("public_key", app.test_public_key()),
            ("currency", "USD"),
            ("amount", "12.34"),
            ("service", "test_usd_test"),
            ("service_fields[status]", "processed"),
            ("test_mode", "1"),
        ],
    )
    .await;
    reply.expect(303);
    let id = reply
        .location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let a = app
        .wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
    assert_eq!(a["processed_amount"], json!(12.34));
    assert_eq!(a["test_mode"], true);
    assert_eq!(
        a["reference_id"].as_str().unwrap().len(),
        36,
        "a generated reference"
    );
}

// ---------------------------------------------------------------- reconciliation

#[tokio::test]
async fn public_reconciliation_needs_the_right_key() {
    let app = TestApp::spawn().await;
    let id = create(&app, test_invoice("process_pending")).await.id();
    let get_public = |key: Option<String>, id: String| {
        let path = match key {
            Some(k) => format!("/public-api/payment-invoices/{id}?public_key={k}"),
            None => format!("/public-api/payment-invoices/{id}"),
        };
        send(app.http.get(app.url(&path)))
    };
    let ok = get_public(Some(app.test_public_key().into()), id.clone()).await;
    ok.expect(200);
    assert_eq!(ok.json["data"]["id"], id);
    assert_eq!(ok.json["data"]["amount"], json!(100.5));

    let missing = get_public(None, id.clone()).await;
    missing.expect(401);
    assert_eq!(missing.json, unauthorized());
    let wrong = get_public(Some("pk_test_nope".into()), id.clone()).await;
    wrong.expect(401);
    assert_eq!(wrong.json, unauthorized());
    let empty = get_public(Some(String::new()), id.clone()).await;
    empty.expect(401);
    assert_eq!(empty.json, unauthorized());

    // The other mode and another merchant do not see it.
    let live = get_public(Some(app.merchant.live.public_key.clone()), id.clone()).await;
    live.expect(404);
    assert_eq!(live.json, not_found());
    let other = other_merchant(&app).await;
    let foreign = get_public(Some(other.test.public_key.clone()), id.clone()).await;
    foreign.expect(404);
    assert_eq!(foreign.json, not_found());
    let unknown = get_public(
        Some(app.test_public_key().into()),
        "cpi_AAAAAAAAAAAAAAAA".into(),
    )
    .await;
    unknown.expect(404);
    assert_eq!(unknown.json, not_found());
}

#[tokio::test]
async fn invoices_of_another_merchant_or_mode_are_not_found() {
    let app = TestApp::spawn().await;
    let other = other_merchant(&app).await;
    let mine = create(&app, json!({"reference_id": "shared-ref", "amount": 1, "currency": "USD", "service": "payment_card_usd_hpp"})).await;
    mine.expect(201);
    let id = mine.id();

    // The same reference is free for another merchant and for the other mode.
    let theirs = create_as(&app, &other.test, json!({"reference_id": "shared-ref", "amount": 2, "currency": "USD", "service": "payment_card_usd_hpp"})).await;
    theirs.expect(201);
    let live = create_as(&app, &app.merchant.live, json!({"reference_id": "shared-ref", "amount": 3, "currency": "USD", "service": "payment_card_usd_hpp"})).await;
    live.expect(201);
    let ids: BTreeSet<String> = [id.clone(), theirs.id(), live.id()].into();
    assert_eq!(ids.len(), 3, "three separate invoices");

    for (creds, what) in [
        (&other.test, "other merchant"),
        (&other.live, "other merchant, live"),
        (&app.merchant.live, "live key"),
    ] {
        let by_id = get_as(&app, creds, &format!("/api/payment-invoices/{id}")).await;
        by_id.expect(404);
        assert_eq!(by_id.json, not_found(), "{what}");
        assert!(
            !list_ids_as(&app, creds).await.contains(&id),
            "{what} lists it"
        );
    }
    // By reference, each sees its own.
    for (creds, expected) in [
        (&app.merchant.test, &id),
        (&other.test, &theirs.id()),
        (&app.merchant.live, &live.id()),
    ] {
        let found = get_as(
            &app,
            creds,
            "/api/payment-invoices?filter[reference_id]=shared-ref",
        )
        .await;
        found.expect(200);
        assert_eq!(&found.id(), expected);
    }
    let nobody = get_as(
        &app,
        &other.live,
        "/api/payment-invoices?filter[reference_id]=shared-ref",
    )
    .await;
    nobody.expect(404);
    assert_eq!(nobody.json, not_found());

    // Unknown ids and references.
    let unknown = get(&app, "/api/payment-invoices/cpi_AAAAAAAAAAAAAAAA").await;
    unknown.expect(404);
    assert_eq!(unknown.json, not_found());
    let unknown_ref = get(
        &app,
        "/api/payment-invoices?filter[reference_id]=no-such-ref",
    )
    .await;
    unknown_ref.expect(404);
    assert_eq!(unknown_ref.json, not_found());
}

#[tokio::test]
async fn filter_by_reference_decodes_the_query() {
    let app = TestApp::spawn().await;
    let reference = "order #7 & co/100%";
    let reply = create(&app, json!({"reference_id": reference, "amount": 1, "currency": "USD", "service": "payment_card_usd_hpp"})).await;
    reply.expect(201);
    let query = serde_urlencoded::to_string([("filter[reference_id]", reference)]).unwrap();
    let found = get(&app, &format!("/api/payment-invoices?{query}")).await;
    found.expect(200);
    assert_eq!(found.id(), reply.id());
    assert_eq!(found.attributes()["reference_id"], reference);
}

#[tokio::test]
async fn the_list_pages_with_cursors_both_ways() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..5 {
        let reply = create(&app, json!({"reference_id": format!("page-{i}"), "amount": i + 1, "currency": "USD", "service": "payment_card_usd_hpp"})).await;
        reply.expect(201);
        created.push(reply.id());
    }
    // Newest first.
    let newest: Vec<String> = created.iter().rev().cloned().collect();
    let (i5, i4, i3, i2, i1) = (&newest[0], &newest[1], &newest[2], &newest[3], &newest[4]);
    let page_ids = |reply: &Reply| -> Vec<String> {
        reply.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    let next = |after: &str| format!("/api/payment-invoices?page[size]=2&page[after]={after}");
    let prev = |before: &str| format!("/api/payment-invoices?page[size]=2&page[before]={before}");

    // The whole list with the default size.
    let all = get(&app, "/api/payment-invoices").await;
    all.expect(200);
    assert_eq!(page_ids(&all), newest);
    assert_eq!(
        all.json["meta"],
        json!({"count": 5, "size": 20, "before": i5, "after": i1})
    );
    assert_eq!(all.json["links"], json!({"prev": "", "next": ""}));
    assert_eq!(all.json["data"][0]["type"], "payment-invoices");
    assert_eq!(all.json["data"][0]["attributes"]["reference_id"], "page-4");

    // Forwards, following links.next.
    let p1 = get(&app, "/api/payment-invoices?page[size]=2").await;
    p1.expect(200);
    assert_eq!(page_ids(&p1), [i5.clone(), i4.clone()]);
    assert_eq!(
        p1.json["meta"],
        json!({"count": 2, "size": 2, "before": i5, "after": i4})
    );
    assert_eq!(p1.json["links"], json!({"prev": "", "next": next(i4)}));

    let p2 = get(&app, p1.json["links"]["next"].as_str().unwrap()).await;
    p2.expect(200);
    assert_eq!(page_ids(&p2), [i3.clone(), i2.clone()]);
    assert_eq!(
        p2.json["meta"],
        json!({"count": 2, "size": 2, "before": i3, "after": i2})
    );
    assert_eq!(
        p2.json["links"],
        json!({"prev": prev(i3), "next": next(i2)})
    );

    let p3 = get(&app, p2.json["links"]["next"].as_str().unwrap()).await;
    p3.expect(200);
    assert_eq!(page_ids(&p3), [i1.as_str()]);
    assert_eq!(
        p3.json["meta"],
        json!({"count": 1, "size": 2, "before": i1, "after": i1})
    );
    assert_eq!(p3.json["links"], json!({"prev": prev(i1), "next": ""}));

    // Backwards, following links.prev.
    let b2 = get(&app, p3.json["links"]["prev"].as_str().unwrap()).await;
    b2.expect(200);
    assert_eq!(page_ids(&b2), [i3.clone(), i2.clone()]);
    assert_eq!(
        b2.json["links"],
        json!({"prev": prev(i3), "next": next(i2)})
    );
    let b1 = get(&app, b2.json["links"]["prev"].as_str().unwrap()).await;
    b1.expect(200);
    assert_eq!(page_ids(&b1), [i5.clone(), i4.clone()]);
    assert_eq!(
        b1.json["meta"],
        json!({"count": 2, "size": 2, "before": i5, "after": i4})
    );
    assert_eq!(b1.json["links"], json!({"prev": "", "next": next(i4)}));

    // Cursors in the middle, by hand.
    let mid = get(
        &app,
        &format!("/api/payment-invoices?page[after]={i4}&page[size]=3"),
    )
    .await;
    assert_eq!(page_ids(&mid), [i3.clone(), i2.clone(), i1.clone()]);
    assert_eq!(mid.json["links"]["next"], "");
    let mid = get(
        &app,
        &format!("/api/payment-invoices?page[before]={i2}&page[size]=1"),
    )
    .await;
    assert_eq!(page_ids(&mid), [i3.as_str()]);
    let mid = get(
        &app,
        &format!("/api/payment-invoices?page[before]={i1}&page[size]=10"),
    )
    .await;
    assert_eq!(
        page_ids(&mid),
        [i5.clone(), i4.clone(), i3.clone(), i2.clone()]
    );
    assert_eq!(
        mid.json["links"]["prev"], "",
        "nothing is newer than the newest"
    );

    // Nothing lies beyond either end.
    let end = get(&app, &next(i1)).await;
    end.expect(200);
    assert_eq!(end.json["data"], json!([]));
    assert_eq!(end.json["meta"]["count"], 0);
    assert_eq!(end.json["links"]["next"], "");
    let start = get(&app, &prev(i5)).await;
    start.expect(200);
    assert_eq!(start.json["data"], json!([]));
    assert_eq!(start.json["links"]["prev"], "");

    // A newer invoice shows up in front; the old cursors still work.
    let newer = create(&app, json!({"reference_id": "page-5", "amount": 9, "currency": "USD", "service": "payment_card_usd_hpp"})).await.id();
    let front = get(&app, &prev(i5)).await;
    assert_eq!(page_ids(&front), [newer.as_str()]);
    let p1 = get(&app, "/api/payment-invoices?page[size]=2").await;
    assert_eq!(page_ids(&p1), [newer, i5.clone()]);
}

#[tokio::test]
async fn an_empty_list() {
    let app = TestApp::spawn().await;
    let reply = get(&app, "/api/payment-invoices").await;
    reply.expect(200);
    assert_eq!(
        reply.json,
        json!({"meta": {"count": 0, "size": 20, "before": null, "after": null}, "links": {"prev": "", "next": ""}, "data": []})
    );
}

// ---------------------------------------------------------------- idempotency

#[tokio::test]
async fn the_same_reference_and_body_return_the_same_invoice() {
    let app = TestApp::spawn().await;
    let attributes = json!({
        "reference_id": "idem-1",
        "amount": "100.55",
        "currency": "USD",
        "service": "payment_card_usd_hpp",
        "metadata": {"a": 1, "b": {"c": [1, 2]}},
        "customer": {"reference_id": "c-1", "name": "N"},
        "description": "first"
    });
    let first = create(&app, attributes.clone()).await;
    first.expect(201);
    let second = create(&app, attributes.clone()).await;
    second.expect(200);
    assert_eq!(second.id(), first.id());
    assert_eq!(second.attributes()["amount"], json!(100.55));
    assert_eq!(
        second.json["data"]["relationships"],
        first.json["data"]["relationships"]
    );

    // Key order does not make another body.
    let reordered: Value = serde_json::from_str(
        r#"{"description": "first", "customer": {"name": "N", "reference_id": "c-1"}, "metadata": {"b": {"c": [1, 2]}, "a": 1},
            "service": "payment_card_usd_hpp", "currency": "USD", "amount": "100.55", "reference_id": "idem-1"}"#,
    )
    .unwrap();
    let third = create(&app, reordered).await;
    third.expect(200);
    assert_eq!(third.id(), first.id());
    assert_eq!(list_ids(&app).await, [first.id()]);

    // The public API repeats the same way.
    let body = json!({"reference_id": "idem-public", "service": "payment_card_usd_hpp", "currency": "USD", "amount": 5});
    let p1 = create_public(&app, body.clone()).await;
    p1.expect(201);
    let p2 = create_public(&app, body).await;
    p2.expect(200);
    assert_eq!(p2.id(), p1.id());
    assert_eq!(p2.json, p1.json);
    assert_eq!(list_ids(&app).await.len(), 2);
}

#[tokio::test]
async fn the_same_reference_with_another_body_is_a_conflict() {
    let app = TestApp::spawn().await;
    let attributes = json!({"reference_id": "idem-2", "amount": 100, "currency": "USD", "service": "test_usd_test", "service_fields": {"status": "process_pending"}, "description": "d"});
    let first = create(&app, attributes.clone()).await;
    first.expect(201);
    let changes = [
        ("amount", json!(101)),
        ("description", json!("other")),
        ("service_fields", json!({"status": "processed"})),
        ("metadata", json!({"k": "v"})),
        ("flow", json!("verify")),
        ("callback_url", json!("http://127.0.0.1:9/cb")),
    ];
    for (key, value) in changes {
        let mut changed = attributes.clone();
        changed[key] = value;
        let reply = create(&app, changed).await;
        assert_error_entry(&reply, "Conflict", 409);
    }
    // The public API conflicts the same way.
    let conflict = create_public(&app, json!({"reference_id": "idem-2", "service": "test_usd_test", "currency": "USD", "amount": 99, "service_fields": {"status": "processed"}})).await;
    assert_error_entry(&conflict, "Conflict", 409);

    // Nothing changed: one invoice, as first created.
    assert_eq!(list_ids(&app).await, [first.id()]);
    let a = app.invoice(&first.id()).await;
    assert_eq!(a["amount"], json!(100));
    assert_eq!(a["description"], "d");
    assert_eq!(a["status"], "process_pending");
    // And the original body still repeats.
    create(&app, attributes).await.expect(200);
}

#[tokio::test]
async fn a_repeat_returns_the_invoice_as_it_is_now() {
    let app = TestApp::spawn().await;
    let mut attributes = test_invoice("processed");
    attributes["reference_id"] = json!("idem-3");
    let first = create(&app, attributes.clone()).await;
    first.expect(201);
    app.wait_for_invoice(&first.id(), "processed", |a| a["status"] == "processed")
        .await;
    let again = create(&app, attributes).await;
    again.expect(200);
    assert_eq!(again.id(), first.id());
    assert_eq!(
        again.attributes()["status"],
        "processed",
        "a repeat does not start it over"
    );
    assert_eq!(list_ids(&app).await.len(), 1);
}

#[tokio::test]
async fn a_repeat_minutes_later_still_returns_the_original() {
    // A merchant retries after a timeout: the `expires` it sent is now nearer
    // than 14 minutes, but the request is the same and must not be refused.
    let app = TestApp::spawn().await;
    let mut attributes = test_invoice("process_pending");
    attributes["reference_id"] = json!("idem-late");
    attributes["expires"] = json!(rfc3339(now(&app) + 15 * 60));
    let first = create(&app, attributes.clone()).await;
    first.expect(201);
    app.advance_secs(5 * 60);
    let again = create(&app, attributes.clone()).await;
    again.expect(200);
    assert_eq!(again.id(), first.id());
    // A different body under that reference is still a conflict, not a 422.
    attributes["amount"] = json!(1);
    assert_error_entry(&create(&app, attributes).await, "Conflict", 409);
    assert_eq!(list_ids(&app).await.len(), 1);
}

#[tokio::test]
async fn concurrent_identical_creates_make_one_invoice() {
    let app = TestApp::spawn().await;
    let mut attributes = test_invoice("process_pending");
    attributes["reference_id"] = json!("race-2");
    let (a, b) = tokio::join!(
        create(&app, attributes.clone()),
        create(&app, attributes.clone())
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 201]);
    assert_eq!(a.id(), b.id());
    assert_eq!(list_ids(&app).await, [a.id()]);

    let mut attributes = test_invoice("process_pending");
    attributes["reference_id"] = json!("race-10");
    let replies =
        futures::future::join_all((0..10).map(|_| create(&app, attributes.clone()))).await;
    let ids: BTreeSet<String> = replies.iter().map(Reply::id).collect();
    assert_eq!(ids.len(), 1, "every answer names the same invoice");
    assert_eq!(
        replies.iter().filter(|r| r.status == 201).count(),
        1,
        "one creates"
    );
    assert_eq!(
        replies.iter().filter(|r| r.status == 200).count(),
        9,
        "the others repeat"
    );
    let listed = list_ids(&app).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(ids.first().unwrap()));

    // Through the public API too.
    let body = json!({"public_key": app.test_public_key(), "reference_id": "race-public", "service": "payment_card_usd_hpp", "currency": "USD", "amount": 3});
    let replies = futures::future::join_all(
        (0..10).map(|_| post_json(&app, "/public-api/payment-invoices", &body)),
    )
    .await;
    let ids: BTreeSet<String> = replies.iter().map(Reply::id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(replies.iter().filter(|r| r.status == 201).count(), 1);
    assert!(replies.iter().all(|r| r.status == 201 || r.status == 200));
    assert_eq!(list_ids(&app).await.len(), 3);
}

#[tokio::test]
async fn concurrent_creates_with_different_bodies_make_one_invoice() {
    let app = TestApp::spawn().await;
    let replies = futures::future::join_all((1..=10).map(|i| {
        create(&app, json!({"reference_id": "race-diff", "amount": i, "currency": "USD", "service": "payment_card_usd_hpp"}))
    }))
    .await;
    let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1);
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_error_entry(r, "Conflict", 409);
    }
    assert_eq!(list_ids(&app).await, [winners[0].id()]);
}

// ---------------------------------------------------------------- test service outcomes

#[tokio::test]
async fn the_test_service_status_field_chooses_the_outcome() {
    let app = TestApp::spawn().await;
    // (asked for, status, resolution, processed amount of 100.50)
    let cases = [
        ("processed", "processed", "ok", json!(100.5)),
        (
            "partially_processed",
            "partially_processed",
            "ok",
            json!(50.25),
        ),
        ("process_failed", "process_failed", "declined", Value::Null),
        ("terminated", "terminated", "terminated", Value::Null),
        ("processing", "processing", "ok", Value::Null),
    ];
    let mut ids = Vec::new();
    for (asked, ..) in &cases {
        let reply = create(&app, test_invoice(asked)).await;
        reply.expect(201);
        assert_eq!(
            reply.attributes()["status"],
            "process_pending",
            "first acknowledged as pending"
        );
        assert_eq!(reply.attributes()["original_data"]["provider_code"], "test");
        ids.push(reply.id());
    }
    for ((asked, status, resolution, processed), id) in cases.iter().zip(&ids) {
        let a = app
            .wait_for_invoice(id, status, |a| a["status"] == *status)
            .await;
        assert_eq!(a["resolution"], *resolution, "{asked}");
        assert_eq!(a["processed_amount"], *processed, "{asked}");
        if processed.is_null() {
            assert_eq!(a["processed"], Value::Null, "{asked}");
        } else {
            assert_eq!(a["processed"], json!(now(&app)), "{asked}");
            assert_eq!(a["processed_deposit"], *processed, "{asked}");
            assert_eq!(a["processed_fee"], json!(0), "{asked}");
        }
        // The public view agrees.
        let path = format!(
            "/public-api/payment-invoices/{id}?public_key={}",
            app.test_public_key()
        );
        let public = send(app.http.get(app.url(&path))).await;
        assert_eq!(public.json["data"]["status"], *status);
        assert_eq!(public.json["data"]["resolution"], resolution.to_uppercase());
        let active = if *status == "processing" {
            "invoked"
        } else {
            status
        };
        assert_eq!(public.json["data"]["active_payment"]["status"], active);
    }

    // process_pending stays pending: the provider has nothing to report.
    let pending = create(&app, test_invoice("process_pending")).await;
    pending.expect(201);
    while app.engine().run_workers_once().await {}
    let a = app.invoice(&pending.id()).await;
    assert_eq!(a["status"], "process_pending");
    assert_eq!(a["resolution"], "ok");
}

#[tokio::test]
async fn final_statuses_stay_final() {
    let app = TestApp::spawn().await;
    let mut finals = Vec::new();
    for asked in [
        "processed",
        "partially_processed",
        "process_failed",
        "terminated",
    ] {
        let id = create(&app, test_invoice(asked)).await.id();
        let a = app
            .wait_for_invoice(&id, asked, |a| a["status"] == asked)
            .await;
        finals.push((id, a));
    }
    let processing = create(&app, test_invoice("processing")).await.id();
    app.wait_for_invoice(&processing, "processing", |a| a["status"] == "processing")
        .await;

    // Far past every expiry: the open one expires, the outcomes do not move.
    app.advance_secs(3 * 24 * 3600);
    app.wait_for_invoice(&processing, "expired", |a| a["status"] == "expired")
        .await;
    while app.engine().run_workers_once().await {}
    for (id, before) in &finals {
        let after = app.invoice(id).await;
        for key in [
            "status",
            "resolution",
            "processed_amount",
            "processed",
            "updated",
        ] {
            assert_eq!(after[key], before[key], "{id}: {key} changed");
        }
    }
}

// ---------------------------------------------------------------- expiry

#[tokio::test]
async fn an_invoice_expires_when_the_clock_passes_expires() {
    let app = TestApp::spawn().await;
    let t = now(&app);
    let mut attributes = test_invoice("process_pending");
    attributes["expires"] = json!(rfc3339(t + 15 * 60));
    let id = create(&app, attributes).await.id();

    // Not yet: 14 minutes on it is still pending.
    app.advance_secs(14 * 60);
    while app.engine().run_workers_once().await {}
    assert_eq!(app.invoice(&id).await["status"], "process_pending");

    app.advance_secs(2 * 60);
    let a = app
        .wait_for_invoice(&id, "expired", |a| a["status"] == "expired")
        .await;
    assert_eq!(a["resolution"], "expired");
    assert_eq!(a["updated"], json!(t + 16 * 60));
    assert_eq!(a["processed_amount"], Value::Null);
    let path = format!(
        "/public-api/payment-invoices/{id}?public_key={}",
        app.test_public_key()
    );
    let public = send(app.http.get(app.url(&path))).await;
    assert_eq!(public.json["data"]["status"], "expired");
    assert_eq!(public.json["data"]["resolution"], "EXPIRED");
    assert_eq!(public.json["data"]["active_payment"]["status"], "expired");
}

#[tokio::test]
async fn without_expires_an_invoice_lives_a_day() {
    let app = TestApp::spawn().await;
    let id = create(
        &app,
        json!({"amount": 1, "currency": "USD", "service": "payment_card_usd_hpp"}),
    )
    .await
    .id();
    app.advance_secs(24 * 3600 - 1);
    while app.engine().run_workers_once().await {}
    assert_eq!(app.invoice(&id).await["status"], "process_pending");
    app.advance_secs(1);
    let a = app
        .wait_for_invoice(&id, "expired", |a| a["status"] == "expired")
        .await;
    assert_eq!(a["resolution"], "expired");
}

// ---------------------------------------------------------------- callbacks resend

#[tokio::test]
async fn resending_a_callback() {
    let app = TestApp::spawn().await;
    let mut attributes = test_invoice("process_pending");
    attributes["callback_url"] = json!("http://127.0.0.1:9/cb");
    let with_url = create(&app, attributes).await.id();
    let without_url = create(&app, test_invoice("process_pending")).await.id();

    let resend = |id: &str| {
        send(app.private(
            Method::POST,
            &format!("/api/payment-invoices/{id}/callbacks"),
        ))
    };
    let reply = resend(&with_url).await;
    reply.expect(202);
    assert!(reply.json["data"]["id"]
        .as_str()
        .unwrap()
        .starts_with("cb_"));
    assert_eq!(reply.json["data"]["type"], "callbacks");
    assert_eq!(
        reply.json["data"]["attributes"]["url"],
        "http://127.0.0.1:9/cb"
    );
    assert_eq!(
        reply.json["data"]["attributes"]["transaction_status"],
        "process_pending"
    );

    let no_url = resend(&without_url).await;
    assert_invalid_field(&no_url, "callback_url");
    let unknown = resend("cpi_AAAAAAAAAAAAAAAA").await;
    unknown.expect(404);
    assert_eq!(unknown.json, not_found());
    let other = other_merchant(&app).await;
    let foreign = send(private_as(
        &app,
        &other.test,
        Method::POST,
        &format!("/api/payment-invoices/{with_url}/callbacks"),
    ))
    .await;
    foreign.expect(404);
    let anonymous = send(
        app.http
            .post(app.url(&format!("/api/payment-invoices/{with_url}/callbacks"))),
    )
    .await;
    anonymous.expect(401);
    assert_eq!(anonymous.json, unauthorized());
}

#[tokio::test]
async fn a_live_key_cannot_make_invoices_it_would_not_see() {
    // The key decides the mode. A live key asking for a test invoice used to
    // get a 201 for an invoice that same key then could not find (404), whose
    // callbacks were signed with the test secret.
    let app = TestApp::spawn().await;
    let message =
        "This value should be false with a live key: test invoices are made with the test key.";
    let attributes = json!({"reference_id": "live-test", "amount": 10, "currency": "USD", "service": "payment_card_usd_hpp", "test_mode": true});
    let private = create_as(&app, &app.merchant.live, attributes.clone()).await;
    assert_eq!(
        (private.status, &private.json),
        (422, &invalid("test_mode", message))
    );
    let mut public = attributes.clone();
    public["public_key"] = json!(app.merchant.live.public_key);
    let reply = post_json(&app, "/public-api/payment-invoices", &public).await;
    assert_eq!(
        (reply.status, &reply.json),
        (422, &invalid("test_mode", message))
    );
    let form = post_form(
        &app,
        &[
            ("public_key", app.merchant.live.public_key.as_str()),
            ("currency", "USD"),
            ("amount", "10"),
            ("service", "payment_card_usd_hpp"),
            ("test_mode", "true"),
        ],
    )
    .await;
    form.expect(422);
    assert!(form.text.contains("test_mode"), "{}", form.text);
    assert_none_created(invoice_count(&app).await, "live key with test_mode");

    // With test_mode false (or absent) the live key makes a live invoice it can read back.
    let mut live = attributes.clone();
    live["test_mode"] = json!(false);
    let reply = create_as(&app, &app.merchant.live, live).await;
    reply.expect(201);
    assert_eq!(reply.attributes()["test_mode"], false);
    get_as(
        &app,
        &app.merchant.live,
        &format!("/api/payment-invoices/{}", reply.id()),
    )
    .await
    .expect(200);

    // The test key makes test invoices whatever test_mode says.
    for test_mode in [json!(true), json!(false)] {
        let reply = create(&app, json!({"amount": 10, "currency": "USD", "service": "payment_card_usd_hpp", "test_mode": test_mode})).await;
        reply.expect(201);
        assert_eq!(reply.attributes()["test_mode"], true);
        get(&app, &format!("/api/payment-invoices/{}", reply.id()))
            .await
            .expect(200);
    }
}
