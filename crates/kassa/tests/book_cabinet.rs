//! `POST /api/book_cabinet` (spec 000, H2H): a real server on port 0 over a
//! real SQLite file; traders and cabinets seeded through the engine; every
//! body signed by the tests' own signer. The last test runs several `kassa
//! serve` processes on one database file.

mod common;
mod nodes;

use nodes::{free_port, spawn_server, wait_healthy, Servers};
mod h2h_support;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::TestApp;
use h2h_support::{add, card, default_candidates, one_card, rub, trader, Client, Reply};
use kassa_domain::{AlternativeRule, Currency, Direction};
use kassa_engine::merchants::NewMerchant;
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::{Clock, ManualClock};
use serde_json::{json, Value};

const CARD_NOT_FOUND: &str = "Card not found";
const ALL_BOOKED: &str = "All generated amounts were already booked";

/// `secs` as the H2H API writes times.
fn utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn amounts(client: &Client, amount_minor: i64, times: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for _ in 0..times {
        out.push(client.book(amount_minor).await.amount());
    }
    out
}

// ------------------------------------------------------------- success

#[tokio::test]
async fn exact_amount_then_six_alternatives_one_ruble_apart() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let now = app.clock.now_secs();

    let first = client.book(900_000).await;
    first.expect(200);
    let keys: BTreeSet<&str> = first
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["amount", "expires_at", "signature"]),
        "{}",
        first.text
    );
    assert_eq!(first.json["amount"], json!(900_000));
    assert_eq!(first.json["expires_at"], json!(utc(now + 30)));

    let mut got = vec![first.amount()];
    got.extend(amounts(&client, 900_000, 6).await);
    assert_eq!(got, default_candidates(900_000));
    assert_eq!(
        got,
        [900_000, 900_100, 900_200, 900_300, 900_400, 900_500, 900_600]
    );
    client.book(900_000).await.expect_error(404, ALL_BOOKED);
    client.book(900_000).await.expect_error(404, ALL_BOOKED);

    // Other amounts on the same card are untouched; an amount that is one of
    // the taken alternatives starts from there.
    assert_eq!(client.book(900_050).await.amount(), 900_050);
    assert_eq!(client.book(900_600).await.amount(), 900_700);
}

#[tokio::test]
async fn the_trailing_slash_path_books_too() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let body = client.sign(client.body(10_000));
    let reply = client.post_json("/api/book_cabinet/", &body).await;
    assert_eq!(reply.amount(), 10_000);
    // And both paths share the holds.
    assert_eq!(client.book(10_000).await.amount(), 10_100);
}

#[tokio::test]
async fn a_custom_rule_per_currency_changes_the_alternatives() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    add(engine, card(&trader_id)).await;
    let usd = Currency::from_code("USD").unwrap();
    add(
        engine,
        kassa_engine::p2p::NewCabinet {
            currency: usd,
            ..card(&trader_id)
        },
    )
    .await;
    engine
        .set_amount_rule(
            rub(),
            AlternativeRule {
                step_minor: 1_000,
                direction: Direction::Alternate,
            },
        )
        .await
        .unwrap();
    let client = Client::of(&app);
    assert_eq!(
        amounts(&client, 500_000, 7).await,
        [500_000, 501_000, 499_000, 502_000, 498_000, 503_000, 497_000]
    );
    client.book(500_000).await.expect_error(404, ALL_BOOKED);

    // USD keeps the default: one dollar up.
    let mut usd_got = Vec::new();
    for _ in 0..3 {
        let mut body = client.body(2_500);
        body["currency"] = json!("USD");
        usd_got.push(client.book_body(body).await.amount());
    }
    assert_eq!(usd_got, [2_500, 2_600, 2_700]);

    // Downwards, never below one minor unit.
    engine
        .set_amount_rule(
            rub(),
            AlternativeRule {
                step_minor: 100,
                direction: Direction::Down,
            },
        )
        .await
        .unwrap();
    assert_eq!(amounts(&client, 250, 3).await, [250, 150, 50]);
    client.book(250).await.expect_error(404, ALL_BOOKED);

    // A rule of zero step is refused.
    assert!(engine
        .set_amount_rule(
            rub(),
            AlternativeRule {
                step_minor: 0,
                direction: Direction::Up,
            },
        )
        .await
        .is_err());
}

