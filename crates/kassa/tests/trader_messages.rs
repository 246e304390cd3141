//! Bank SMS and pushes posted by a trader's device (`POST /trader-api/messages`),
//! against a real server and database: every built-in credit pattern settles
//! the deal its digits and amount name, nothing else settles anything, a
//! repeat settles once, devices are revoked, and an operator's pattern added
//! from the command line is used.

mod cli_support;
mod common;
mod messages_support;

use std::collections::BTreeSet;

use cli_support::TestDb;
use kassa_domain::bank_message::{builtin_patterns, MessageKind};
use kassa_domain::{DealStatus, InvoiceStatus};
use messages_support::{
    cabinet, cabinet_with, deal, device, get, list, message, open_deal, open_deal_in, post, spawn,
    trader, ADMIN_TOKEN, TIME,
};
use serde_json::{json, Value};

/// (pattern, sender, text, last digits of the cabinet, the deal's amount).
const CREDITS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "sberbank_credit",
        "900",
        "СЧЁТ4821 12:05 Зачисление 1 501р Баланс: 10 200.50р",
        "4821",
        "1501.00",
    ),
    (
        "sberbank_transfer_in",
        "900",
        "VISA1029 18:03 перевод 2 502,50р от АННА П.",
        "1029",
        "2502.50",
    ),
    (
        "tbank_credit",
        "Tinkoff",
        "Пополнение. Карта *5610. 3\u{a0}003 ₽ от Иван И. Доступно 12 345,67 ₽",
        "5610",
        "3003.00",
    ),
    (
        "alfabank_credit",
        "Alfa-Bank",
        "5*8642 Пополнение 7 504,00 RUR Баланс: 31 200,00 RUR",
        "8642",
        "7504.00",
    ),
    (
        "alfabank_credit_to_account",
        "AlfaBank",
        "Поступление 2,005.00 RUB на счёт *8643",
        "8643",
        "2005.00",
    ),
    (
        "vtb_credit",
        "VTB",
        "Поступление 4 206р Счет*3315 от ПЕТР С. Баланс 18 000.00р 11:32",
        "3315",
        "4206.00",
    ),
    (
        "raiffeisen_credit",
        "Raiffeisen",
        "Счет *2468: зачисление 6\u{202f}007,00 RUB. Доступно 16 000,00 RUB",
        "2468",
        "6007.00",
    ),
    (
        "ozonbank_credit",
        "Ozon Bank",
        "Пополнение счёта *9911 на 2 758 ₽. Доступно 5 000 ₽",
        "9911",
        "2758.00",
    ),
    (
        "sbp_credit",
        "Sovcombank",
        "Перевод по СБП от ИВАН И. +1 509,00 ₽ на счёт *4822",
        "4822",
        "1509.00",
    ),
    (
        "sbp_credit_account_first",
        "900",
        "СЧЁТ4823 12:05 Перевод по СБП от ИВАН И. +1\u{a0}510р Баланс: 11 700.50р",
        "4823",
        "1510.00",
    ),
    (
        "sbp_credit_incoming",
        "MTS Bank",
        "Входящий перевод СБП 3 211 RUB от ПЕТР С., счет *7733",
        "7733",
        "3211.00",
    ),
];

