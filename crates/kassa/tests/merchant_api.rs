//! The Merchant API end to end: a real server over a real SQLite file, signed
//! requests, P2P deals on seeded traders' cabinets, callbacks to a receiver
//! the test runs, and a clock the test moves.

mod common;
mod merchant_api_support;
mod receiver;

use common::{test_invoice, TestApp};
use kassa_engine::merchants::NewMerchant;
use kassa_engine::p2p::BookRequest;
use merchant_api_support::*;
use receiver::{Received, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

const DEAL_TTL_SECS: i64 = 30 * 60;
const INVOICE_TTL_SECS: i64 = 60 * 60;

fn book(request_id: &str, amount_minor: i64) -> BookRequest {
    BookRequest {
        request_id: request_id.into(),
        method: "card".into(),
        currency: "RUB".into(),
        amount_minor,
        bank_name: None,
    }
}

/// The deal of an InvoiceDTO that has exactly one.
#[track_caller]
fn the_deal(dto: &Value) -> &Value {
    let deals = dto["deals"].as_array().expect("deals");
    assert_eq!(deals.len(), 1, "{dto}");
    &deals[0]
}

/// Checks a callback's `X-Notification-Token` and `X-Signature`.
#[track_caller]
fn assert_signed(app: &TestApp, r: &Received, token: &str) {
    assert_eq!(r.header("x-notification-token"), token);
    assert_eq!(
        r.header("x-signature"),
        hmac_hex(&app.merchant.test.callback_secret, &r.body),
        "X-Signature is HMAC-SHA256(callback secret, body)"
    );
    assert!(r.header("webhook-signature").starts_with("v1,"));
    assert!(!r.header("webhook-id").is_empty());
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_a_valid_identity_or_signature_are_refused() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let text = body("auth-1", "1000.00").to_string();
    let good = hmac_hex(&api.secret, text.as_bytes());
    let post = || {
        api.request(Method::POST, PATH)
            .header("content-type", "application/json")
            .body(text.clone())
    };

    let r = send(post().header("X-Signature", &good)).await;
    r.expect_error(401, "unauthorized", None);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Identity"));

    let r = send(
        post()
            .header("X-Identity", "ma_test_nobody")
            .header("X-Signature", &good),
    )
    .await;
    r.expect_error(401, "unauthorized", None);

    let r = send(post().header("X-Identity", &api.key)).await;
    r.expect_error(401, "unauthorized", None);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Signature"));

    for wrong in [
        "".to_string(),
        "00".repeat(32),
        hmac_hex("not the secret", text.as_bytes()),
        // The live secret does not sign for the test key.
        hmac_hex(&app.merchant.live.merchant_api_secret, text.as_bytes()),
        // A signature of other text: the path, or the body with a space more.
        hmac_hex(&api.secret, PATH.as_bytes()),
        hmac_hex(&api.secret, format!("{text} ").as_bytes()),
    ] {
        let r = send(
            post()
                .header("X-Identity", &api.key)
                .header("X-Signature", &wrong),
        )
        .await;
        r.expect_error(401, "unauthorized", None);
    }

    // The identity is case-sensitive; the hex is accepted in either case.
    let r = send(
        post()
            .header("X-Identity", api.key.to_uppercase())
            .header("X-Signature", &good),
    )
    .await;
    r.expect_error(401, "unauthorized", None);
    let r = send(
        post()
            .header("X-Identity", &api.key)
            .header("X-Signature", good.to_uppercase()),
    )
    .await;
    r.expect(201);

    // Nothing was made by the refused requests.
    let list = api.get(PATH).await;
    assert_eq!(list.expect(200)["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_get_signs_its_path_and_query() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let id = api.post(&body("get-1", "10")).await.id();
    let path = format!("{PATH}/{id}");

    let dto = api.get(&path).await.expect(200).clone();
    assert_eq!(dto["id"], id.as_str());

    let get = |signature: String| {
        api.request(Method::GET, &path)
            .header("X-Identity", &api.key)
            .header("X-Signature", signature)
    };
    // The whole URL, the path without its leading slash, an empty body: no.
    for text in [app.url(&path), path[1..].to_string(), String::new()] {
        send(get(hmac_hex(&api.secret, text.as_bytes())))
            .await
            .expect_error(401, "unauthorized", None);
    }
    send(
        api.request(Method::GET, &path)
            .header("X-Identity", &api.key),
    )
    .await
    .expect_error(401, "unauthorized", None);
    send(api.request(Method::GET, &path))
        .await
        .expect_error(401, "unauthorized", None);

    // The query is part of the signed text.
    let listed = api.get(&format!("{PATH}?limit=5")).await;
    assert_eq!(listed.expect(200)["items"][0]["id"], id.as_str());
    let r = send(
        api.request(Method::GET, &format!("{PATH}?limit=5"))
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, PATH.as_bytes())),
    )
    .await;
    r.expect_error(401, "unauthorized", None);
}

#[tokio::test]
async fn a_get_carrying_a_captured_post_body_is_refused() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    // A POST someone saw on the wire: its body and its valid signature.
    let captured = body("captured-1", "10").to_string();
    let signature = hmac_hex(&api.secret, captured.as_bytes());
    let id = api.post_raw(&captured).await.id();
    // Replayed as reads, they open nothing: a GET is signed by its path
    // and query, whatever body it carries.
    for path in [
        format!("{PATH}/{id}"),
        PATH.to_string(),
        format!("{PATH}?limit=100"),
        "/api/merchant/balance".to_string(),
    ] {
        send(
            api.request(Method::GET, &path)
                .header("X-Identity", &api.key)
                .header("X-Signature", &signature)
                .header("content-type", "application/json")
                .body(captured.clone()),
        )
        .await
        .expect_error(401, "unauthorized", None);
        // A GET signed right is answered whatever body it carries.
        send(
            api.request(Method::GET, &path)
                .header("X-Identity", &api.key)
                .header("X-Signature", hmac_hex(&api.secret, path.as_bytes()))
                .body(captured.clone()),
        )
        .await
        .expect(200);
    }
}

