//! Card health against a real server and database: a cabinet whose
//! forwarding devices all go silent, or whose last deals all expire unpaid,
//! is switched off by the sweep and takes no bookings; heartbeats and
//! messages keep it on; switching it back on clears the reason and starts a
//! new silent period; an operator's switch-off stands whatever the device
//! says.

mod cli_support;
mod common;
mod h2h_support;
mod messages_support;

use std::time::Duration;

use cli_support::TestDb;
use common::TestApp;
use h2h_support::Client;
use messages_support::{cabinet, get, list, message, open_deal, post, spawn, trader, ADMIN_TOKEN};
use serde_json::{json, Value};

const CARD_NOT_FOUND: &str = "Card not found";
/// The default `cabinet_silent_secs`.
const SILENT: i64 = 900;

/// The cabinet as its trader sees it.
async fn cabinet_view(app: &TestApp, token: &str, id: &str) -> Value {
    let r = get(app, "/trader-api/cabinets", token).await;
    list(&r)
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("cabinet {id} listed: {}", r.body))
}

/// The cabinet as the operator sees it.
async fn admin_view(app: &TestApp, trader_id: &str, id: &str) -> Value {
    let r = get(
        app,
        &format!("/admin-api/traders/{trader_id}/cabinets"),
        ADMIN_TOKEN,
    )
    .await;
    list(&r)
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .expect("listed")
}