#[tokio::test]
async fn the_default_step_is_one_whole_unit_of_the_currency() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    // VND has no minor digits: the step is 1.
    add(
        engine,
        kassa_engine::p2p::NewCabinet {
            currency: Currency::from_code("VND").unwrap(),
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    let mut got = Vec::new();
    for _ in 0..7 {
        let mut body = client.body(50_000);
        body["currency"] = json!("VND");
        got.push(client.book_body(body).await.amount());
    }
    assert_eq!(
        got,
        [50_000, 50_001, 50_002, 50_003, 50_004, 50_005, 50_006]
    );
}

#[tokio::test]
async fn the_exact_amount_on_any_cabinet_comes_before_an_alternative() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    add(engine, card(&trader_id)).await;
    let client = Client::of(&app);
    assert_eq!(client.book(300_000).await.amount(), 300_000);

    // A second card (another trader's) joins: the exact amount is free there.
    let other = trader(engine).await;
    add(
        engine,
        kassa_engine::p2p::NewCabinet {
            requisite: "2200999988887777".into(),
            ..card(&other)
        },
    )
    .await;
    assert_eq!(client.book(300_000).await.amount(), 300_000);
    // Both cards hold it now; the next alternative is free on both.
    assert_eq!(
        amounts(&client, 300_000, 4).await,
        [300_100, 300_100, 300_200, 300_200]
    );
    // Two cards, seven amounts each: fourteen holds in all.
    assert_eq!(
        amounts(&client, 300_000, 8).await,
        [300_300, 300_300, 300_400, 300_400, 300_500, 300_500, 300_600, 300_600]
    );
    client.book(300_000).await.expect_error(404, ALL_BOOKED);
}

