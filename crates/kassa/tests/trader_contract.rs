//! The trader and admin APIs' contract over real sockets: a bad body's 422
//! names every bad or unknown field at once, each in the face's own words,
//! and each listener serves the OpenAPI documents of the faces it serves.

mod common;

use common::TestApp;
use kassa_domain::{Actor, Currency};
use kassa_engine::p2p::NewCabinet;
use serde_json::{json, Value};

const ADMIN_TOKEN: &str = "admin-token-for-the-contract-tests";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let response = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// The error's `fields`, and its message.
fn invalid(status: u16, body: &Value) -> (&serde_json::Map<String, Value>, &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    (
        body["error"]["fields"].as_object().expect("fields"),
        body["error"]["message"].as_str().expect("a message"),
    )
}

#[tokio::test]
async fn a_bad_notification_names_every_field_in_the_faces_words() {
    let app = spawn().await;
    let (trader, token) = app.engine().create_trader("Ivan".into()).await.unwrap();
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/trader-api/notifications",
        &token,
        r#"{"id": 5, "amount": "1.00", "time": "yesterday", "text": null, "sender": "x"}"#,
    )
    .await;
    let (fields, message) = invalid(status, &body);
    assert_eq!(
        Value::Object(fields.clone()),
        json!({
            "cabinet": "This field is required.",
            "id": "This value should be a string.",
            "sender": "This field is not allowed.",
            "time": "This value should be an RFC 3339 time such as 2024-05-01T12:00:00Z.",
        })
    );
    assert_eq!(message, "Invalid fields: cabinet, id, sender, time.");

    // A body that takes no fields refuses any, and reads empty as `{}`.
    let cabinet = app
        .engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: Currency::from_code("RUB").unwrap(),
            bank_name: "Tinkoff".into(),
            requisite: "2200123456789012".into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .unwrap();
    let path = "/trader-api/payouts/pay_unknown/take";
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        path,
        &token,
        r#"{"now": true}"#,
    )
    .await;
    let (fields, _) = invalid(status, &body);
    assert_eq!(fields["now"], "This field is not allowed.");
    let (status, body) = send(&app, reqwest::Method::POST, path, &token, " ").await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    // The operator acts on anyone's cabinet through the same handler.
    let path = format!("/admin-api/cabinets/{}/active", cabinet.id);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &path,
        ADMIN_TOKEN,
        r#"{"active": false}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["requisite"], "220012******9012");
    let again = app
        .engine()
        .set_cabinet_active(Actor::Operator, cabinet.id, true)
        .await
        .unwrap();
    assert!(again.active);
}

#[tokio::test]
async fn a_bad_cabinet_names_every_field_in_the_faces_words() {
    let app = spawn().await;
    let (trader, _) = app.engine().create_trader("Ivan".into()).await.unwrap();
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &format!("/admin-api/traders/{}/cabinets", trader.id),
        ADMIN_TOKEN,
        r#"{"method": "card", "currency": "rub", "bank": true, "requisite": "2200",
            "holder": "I", "min_amount": "0", "max_amount": 5, "daily_limit": "1.001",
            "max_open_deals": -1, "active": "yes", "colour": "red"}"#,
    )
    .await;
    let (fields, _) = invalid(status, &body);
    assert_eq!(
        Value::Object(fields.clone()),
        json!({
            "active": "This value should be true or false.",
            "bank": "This value should be a string.",
            "colour": "This field is not allowed.",
            "daily_limit": "This value should have at most 2 decimal places.",
            "max_amount": "This value should be a string.",
            "max_open_deals": "This value should be an integer from 0 to 4294967295.",
            "min_amount": "This value should be greater than 0.",
        })
    );
    // Without a currency the amounts are not read, only their kind.
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &format!("/admin-api/traders/{}/cabinets", trader.id),
        ADMIN_TOKEN,
        r#"{"method": "card", "currency": "ZZZ", "min_amount": "-1", "max_amount": 5}"#,
    )
    .await;
    let (fields, _) = invalid(status, &body);
    assert_eq!(
        Value::Object(fields.clone()),
        json!({
            "bank": "This field is required.",
            "currency": "Unknown currency.",
            "holder": "This field is required.",
            "max_amount": "This value should be a string.",
            "requisite": "This field is required.",
        })
    );

    let id = app.merchant.merchant_id.clone();
    let (status, body) = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/admin-api/merchants/{id}"),
        ADMIN_TOKEN,
        r#"{"callback_url": 1, "url_hosts": null, "frame_ancestors": ["a,b"],
            "callback_retry_secs": [1.5], "callback_max_attempts": "3",
            "callback_statuses": "some", "forbid_public_api": 1}"#,
    )
    .await;
    let (fields, _) = invalid(status, &body);
    assert_eq!(
        Value::Object(fields.clone()),
        json!({
            "callback_max_attempts": "This value should be a positive integer, or null.",
            "callback_retry_secs": "This value should be a list of whole seconds, or null.",
            "callback_statuses": "Use all or final.",
            "callback_url": "This value should be a string or null.",
            "forbid_public_api": "This value should be true or false.",
            "frame_ancestors": "This value should be a list of strings, one item each.",
            "url_hosts": "This value should be a list of strings, one item each.",
        })
    );
}

async fn document(app: &TestApp, base: &str, face: &str) -> u16 {
    let response = app
        .http
        .get(format!("{base}/openapi/{face}.json"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    if status == 200 {
        let doc: Value = response.json().await.expect("a document");
        assert_eq!(doc["openapi"], "3.1.0");
    }
    status
}

#[tokio::test]
async fn each_listener_serves_the_documents_of_its_faces() {
    let app = spawn().await;
    assert_eq!(document(&app, &app.base_url, "trader").await, 200);
    assert_eq!(document(&app, &app.base_url, "admin").await, 200);

    let apart = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.admin_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let admin = format!(
        "http://{}",
        apart
            .server
            .as_ref()
            .unwrap()
            .admin_addr
            .expect("an admin listener")
    );
    assert_eq!(document(&apart, &apart.base_url, "trader").await, 200);
    assert_eq!(document(&apart, &apart.base_url, "admin").await, 404);
    assert_eq!(document(&apart, &admin, "admin").await, 200);
    assert_eq!(document(&apart, &admin, "trader").await, 404);
}
