//! The merchant portal's books and payouts: balances and the daily report
//! (shown and as the CSV `kassa report daily` writes), and the payouts list
//! with masked card numbers, each of one mode and one merchant.

mod common;
mod h2h_support;
mod payouts_support;
mod portal_support;

use common::TestApp;
use payouts_support::{fund, Payouts};
use portal_support::{add_user, create, settled, Visitor, EMAIL};
use serde_json::json;

#[tokio::test]
async fn balances_and_the_daily_report_are_the_ledgers_and_download_as_csv() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    let id = create(&app, "processed", "paid-1", None).await;
    settled(&app, &id).await;
    let merchant = app.merchant.merchant_id.clone();
    let mut v = Visitor::new(&app);
    v.sign_in().await;

    let (status, html) = v.get("/portal/test/books").await;
    assert_eq!(status, 200);
    let balances = app.engine().balances(merchant.clone(), true).await.unwrap();
    assert_eq!(balances.len(), 1);
    let usd = &balances[0];
    assert!(usd.available_minor > 0);
    let shown = format!(
        "<td class=\"available\">{} USD</td>",
        kassa_domain::money::format_fixed(usd.available_minor, 2)
    );
    assert!(html.contains(&shown), "{shown} in {html}");
    assert!(
        html.contains(&format!("<td class=\"hide-sm\">{id}</td>")),
        "the pay-in in today's report"
    );
    let (_, live) = v.get("/portal/live/books").await;
    assert!(live.contains("id=\"no-balances\"") && !live.contains(&id));

    let today = chrono::DateTime::from_timestamp(app.engine().now_secs(), 0)
        .unwrap()
        .date_naive();
    let r = app
        .http
        .get(app.url(&format!("/portal/test/books/report.csv?date={today}")))
        .header(
            "cookie",
            format!("kassa_portal={}", v.session.as_ref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let csv = r.text().await.unwrap();
    let expected = app
        .engine()
        .daily_report(merchant.clone(), true, today)
        .await
        .unwrap();
    assert_eq!(csv, expected, "what `kassa report daily` writes");
    assert!(csv.contains(&id));
    let (_, live_csv) = v
        .get(&format!("/portal/live/books/report.csv?date={today}"))
        .await;
    assert!(!live_csv.contains(&id));

    for bad in ["2026-02-30", "today"] {
        assert_eq!(
            v.get(&format!("/portal/test/books?date={bad}")).await.0,
            422,
            "{bad}"
        );
        assert_eq!(
            v.get(&format!("/portal/test/books/report.csv?date={bad}"))
                .await
                .0,
            422
        );
    }
}

#[tokio::test]
async fn payouts_are_listed_by_mode_with_card_numbers_masked() {
    let app = TestApp::spawn().await;
    add_user(&app, &app.merchant.merchant_id, EMAIL).await;
    fund(&app, "USD", "100.00").await;
    let payouts = Payouts::of(&app);
    let mut ids = Vec::new();
    for n in 0..3 {
        let reply = payouts
            .create(payouts.body(
                "card",
                "USD",
                1_000 + n,
                json!({
                    "card_number": "4111 1111 1111 1111",
                    "card_holder": "John Wick",
                    "bank_name": "Morgan",
                    "bank_option": "778953337789",
                    "expiry_date": "07/23",
                }),
            ))
            .await;
        ids.push(reply["invoice_id"].as_str().expect("payout id").to_string());
    }
    let mut v = Visitor::new(&app);
    v.sign_in().await;
    let (status, html) = v.get("/portal/live/payouts").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(html.matches("<tr data-id=").count(), 3);
    for id in &ids {
        assert!(html.contains(id.as_str()), "{id}");
    }
    assert!(html.contains("411111******1111"), "masked: {html}");
    assert!(!html.contains("4111111111111111") && !html.contains("4111 1111 1111 1111"));
    assert!(
        html.find(ids[2].as_str()) < html.find(ids[0].as_str()),
        "newest first"
    );
    let (_, pending) = v.get("/portal/live/payouts?status=pending").await;
    assert_eq!(pending.matches("<tr data-id=").count(), 3);
    let (_, paid) = v.get("/portal/live/payouts?status=success").await;
    assert!(paid.contains("id=\"empty\""));
    let (_, test) = v.get("/portal/test/payouts").await;
    assert!(
        test.contains("id=\"empty\""),
        "live payouts are not test ones"
    );
    assert_eq!(v.get("/portal/live/payouts?status=paid").await.0, 422);
}