#[tokio::test]
async fn invoices_of_other_merchants_modes_and_apis_are_not_found() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let id = api.post(&body("mine", "10")).await.id();

    let other = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let theirs = Api::with(&app, &other.test);
    theirs
        .get(&format!("{PATH}/{id}"))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(theirs.get(PATH).await.expect(200)["items"], json!([]));

    // The live key of the same merchant sees live invoices only.
    let live = Api::with(&app, &app.merchant.live);
    live.get(&format!("{PATH}/{id}"))
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(live.get(PATH).await.expect(200)["items"], json!([]));

    // A Checkout API invoice is not a Merchant API invoice.
    let (status, checkout) = app.create_private(test_invoice("process_pending")).await;
    assert_eq!(status, 201);
    let checkout_id = checkout["data"]["id"].as_str().unwrap();
    api.get(&format!("{PATH}/{checkout_id}"))
        .await
        .expect_error(404, "not_found", None);

    for path in [
        format!("{PATH}/cpi_nonexistent"),
        format!("{PATH}/{}", "x".repeat(300)),
        // Not UTF-8 once decoded.
        format!("{PATH}/%FF%FE"),
    ] {
        api.get(&path).await.expect_error(404, "not_found", None);
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_invalid_field_is_named_and_nothing_is_made() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let base = body("v-1", "1000.00");
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (without("type"), "type"),
        (with("type", json!("sideways")), "type"),
        (with("type", json!(1)), "type"),
        (without("amount"), "amount"),
        (with("amount", json!(1000)), "amount"),
        (with("amount", json!(1000.5)), "amount"),
        (with("amount", json!("ten")), "amount"),
        (with("amount", json!("1e3")), "amount"),
        (with("amount", json!("10.001")), "amount"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!("-5.00")), "amount"),
        (with("amount", json!("99999999999999999999")), "amount"),
        (with("amount", json!("100000000.00")), "amount"),
        (without("currency"), "currency"),
        (with("currency", json!("XXX")), "currency"),
        (with("currency", json!(643)), "currency"),
        (without("notificationUrl"), "notificationUrl"),
        (
            with("notificationUrl", json!("not a url")),
            "notificationUrl",
        ),
        (
            with("notificationUrl", json!("ftp://example.com/x")),
            "notificationUrl",
        ),
        (without("notificationToken"), "notificationToken"),
        (with("notificationToken", json!("")), "notificationToken"),
        (
            with("notificationToken", json!("x".repeat(256))),
            "notificationToken",
        ),
        (
            with("notificationToken", json!("line\nbreak")),
            "notificationToken",
        ),
        (
            with("notificationToken", json!("токен")),
            "notificationToken",
        ),
        (with("internalId", json!("")), "internalId"),
        (with("internalId", json!("i".repeat(256))), "internalId"),
        (with("internalId", json!(1)), "internalId"),
        (with("userId", json!("u".repeat(256))), "userId"),
        (with("userId", json!(7)), "userId"),
        (with("paymentMethod", json!("")), "paymentMethod"),
        (
            with("paymentMethod", json!("b".repeat(65))),
            "paymentMethod",
        ),
        (with("paymentMethod", json!(["sberbank"])), "paymentMethod"),
        (with("paymentOption", json!("BTC")), "paymentOption"),
        (with("paymentOption", json!("")), "paymentOption"),
        (
            with("paymentOption", json!("O".repeat(40))),
            "paymentOption",
        ),
        (with("paymentOption", json!(true)), "paymentOption"),
        (with("startDeal", json!("yes")), "startDeal"),
        (with("startDeal", json!(1)), "startDeal"),
        (
            with(
                "paymentRequisites",
                json!({"requisites": "2200123456789012"}),
            ),
            "paymentRequisites",
        ),
    ];
    for (b, field) in &cases {
        let r = api.post(b).await;
        let error = r.expect_error(422, "validation_error", Some(field));
        assert_eq!(
            error["fields"].as_object().unwrap().len(),
            1,
            "only {field} is wrong: {}",
            r.text
        );
    }
    // Several wrong fields are named together.
    let mut b = without("currency");
    b["amount"] = json!(5);
    b["startDeal"] = json!("no");
    let r = api.post(&b).await;
    let error = r.expect_error(422, "validation_error", Some("amount"));
    for field in ["currency", "startDeal"] {
        assert!(error["fields"][field].is_string(), "{}", r.text);
    }

    // A pay-in body as a payout lacks what a payout needs (tests/merchant_api_out.rs).
    let r = api.post(&with("type", json!("out"))).await;
    r.expect_error(422, "validation_error", Some("paymentRequisites"));

    // What is not JSON, or not an object, is a 400.
    for text in ["{", "not json", "[1, 2]", "\"in\"", "null"] {
        api.post_raw(text)
            .await
            .expect_error(400, "bad_request", None);
    }
    // An empty body signs the path, like a GET, and is no invoice either.
    send(
        api.request(Method::POST, PATH)
            .header("X-Identity", &api.key)
            .header("X-Signature", hmac_hex(&api.secret, PATH.as_bytes())),
    )
    .await
    .expect_error(400, "bad_request", None);
    // More than 64 KiB is a 413.
    let mut big = base.clone();
    big["userId"] = json!("u".repeat(70 * 1024));
    api.post(&big)
        .await
        .expect_error(413, "payload_too_large", None);

    let list = api.get(PATH).await;
    assert_eq!(list.expect(200)["items"], json!([]), "nothing was made");

    // The same body, fixed, is accepted.
    api.post(&base).await.expect(201);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_merchant_api_shape() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    for (method, path) in [
        (Method::DELETE, PATH.to_string()),
        (Method::PUT, format!("{PATH}/cpi_x")),
        (Method::POST, format!("{PATH}/cpi_x")),
    ] {
        send(api.request(method, &path))
            .await
            .expect_error(405, "method_not_allowed", None);
    }
    send(api.request(Method::GET, "/api/merchant/payouts"))
        .await
        .expect_error(404, "not_found", None);
}