#[tokio::test]
async fn bank_name_filters_cabinets_ignoring_case() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    add(engine, card(&trader_id)).await; // Tinkoff
    add(
        engine,
        kassa_engine::p2p::NewCabinet {
            bank_name: "Sberbank".into(),
            requisite: "2202000011112222".into(),
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    assert_eq!(
        client.book_at_bank(400_000, "tinkoff").await.amount(),
        400_000
    );
    // Tinkoff's card holds it; the Sberbank card does not count for Tinkoff.
    assert_eq!(
        client.book_at_bank(400_000, "TINKOFF").await.amount(),
        400_100
    );
    assert_eq!(
        client.book_at_bank(400_000, "sberBANK").await.amount(),
        400_000
    );
    client
        .book_at_bank(400_000, "Alfa-Bank")
        .await
        .expect_error(404, CARD_NOT_FOUND);
    // No filter: any bank; 400 000 is held on both, 400 100 only on Tinkoff.
    assert_eq!(client.book(400_000).await.amount(), 400_100);
    // An empty filter is no filter.
    assert_eq!(client.book_at_bank(400_000, "").await.amount(), 400_200);
}

#[tokio::test]
async fn no_matching_cabinet_is_card_not_found() {
    let app = TestApp::spawn().await;
    let client = Client::of(&app);
    // No cabinet at all.
    client.book(100_000).await.expect_error(404, CARD_NOT_FOUND);

    one_card(app.engine()).await;
    let mut sbp = client.body(100_000);
    sbp["method"] = json!("sbp");
    client
        .book_body(sbp)
        .await
        .expect_error(404, CARD_NOT_FOUND);
    let mut usd = client.body(100_000);
    usd["currency"] = json!("USD");
    client
        .book_body(usd)
        .await
        .expect_error(404, CARD_NOT_FOUND);
    client
        .book_at_bank(100_000, "Sberbank")
        .await
        .expect_error(404, CARD_NOT_FOUND);
    // The method is matched without regard to case.
    let mut upper = client.body(100_000);
    upper["method"] = json!("CARD");
    assert_eq!(client.book_body(upper).await.amount(), 100_000);
}

#[tokio::test]
async fn cabinet_amount_limits_bound_the_exact_amount_and_the_alternatives() {
    let app = TestApp::spawn().await;
    let trader_id = trader(app.engine()).await;
    add(
        app.engine(),
        kassa_engine::p2p::NewCabinet {
            min_amount_minor: 100_000,
            max_amount_minor: 500_000,
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    client.book(50_000).await.expect_error(404, CARD_NOT_FOUND);
    client.book(600_000).await.expect_error(404, CARD_NOT_FOUND);
    assert_eq!(client.book(100_000).await.amount(), 100_000);
    assert_eq!(client.book(500_000).await.amount(), 500_000);
    // Near the maximum only the alternatives up to it are offered.
    assert_eq!(
        amounts(&client, 499_700, 3).await,
        [499_700, 499_800, 499_900]
    );
    client.book(499_700).await.expect_error(404, ALL_BOOKED);
}

#[tokio::test]
async fn inactive_cabinets_and_traders_take_no_bookings() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    let cabinet = add(
        engine,
        kassa_engine::p2p::NewCabinet {
            active: false,
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    client.book(200_000).await.expect_error(404, CARD_NOT_FOUND);

    engine
        .set_cabinet_active(None, cabinet.id.clone(), true)
        .await
        .unwrap();
    assert_eq!(client.book(200_000).await.amount(), 200_000);

    // The trader is switched off: their cards take nothing.
    engine
        .set_trader_active(trader_id.clone(), false)
        .await
        .unwrap();
    client.book(200_000).await.expect_error(404, CARD_NOT_FOUND);
    client.book(300_000).await.expect_error(404, CARD_NOT_FOUND);
}

#[tokio::test]
async fn a_cabinet_at_its_open_deal_limit_takes_no_bookings() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    let busy = add(
        engine,
        kassa_engine::p2p::NewCabinet {
            max_open_deals: 1,
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    // A deal opens on the card through a Merchant API invoice.
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let created = engine
        .create_p2p_invoice(
            merchant,
            false,
            NewP2pInvoice {
                internal_id: Some("order-1".into()),
                amount: "1500.00".into(),
                currency: "RUB".into(),
                notification_url: "http://127.0.0.1:9/notify".into(),
                notification_token: "token".into(),
                start_deal: true,
                ..Default::default()
            },
        )
        .await
        .expect("a P2P invoice with a deal");
    let deal = engine
        .deal(created.invoice.deal_id.clone().expect("a deal"))
        .await
        .unwrap();
    assert_eq!(deal.cabinet_id, busy.id);
    client.book(700_000).await.expect_error(404, CARD_NOT_FOUND);

    // A card without the limit takes it.
    add(
        engine,
        kassa_engine::p2p::NewCabinet {
            requisite: "2200555566667777".into(),
            ..card(&trader_id)
        },
    )
    .await;
    assert_eq!(client.book(700_000).await.amount(), 700_000);
    // The deal's amount is held on the busy card only: the free card offers it.
    assert_eq!(client.book(150_000).await.amount(), 150_000);
}

// --------------------------------------------------------- idempotency

#[tokio::test]
async fn a_repeated_request_gets_the_same_answer_and_no_second_hold() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let body = client.sign(client.body(700_000));
    let first = client.post(&body).await;
    assert_eq!(first.amount(), 700_000);

    app.clock.advance_secs(5);
    let again = client.post(&body).await;
    again.expect(200);
    assert_eq!(again.json, first.json, "the same answer, signature and all");

    // The same fields in another order and layout are the same request.
    let mut reordered = serde_json::Map::new();
    let fields = body.as_object().unwrap();
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.reverse();
    for k in keys {
        reordered.insert(k.clone(), fields[k].clone());
    }
    let pretty = serde_json::to_vec_pretty(&Value::Object(reordered)).unwrap();
    let third = client.post_raw("/api/book_cabinet", pretty).await;
    assert_eq!(third.json, first.json);

    // Only one hold was made: a new request for the amount gets the next.
    assert_eq!(client.book(700_000).await.amount(), 700_100);

    // A repeat after the hold lapsed still gets the original answer; a new
    // booking needs a new request_id.
    app.clock.advance_secs(60);
    let late = client.post(&body).await;
    assert_eq!(late.json, first.json);
    assert_eq!(client.book(700_000).await.amount(), 700_000);
}

#[tokio::test]
async fn a_request_id_reused_with_another_body_is_a_conflict() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let body = client.body(800_000);
    assert_eq!(client.book_body(body.clone()).await.amount(), 800_000);

    let mut other_amount = body.clone();
    other_amount["amount"] = json!(800_500);
    let reply = client.book_body(other_amount).await;
    reply.expect(409);
    assert!(reply.error().contains("request_id"), "{}", reply.text);

    let mut other_bank = body.clone();
    other_bank["bank_name"] = json!("Tinkoff");
    client.book_body(other_bank).await.expect(409);

    let mut other_method = body.clone();
    other_method["method"] = json!("sbp");
    client.book_body(other_method).await.expect(409);

    // The conflicts held nothing.
    assert_eq!(client.book(800_500).await.amount(), 800_500);
    assert_eq!(client.book(800_000).await.amount(), 800_100);
}

#[tokio::test]
async fn request_ids_belong_to_their_merchant() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let other = app
        .engine()
        .create_merchant(NewMerchant {
            name: "Other Shop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let ours = Client::of(&app);
    let theirs = Client::new(app.http.clone(), &app.base_url, &other);
    let mut body = ours.body(600_000);
    body["request_id"] = json!("shared-id");
    assert_eq!(ours.book_body(body.clone()).await.amount(), 600_000);
    body["merchant_id"] = json!(other.merchant_id);
    body["site_id"] = json!(other.site_id);
    body["site_login"] = json!(other.site_login);
    assert_eq!(theirs.book_body(body).await.amount(), 600_100);
}

// --------------------------------------------------------------- expiry

#[tokio::test]
async fn an_expired_hold_hands_the_amount_to_the_next_caller() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let start = app.clock.now_secs();
    let first = client.book(250_000).await;
    assert_eq!(first.amount(), 250_000);
    assert_eq!(first.json["expires_at"], json!(utc(start + 30)));

    app.clock.advance_secs(29);
    assert_eq!(client.book(250_000).await.amount(), 250_100);

    // At the 30th second the first hold has lapsed.
    app.clock.advance_secs(1);
    let again = client.book(250_000).await;
    assert_eq!(again.amount(), 250_000);
    assert_eq!(again.json["expires_at"], json!(utc(start + 60)));

    // Everything lapses: the whole range is free again.
    client.book(250_000).await.amount();
    app.clock.advance_secs(31);
    assert_eq!(
        amounts(&client, 250_000, 7).await,
        default_candidates(250_000)
    );
}

#[tokio::test]
async fn the_hold_lifetime_follows_hold_ttl_secs() {
    let app = TestApp::spawn_with(|c| c.hold_ttl_secs = 120).await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let start = app.clock.now_secs();
    let first = client.book(90_000).await;
    assert_eq!(first.json["expires_at"], json!(utc(start + 120)));
    app.clock.advance_secs(119);
    assert_eq!(client.book(90_000).await.amount(), 90_100);
    app.clock.advance_secs(1);
    assert_eq!(client.book(90_000).await.amount(), 90_000);
}

// ------------------------------------------------------- authentication

#[tokio::test]
async fn requests_that_fail_authentication_are_401_and_hold_nothing() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let invalid = "Invalid signature";

    // Missing signature.
    let unsigned = client.body(100_000);
    client.post(&unsigned).await.expect_error(401, invalid);
    // A signature of the wrong type.
    let mut number = unsigned.clone();
    number["signature"] = json!(12345);
    client.post(&number).await.expect_error(401, invalid);
    // Another key.
    let mut wrong_key = client.clone();
    wrong_key.secret = "h2h_not_the_secret".into();
    client
        .post(&wrong_key.sign(client.body(100_000)))
        .await
        .expect_error(401, invalid);
    // A body changed after signing.
    let mut tampered = client.sign(client.body(100_000));
    tampered["amount"] = json!(100_100);
    client.post(&tampered).await.expect_error(401, invalid);
    // A field added after signing.
    let mut added = client.sign(client.body(100_000));
    added["bank_name"] = json!("Tinkoff");
    client.post(&added).await.expect_error(401, invalid);
    // Truncated and empty signatures.
    let mut short = client.sign(client.body(100_000));
    let s = short["signature"].as_str().unwrap()[..32].to_string();
    short["signature"] = json!(s);
    client.post(&short).await.expect_error(401, invalid);
    let mut empty = client.body(100_000);
    empty["signature"] = json!("");
    client.post(&empty).await.expect_error(401, invalid);

    // Unknown merchant (signed with the real secret all the same).
    let mut unknown = client.body(100_000);
    unknown["merchant_id"] = json!("mer_0000000000000000");
    let reply = client.book_body(unknown).await;
    reply.expect(401);
    assert!(reply.error().contains("merchant_id"), "{}", reply.text);

    // site_id and site_login must be the merchant's.
    let mut site_id = client.body(100_000);
    site_id["site_id"] = json!(client.site_id + 1);
    let reply = client.book_body(site_id).await;
    reply.expect(401);
    assert!(reply.error().contains("site"), "{}", reply.text);
    let mut login = client.body(100_000);
    login["site_login"] = json!("someone_else");
    client.book_body(login).await.expect(401);

    // Upper-case hex is the same signature.
    let mut upper = client.sign(client.body(100_000));
    let s = upper["signature"].as_str().unwrap().to_ascii_uppercase();
    upper["signature"] = json!(s);
    assert_eq!(client.post(&upper).await.amount(), 100_000);
    // Nothing else held the amount before it.
    assert_eq!(client.book(100_000).await.amount(), 100_100);
}

#[tokio::test]
async fn the_signature_covers_every_field_including_unknown_and_null_ones() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    // An extra field is signed like the others; a null one is left out.
    let mut body = client.body(120_000);
    body["comment"] = json!("order 42");
    body["bank_name"] = Value::Null;
    assert_eq!(client.book_body(body).await.amount(), 120_000);
    // The server's own signer agrees with the tests' one.
    let body = client.body(120_000);
    let ours = h2h_support::sign(&client.secret, &body);
    let server = kassa_http::h2h::sign(&client.secret, body.as_object().unwrap());
    assert_eq!(ours, server);
}

#[tokio::test]
async fn fields_that_would_make_the_signed_text_ambiguous_are_refused() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    // `comment:x;currency:RUB;` reads as one field or as two: the same
    // signature would stand for both bodies.
    let mut split = client.body(130_000);
    split["comment"] = json!("x");
    let mut merged = split.clone();
    merged["comment"] = json!("x;currency:RUB");
    merged.as_object_mut().unwrap().remove("currency");
    assert_eq!(
        h2h_support::canonical(&split),
        h2h_support::canonical(&merged)
    );
    for (field, value) in [
        ("comment", json!("x;currency:RUB")),
        ("bank_name", json!("sberbank;")),
        ("comment", json!("{\"a\":1}")),
        ("comment", json!("[1]")),
        ("note:x", json!("y")),
        ("note;x", json!("y")),
    ] {
        let mut body = client.body(130_000);
        body[field] = value;
        let reply = client.book_body(body).await;
        reply.expect(400);
        assert_eq!(
            reply.json["fields"].as_object().unwrap().len(),
            1,
            "{}",
            reply.text
        );
        assert!(reply.json["fields"][field].is_string(), "{}", reply.text);
        assert!(
            reply.error().starts_with(&format!("{field}: ")),
            "{}",
            reply.text
        );
    }
    // A `:` in a value is no delimiter once keys hold none: URLs pass.
    let mut body = client.body(130_000);
    body["comment"] = json!("https://shop.example/orders/42?at=10:30");
    assert_eq!(
        client.book_body(body).await.amount(),
        130_000,
        "nothing was held before"
    );
}

