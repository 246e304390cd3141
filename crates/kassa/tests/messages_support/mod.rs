//! Helpers of the bank message tests: a trader API client, traders,
//! devices, cabinets with chosen last digits, and deals opened on them the
//! way merchants open them (a Merchant API pay-in that starts a deal).
#![allow(dead_code)]

use kassa_domain::{Deal, Trader};
use kassa_engine::p2p::NewCabinet;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestApp;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
pub const TIME: &str = "2024-05-01T12:00:00Z";

pub async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        request = request
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

pub async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(app, Method::GET, path, token, None).await
}

pub async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> Reply {
    call(app, Method::POST, path, token, Some(body)).await
}

/// Posts a message as the device with `token` would.
pub async fn message(app: &TestApp, token: &str, sender: &str, text: &str, time: &str) -> Reply {
    post(
        app,
        "/trader-api/messages",
        token,
        json!({"sender": sender, "text": text, "time": time}),
    )
    .await
}

pub async fn trader(app: &TestApp, name: &str) -> (Trader, String) {
    app.engine()
        .create_trader(name.into())
        .await
        .expect("trader")
}

/// A new device of the trader, through the trader API; its token.
pub async fn device(app: &TestApp, trader_token: &str) -> String {
    let r = post(
        app,
        "/trader-api/devices",
        trader_token,
        json!({"name": "Pixel 7"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], true);
    r.body["token"].as_str().expect("a token").to_string()
}

/// A RUB card cabinet of `trader` at `bank` whose card ends in `last4`.
pub async fn cabinet(app: &TestApp, trader: &Trader, bank: &str, last4: &str) -> String {
    cabinet_with(app, trader, bank, &format!("2200 7001 2345 {last4}")).await
}

/// A RUB card cabinet of `trader` at `bank` with this card number.
pub async fn cabinet_with(app: &TestApp, trader: &Trader, bank: &str, card: &str) -> String {
    app.engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: kassa_domain::Currency::from_code("RUB").unwrap(),
            bank_name: bank.into(),
            requisite: card.into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 10_000_000,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .expect("cabinet")
        .id
}

/// A live Merchant API pay-in of `amount` RUB by card at `bank`; its deal.
pub async fn open_deal(app: &TestApp, amount: &str, bank: &str) -> Deal {
    open_deal_in(app, false, amount, bank).await
}

/// [`open_deal`] in test or live mode.
pub async fn open_deal_in(app: &TestApp, test_mode: bool, amount: &str, bank: &str) -> Deal {
    let deal = crate::common::open_deal_in(app, test_mode, amount, bank).await;
    assert_eq!(deal.amount_minor.to_string(), amount.replace('.', ""));
    deal
}

pub async fn deal(app: &TestApp, id: &str) -> Deal {
    app.engine().deal(id.into()).await.expect("deal")
}

pub fn list(r: &Reply) -> &Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().expect("a list")
}