/// A device of the trader tied to `cabinets` (none: all); its id and token.
async fn device_for(app: &TestApp, trader_token: &str, cabinets: &[&str]) -> (String, String) {
    let r = post(
        app,
        "/trader-api/devices",
        trader_token,
        json!({"name": "Pixel 7", "cabinets": cabinets}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["cabinets"], json!(cabinets));
    assert_eq!(r.body["last_seen"], Value::Null);
    (
        r.body["id"].as_str().unwrap().into(),
        r.body["token"].as_str().unwrap().into(),
    )
}

async fn heartbeat(app: &TestApp, device_token: &str) -> Value {
    let r = post(
        app,
        "/trader-api/devices/heartbeat",
        device_token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Waits for the background sweep to switch the cabinet off.
async fn wait_switched_off(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let view = cabinet_view(app, token, id).await;
        if view["active"] == false {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still on after 10 s: {view}"
        );
        app.engine().wake_workers();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sweep(app: &TestApp) -> usize {
    app.engine()
        .switch_off_unhealthy_cabinets()
        .await
        .expect("sweep")
}

async fn set_active(
    app: &TestApp,
    path: &str,
    token: &str,
    active: bool,
) -> messages_support::Reply {
    post(app, path, token, json!({"active": active})).await
}

#[tokio::test]
async fn a_silent_device_switches_its_cabinet_off_and_it_takes_no_bookings() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Anna").await;
    let cab = cabinet(&app, &trader, "sberbank", "4821").await;
    let _device = device_for(&app, &token, &[]).await;
    let client = Client::of(&app);
    assert_eq!(client.book(150_000).await.amount(), 150_000);

    app.advance_secs(SILENT - 10);
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(cabinet_view(&app, &token, &cab).await["active"], true);

    // Past the silent period the background sweep switches it off, and says why.
    app.advance_secs(11);
    let view = wait_switched_off(&app, &token, &cab).await;
    assert_eq!(view["disabled_reason"], "device_silent");
    assert_eq!(
        admin_view(&app, &trader.id, &cab).await["disabled_reason"],
        "device_silent"
    );
    client.book(160_000).await.expect_error(404, CARD_NOT_FOUND);
}

#[tokio::test]
async fn heartbeats_and_messages_keep_a_cabinet_on() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Boris").await;
    let cab = cabinet(&app, &trader, "sberbank", "4821").await;
    let (device_id, device_token) = device_for(&app, &token, &[]).await;

    app.advance_secs(SILENT - 100);
    let beat = heartbeat(&app, &device_token).await;
    assert_eq!(beat["id"], device_id);
    assert!(beat["last_seen"].is_string(), "{beat}");
    app.advance_secs(SILENT - 100);
    assert_eq!(sweep(&app).await, 0, "heard from {} s ago", SILENT - 100);

    // A bank message counts as a heartbeat too, whatever it says.
    let r = message(
        &app,
        &device_token,
        "900",
        "Код подтверждения 1234",
        "2024-05-01T12:00:00Z",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.advance_secs(SILENT - 100);
    assert_eq!(sweep(&app).await, 0);
    let devices = get(&app, "/trader-api/devices", &token).await;
    assert_eq!(
        list(&devices)[0]["last_seen"].as_str().map(|s| s.len()),
        Some(20)
    );
    assert_eq!(cabinet_view(&app, &token, &cab).await["active"], true);

    app.advance_secs(101);
    sweep(&app).await; // the background sweep may have been first
    assert_eq!(
        cabinet_view(&app, &token, &cab).await["disabled_reason"],
        "device_silent"
    );
    // A heartbeat now does not switch it back on: that is the trader's call.
    heartbeat(&app, &device_token).await;
    assert_eq!(cabinet_view(&app, &token, &cab).await["active"], false);
}

#[tokio::test]
async fn a_device_judges_only_the_cabinets_it_forwards_for() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Vera").await;
    let sber = cabinet(&app, &trader, "sberbank", "4821").await;
    let tbank = cabinet(&app, &trader, "tbank", "5610").await;
    let (_, sber_phone) = device_for(&app, &token, &[&sber]).await;
    let (tbank_phone_id, _) = device_for(&app, &token, &[&tbank]).await;

    // Another trader's cabinet, or one that does not exist, cannot be tied.
    let (other, _) = messages_support::trader(&app, "Gleb").await;
    let foreign = cabinet(&app, &other, "sberbank", "1111").await;
    let path = format!("/trader-api/devices/{tbank_phone_id}/cabinets");
    for bad in [
        json!({"cabinets": [foreign]}),
        json!({"cabinets": ["cab_x"]}),
        json!({"cabinets": "x"}),
        json!({}),
    ] {
        let r = post(&app, &path, &token, bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert!(
            r.body["error"]["fields"]["cabinets"].is_string(),
            "{}",
            r.body
        );
    }

    app.advance_secs(SILENT - 60);
    heartbeat(&app, &sber_phone).await;
    app.advance_secs(61);
    sweep(&app).await; // the background sweep may have been first
    assert_eq!(cabinet_view(&app, &token, &sber).await["active"], true);
    assert_eq!(
        cabinet_view(&app, &token, &tbank).await["disabled_reason"],
        "device_silent"
    );

    // Tied to both, the live phone speaks for tbank too (once switched on).
    let r = post(&app, &path, &token, json!({"cabinets": []})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&app, "/trader-api/devices", &token, json!({"name": "x"})).await;
    assert_eq!(r.status, 200);
    let r = post(
        &app,
        &format!(
            "/trader-api/devices/{}/revoke",
            r.body["id"].as_str().unwrap()
        ),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = set_active(
        &app,
        &format!("/trader-api/cabinets/{tbank}/active"),
        &token,
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled_reason"], Value::Null);
    heartbeat(&app, &sber_phone).await;
    app.advance_secs(SILENT);
    assert_eq!(sweep(&app).await, 0);
}

#[tokio::test]
async fn the_last_deals_all_expired_unpaid_switch_a_cabinet_off() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Dmitri").await;
    let cab = cabinet(&app, &trader, "sberbank", "4821").await;
    let deal_ttl = app.engine().config().deal_ttl_secs;

    // Two expire, then one is paid: the run is broken.
    for amount in ["1001.00", "1002.00"] {
        open_deal(&app, amount, "sberbank").await;
    }
    app.advance_secs(deal_ttl + 1);
    app.engine().expire_due_deals().await.unwrap();
    assert_eq!(sweep(&app).await, 0, "two of three");
    let paid = open_deal(&app, "1003.00", "sberbank").await;
    let r = post(
        &app,
        &format!("/trader-api/deals/{}/confirm", paid.id),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for amount in ["1004.00", "1005.00"] {
        open_deal(&app, amount, "sberbank").await;
    }
    app.advance_secs(deal_ttl + 1);
    app.engine().expire_due_deals().await.unwrap();
    assert_eq!(sweep(&app).await, 0, "the paid one is among the last three");

    // A third expired one in a row: off.
    open_deal(&app, "1006.00", "sberbank").await;
    app.advance_secs(deal_ttl + 1);
    let view = wait_switched_off(&app, &token, &cab).await;
    assert_eq!(view["disabled_reason"], "deals_expired");

    // Switched back on, the old expired deals no longer count.
    let switch = format!("/trader-api/cabinets/{cab}/active");
    let r = set_active(&app, &switch, &token, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["disabled_reason"], Value::Null);
    assert_eq!(sweep(&app).await, 0);
    open_deal(&app, "1007.00", "sberbank").await;
    app.advance_secs(deal_ttl + 1);
    app.engine().expire_due_deals().await.unwrap();
    assert_eq!(sweep(&app).await, 0);
    assert_eq!(cabinet_view(&app, &token, &cab).await["active"], true);
}

#[tokio::test]
async fn switched_back_on_a_silent_cabinet_waits_a_new_silent_period() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Elena").await;
    let cab = cabinet(&app, &trader, "sberbank", "4821").await;
    device_for(&app, &token, &[]).await;
    app.advance_secs(SILENT + 1);
    sweep(&app).await; // the background sweep may have been first
    assert_eq!(
        cabinet_view(&app, &token, &cab).await["disabled_reason"],
        "device_silent"
    );

    let switch = format!("/trader-api/cabinets/{cab}/active");
    let r = set_active(&app, &switch, &token, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled_reason"], Value::Null);
    let client = Client::of(&app);
    assert_eq!(client.book(150_000).await.amount(), 150_000);

    app.advance_secs(SILENT - 1);
    assert_eq!(sweep(&app).await, 0, "a new silent period");
    app.advance_secs(2);
    sweep(&app).await; // the background sweep may have been first
    assert_eq!(
        cabinet_view(&app, &token, &cab).await["disabled_reason"],
        "device_silent"
    );

    // The trader's own switch-off is recorded as such.
    let r = set_active(&app, &switch, &token, true).await;
    assert_eq!(r.status, 200);
    let r = set_active(&app, &switch, &token, false).await;
    assert_eq!(r.body["disabled_reason"], "trader");
}

#[tokio::test]
async fn an_operators_switch_off_is_not_undone_by_a_heartbeat_nor_by_the_trader() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Fyodor").await;
    let cab = cabinet(&app, &trader, "sberbank", "4821").await;
    let (_, device_token) = device_for(&app, &token, &[]).await;

    let admin_switch = format!("/admin-api/cabinets/{cab}/active");
    let r = set_active(&app, &admin_switch, ADMIN_TOKEN, false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled_reason"], "operator");

    heartbeat(&app, &device_token).await;
    app.advance_secs(SILENT + 1);
    heartbeat(&app, &device_token).await;
    assert_eq!(sweep(&app).await, 0, "an inactive cabinet is not judged");
    let view = cabinet_view(&app, &token, &cab).await;
    assert_eq!(
        (view["active"].clone(), view["disabled_reason"].clone()),
        (json!(false), json!("operator"))
    );

    let r = set_active(
        &app,
        &format!("/trader-api/cabinets/{cab}/active"),
        &token,
        true,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        cabinet_view(&app, &token, &cab).await["disabled_reason"],
        "operator"
    );

    let r = set_active(&app, &admin_switch, ADMIN_TOKEN, true).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled_reason"], Value::Null);
    assert_eq!(Client::of(&app).book(150_000).await.amount(), 150_000);
}

#[tokio::test]
async fn a_heartbeat_needs_a_live_device_token() {
    let app = spawn().await;
    let (_, token) = trader(&app, "Galina").await;
    let (device_id, device_token) = device_for(&app, &token, &[]).await;
    // The trader's own token is not a device's.
    let r = post(&app, "/trader-api/devices/heartbeat", &token, json!({})).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = post(
        &app,
        "/trader-api/devices/heartbeat",
        &device_token,
        json!({"x": 1}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post(
        &app,
        &format!("/trader-api/devices/{device_id}/revoke"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = post(
        &app,
        "/trader-api/devices/heartbeat",
        &device_token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn the_command_line_ties_devices_and_shows_why_a_cabinet_is_off() {
    let app = spawn().await;
    let db = TestDb::of(&app);
    let (trader, token) = trader(&app, "Hana").await;
    let sber = cabinet(&app, &trader, "sberbank", "4821").await;
    let tbank = cabinet(&app, &trader, "tbank", "5610").await;

    let added = db
        .json_ok(&[
            "trader",
            "device",
            "add",
            "--trader",
            &trader.id,
            "--name",
            "Sber phone",
            "--cabinet",
            &sber,
            "--json",
        ])
        .await;
    assert_eq!(added["cabinets"], json!([sber]));
    let device_id = added["device_id"].as_str().unwrap().to_string();
    let run = db
        .kassa(&[
            "trader",
            "device",
            "add",
            "--trader",
            &trader.id,
            "--name",
            "x",
            "--cabinet",
            "cab_nope",
        ])
        .await;
    assert!(!run.success, "{}", run.stdout);
    assert!(run.stderr.contains("cabinet"), "{}", run.stderr);

    // The command ran on the real clock, a little ahead of the test's.
    app.advance_secs(SILENT + 120);
    sweep(&app).await;
    let listed = db
        .json_ok(&["cabinet", "list", "--trader", &trader.id, "--json"])
        .await;
    let reason = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["cabinet_id"] == id)
            .map(|c| c["disabled_reason"].clone())
            .unwrap()
    };
    assert_eq!(reason(&sber), "device_silent");
    assert_eq!(reason(&tbank), Value::Null, "no device forwards for it");
    let run = db.kassa(&["cabinet", "list", "--trader", &trader.id]).await;
    assert!(
        run.stdout.contains("inactive: device_silent"),
        "{}",
        run.stdout
    );

    // Tied to no cabinet, the device now speaks for both.
    let run = db
        .kassa(&["trader", "device", "cabinets", &device_id])
        .await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("all cabinets"), "{}", run.stdout);
    let run = db
        .kassa(&["cabinet", "set", &sber, "--active", "false"])
        .await;
    assert!(run.stdout.contains("inactive: operator"), "{}", run.stdout);
    let r = set_active(
        &app,
        &format!("/trader-api/cabinets/{sber}/active"),
        &token,
        true,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test]
async fn an_operators_switch_off_racing_the_sweep_is_never_overwritten() {
    let app = spawn().await;
    let (trader, token) = trader(&app, "Igor").await;
    let mut cabinets = Vec::new();
    for i in 0..24 {
        cabinets.push(cabinet(&app, &trader, "sberbank", &format!("{:04}", 4000 + i)).await);
    }
    device_for(&app, &token, &[]).await;
    app.advance_secs(SILENT + 1);
    // The sweep and the operator switch the same cabinets off at once; each
    // switch is decided on the row as it is then, so the operator's reason
    // stands whichever comes first.
    let switches = cabinets.iter().map(|id| {
        let path = format!("/admin-api/cabinets/{id}/active");
        let app = &app;
        async move { set_active(app, &path, ADMIN_TOKEN, false).await.status }
    });
    let (statuses, _) = tokio::join!(futures::future::join_all(switches), sweep(&app));
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for id in &cabinets {
        let view = admin_view(&app, &trader.id, id).await;
        assert_eq!(view["active"], false);
        assert_eq!(view["disabled_reason"], "operator", "{view}");
    }
}