// ----------------------------------------------------------- bad input

#[tokio::test]
async fn malformed_and_ill_typed_bodies_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let raw = |bytes: &[u8]| client.post_raw("/api/book_cabinet", bytes.to_vec());

    for bytes in [&b"{"[..], b"", b"not json", b"{\"amount\": }"] {
        let reply = raw(bytes).await;
        reply.expect(400);
        assert!(
            reply.error().starts_with("Malformed JSON"),
            "{}",
            reply.text
        );
    }
    for bytes in [&b"[]"[..], b"42", b"\"text\"", b"null"] {
        raw(bytes)
            .await
            .expect_error(400, "The request body must be a JSON object");
    }

    // Each missing field is named (signed bodies: the fields are checked
    // after the signature).
    for field in ["request_id", "method", "currency", "amount"] {
        let mut body = client.body(100_000);
        body.as_object_mut().unwrap().remove(field);
        client
            .book_body(body)
            .await
            .expect_error(400, &format!("{field}: is required"));
    }
    // The credential fields are read before the signature.
    for field in ["merchant_id", "site_id", "site_login"] {
        let mut body = client.body(100_000);
        body.as_object_mut().unwrap().remove(field);
        client
            .book_body(body)
            .await
            .expect_error(400, &format!("{field}: is required"));
    }

    let amount_error = "amount: must be a positive integer of minor units";
    for bad in [json!("900000"), json!(9000.5), json!(true), json!("")] {
        let mut body = client.body(0);
        body["amount"] = bad;
        client.book_body(body).await.expect_error(400, amount_error);
    }
    let mut site = client.body(100_000);
    site["site_id"] = json!(client.site_id.to_string());
    client
        .book_body(site)
        .await
        .expect_error(400, "site_id: must be an integer");
    let mut method = client.body(100_000);
    method["method"] = json!(7);
    client
        .book_body(method)
        .await
        .expect_error(400, "method: must be a string");
    let mut bank = client.body(100_000);
    bank["bank_name"] = json!(false);
    client
        .book_body(bank)
        .await
        .expect_error(400, "bank_name: must be a string");

    // Two bad fields: both named.
    let mut two = client.body(100_000);
    two["method"] = json!(1);
    two["currency"] = json!(2);
    let reply = client.book_body(two).await;
    reply.expect_error(400, "currency: must be a string; method: must be a string");
    assert_eq!(
        reply.json["fields"],
        json!({"currency": "must be a string", "method": "must be a string"})
    );
}