#[tokio::test]
async fn every_builtin_credit_pattern_settles_the_deal_its_digits_and_amount_name() {
    let app = spawn().await;
    let (t, token) = trader(&app, "Ivan").await;
    let phone = device(&app, &token).await;
    // A cabinet of the same trader with other digits holds a deal of every
    // amount too: only the digits tell the two apart.
    cabinet(&app, &t, "decoy", "0000").await;
    let mut decoys = Vec::new();
    let mut deals = Vec::new();
    for (i, (_, _, _, digits, amount)) in CREDITS.iter().enumerate() {
        let bank = format!("bank{i}");
        cabinet(&app, &t, &bank, digits).await;
        deals.push(open_deal(&app, amount, &bank).await);
        decoys.push(open_deal(&app, amount, "decoy").await);
    }

    let mut covered = BTreeSet::new();
    for ((pattern, sender, text, digits, amount), d) in CREDITS.iter().zip(&deals) {
        let r = message(&app, &phone, sender, text, TIME).await;
        assert_eq!(r.status, 200, "{text}: {}", r.body);
        let b = &r.body;
        assert_eq!(b["kind"], "credit", "{text}");
        assert_eq!(b["pattern"], format!("builtin:{pattern}"), "{text}");
        assert_eq!(b["amount"], *amount, "{text}");
        assert_eq!(b["currency"], "RUB");
        assert_eq!(b["digits"], *digits);
        assert_eq!(b["cabinet"], d.cabinet_id.as_str(), "{text}");
        assert_eq!(b["matched"], true, "{text}");
        assert_eq!(b["deal_id"], d.id.as_str(), "{text}");
        assert_eq!(b["deal"]["status"], "completed");
        assert!(r.headers.get("idempotent-replayed").is_none());
        let settled = deal(&app, &d.id).await;
        assert_eq!(settled.status, DealStatus::Completed);
        assert_eq!(
            settled.settled_by,
            Some(format!(
                "bank_notification:{}",
                b["notification_id"].as_str().expect("a notification")
            ))
        );
        covered.insert(pattern.to_string());
    }
    let credits: BTreeSet<String> = builtin_patterns()
        .into_iter()
        .filter(|p| p.kind == MessageKind::Credit)
        .map(|p| p.id.trim_start_matches("builtin:").to_string())
        .collect();
    assert_eq!(covered, credits, "every built-in credit pattern is posted");

    for d in &decoys {
        assert_eq!(deal(&app, &d.id).await.status, DealStatus::TransferWaiting);
    }
    // Settled as a notification is: the invoice is processed, and the
    // notification is listed with the deal it completed.
    let (invoice, _) = app
        .engine()
        .invoice_with_deal(deals[0].invoice_id.clone())
        .await
        .unwrap();
    assert_eq!(invoice.status, InvoiceStatus::Processed);
    let notes = get(&app, "/trader-api/notifications", &token).await;
    assert_eq!(list(&notes).len(), CREDITS.len());
    assert!(list(&notes).iter().all(|n| n["matched"] == true));
}