#[tokio::test]
async fn the_listing_pages_with_cursors_and_checks_its_parameters() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(api.post(&body(&format!("list-{i}"), "10")).await.id());
        // A Checkout invoice in between: the listing skips it.
        let (status, _) = app.create_private(test_invoice("process_pending")).await;
        assert_eq!(status, 201);
    }
    ids.reverse(); // newest first

    let first = api
        .get(&format!("{PATH}?limit=2"))
        .await
        .expect(200)
        .clone();
    let got: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);
    for item in first["items"].as_array().unwrap() {
        assert_shape(item);
    }
    assert_eq!(first["paging"]["limit"], 2);
    assert_eq!(first["paging"]["hasMore"], true);
    assert_eq!(first["paging"]["nextAfter"], ids[1].as_str());
    let next = first["paging"]["next"].as_str().unwrap();
    assert_eq!(next, format!("{PATH}?limit=2&after={}", ids[1]));

    let second = api.get(next).await.expect(200).clone();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], ids[2].as_str());
    assert_eq!(second["paging"]["hasMore"], false);
    assert_eq!(second["paging"]["next"], Value::Null);

    // The default page holds all three.
    let all = api.get(PATH).await.expect(200).clone();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(all["paging"]["limit"], 20);

    // By internalId.
    let found = api.get(&format!("{PATH}?internalId=list-1")).await;
    let found = found.expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["internalId"], "list-1");
    let none = api.get(&format!("{PATH}?internalId=nope")).await;
    assert_eq!(none.expect(200)["items"], json!([]));

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("page=2", "page"),
        ("after=cpi_unknown", "after"),
        ("after=", "after"),
        ("internalId=", "internalId"),
        ("sort=asc", "sort"),
    ] {
        api.get(&format!("{PATH}?{query}")).await.expect_error(
            422,
            "validation_error",
            Some(field),
        );
    }
}