#[tokio::test]
async fn invalid_values_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let amount_error = "amount: must be a positive integer of minor units";
    for bad in [0, -100, 1_000_000_000_000_001] {
        client.book(bad).await.expect_error(422, amount_error);
    }
    let mut currency = client.body(100_000);
    currency["currency"] = json!("RUR");
    client
        .book_body(currency)
        .await
        .expect_error(422, "currency: unknown currency");
    let mut request = client.body(100_000);
    request["request_id"] = json!("");
    client
        .book_body(request)
        .await
        .expect_error(422, "request_id: must be 1 to 255 characters");
    let mut request = client.body(100_000);
    request["request_id"] = json!("r".repeat(256));
    client.book_body(request).await.expect(422);
    let mut method = client.body(100_000);
    method["method"] = json!("");
    client.book_body(method).await.expect(422);
    // Nothing was held by them.
    assert_eq!(client.book(100_000).await.amount(), 100_000);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    const LIMIT: usize = 64 * 1024;
    // A signed body padded through an extra field to an exact size.
    let padded = |size: usize| -> Vec<u8> {
        let mut body = client.body(100_000);
        body["padding"] = json!("");
        let empty = serde_json::to_vec(&client.sign(body.clone()))
            .unwrap()
            .len();
        body["padding"] = json!("x".repeat(size - empty));
        let bytes = serde_json::to_vec(&client.sign(body)).unwrap();
        assert_eq!(bytes.len(), size);
        bytes
    };
    let at_limit = client.post_raw("/api/book_cabinet", padded(LIMIT)).await;
    assert_eq!(at_limit.amount(), 100_000);
    for size in [LIMIT + 1, 4 * LIMIT] {
        let reply = client.post_raw("/api/book_cabinet", padded(size)).await;
        reply.expect(413);
        assert!(reply.error().contains("65536"), "{}", reply.text);
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/api/book_cabinet"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

// ---------------------------------------------------------- concurrency

/// Fires `count` bookings of one amount at once, spread over `clients`.
async fn storm(clients: &[Client], amount_minor: i64, count: usize) -> Vec<Reply> {
    let barrier = Arc::new(tokio::sync::Barrier::new(count));
    let mut tasks = Vec::new();
    for i in 0..count {
        let client = clients[i % clients.len()].clone();
        let barrier = barrier.clone();
        let body = client.sign(client.body(amount_minor));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.post(&body).await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("the task finishes"));
    }
    out
}

