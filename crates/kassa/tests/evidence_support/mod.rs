//! Helpers of the dispute evidence tests: a disputed deal, and the hosted
//! page's receipt form posted as the browser posts it.
#![allow(dead_code)]

use kassa_domain::{Deal, DealStatus};

use crate::common::{open_deal_in, TestApp};

pub const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A deal of `amount` RUB whose customer said they paid and whose deadline
/// then passed: disputed.
pub async fn disputed_deal(app: &TestApp, test_mode: bool, amount: &str) -> Deal {
    let deal = open_deal_in(app, test_mode, amount, "sberbank").await;
    let engine = app.engine();
    engine
        .customer_says_paid(deal.invoice_id.clone())
        .await
        .expect("I have paid");
    app.advance_secs(deal.deadline_secs - engine.now_secs() + 1);
    engine.expire_due_deals().await.expect("deadlines");
    app.wait_for_deal(&deal.id, DealStatus::Disputed).await
}

/// A multipart body of the receipt form; `token` and the parts given.
pub fn form(
    token: &str,
    file: Option<(&str, &str, &[u8])>,
    reason: &str,
    text: &str,
) -> (String, Vec<u8>) {
    let boundary = "----kassa-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    let mut part = |name: &str, extra: &str, content: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part("token", "", token.as_bytes());
    part("reason", "", reason.as_bytes());
    part("text", "", text.as_bytes());
    if let Some((filename, content_type, bytes)) = file {
        part(
            "file",
            &format!("; filename=\"{filename}\"\r\nContent-Type: {content_type}"),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the receipt form to `invoice_id`'s page with its token; the
/// status and the body.
pub async fn upload(
    app: &TestApp,
    invoice_id: &str,
    file: Option<(&str, &str, &[u8])>,
    reason: &str,
    text: &str,
) -> (u16, String) {
    let token = app.engine().page_token(invoice_id);
    upload_with_token(app, invoice_id, &token, file, reason, text).await
}

pub async fn upload_with_token(
    app: &TestApp,
    invoice_id: &str,
    token: &str,
    file: Option<(&str, &str, &[u8])>,
    reason: &str,
    text: &str,
) -> (u16, String) {
    let (content_type, body) = form(token, file, reason, text);
    let response = app
        .http
        .post(app.url(&format!("/hpp/{invoice_id}/evidence")))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// A PNG's first bytes and some more: what the content check takes.
pub fn png_bytes(len: usize) -> Vec<u8> {
    let mut bytes = PNG_MAGIC.to_vec();
    bytes.resize(len.max(PNG_MAGIC.len()), 7);
    bytes
}

/// The receipts stored in the app's database, whichever backend it runs on.
pub fn stored_receipts(app: &TestApp) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM dispute_evidence";
    match &app.pg {
        Some(pg) => {
            let url = pg.url.clone();
            // The synchronous client runs a runtime of its own: off the test's.
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                client.query_one(SQL, &[]).expect("count").get::<_, i64>(0)
            })
            .join()
            .expect("count thread")
        }
        None => rusqlite::Connection::open(app.db_path())
            .expect("open the database")
            .query_row(SQL, [], |r| r.get(0))
            .expect("count"),
    }
}