// ---------------------------------------------------------------------------
// Creation, the InvoiceDTO, idempotency
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_invoice_without_a_deal_has_every_field_of_the_invoice_dto() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let now = app.engine().now_secs();
    let mut b = body("00001", "1000");
    b["paymentMethod"] = json!("sberbank");
    let r = api.post(&b).await;
    let dto = r.expect(201).clone();
    assert_shape(&dto);
    let id = dto["id"].as_str().unwrap();
    assert!(id.starts_with("cpi_"), "{id}");
    assert_eq!(dto["internalId"], "00001");
    assert_eq!(dto["userId"], "uid-1");
    assert_eq!(dto["type"], "in");
    assert_eq!(dto["status"], "new");
    assert_eq!(dto["paymentMethod"], "sberbank");
    assert_eq!(dto["paymentOption"], Value::Null);
    assert_eq!(dto["paymentRequisites"], Value::Null);
    assert_eq!(
        dto["sum"],
        json!({"amount": "1000.00", "currency": "RUB", "subunit": 2})
    );
    assert_eq!(dto["storeId"], app.merchant.site_id);
    assert_eq!(dto["storeName"], "Test Shop");
    for key in [
        "receivedSumFromTaker",
        "receivedSumFromMaker",
        "serviceFeeSum",
        "payoutSum",
    ] {
        assert_eq!(dto[key], Value::Null, "{key}");
    }
    assert_eq!(secs(&dto["createdAt"]), now);
    assert_eq!(secs(&dto["updatedAt"]), now);
    assert_eq!(secs(&dto["expireAt"]), now + INVOICE_TTL_SECS);
    assert_eq!(dto["invoiceUrl"], format!("{}/hpp/{id}", app.base_url));
    assert_eq!(dto["deals"], json!([]));

    // GET answers the same.
    assert_eq!(api.invoice(id).await, dto);

    // Without internalId none is shown; amounts have every decimal place.
    let mut b = body("unused", "5.5");
    b.as_object_mut().unwrap().remove("internalId");
    b["userId"] = Value::Null;
    let dto = api.post(&b).await.expect(201).clone();
    assert_eq!(dto["internalId"], Value::Null);
    assert_eq!(dto["userId"], Value::Null);
    assert_eq!(dto["sum"]["amount"], "5.50");
}

