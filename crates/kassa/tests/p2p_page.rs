//! The hosted page of a P2P invoice (`/hpp/{id}` of a Merchant API invoice
//! with a deal): the exact amount, the trader's requisites, the deal's
//! deadline, the SBP QR code and "I have paid", in a real headless Chromium
//! and over plain HTTP.

mod browser;
mod common;

use std::time::Duration;

use browser::{text_of, with_browser};
use common::{test_invoice, TestApp};
use fantoccini::Locator;
use kassa_domain::{Currency, Deal, DealStatus};
use kassa_engine::p2p::NewCabinet;
use kassa_engine::p2p_invoices::NewP2pInvoice;

const SBP_PHONE: &str = "+79967779977";
const SBP_LINK: &str = "https://www.sberbank.com/sms/pbpn?requisiteNumber=79967779977";
const CARD: &str = "2200123456789012";
const CARD_SHOWN: &str = "2200 1234 5678 9012";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

struct Cabinets {
    trader_id: String,
}

/// A trader with an SBP cabinet and a card cabinet, both in RUB.
async fn seed(app: &TestApp) -> Cabinets {
    seed_with(app, "Ivan Petrov", "Sberbank", "Anna Sidorova", "T-Bank").await
}

async fn seed_with(
    app: &TestApp,
    sbp_holder: &str,
    sbp_bank: &str,
    card_holder: &str,
    card_bank: &str,
) -> Cabinets {
    let engine = app.engine();
    let (trader, _token) = engine
        .create_trader("Trader One".into())
        .await
        .expect("trader");
    let rub = Currency::from_code("RUB").expect("RUB");
    for (method, requisite, holder, bank) in [
        ("sbp", SBP_PHONE, sbp_holder, sbp_bank),
        ("card", CARD, card_holder, card_bank),
    ] {
        engine
            .add_cabinet(NewCabinet {
                trader_id: trader.id.clone(),
                method: method.into(),
                currency: rub,
                bank_name: bank.into(),
                requisite: requisite.into(),
                holder: holder.into(),
                min_amount_minor: 100,
                max_amount_minor: 0,
                daily_limit_minor: 0,
                max_open_deals: 0,
                active: true,
            })
            .await
            .expect("cabinet");
    }
    Cabinets {
        trader_id: trader.id,
    }
}

struct P2pInvoice {
    id: String,
    deal_id: String,
    /// What the Merchant API answers as `invoiceUrl`.
    url: String,
}

/// A Merchant API pay-in invoice with its deal started.
async fn p2p_invoice(
    app: &TestApp,
    test_mode: bool,
    option: Option<&str>,
    amount: &str,
) -> P2pInvoice {
    let engine = app.engine();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .expect("merchant");
    let created = engine
        .create_p2p_invoice(
            merchant,
            test_mode,
            NewP2pInvoice {
                amount: amount.into(),
                currency: "RUB".into(),
                // Nothing listens there; failed callbacks do not matter here.
                notification_url: "http://127.0.0.1:9/".into(),
                notification_token: "token-1".into(),
                payment_option: option.map(str::to_string),
                start_deal: true,
                ..Default::default()
            },
        )
        .await
        .expect("a P2P invoice");
    let invoice = created.invoice;
    let deal_id = invoice.deal_id.clone().expect("the invoice has a deal");
    P2pInvoice {
        url: app.url(&format!("/hpp/{}", invoice.id)),
        id: invoice.id,
        deal_id,
    }
}