#[track_caller]
fn assert_seven_winners(replies: &[Reply], secret: &str, amount_minor: i64) {
    let mut won: Vec<i64> = Vec::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for r in replies {
        *statuses.entry(r.status).or_default() += 1;
        match r.status {
            200 => {
                h2h_support::assert_signed(secret, &r.json);
                won.push(r.amount());
            }
            404 => assert_eq!(r.error(), ALL_BOOKED, "{}", r.text),
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    won.sort();
    assert_eq!(
        won,
        default_candidates(amount_minor),
        "statuses {statuses:?}: seven distinct amounts"
    );
    assert_eq!(statuses.get(&404), Some(&(replies.len() - 7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_amount_get_seven_amounts() {
    let app = TestApp::spawn().await;
    one_card(app.engine()).await;
    let client = Client::of(&app);
    let replies = storm(std::slice::from_ref(&client), 1_000_000, 50).await;
    assert_seven_winners(&replies, &client.secret, 1_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_bookings_over_three_processes_on_one_database_get_seven_amounts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    // On the PostgreSQL run these are several nodes on one server.
    let pg = common::on_postgres().then(common::PgDatabase::create);
    if let Some(db) = &pg {
        db.configure(&mut config);
    }
    // Seed in-process, then let go of the file.
    let merchant = {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
        let engine = kassa::open_engine(&config, Some(clock), "http://127.0.0.1".into())
            .await
            .expect("engine");
        let merchant = engine
            .create_merchant(NewMerchant {
                name: "Shared Shop".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        one_card(&engine).await;
        merchant
    };
    if pg.is_none() {
        assert!(config
            .sqlite_path()
            .unwrap()
            .with_file_name("master.key")
            .exists());
    }

    let http = reqwest::Client::new();
    let mut servers = Servers(Vec::new());
    let mut clients = Vec::new();
    for i in 0..3 {
        let port = free_port();
        let log = dir.path().join(format!("server-{i}.log"));
        servers
            .0
            .push(spawn_server(&config, dir.path(), port, &log, &[]));
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&http, &base, &log).await;
        clients.push(Client::new(http.clone(), &base, &merchant));
    }

    let replies = storm(&clients, 2_000_000, 50).await;
    assert_seven_winners(&replies, &merchant.h2h_secret, 2_000_000);
    // Every process sees the seven holds.
    for client in &clients {
        client.book(2_000_000).await.expect_error(404, ALL_BOOKED);
    }
    // A repeat sent to another process gets the same answer.
    let body = clients[0].sign(clients[0].body(3_000_000));
    let first = clients[0].post(&body).await;
    assert_eq!(first.amount(), 3_000_000);
    for client in &clients[1..] {
        assert_eq!(client.post(&body).await.json, first.json);
    }
    // Identical creates through every process at once make one invoice.
    let c = &merchant.test;
    let invoice = json!({"data": {"type": "payment-invoices", "attributes": {
        "reference_id": "shared-order-1", "amount": "10.00", "currency": "USD",
        "service": "test_usd_test", "service_fields": {"status": "processed"},
    }}});
    let creates = clients.iter().flat_map(|client| {
        let url = format!("{}/api/payment-invoices", client.base_url);
        (0..5).map({
            let (http, invoice) = (http.clone(), invoice.clone());
            move |_| {
                http.post(url.clone())
                    .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
                    .json(&invoice)
                    .send()
            }
        })
    });
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for reply in futures::future::join_all(creates).await {
        let reply = reply.expect("request");
        let status = reply.status().as_u16();
        assert!(status == 200 || status == 201, "{status}");
        created += usize::from(status == 201);
        let body: Value = reply.json().await.unwrap();
        ids.insert(body["data"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!((ids.len(), created), (1, 1), "{ids:?}");
    drop(servers);
    // The books balance across the nodes' work.
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_now());
    let engine = kassa::open_engine(&config, Some(clock), "http://127.0.0.1".into())
        .await
        .expect("engine");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let totals = engine.ledger_totals().await.unwrap();
        assert!(totals.negative.is_empty(), "{totals:?}");
        assert!(
            totals.per_currency.iter().all(|(_, _, sum)| *sum == 0),
            "{totals:?}"
        );
        if engine
            .count_invoices(merchant.merchant_id.clone())
            .await
            .unwrap()
            == 1
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------- the docs

/// The worked example of `docs/h2h-api.md`: its canonical strings and
/// signatures are what the code computes.
#[test]
fn the_documented_signature_example_is_true() {
    let doc = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/h2h-api.md"
    ));
    let secret = "h2h_example_7Qm2Xr9Lk4Vt8Nw3Zp6Hs1Jd5Fg0CaBe";
    let request = json!({
        "request_id": "b5d10f30-8c12-4ea3-b301-773de4a2f1c9",
        "merchant_id": "mer_0uQ8x3LcJxoBxnY",
        "site_id": 1004,
        "site_login": "myshop",
        "method": "sbp",
        "currency": "RUB",
        "amount": 900000,
        "bank_name": "Tinkoff",
    });
    let canonical = "amount:900000;bank_name:Tinkoff;currency:RUB;merchant_id:mer_0uQ8x3LcJxoBxnY;method:sbp;request_id:b5d10f30-8c12-4ea3-b301-773de4a2f1c9;site_id:1004;site_login:myshop;";
    let signature = "63bc772067075eba817985fb002c4cc131ff74d928f70e9143306d023546b54c";
    let map = request.as_object().unwrap();
    assert_eq!(kassa_http::h2h::canonical(map), canonical);
    assert_eq!(kassa_http::h2h::sign(secret, map), signature);
    assert_eq!(h2h_support::sign(secret, &request), signature);

    let answer = json!({"amount": 900100, "expires_at": "2025-05-20T06:54:16Z"});
    let answer_canonical = "amount:900100;expires_at:2025-05-20T06:54:16Z;";
    let answer_signature = "4c307e077e6322b599db7be01e4a085ca46da40234b0a3a0c0fa4e7fb9699cf2";
    let map = answer.as_object().unwrap();
    assert_eq!(kassa_http::h2h::canonical(map), answer_canonical);
    assert_eq!(kassa_http::h2h::sign(secret, map), answer_signature);

    for text in [
        secret,
        canonical,
        signature,
        answer_canonical,
        answer_signature,
        "\"request_id\": \"b5d10f30-8c12-4ea3-b301-773de4a2f1c9\"",
        "\"merchant_id\": \"mer_0uQ8x3LcJxoBxnY\"",
        "\"amount\": 900000",
        "\"amount\": 900100",
    ] {
        assert!(doc.contains(text), "docs/h2h-api.md lacks {text}");
    }
}

// ------------------------------------------------ from booking to invoice

/// libfaketime (Debian's `faketime` package) moves a process's wall clock.
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Nodes on PostgreSQL follow the database's clock: a node whose own clock
/// runs an hour ahead neither takes over a live hold nor expires an invoice
/// early. (SQLite's processes share one machine's clock; this is about nodes.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_an_hour_ahead_follows_the_databases_clock() {
    if !std::path::Path::new(FAKETIME_LIB).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {FAKETIME_LIB} is missing (apt-get install -y faketime)"
        );
        eprintln!("notice: {FAKETIME_LIB} is missing; test skipped");
        return;
    }
    let Some(db) = common::postgres_only() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    db.configure(&mut config);
    let merchant = {
        let engine = kassa::open_engine(&config, None, "http://127.0.0.1".into())
            .await
            .expect("engine");
        one_card(&engine).await;
        engine
            .create_merchant(NewMerchant {
                name: "Clock Shop".into(),
                ..Default::default()
            })
            .await
            .unwrap()
    };

    let http = reqwest::Client::new();
    let mut servers = Servers(Vec::new());
    let mut clients = Vec::new();
    let common_env = [
        ("KASSA_WORKER_POLL_MS", "50"),
        ("KASSA_INVOICE_TTL_SECS", "1800"),
    ];
    let ahead_env = [("LD_PRELOAD", FAKETIME_LIB), ("FAKETIME", "+1h")];
    for (i, extra) in [&[][..], &ahead_env[..]].into_iter().enumerate() {
        let port = free_port();
        let log = dir.path().join(format!("server-{i}.log"));
        let env: Vec<_> = common_env.iter().chain(extra).copied().collect();
        servers
            .0
            .push(spawn_server(&config, dir.path(), port, &log, &env));
        let base = format!("http://127.0.0.1:{port}");
        wait_healthy(&http, &base, &log).await;
        clients.push(Client::new(http.clone(), &base, &merchant));
    }
    let (on_time, ahead) = (&clients[0], &clients[1]);

    // The second node's own clock is indeed an hour ahead (HTTP's Date).
    let date_of = |reply: reqwest::Response| {
        let date = reply.headers()["date"].to_str().unwrap().to_string();
        chrono::DateTime::parse_from_rfc2822(&date)
            .unwrap()
            .timestamp()
    };
    let health = |base: &str| http.get(format!("{base}/health")).send();
    let skew = date_of(health(&ahead.base_url).await.unwrap())
        - date_of(health(&on_time.base_url).await.unwrap());
    assert!((3590..=3610).contains(&skew), "skew {skew}");

    // A hold made on time is live for the node ahead as well.
    let now = chrono::Utc::now().timestamp();
    let first = on_time.book(1_500_000).await;
    first.expect(200);
    assert_eq!(first.amount(), 1_500_000);
    let second = ahead.book(1_500_000).await;
    second.expect(200);
    assert_eq!(second.amount(), 1_500_100, "{}", second.text);
    // And its holds last 30 s of the database's time, not of its own.
    let expires = chrono::DateTime::parse_from_rfc3339(second.json["expires_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!((now + 25..=now + 35).contains(&expires), "{}", second.text);

    // An invoice due in 30 minutes survives the sweeps of the node an hour
    // ahead.
    let c = &merchant.test;
    let created: Value = http
        .post(format!("{}/api/payment-invoices", on_time.base_url))
        .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
        .json(&json!({"data": {"type": "payment-invoices", "attributes": {
            "reference_id": "clock-order-1", "amount": "10.00", "currency": "USD",
            "service": "payment_card_usd_hpp",
        }}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"]
        .as_str()
        .expect("an invoice")
        .to_string();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let seen: Value = http
        .get(format!("{}/api/payment-invoices/{id}", ahead.base_url))
        .basic_auth(&c.private_key_id, Some(&c.private_key_secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["data"]["attributes"]["status"],
        json!("process_pending"),
        "{seen}"
    );
    drop(servers);
}

#[tokio::test]
async fn the_invoice_takes_the_merchants_hold_at_the_bank_it_names() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let trader_id = trader(engine).await;
    add(engine, card(&trader_id)).await; // Tinkoff
    let sber = add(
        engine,
        kassa_engine::p2p::NewCabinet {
            bank_name: "Sberbank".into(),
            requisite: "2202000011112222".into(),
            ..card(&trader_id)
        },
    )
    .await;
    let client = Client::of(&app);
    // The merchant holds 1 500.00 RUB at both banks, Tinkoff's first.
    assert_eq!(
        client.book_at_bank(150_000, "Tinkoff").await.amount(),
        150_000
    );
    assert_eq!(
        client.book_at_bank(150_000, "Sberbank").await.amount(),
        150_000
    );

    // The invoice names Sberbank: it takes the Sberbank hold, amount unchanged.
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .unwrap();
    let created = engine
        .create_p2p_invoice(
            merchant,
            false,
            NewP2pInvoice {
                internal_id: Some("order-sber".into()),
                amount: "1500.00".into(),
                currency: "RUB".into(),
                notification_url: "http://127.0.0.1:9/notify".into(),
                notification_token: "token".into(),
                payment_method: Some("sberbank".into()),
                start_deal: true,
                ..Default::default()
            },
        )
        .await
        .expect("a P2P invoice with a deal");
    assert_eq!(created.invoice.amount_minor, 150_000);
    let deal = engine
        .deal(created.invoice.deal_id.clone().expect("a deal"))
        .await
        .unwrap();
    assert_eq!(
        (deal.cabinet_id.as_str(), deal.amount_minor),
        (sber.id.as_str(), 150_000)
    );
}