#[tokio::test]
async fn the_same_internal_id_returns_the_same_invoice_or_a_conflict() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let first = api
        .post(&body("idem-1", "1000.00"))
        .await
        .expect(201)
        .clone();

    // The same body, however written: 200 and the same invoice.
    let same = api
        .post(&body("idem-1", "1000.00"))
        .await
        .expect(200)
        .clone();
    assert_eq!(same, first);
    let reordered = r#"{"userId":"uid-1","internalId":"idem-1","amount":"1000","currency":"RUB","type":"in","notificationToken":"merchant_notification_token","notificationUrl":"http://127.0.0.1:9/callbacks"}"#;
    assert_eq!(api.post_raw(reordered).await.expect(200)["id"], first["id"]);

    // Another body under the same internalId: 409, and the invoice is unchanged.
    for (key, value) in [
        ("amount", json!("1000.01")),
        ("userId", json!("uid-2")),
        ("notificationToken", json!("other")),
        ("startDeal", json!(true)),
    ] {
        let mut b = body("idem-1", "1000.00");
        b[key] = value;
        let r = api.post(&b).await;
        r.expect_error(409, "idempotency_conflict", Some("internalId"));
    }
    assert_eq!(api.invoice(first["id"].as_str().unwrap()).await, first);

    // The key is per mode: the live key may use it for its own invoice.
    let live = Api::with(&app, &app.merchant.live);
    let other = live
        .post(&body("idem-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    assert_ne!(other["id"], first["id"]);
}

// ---------------------------------------------------------------------------
// Deals
// ---------------------------------------------------------------------------

#[tokio::test]
async fn start_deal_books_a_cabinet_and_shows_the_deal() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let card = cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let now = app.engine().now_secs();
    let dto = api
        .post(&deal_body("deal-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    assert_shape(&dto);
    assert_eq!(dto["status"], "new");
    // No paymentMethod was asked for: the deal's bank is shown.
    assert_eq!(dto["paymentMethod"], "sberbank");
    let deal = the_deal(&dto);
    assert!(deal["id"].as_str().unwrap().starts_with("deal_"));
    assert_eq!(deal["type"], "in");
    assert_eq!(deal["status"], "transfer_waiting");
    assert_eq!(deal["paymentMethod"], "sberbank");
    assert_eq!(deal["paymentOption"], "CARD");
    assert_eq!(
        deal["requisites"],
        json!({"requisites": "2200123456789012", "holder": "Ivan I."})
    );
    assert_eq!(secs(&deal["canceledAt"]), now + DEAL_TTL_SECS);
    assert_iso(&deal["canceledAt"]);
    assert_eq!(deal["disputeAttachment"], Value::Null);
    assert_eq!(deal["disputeReason"], Value::Null);
    assert_eq!(deal["disputeReasonData"], json!([]));
    assert_eq!(deal["payment"], Value::Null);
    assert_eq!(deal["rate"], Value::Null);
    assert_eq!(deal["isActive"], true);
    assert_eq!(deal["qrCodeLink"], Value::Null);
    let engine_deal = app
        .engine()
        .deal(deal["id"].as_str().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(engine_deal.cabinet_id, card.id);
    assert_eq!(engine_deal.amount_minor, 100_000);

    // A repeat is the same invoice and the same deal, not a second booking.
    let again = api
        .post(&deal_body("deal-1", "1000.00"))
        .await
        .expect(200)
        .clone();
    assert_eq!(again, dto);
    assert_eq!(
        app.engine()
            .trader_deals(card.trader_id.clone(), true)
            .await
            .unwrap()
            .len(),
        1
    );

    // An SBP deal: the phone, and the SBP link of its QR code.
    cabinet(&app, "sbp", "sberbank", "+7(996)777-99-77").await;
    let mut b = deal_body("deal-sbp", "1000.00");
    b["paymentOption"] = json!("SBP");
    b["paymentMethod"] = json!("sberbank");
    let dto = api.post(&b).await.expect(201).clone();
    assert_eq!(dto["paymentOption"], "SBP");
    let deal = the_deal(&dto);
    assert_eq!(deal["paymentOption"], "SBP");
    // Kept as `+` and digits, as every phone requisite is.
    assert_eq!(deal["requisites"]["requisites"], "+79967779977");
    assert_eq!(
        deal["qrCodeLink"],
        "https://www.sberbank.com/sms/pbpn?requisiteNumber=79967779977"
    );
}

#[tokio::test]
async fn without_a_matching_cabinet_nothing_is_made_and_a_retry_may_succeed() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    api.post(&deal_body("nc-1", "1000.00"))
        .await
        .expect_error(422, "no_cabinet", None);
    // A cabinet of another bank does not match a paymentMethod.
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut b = deal_body("nc-1", "1000.00");
    b["paymentMethod"] = json!("tinkoff");
    api.post(&b).await.expect_error(422, "no_cabinet", None);
    assert_eq!(api.get(PATH).await.expect(200)["items"], json!([]));

    // The internalId was not used up by the failures.
    let dto = api
        .post(&deal_body("nc-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    assert_eq!(the_deal(&dto)["paymentMethod"], "sberbank");
}

#[tokio::test]
async fn a_booked_amount_becomes_the_deal_and_stops_expiring() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    cabinet(&app, "card", "sberbank", "2200987654321098").await;
    let merchant = merchant(&app).await;
    let hold = app
        .engine()
        .book_cabinet_in(&merchant, true, book("book-1", 100_000))
        .await
        .unwrap();
    assert_eq!(hold.amount_minor, 100_000);

    let dto = api
        .post(&deal_body("held-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    let deal_id = the_deal(&dto)["id"].as_str().unwrap().to_string();
    let deal = app.engine().deal(deal_id.clone()).await.unwrap();
    assert_eq!(
        deal.hold_id, hold.hold_id,
        "the deal took the merchant's hold"
    );
    assert_eq!(deal.cabinet_id, hold.cabinet_id, "on the hold's cabinet");
    assert_eq!(deal.amount_minor, 100_000);
    assert_eq!(dto["sum"]["amount"], "1000.00");

    // Past the hold's 30 s the amount stays the deal's: 1000.00 can be booked
    // exactly once more (on the other cabinet), then only as an alternative.
    app.advance_secs(60);
    app.engine().run_workers_once().await;
    let dto = api.invoice(dto["id"].as_str().unwrap()).await;
    assert_eq!(dto["status"], "new");
    assert_eq!(the_deal(&dto)["status"], "transfer_waiting");
    let other = app
        .engine()
        .book_cabinet_in(&merchant, true, book("book-2", 100_000))
        .await
        .unwrap();
    assert_eq!(other.amount_minor, 100_000);
    let third = app
        .engine()
        .book_cabinet_in(&merchant, true, book("book-3", 100_000))
        .await
        .unwrap();
    assert_eq!(
        third.amount_minor, 100_100,
        "1000.00 is held on both cabinets"
    );
    let deal = app.engine().deal(deal_id).await.unwrap();
    assert_eq!(deal.hold_id, hold.hold_id);
    assert_eq!(deal.status.as_str(), "transfer_waiting");
}

#[tokio::test]
async fn the_hold_taken_is_the_one_on_the_bank_asked_for() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let tinkoff = cabinet(&app, "card", "tinkoff", "2200987654321098").await;
    let merchant = merchant(&app).await;
    let mut request = book("book-sber", 100_000);
    request.bank_name = Some("sberbank".into());
    let sber_hold = app
        .engine()
        .book_cabinet_in(&merchant, true, request)
        .await
        .unwrap();
    app.advance_secs(1);
    let mut request = book("book-tinkoff", 100_000);
    request.bank_name = Some("tinkoff".into());
    let tinkoff_hold = app
        .engine()
        .book_cabinet_in(&merchant, true, request)
        .await
        .unwrap();
    assert_eq!(tinkoff_hold.amount_minor, 100_000);

    // The older hold (sberbank) does not match the bank; the tinkoff one does.
    let mut b = deal_body("bank-1", "1000.00");
    b["paymentMethod"] = json!("Tinkoff");
    let dto = api.post(&b).await.expect(201).clone();
    assert_eq!(dto["sum"]["amount"], "1000.00");
    let deal = app
        .engine()
        .deal(the_deal(&dto)["id"].as_str().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(deal.hold_id, tinkoff_hold.hold_id);
    assert_eq!(deal.cabinet_id, tinkoff.id);
    assert_ne!(deal.hold_id, sber_hold.hold_id);
}

#[tokio::test]
async fn a_taken_amount_gets_an_alternative_until_all_are_taken() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut amounts = Vec::new();
    for i in 0..7 {
        let dto = api
            .post(&deal_body(&format!("alt-{i}"), "1000.00"))
            .await
            .expect(201)
            .clone();
        assert_eq!(the_deal(&dto)["status"], "transfer_waiting");
        amounts.push(dto["sum"]["amount"].as_str().unwrap().to_string());
    }
    assert_eq!(
        amounts,
        ["1000.00", "1001.00", "1002.00", "1003.00", "1004.00", "1005.00", "1006.00"]
    );
    api.post(&deal_body("alt-7", "1000.00"))
        .await
        .expect_error(409, "amounts_taken", None);
    assert_eq!(
        api.get(PATH).await.expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

#[tokio::test]
async fn the_rate_is_shown_on_the_deal() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    app.engine()
        .set_rate(rub(), "99.23".to_string())
        .await
        .unwrap();
    let dto = api
        .post(&deal_body("rate-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    assert_eq!(the_deal(&dto)["rate"], "99.23");
}

// ---------------------------------------------------------------------------
// The deal's life, and the notifications of it
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_merchant_hears_of_the_invoice_and_of_its_completion() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let receiver = Receiver::start(&[], 200);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut b = deal_body("notify-1", "1000.00");
    b["notificationUrl"] = json!(receiver.url());
    b["notificationToken"] = json!("tok-123");
    let created = api.post(&b).await.expect(201).clone();

    let got = receiver.wait_for(1).await;
    assert_signed(&app, &got[0], "tok-123");
    assert_eq!(got[0].json(), created, "the callback is the InvoiceDTO");
    assert_shape(&got[0].json());

    let id = created["id"].as_str().unwrap();
    let deal_id = the_deal(&created)["id"].as_str().unwrap().to_string();
    callbacks_settled(&app, id).await;
    app.advance_secs(5 * 60);
    app.engine().confirm_deal(None, deal_id).await.unwrap();

    let got = receiver.wait_for(2).await;
    assert_signed(&app, &got[1], "tok-123");
    let done = got[1].json();
    assert_shape(&done);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["receivedSumFromMaker"], "1000.00");
    assert_eq!(done["receivedSumFromTaker"], Value::Null);
    assert_eq!(done["serviceFeeSum"], "0.00");
    assert_eq!(done["storeId"], app.merchant.site_id);
    let deal = the_deal(&done);
    assert_eq!(deal["status"], "completed");
    assert_eq!(deal["isActive"], false);
    assert_eq!(deal["payment"]["amount"], "1000.00");
    assert_eq!(deal["payment"]["currency"], "RUB");
    assert_eq!(
        secs(&deal["payment"]["paidAt"]),
        secs(&created["createdAt"]) + 5 * 60
    );
    assert_eq!(
        secs(&done["updatedAt"]),
        secs(&created["createdAt"]) + 5 * 60
    );
    assert_eq!(api.invoice(id).await, done);
}

#[tokio::test]
async fn a_deal_past_its_deadline_is_canceled_and_frees_its_amount() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let receiver = Receiver::start(&[], 200);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut b = deal_body("expire-1", "1000.00");
    b["notificationUrl"] = json!(receiver.url());
    let dto = api.post(&b).await.expect(201).clone();
    let id = dto["id"].as_str().unwrap();
    receiver.wait_for(1).await;
    callbacks_settled(&app, id).await;

    app.advance_secs(DEAL_TTL_SECS - 10);
    receiver.stays_at(1).await;
    assert_eq!(api.invoice(id).await["status"], "new");

    app.advance_secs(11);
    let canceled = api
        .wait_for(id, "the deal to end", |d| d["status"] == "canceled")
        .await;
    let deal = the_deal(&canceled);
    assert_eq!(deal["status"], "canceled");
    assert_eq!(deal["isActive"], false);
    assert_eq!(deal["payment"], Value::Null);
    assert_eq!(canceled["receivedSumFromMaker"], Value::Null);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["status"], "canceled");
    assert_signed(&app, &got[1], "merchant_notification_token");

    // The amount is free: a new invoice gets it exactly, on a booking or not.
    let merchant = merchant(&app).await;
    let hold = app
        .engine()
        .book_cabinet_in(&merchant, true, book("after-expiry", 100_000))
        .await
        .unwrap();
    assert_eq!(hold.amount_minor, 100_000);
    let again = api
        .post(&deal_body("expire-2", "1000.00"))
        .await
        .expect(201)
        .clone();
    assert_eq!(again["sum"]["amount"], "1000.00");
    assert_eq!(
        app.engine()
            .deal(the_deal(&again)["id"].as_str().unwrap().to_string())
            .await
            .unwrap()
            .hold_id,
        hold.hold_id
    );
}

#[tokio::test]
async fn an_invoice_without_a_deal_expires_at_expire_at() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let receiver = Receiver::start(&[], 200);
    let mut b = body("lapse-1", "10.00");
    b["notificationUrl"] = json!(receiver.url());
    let id = api.post(&b).await.id();
    receiver.wait_for(1).await;
    callbacks_settled(&app, &id).await;
    app.advance_secs(INVOICE_TTL_SECS - 1);
    receiver.stays_at(1).await;
    app.advance_secs(1);
    let expired = api
        .wait_for(&id, "the invoice to expire", |d| d["status"] == "expired")
        .await;
    assert_eq!(expired["deals"], json!([]));
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["status"], "expired");
    assert_signed(&app, &got[1], "merchant_notification_token");
}

#[tokio::test]
async fn a_customer_who_says_they_paid_gets_a_dispute_that_can_complete() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let dto = api
        .post(&deal_body("dispute-1", "1000.00"))
        .await
        .expect(201)
        .clone();
    let id = dto["id"].as_str().unwrap().to_string();
    let deal_id = the_deal(&dto)["id"].as_str().unwrap().to_string();

    app.advance_secs(10 * 60);
    app.engine().customer_says_paid(id.clone()).await.unwrap();
    // Noted, but still waiting for the money until the deadline.
    let waiting = api.invoice(&id).await;
    assert_eq!(waiting["status"], "new");
    assert_eq!(the_deal(&waiting)["isActive"], true);

    app.advance_secs(DEAL_TTL_SECS);
    let disputed = api
        .wait_for(&id, "the dispute", |d| d["status"] == "disputed")
        .await;
    let deal = the_deal(&disputed);
    assert_eq!(deal["status"], "disputed");
    assert_eq!(deal["disputeReason"], "customer_says_paid");
    assert_eq!(deal["isActive"], false);
    assert_eq!(disputed["receivedSumFromMaker"], Value::Null);

    app.engine()
        .resolve_dispute(None, deal_id, true)
        .await
        .unwrap();
    let done = api.invoice(&id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(the_deal(&done)["status"], "completed");
    assert_eq!(the_deal(&done)["payment"]["amount"], "1000.00");
    assert_eq!(done["receivedSumFromMaker"], "1000.00");
}

#[tokio::test]
async fn a_dispute_that_outlives_the_invoice_still_completes_and_is_announced() {
    let app = TestApp::spawn().await;
    let api = Api::test(&app);
    let receiver = Receiver::start(&[], 200);
    cabinet(&app, "card", "sberbank", "2200123456789012").await;
    let mut b = deal_body("late-1", "1000.00");
    b["notificationUrl"] = json!(receiver.url());
    let dto = api.post(&b).await.expect(201).clone();
    let id = dto["id"].as_str().unwrap().to_string();
    let deal_id = the_deal(&dto)["id"].as_str().unwrap().to_string();
    receiver.wait_for(1).await;
    callbacks_settled(&app, &id).await;

    // The deadline passes: canceled.
    app.advance_secs(DEAL_TTL_SECS + 1);
    api.wait_for(&id, "the deal to end", |d| d["status"] == "canceled")
        .await;
    receiver.wait_for(2).await;
    callbacks_settled(&app, &id).await;

    // The customer says they paid after all: a dispute.
    app.advance_secs(10 * 60);
    app.engine().customer_says_paid(id.clone()).await.unwrap();
    let disputed = api.invoice(&id).await;
    assert_eq!(disputed["status"], "disputed");
    assert_eq!(
        the_deal(&disputed)["disputeReason"],
        "customer_paid_after_deadline"
    );
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].json()["status"], "disputed");
    callbacks_settled(&app, &id).await;

    // The invoice's own expireAt passes while the dispute is open: an invoice
    // with a deal ends with its deal, so nothing changes.
    app.advance_secs(INVOICE_TTL_SECS);
    app.engine().run_workers_once().await;
    receiver.stays_at(3).await;
    assert_eq!(api.invoice(&id).await["status"], "disputed");

    // The money is found: the invoice completes and the merchant hears so.
    app.engine()
        .resolve_dispute(None, deal_id, true)
        .await
        .unwrap();
    let done = api.invoice(&id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["receivedSumFromMaker"], "1000.00");
    let got = receiver.wait_for(4).await;
    let last = &got[3];
    assert_signed(&app, last, "merchant_notification_token");
    assert_eq!(last.json()["status"], "completed");
    assert_eq!(last.json()["receivedSumFromMaker"], "1000.00");
}
