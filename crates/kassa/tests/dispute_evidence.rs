//! Dispute evidence: a customer sends receipts on the hosted page of a
//! disputed P2P deal; the trader sees them on the panel's deal page and in
//! the trader API, the operator on the console's disputes page, and the
//! merchant in the Merchant API's `disputeAttachment`, `disputeReason` and
//! `disputeReasonData`, each through a signed, expiring link. In a real
//! headless Chromium and over plain HTTP.

mod browser;
mod common;
mod console_support;
mod evidence_support;
mod merchant_api_support;
mod portal_support;
mod trader_panel_support;

use std::time::Duration;

use browser::with_browser;
use common::{open_deal_in, rub_trader_in, TestApp};
use evidence_support::{disputed_deal, png_bytes, stored_receipts, upload, upload_with_token};
use fantoccini::Locator;
use kassa_domain::evidence::FILE_MAX_BYTES;
use kassa_domain::{DealStatus, OperatorRole};
use merchant_api_support::Api;
use trader_panel_support::{
    click, trader_with_user, type_into, wait_for_css, CARD, EMAIL, PASSWORD,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sends_a_png_receipt_and_the_trader_opens_it_on_the_panel() {
    let app = TestApp::spawn().await;
    trader_with_user(&app, "Ivan", CARD, EMAIL).await;
    let deal = disputed_deal(&app, false, "1500.00").await;
    let base = app.base_url.clone();
    let page = app.url(&format!("/hpp/{}?lang=en", deal.invoice_id));
    let receipt = tempfile::Builder::new()
        .suffix(".png")
        .tempfile()
        .expect("a receipt file");
    let receipt_path = receipt.path().display().to_string();
    let engine = app.engine().clone();
    let deal_id = deal.id.clone();
    with_browser("dispute_evidence", |c| async move {
        c.set_window_size(900, 1400).await.unwrap();
        c.goto(&page).await.unwrap();
        wait_for_css(&c, "#evidence").await;
        // The receipt: a real PNG, the browser's picture of the page.
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(&receipt_path, &png).expect("write the receipt");
        std::fs::write("/tmp/evidence-form.png", &png).expect("write /tmp/evidence-form.png");
        c.find(Locator::Css("#evidence-file"))
            .await
            .unwrap()
            .send_keys(&receipt_path)
            .await
            .expect("choose the file");
        c.find(Locator::Css(
            "#evidence-reason option[value='paid_but_not_credited']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        type_into(&c, "#evidence-text", "Paid from Sberbank at 12:04").await;
        click(&c, "#evidence-send").await;
        wait_for_css(&c, "#evidence-sent").await;
        let sent = c.find(Locator::Css("#evidence-sent")).await.unwrap();
        assert_eq!(sent.attr("data-count").await.unwrap().as_deref(), Some("1"));
        let stored = engine.deal(deal_id.clone()).await.unwrap();
        assert_eq!(stored.evidence.len(), 1, "{stored:?}");
        assert_eq!(stored.evidence[0].content_type, "image/png");
        assert_eq!(stored.evidence[0].size_bytes, png.len() as i64);
        assert_eq!(
            stored.customer_reason.as_deref(),
            Some("paid_but_not_credited")
        );
        assert_eq!(
            stored.customer_reason_text.as_deref(),
            Some("Paid from Sberbank at 12:04")
        );

        // The trader signs in and finds the receipt on the deal's page.
        c.goto(&format!("{base}/trader/?lang=en")).await.unwrap();
        wait_for_css(&c, "#email").await;
        type_into(&c, "#email", EMAIL).await;
        type_into(&c, "#password", PASSWORD).await;
        click(&c, "#submit").await;
        wait_for_css(&c, "#disputes").await;
        // The dispute's card says a receipt came and leads to it.
        click(
            &c,
            &format!("#disputes .deal[data-id='{deal_id}'] dd.receipts a"),
        )
        .await;
        c.goto(&format!("{base}/trader/deals/{deal_id}"))
            .await
            .unwrap();
        wait_for_css(&c, "#evidence a.evidence-link").await;
        let evidence = c
            .find(Locator::Css("#evidence"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(evidence.contains("paid_but_not_credited"), "{evidence}");
        assert!(
            evidence.contains("Paid from Sberbank at 12:04"),
            "{evidence}"
        );
        let link = c
            .find(Locator::Css("#evidence a.evidence-link"))
            .await
            .unwrap();
        let href = link.prop("href").await.unwrap().expect("a link");
        assert!(
            href.starts_with(&format!("{base}/dispute-evidence/")),
            "{href}"
        );
        // Opened, the browser shows the picture the customer sent.
        c.goto(&href).await.unwrap();
        let shown = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("img"))
            .await
            .expect("the receipt shown as an image");
        let size = shown.rectangle().await.expect("its box");
        assert!(size.2 > 10.0 && size.3 > 10.0, "{size:?}");
        let fetched = reqwest::get(&href).await.unwrap().bytes().await.unwrap();
        assert_eq!(fetched.as_ref(), png.as_slice());
    })
    .await;
}

#[tokio::test]
async fn a_file_that_only_claims_to_be_a_png_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    rub_trader_in(&app, false, "Ivan", "card", CARD).await;
    let deal = disputed_deal(&app, false, "1500.00").await;
    let html = b"<html><script>alert(1)</script></html>";
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("receipt.png", "image/png", html)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not a PNG or JPEG image or a PDF"), "{body}");
    let after = app.engine().deal(deal.id.clone()).await.unwrap();
    assert!(after.evidence.is_empty());
    assert_eq!(after.customer_reason, None);
    assert_eq!(stored_receipts(&app), 0);

    // An unknown reason and an empty file are refused the same way.
    let png = png_bytes(64);
    let (status, _) = upload(
        &app,
        &deal.invoice_id,
        Some(("a.png", "image/png", &png)),
        "refund",
        "",
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = upload(
        &app,
        &deal.invoice_id,
        Some(("a.png", "image/png", b"")),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 422);
    // Without the page's token: refused.
    let (status, _) = upload_with_token(
        &app,
        &deal.invoice_id,
        "forged",
        Some(("a.png", "image/png", &png)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 403);
    assert!(app
        .engine()
        .deal(deal.id)
        .await
        .unwrap()
        .evidence
        .is_empty());
    assert_eq!(stored_receipts(&app), 0);
}

#[tokio::test]
async fn an_oversize_file_is_refused() {
    let app = TestApp::spawn().await;
    rub_trader_in(&app, false, "Ivan", "card", CARD).await;
    let deal = disputed_deal(&app, false, "1500.00").await;
    let big = png_bytes(FILE_MAX_BYTES + 1);
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("big.png", "image/png", &big)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than 5 MiB"), "{body}");
    assert!(app
        .engine()
        .deal(deal.id.clone())
        .await
        .unwrap()
        .evidence
        .is_empty());
    assert_eq!(stored_receipts(&app), 0);
    // Exactly the limit is taken.
    let most = png_bytes(FILE_MAX_BYTES);
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("most.png", "image/png", &most)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(app.engine().deal(deal.id).await.unwrap().evidence.len(), 1);
}

#[tokio::test]
async fn a_fourth_file_is_refused() {
    let app = TestApp::spawn().await;
    rub_trader_in(&app, false, "Ivan", "card", CARD).await;
    let deal = disputed_deal(&app, false, "1500.00").await;
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];
    let pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let png = png_bytes(100);
    for (name, bytes) in [
        ("a.png", &png[..]),
        ("b.jpg", &jpeg[..]),
        ("c.pdf", &pdf[..]),
    ] {
        let (status, body) = upload(
            &app,
            &deal.invoice_id,
            Some((name, "application/octet-stream", bytes)),
            "paid_wrong_amount",
            "",
        )
        .await;
        assert_eq!(status, 303, "{name}: {body}");
    }
    let stored = app.engine().deal(deal.id.clone()).await.unwrap();
    let types: Vec<&str> = stored
        .evidence
        .iter()
        .map(|e| e.content_type.as_str())
        .collect();
    assert_eq!(types, ["image/png", "image/jpeg", "application/pdf"]);
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("d.png", "image/png", &png)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("At most 3 files"), "{body}");
    assert_eq!(app.engine().deal(deal.id).await.unwrap().evidence.len(), 3);
    assert_eq!(stored_receipts(&app), 3);
    // The page no longer offers the form.
    let page = app
        .http
        .get(app.url(&format!("/hpp/{}", deal.invoice_id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(r#"id="evidence""#), "{page}");
    assert!(page.contains(r#"data-count="3""#), "{page}");
}

#[tokio::test]
async fn an_open_deal_nobody_disputed_takes_no_receipt() {
    let app = TestApp::spawn().await;
    rub_trader_in(&app, false, "Ivan", "card", CARD).await;
    let deal = open_deal_in(&app, false, "1500.00", "sberbank").await;
    let page = app
        .http
        .get(app.url(&format!("/hpp/{}", deal.invoice_id)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(r#"id="evidence""#));
    let png = png_bytes(100);
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("a.png", "image/png", &png)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let after = app.engine().deal(deal.id.clone()).await.unwrap();
    assert_eq!(after.status, DealStatus::TransferWaiting);
    assert!(after.evidence.is_empty());
    assert_eq!(after.customer_says_paid_at_secs, None);

    // Past its deadline, cancelled, the customer's receipt disputes it.
    app.advance_secs(after.deadline_secs - app.engine().now_secs() + 1);
    app.engine().expire_due_deals().await.unwrap();
    app.wait_for_deal(&deal.id, DealStatus::Canceled).await;
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("a.png", "image/png", &png)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let disputed = app.engine().deal(deal.id).await.unwrap();
    assert_eq!(disputed.status, DealStatus::Disputed);
    assert_eq!(disputed.evidence.len(), 1);
}

#[tokio::test]
async fn the_merchant_api_shows_the_three_fields_and_the_link_is_signed_and_expires() {
    let app = TestApp::spawn().await;
    let (_, trader_token) = rub_trader_in(&app, true, "Ivan", "card", CARD).await;
    let deal = disputed_deal(&app, true, "1500.00").await;
    let api = Api::test(&app);
    let before = api.invoice(&deal.invoice_id).await;
    let d = &before["deals"][0];
    assert_eq!(d["disputeAttachment"], serde_json::Value::Null, "{before}");
    assert_eq!(d["disputeReason"], "customer_says_paid");
    assert_eq!(d["disputeReasonData"], serde_json::json!([]));

    let png = png_bytes(300);
    let (status, body) = upload(
        &app,
        &deal.invoice_id,
        Some(("r.png", "image/png", &png)),
        "paid_wrong_amount",
        "  Sent 1 400.00  ",
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let after = api.invoice(&deal.invoice_id).await;
    let d = &after["deals"][0];
    assert_eq!(d["disputeReason"], "paid_wrong_amount", "{after}");
    assert_eq!(
        d["disputeReasonData"],
        serde_json::json!([{ "text": "Sent 1 400.00" }])
    );
    let link = d["disputeAttachment"].as_str().expect("a link").to_string();
    assert!(
        link.starts_with(&format!("{}/dispute-evidence/evd_", app.base_url)),
        "{link}"
    );

    let response = app.http.get(&link).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), png.as_slice());

    // The trader API's deal view lists the same file.
    let view: serde_json::Value = app
        .http
        .get(app.url(&format!("/trader-api/deals/{}", deal.id)))
        .header("authorization", format!("Bearer {trader_token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["customer_reason"], "paid_wrong_amount", "{view}");
    assert_eq!(view["evidence"][0]["content_type"], "image/png");
    let trader_link = view["evidence"][0]["url"].as_str().unwrap();
    assert_eq!(
        app.http
            .get(trader_link)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Tampered: another signature, another expiry, another file, none.
    let (path, query) = link.split_once('?').unwrap();
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("signature="))
        .unwrap();
    let mut flipped = sig.to_string();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        format!("{path}?expires={expires}&signature={flipped}"),
        format!("{path}?expires={}&signature={sig}", expires + 3600),
        format!(
            "{}/dispute-evidence/evd_other?expires={expires}&signature={sig}",
            app.base_url
        ),
        path.to_string(),
    ] {
        let r = app.http.get(&bad).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{bad}");
    }
    // A PDF is downloaded, not shown.
    let pdf = b"%PDF-1.4\n".to_vec();
    let (status, _) = upload(
        &app,
        &deal.invoice_id,
        Some(("r.pdf", "application/pdf", &pdf)),
        "other",
        "",
    )
    .await;
    assert_eq!(status, 303);
    let pdf_link = api.invoice(&deal.invoice_id).await["deals"][0]["disputeAttachment"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.http.get(&pdf_link).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));

    // Expired: a day later the link is gone.
    app.advance_secs(24 * 3600 + 1);
    assert_eq!(
        app.http.get(&link).send().await.unwrap().status().as_u16(),
        404
    );
}

#[tokio::test]
async fn the_operator_sees_the_receipts_on_the_disputes_page() {
    let app = TestApp::spawn().await;
    rub_trader_in(&app, false, "Ivan", "card", CARD).await;
    let deal = disputed_deal(&app, false, "1500.00").await;
    console_support::add_operator(&app, console_support::ADMIN, OperatorRole::Admin).await;
    let mut v = console_support::Visitor::new(&app);
    v.sign_in(console_support::ADMIN).await;
    let (status, page) = v.get("/console/disputes?lang=en").await;
    assert_eq!(status, 200);
    assert!(page.contains("The customer sent no receipt."), "{page}");

    let png = png_bytes(2048);
    let (status, _) = upload(
        &app,
        &deal.invoice_id,
        Some(("r.png", "image/png", &png)),
        "other",
        "<b>see</b>",
    )
    .await;
    assert_eq!(status, 303);
    let (_, page) = v.get("/console/disputes?lang=en").await;
    assert!(page.contains("&lt;b&gt;see&lt;/b&gt;"), "{page}");
    let marker = "class=\"evidence-link\" href=\"";
    let at = page.find(marker).expect("a link") + marker.len();
    let href = page[at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(href.starts_with("/dispute-evidence/"), "{href}");
    let r = app.http.get(app.url(&href)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), png.as_slice());
}