async fn deal(app: &TestApp, id: &str) -> Deal {
    app.engine().deal(id.to_string()).await.expect("deal")
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Page {
    fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    fn assert_has(&self, texts: &[&str]) {
        for t in texts {
            assert!(self.has(t), "{t:?} missing in {}", self.body);
        }
    }

    fn assert_lacks(&self, texts: &[&str]) {
        for t in texts {
            assert!(!self.has(t), "{t:?} should not be in {}", self.body);
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> Page {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().await.expect("body");
    Page {
        status,
        location,
        body,
    }
}

async fn get_page(app: &TestApp, path: &str, accept_language: Option<&str>) -> Page {
    let mut request = app.http.get(app.url(path));
    if let Some(l) = accept_language {
        request = request.header("accept-language", l);
    }
    let page = send(request).await;
    assert_eq!(page.status, 200, "GET {path}: {}", page.body);
    page
}

async fn post_page(app: &TestApp, path: &str) -> Page {
    send(app.page_post(path)).await
}

#[tokio::test]
async fn browser_shows_an_sbp_deal_with_its_qr_code_and_takes_i_have_paid() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, Some("SBP"), "1000.00").await;
    let engine_deal = deal(&app, &invoice.deal_id).await;
    assert_eq!(engine_deal.method, "sbp");
    with_browser("browser_shows_an_sbp_deal", |client| async move {
        client
            .set_window_size(900, 1500)
            .await
            .expect("window size");
        client
            .goto(&invoice.url)
            .await
            .expect("open the hosted page");
        assert_eq!(client.current_url().await.unwrap().as_str(), invoice.url);
        assert_eq!(client.title().await.unwrap(), "Payment");

        assert_eq!(text_of(&client, "#merchant").await, "Test Shop");
        assert_eq!(text_of(&client, "#amount").await, "1000.00 RUB");
        let warning = text_of(&client, "#exact-warning").await;
        assert!(
            warning.contains("exactly") && warning.contains("to the kopeck"),
            "{warning}"
        );
        assert_eq!(text_of(&client, "#requisite").await, SBP_PHONE);
        assert_eq!(text_of(&client, "#holder").await, "Ivan Petrov");
        assert_eq!(text_of(&client, "#bank").await, "Sberbank");
        let requisites = client.find(Locator::Css("#requisites")).await.unwrap();
        assert_eq!(
            requisites.attr("data-method").await.unwrap().as_deref(),
            Some("sbp")
        );
        assert!(text_of(&client, "#requisites")
            .await
            .contains("Phone number (SBP)"),);

        // The QR code: an inline SVG drawn on the server, and the link it holds.
        let qr = client.find(Locator::Css("svg#qr")).await.expect("svg#qr");
        assert_eq!(qr.tag_name().await.unwrap(), "svg");
        let (_, _, width, height) = qr.rectangle().await.expect("the QR code's box");
        assert!(height >= 150.0, "the QR code is {height}px high");
        assert!(width >= 150.0, "the QR code is {width}px wide");
        assert!(client.find(Locator::Css("svg#qr path")).await.is_ok());
        let link = client.find(Locator::Css("#qr-link")).await.unwrap();
        assert_eq!(link.attr("href").await.unwrap().as_deref(), Some(SBP_LINK));
        assert_eq!(link.text().await.unwrap(), SBP_LINK);

        let time_left = client.find(Locator::Css("#time-left")).await.unwrap();
        assert_eq!(
            time_left.attr("data-seconds").await.unwrap().as_deref(),
            Some("1800")
        );
        let text = time_left.text().await.unwrap();
        assert!(
            text == "0 h 30 min 00 s" || (text.starts_with("0 h 29 min ") && text.ends_with(" s")),
            "time left: {text:?}"
        );
        let status = client.find(Locator::Css("#status")).await.unwrap();
        assert_eq!(
            status.attr("data-deal-status").await.unwrap().as_deref(),
            Some("transfer_waiting")
        );

        let png = client.screenshot().await.expect("screenshot");
        std::fs::write("/tmp/p2p.png", png).expect("write /tmp/p2p.png");

        client
            .find(Locator::Css("#paid"))
            .await
            .expect("the I have paid button")
            .click()
            .await
            .unwrap();
        let checking = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#checking"))
            .await
            .expect("the checking message");
        assert!(checking
            .text()
            .await
            .unwrap()
            .contains("Your payment is being checked"),);
        assert_eq!(
            client.current_url().await.unwrap().as_str(),
            format!("{}?lang=en", invoice.url)
        );
        assert_eq!(text_of(&client, "#status").await, "Payment being checked");
        // The button is gone; the requisites stay until the deadline.
        assert!(client.find(Locator::Css("#paid")).await.is_err());
        assert_eq!(text_of(&client, "#requisite").await, SBP_PHONE);
        let noted = deal(&app, &invoice.deal_id).await;
        assert_eq!(noted.status, DealStatus::TransferWaiting);
        assert!(noted.customer_says_paid_at_secs.is_some(), "{noted:?}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Plain HTTP
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_card_deal_shows_the_card_holder_bank_and_exact_amount() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, None, "1000.00").await;
    let page = get_page(&app, &format!("/hpp/{}", invoice.id), None).await;
    page.assert_has(&[
        r#"<html lang="en">"#,
        "Test Shop",
        "Amount to transfer",
        r#"data-amount="1000.00""#,
        ">1000.00 RUB<",
        "Transfer exactly this amount, to the kopeck",
        "cannot be matched to your order",
        "Card number",
        CARD_SHOWN,
        &format!(r#"data-copy="{CARD}""#),
        "Recipient",
        "Anna Sidorova",
        "Bank",
        "T-Bank",
        "Waiting for your transfer",
        r#"data-deal-status="transfer_waiting""#,
        r#"data-seconds="1800""#,
        "0 h 30 min 00 s",
        &format!(r#"action="/hpp/{}/paid?lang=en""#, invoice.id),
        "I have paid",
    ]);
    // A card deal has no QR code, and a P2P page no test controls.
    page.assert_lacks(&[
        "<svg",
        "qr-link",
        "Phone number",
        "id=\"complete\"",
        "/complete",
    ]);

    // The same amount again on the same card: the deal takes an alternative,
    // and the page shows the amount of the deal, which is the one to pay.
    let second = p2p_invoice(&app, false, Some("CARD"), "1000.00").await;
    let second_deal = deal(&app, &second.deal_id).await;
    assert_eq!(second_deal.amount_minor, 100_100);
    let page = get_page(&app, &format!("/hpp/{}", second.id), None).await;
    page.assert_has(&[">1001.00 RUB<", CARD_SHOWN]);
    page.assert_lacks(&[">1000.00 RUB<"]);

    // An SBP deal: the phone, the QR code and its link.
    let sbp = p2p_invoice(&app, false, Some("SBP"), "250.50").await;
    let page = get_page(&app, &format!("/hpp/{}", sbp.id), None).await;
    page.assert_has(&[
        ">250.50 RUB<",
        "Phone number (SBP)",
        SBP_PHONE,
        "Ivan Petrov",
        "Sberbank",
        r#"<svg id="qr""#,
        &format!(r#"href="{SBP_LINK}""#),
    ]);
    page.assert_lacks(&["<?xml"]);
}

#[tokio::test]
async fn the_p2p_page_speaks_russian_and_ukrainian() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, None, "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);
    let english = [
        "Amount to transfer",
        "I have paid",
        "Card number",
        "Recipient",
    ];

    let ru = [
        r#"<html lang="ru">"#,
        "Сумма перевода",
        "с точностью до копейки",
        "Номер карты",
        "Получатель",
        "Банк",
        "Ожидаем ваш перевод",
        "Осталось времени",
        "0 ч 30 мин 00 с",
        "Я оплатил",
        "?lang=ru\"",
    ];
    let uk = [
        r#"<html lang="uk">"#,
        "Сума переказу",
        "з точністю до копійки",
        "Номер картки",
        "Отримувач",
        "Очікуємо ваш переказ",
        "Залишилось часу",
        "0 год 30 хв 00 с",
        "Я сплатив",
        "?lang=uk\"",
    ];
    for page in [
        get_page(&app, &format!("{path}?lang=ru"), None).await,
        get_page(&app, &path, Some("ru-RU,ru;q=0.9,en;q=0.5")).await,
    ] {
        page.assert_has(&ru);
        page.assert_has(&[CARD_SHOWN, "Anna Sidorova", ">1000.00 RUB<"]);
        page.assert_lacks(&english);
    }
    for page in [
        get_page(&app, &format!("{path}?lang=uk"), None).await,
        get_page(&app, &path, Some("uk-UA,uk;q=0.9")).await,
    ] {
        page.assert_has(&uk);
        page.assert_has(&[CARD_SHOWN, "Anna Sidorova", ">1000.00 RUB<"]);
        page.assert_lacks(&english);
    }

    // SBP in Russian and Ukrainian.
    let sbp = p2p_invoice(&app, false, Some("SBP"), "1000.00").await;
    get_page(&app, &format!("/hpp/{}?lang=ru", sbp.id), None)
        .await
        .assert_has(&["Номер телефона (СБП)", "Отсканируйте код", SBP_PHONE]);
    get_page(&app, &format!("/hpp/{}?lang=uk", sbp.id), None)
        .await
        .assert_has(&["Номер телефону (СБП)", "Відскануйте код", SBP_PHONE]);

    // "I have paid" keeps the language.
    let done = post_page(&app, &format!("{path}/paid?lang=uk")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, format!("{path}?lang=uk"));
    get_page(&app, &done.location, None)
        .await
        .assert_has(&["Платіж перевіряється", "Дякуємо! Ваш платіж перевіряється."]);
    get_page(&app, &format!("{path}?lang=ru"), None)
        .await
        .assert_has(&["Платёж проверяется", "Спасибо! Ваш платёж проверяется."]);
}

#[tokio::test]
async fn the_time_left_follows_the_deadline_of_the_deal() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, None, "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);
    app.advance_secs(10 * 60 + 5);
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[r#"data-seconds="1195""#, "0 h 19 min 55 s", CARD_SHOWN]);
    // The countdown and the copy buttons: the page's own scripts.
    assert_eq!(page.body.matches("<script").count(), 2, "{}", page.body);
}

#[tokio::test]
async fn after_the_deadline_the_page_says_canceled_and_i_have_paid_opens_a_dispute() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, None, "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);

    app.advance_secs(30 * 60 + 1);
    let canceled = app
        .wait_for_deal(&invoice.deal_id, DealStatus::Canceled)
        .await;
    assert!(canceled.settled_by.is_none(), "{canceled:?}");

    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="canceled""#,
        r#"data-status="expired""#,
        "Cancelled: the time ran out",
        "Do not transfer money to these requisites any more",
        r#"id="paid""#,
        "I have paid",
    ]);
    // The requisites and the countdown are gone: no more transfers to them.
    page.assert_lacks(&[
        CARD_SHOWN,
        CARD,
        "Anna Sidorova",
        "time-left",
        "Amount to transfer",
    ]);
    get_page(&app, &format!("{path}?lang=ru"), None)
        .await
        .assert_has(&["Отменено: время истекло", "Время на оплату истекло"]);
    get_page(&app, &format!("{path}?lang=uk"), None)
        .await
        .assert_has(&["Скасовано: час вичерпано", "Час на оплату вичерпано"]);

    // "I have paid" after the deadline: a dispute.
    let done = post_page(&app, &format!("{path}/paid")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, format!("{path}?lang=en"));
    let disputed = deal(&app, &invoice.deal_id).await;
    assert_eq!(disputed.status, DealStatus::Disputed, "{disputed:?}");
    assert_eq!(
        disputed.dispute_reason.as_deref(),
        Some("customer_paid_after_deadline")
    );
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="disputed""#,
        r#"data-status="processing""#,
        "Payment being checked",
        r#"id="checking""#,
        "Your payment is being checked",
    ]);
    page.assert_lacks(&[r#"id="paid""#, CARD_SHOWN, "time-left"]);

    // Pressing again changes nothing.
    let again = post_page(&app, &format!("{path}/paid?lang=ru")).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(deal(&app, &invoice.deal_id).await, disputed);

    // The trader decides the money never came: the customer is told so and
    // cannot reopen the dispute from the page.
    app.engine()
        .resolve_dispute(None, invoice.deal_id.clone(), false)
        .await
        .expect("resolve");
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="canceled""#,
        "Not confirmed",
        "The payment was not confirmed",
    ]);
    page.assert_lacks(&[r#"id="paid""#, "time ran out"]);
    // Nor by posting the form anyway: the decision stands.
    let decided = deal(&app, &invoice.deal_id).await;
    assert_eq!(decided.status, DealStatus::Canceled);
    let again = post_page(&app, &format!("{path}/paid")).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(deal(&app, &invoice.deal_id).await, decided);
    get_page(&app, &path, None)
        .await
        .assert_has(&[r#"data-deal-status="canceled""#, r#"data-status="expired""#]);
}

#[tokio::test]
async fn i_have_paid_before_the_deadline_then_the_deadline_disputes_the_deal() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, Some("SBP"), "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);
    let done = post_page(&app, &format!("{path}/paid?lang=ru")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, format!("{path}?lang=ru"));
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="transfer_waiting""#,
        "Payment being checked",
        "Your payment is being checked",
        SBP_PHONE,
        r#"<svg id="qr""#,
        "time-left",
    ]);
    page.assert_lacks(&[r#"id="paid""#]);

    app.advance_secs(30 * 60 + 1);
    let d = app
        .wait_for_deal(&invoice.deal_id, DealStatus::Disputed)
        .await;
    assert_eq!(d.dispute_reason.as_deref(), Some("customer_says_paid"));
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="disputed""#,
        "Your payment is being checked",
    ]);
    page.assert_lacks(&[SBP_PHONE, "<svg", r#"id="paid""#]);
}

#[tokio::test]
async fn a_completed_deal_page_says_paid() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let invoice = p2p_invoice(&app, false, None, "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);
    app.engine()
        .confirm_deal(None, invoice.deal_id.clone())
        .await
        .expect("confirm");
    let page = get_page(&app, &path, None).await;
    page.assert_has(&[
        r#"data-deal-status="completed""#,
        r#"data-status="processed""#,
        ">Paid<",
        "The payment has been received. Thank you!",
        ">1000.00 RUB<",
    ]);
    page.assert_lacks(&[CARD_SHOWN, r#"id="paid""#, "time-left", "<script", "kopeck"]);
    get_page(&app, &format!("{path}?lang=ru"), None)
        .await
        .assert_has(&[">Оплачено<", "Платёж получен. Спасибо!"]);
    get_page(&app, &format!("{path}?lang=uk"), None)
        .await
        .assert_has(&[">Сплачено<", "Платіж отримано. Дякуємо!"]);

    // "I have paid" on a paid deal changes nothing.
    let done = post_page(&app, &format!("{path}/paid")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        deal(&app, &invoice.deal_id).await.status,
        DealStatus::Completed
    );
}

#[tokio::test]
async fn what_the_trader_entered_is_escaped() {
    let app = TestApp::spawn().await;
    seed_with(
        &app,
        "<script>alert(1)</script>",
        "Bank \"&\" <b>Co</b>",
        "x\"><img src=x onerror=alert(2)>",
        "Card <Bank>",
    )
    .await;
    let sbp = p2p_invoice(&app, false, Some("SBP"), "1000.00").await;
    let card = p2p_invoice(&app, false, None, "1000.00").await;
    for id in [&sbp.id, &card.id] {
        for lang in ["en", "ru", "uk"] {
            let page = get_page(&app, &format!("/hpp/{id}?lang={lang}"), None).await;
            page.assert_lacks(&["<script>alert", "<b>", "<img", "<Bank>"]);
        }
    }
    get_page(&app, &format!("/hpp/{}", sbp.id), None)
        .await
        .assert_has(&[
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "Bank &quot;&amp;&quot; &lt;b&gt;Co&lt;/b&gt;",
        ]);
    get_page(&app, &format!("/hpp/{}", card.id), None)
        .await
        .assert_has(&[
            "x&quot;&gt;&lt;img src=x onerror=alert(2)&gt;",
            "Card &lt;Bank&gt;",
        ]);
}

#[tokio::test]
async fn test_controls_and_i_have_paid_are_refused_where_they_do_not_belong() {
    let app = TestApp::spawn().await;
    let live = seed(&app).await;
    // A test-mode P2P invoice (on a test trader's card, not the live one):
    // settled by its deal, never by the test controls.
    let (trader, _token) = app
        .engine()
        .create_trader_in("Test Trader".into(), true)
        .await
        .expect("trader");
    app.engine()
        .add_cabinet(NewCabinet {
            trader_id: trader.id.clone(),
            method: "card".into(),
            currency: Currency::from_code("RUB").expect("RUB"),
            bank_name: "T-Bank".into(),
            requisite: CARD.into(),
            holder: "Anna Sidorova".into(),
            min_amount_minor: 100,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .expect("cabinet");
    let invoice = p2p_invoice(&app, true, None, "1000.00").await;
    let path = format!("/hpp/{}", invoice.id);
    get_page(&app, &path, None).await.assert_lacks(&[
        r#"id="complete""#,
        r#"id="fail""#,
        "Test payment",
    ]);
    for action in ["complete", "fail"] {
        let page = post_page(&app, &format!("{path}/{action}")).await;
        assert_eq!(page.status, 403, "{action}: {}", page.body);
        assert!(
            page.body.contains("This action is not allowed."),
            "{}",
            page.body
        );
    }
    let d = deal(&app, &invoice.deal_id).await;
    assert_eq!(d.status, DealStatus::TransferWaiting);
    assert_eq!(d.trader_id, trader.id);
    assert_ne!(d.trader_id, live.trader_id);
    let (inv, _) = app
        .engine()
        .invoice_with_deal(invoice.id.clone())
        .await
        .unwrap();
    assert_eq!(inv.status.as_str(), "process_pending");

    // "I have paid" for an invoice that is not P2P, or that does not exist.
    let (status, body) = app.create_private(test_invoice("process_pending")).await;
    assert_eq!(status, 201, "{body}");
    let card_id = body["data"]["id"].as_str().unwrap().to_string();
    let page = post_page(&app, &format!("/hpp/{card_id}/paid")).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert_eq!(app.invoice(&card_id).await["status"], "process_pending");
    let page = post_page(&app, "/hpp/cpi_doesNotExist/paid?lang=ru").await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("Платёж не найден."), "{}", page.body);
    // The card view of a plain invoice has no P2P parts.
    get_page(&app, &format!("/hpp/{card_id}"), None)
        .await
        .assert_lacks(&["I have paid", "kopeck", "<svg"]);
}