#[tokio::test]
async fn debits_balances_and_unknown_texts_are_kept_and_settle_nothing() {
    let app = spawn().await;
    let (t, token) = trader(&app, "Ivan").await;
    let phone = device(&app, &token).await;
    cabinet(&app, &t, "sber", "7733").await;
    let d = open_deal(&app, "350.00", "sber").await;

    let sent = [
        (
            "900",
            "MIR-7733 14:22 Покупка 350р MAGNIT Баланс: 14 650р",
            "debit",
        ),
        (
            "MTS Bank",
            "Исходящий перевод СБП 350 RUB для АННА П., счет *7733",
            "debit",
        ),
        ("900", "СЧЁТ7733 10:30 Баланс: 350р", "balance"),
        (
            "900",
            "Код для входа: 48213. Никому его не сообщайте",
            "unknown",
        ),
    ];
    for (sender, text, kind) in sent {
        let r = message(&app, &phone, sender, text, TIME).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["kind"], kind, "{text}");
        assert_eq!(r.body["matched"], false);
        assert_eq!(r.body["cabinet"], Value::Null);
        assert_eq!(r.body["notification_id"], Value::Null);
        assert_eq!(r.body["deal"], Value::Null);
        assert_eq!(r.body["text"], text);
    }
    assert_eq!(deal(&app, &d.id).await.status, DealStatus::TransferWaiting);
    assert!(list(&get(&app, "/trader-api/notifications", &token).await).is_empty());

    let all = get(&app, "/trader-api/messages", &token).await;
    let kinds: Vec<&str> = list(&all)
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["unknown", "balance", "debit", "debit"],
        "newest first"
    );
    let debits = get(&app, "/trader-api/messages?kind=debit", &token).await;
    assert_eq!(list(&debits).len(), 2);
    let unknown = get(&app, "/trader-api/messages?kind=unknown", &token).await;
    assert_eq!(list(&unknown).len(), 1);
    let bad = get(&app, "/trader-api/messages?kind=spam", &token).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body["error"]["fields"]["kind"].is_string());

    // The operator sees them too, by trader or all.
    let admin = get(
        &app,
        &format!("/admin-api/messages?trader={}", t.id),
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(list(&admin).len(), 4);
    let admin = get(&app, "/admin-api/messages?kind=balance", ADMIN_TOKEN).await;
    assert_eq!(list(&admin).len(), 1);

    // Bad bodies change nothing and name their fields.
    let r = post(
        &app,
        "/trader-api/messages",
        &phone,
        json!({"text": "", "time": "soon", "extra": 1}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    for field in ["sender", "time", "extra"] {
        assert!(
            r.body["error"]["fields"][field].is_string(),
            "{field}: {}",
            r.body
        );
    }
    let r = message(&app, &phone, "900", "", TIME).await;
    assert_eq!(r.status, 422);
    assert!(r.body["error"]["fields"]["text"].is_string());
    assert_eq!(
        list(&get(&app, "/trader-api/messages", &token).await).len(),
        4
    );
}

#[tokio::test]
async fn a_replayed_message_is_kept_once_and_settles_once() {
    let app = spawn().await;
    let (t, token) = trader(&app, "Ivan").await;
    let phone = device(&app, &token).await;
    cabinet(&app, &t, "sber", "4821").await;
    let first = open_deal(&app, "1500.00", "sber").await;
    let text = "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: 10 200.50р";

    let a = message(&app, &phone, "900", text, TIME).await;
    assert_eq!(a.body["deal_id"], first.id.as_str());
    // The amount is free again: a second deal may take it.
    let second = open_deal(&app, "1500.00", "sber").await;
    assert_eq!(second.cabinet_id, first.cabinet_id);

    // The same message again, sent one by one and all at once: one answer.
    let b = message(&app, &phone, "900", text, TIME).await;
    assert_eq!(b.status, 200);
    assert_eq!(b.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(b.body["id"], a.body["id"]);
    assert_eq!(b.body["deal_id"], first.id.as_str());
    let burst =
        futures::future::join_all((0..8).map(|_| message(&app, &phone, "900", text, TIME))).await;
    for r in &burst {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["id"], a.body["id"]);
    }
    assert_eq!(
        deal(&app, &second.id).await.status,
        DealStatus::TransferWaiting
    );
    assert_eq!(
        list(&get(&app, "/trader-api/messages", &token).await).len(),
        1
    );
    assert_eq!(
        list(&get(&app, "/trader-api/notifications", &token).await).len(),
        1
    );

    // Another time is another transfer: it settles the second deal.
    let c = message(&app, &phone, "900", text, "2024-05-01T12:07:00Z").await;
    assert_ne!(c.body["id"], a.body["id"]);
    assert!(c.headers.get("idempotent-replayed").is_none());
    assert_eq!(c.body["deal_id"], second.id.as_str());
    // A second device of the same trader posting the same text is its own
    // message; with no deal of that amount left, it settles nothing.
    let tablet = device(&app, &token).await;
    let d = message(&app, &tablet, "900", text, TIME).await;
    assert_ne!(d.body["id"], a.body["id"]);
    assert_eq!(d.body["matched"], false);
    assert_eq!(d.body["cabinet"], first.cabinet_id.as_str());
}

#[tokio::test]
async fn digits_of_another_traders_cabinet_settle_nothing() {
    let app = spawn().await;
    let (ivan, _) = trader(&app, "Ivan").await;
    cabinet(&app, &ivan, "sber", "4821").await;
    let d = open_deal(&app, "1500.00", "sber").await;
    let (_, petr_token) = trader(&app, "Petr").await;
    let petr_phone = device(&app, &petr_token).await;

    let r = message(
        &app,
        &petr_phone,
        "900",
        "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: 10 200.50р",
        TIME,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kind"], "credit");
    assert_eq!(r.body["cabinet"], Value::Null);
    assert_eq!(r.body["matched"], false);
    assert_eq!(deal(&app, &d.id).await.status, DealStatus::TransferWaiting);
    assert!(list(&get(&app, "/admin-api/notifications", ADMIN_TOKEN).await).is_empty());
}

#[tokio::test]
async fn cards_ending_in_the_same_digits_are_told_apart_by_their_open_deal() {
    let app = spawn().await;
    let (t, token) = trader(&app, "Ivan").await;
    let phone = device(&app, &token).await;
    let a = cabinet_with(&app, &t, "sber", "2200 7001 1111 4821").await;
    let b = cabinet_with(&app, &t, "tbank", "2200 7002 2222 4821").await;
    let on_b = open_deal(&app, "1500.00", "tbank").await;
    assert_eq!(on_b.cabinet_id, b);

    let r = message(
        &app,
        &phone,
        "900",
        "СЧЁТ4821 12:05 Зачисление 1 500р",
        TIME,
    )
    .await;
    assert_eq!(r.body["cabinet"], b.as_str(), "{}", r.body);
    assert_eq!(r.body["deal_id"], on_b.id.as_str());
    // Neither has a deal of this amount: which card it came to is unknown,
    // so it is kept for review on neither.
    let r = message(&app, &phone, "900", "СЧЁТ4821 12:06 Зачисление 999р", TIME).await;
    assert_eq!(r.body["kind"], "credit");
    assert_eq!(r.body["cabinet"], Value::Null, "{}", r.body);
    assert_eq!(r.body["matched"], false);
    // One card of the digits, no deal: an unmatched notification on it.
    let on_a = open_deal(&app, "700.00", "sber").await;
    assert_eq!(on_a.cabinet_id, a);
    cabinet(&app, &t, "vtb", "3315").await;
    let r = message(
        &app,
        &phone,
        "VTB",
        "Поступление 4 200р Счет*3315 от ПЕТР С.",
        TIME,
    )
    .await;
    assert_eq!(r.body["matched"], false);
    let review = get(&app, "/trader-api/notifications?unmatched=true", &token).await;
    assert_eq!(list(&review).len(), 1);
    assert_eq!(list(&review)[0]["amount"], "4200.00");
    assert_eq!(
        deal(&app, &on_a.id).await.status,
        DealStatus::TransferWaiting
    );
}

#[tokio::test]
async fn a_test_traders_message_settles_its_test_deal_never_a_live_one() {
    let app = spawn().await;
    let (sandbox, token) = app
        .engine()
        .create_trader_in("Sandbox".into(), true)
        .await
        .unwrap();
    let phone = device(&app, &token).await;
    cabinet(&app, &sandbox, "sandbox", "4821").await;
    let test_deal = open_deal_in(&app, true, "1500.00", "sandbox").await;
    assert!(test_deal.test_mode);
    // A live trader's card ends in the same digits and has a live deal of the amount.
    let (ivan, ivan_token) = trader(&app, "Ivan").await;
    cabinet(&app, &ivan, "live", "4821").await;
    let live_deal = open_deal(&app, "1500.00", "live").await;
    let text = "СЧЁТ4821 12:05 Зачисление 1 500р Баланс: 10 200.50р";

    let r = message(&app, &phone, "900", text, TIME).await;
    assert_eq!(r.body["deal_id"], test_deal.id.as_str(), "{}", r.body);
    assert_eq!(r.body["deal"]["test_mode"], true);
    assert_eq!(
        deal(&app, &live_deal.id).await.status,
        DealStatus::TransferWaiting
    );
    // The live trader's own phone settles the live one.
    let live_phone = device(&app, &ivan_token).await;
    let r = message(&app, &live_phone, "900", text, TIME).await;
    assert_eq!(r.body["deal_id"], live_deal.id.as_str(), "{}", r.body);
    assert_eq!(r.body["deal"]["test_mode"], false);
}

#[tokio::test]
async fn a_revoked_device_token_is_refused() {
    let app = spawn().await;
    let (t, token) = trader(&app, "Ivan").await;
    cabinet(&app, &t, "sber", "4821").await;
    let d = open_deal(&app, "1500.00", "sber").await;
    let phone = device(&app, &token).await;
    let text = "СЧЁТ4821 12:05 Зачисление 1 500р";

    let devices = get(&app, "/trader-api/devices", &token).await;
    let id = list(&devices)[0]["id"].as_str().unwrap().to_string();
    assert!(
        list(&devices)[0].get("token").is_none(),
        "the token is shown once"
    );
    // Another trader cannot revoke it.
    let (_, other) = trader(&app, "Petr").await;
    let r = post(
        &app,
        &format!("/trader-api/devices/{id}/revoke"),
        &other,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = post(
        &app,
        &format!("/trader-api/devices/{id}/revoke"),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert!(r.body["revoked_at"].is_string());

    for bearer in [phone.as_str(), token.as_str(), "kdt_unknown"] {
        let r = message(&app, bearer, "900", text, TIME).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "unauthorized");
        assert!(r.body["error"]["message"].is_string());
        let challenge = r.headers.get("www-authenticate").unwrap().to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    // A device token is no trader token.
    let fresh = device(&app, &token).await;
    assert_eq!(get(&app, "/trader-api/cabinets", &fresh).await.status, 401);
    assert_eq!(deal(&app, &d.id).await.status, DealStatus::TransferWaiting);
    assert!(list(&get(&app, "/trader-api/messages", &token).await).is_empty());
    // The device that was not revoked still posts.
    let r = message(&app, &fresh, "900", text, TIME).await;
    assert_eq!(r.body["deal_id"], d.id.as_str());
}

#[tokio::test]
async fn devices_and_patterns_from_the_command_line() {
    let app = spawn().await;
    let db = TestDb::of(&app);
    let (t, _) = trader(&app, "Ivan").await;
    cabinet(&app, &t, "mybank", "5511").await;
    let d = open_deal(&app, "2500.10", "mybank").await;

    let added = db
        .json_ok(&[
            "trader",
            "device",
            "add",
            "--trader",
            &t.id,
            "--name",
            "Old phone",
            "--json",
        ])
        .await;
    let phone = added["token"].as_str().unwrap().to_string();
    let text = "Prishlo 2 500,10 RUB na kartu 5511. Karta 2200 7009 9988 7766 ne vasha?";

    let r = message(&app, &phone, "MyBank", text, TIME).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kind"], "unknown");
    // A full card number in a message is kept masked.
    assert_eq!(
        r.body["text"],
        "Prishlo 2 500,10 RUB na kartu 5511. Karta 220070******7766 ne vasha?"
    );

    // A pattern without the digits a credit needs is refused.
    let run = db
        .kassa(&[
            "p2p",
            "pattern",
            "add",
            "--kind",
            "credit",
            "--regex",
            r"Prishlo (?P<amount>[\d ,]+)",
        ])
        .await;
    assert!(!run.success);
    assert!(run.stderr.contains("digits"), "{}", run.stderr);
    let p = db
        .json_ok(&[
            "p2p",
            "pattern",
            "add",
            "--kind",
            "credit",
            "--sender",
            "^MyBank$",
            "--regex",
            r"^Prishlo (?P<amount>\d[\d ]*(?:,\d{2})?) (?P<currency>RUB) na kartu (?P<digits>\d{4})",
            "--json",
        ])
        .await;
    let pattern_id = p["id"].as_str().unwrap().to_string();
    let listed = db.json_ok(&["p2p", "pattern", "list", "--json"]).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], pattern_id.as_str());

    let read = db
        .json_ok(&[
            "p2p", "pattern", "test", "--sender", "MyBank", "--text", text,
        ])
        .await;
    assert_eq!(read["kind"], "credit");
    assert_eq!(read["amount"], "2500.10");
    assert_eq!(read["digits"], "5511");
    let all = db
        .json_ok(&["p2p", "pattern", "list", "--builtin", "--json"])
        .await;
    assert_eq!(
        all[0]["id"],
        pattern_id.as_str(),
        "the operator's come first"
    );
    assert_eq!(all.as_array().unwrap().len(), 1 + builtin_patterns().len());

    // The server reads with it from the next message on.
    let r = message(&app, &phone, "MyBank", text, "2024-05-01T12:01:00Z").await;
    assert_eq!(r.body["kind"], "credit", "{}", r.body);
    assert_eq!(r.body["pattern"], pattern_id.as_str());
    assert_eq!(r.body["deal_id"], d.id.as_str());
    assert_eq!(deal(&app, &d.id).await.status, DealStatus::Completed);
    // The first one stays as it was read.
    let kept = db
        .json_ok(&["p2p", "messages", "--trader", &t.id, "--json"])
        .await;
    assert_eq!(kept.as_array().unwrap().len(), 2);
    assert_eq!(kept[1]["kind"], "unknown");

    db.kassa_ok(&["p2p", "pattern", "remove", &pattern_id])
        .await;
    let r = message(&app, &phone, "MyBank", text, "2024-05-01T12:02:00Z").await;
    assert_eq!(r.body["kind"], "unknown");
    assert!(
        !db.kassa(&["p2p", "pattern", "remove", &pattern_id])
            .await
            .success
    );

    // Revoked from the command line: refused by the server.
    db.kassa_ok(&[
        "trader",
        "device",
        "revoke",
        added["device_id"].as_str().unwrap(),
    ])
    .await;
    let r = message(&app, &phone, "MyBank", text, "2024-05-01T12:03:00Z").await;
    assert_eq!(r.status, 401);

    // Neither the device token nor the card number in the text is stored.
    let stored = db.contents();
    let holds = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(!holds(&phone), "a device token in clear");
    assert!(!holds("2200 7009 9988 7766"), "a card number in clear");
    assert!(!holds("2200700999887766"), "a card number in clear");
}
