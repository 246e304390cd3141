//! Races between two nodes on one database (a SQLite file, or PostgreSQL in
//! the suite's second run): the racing requests are let go together at a
//! barrier, over many rounds, and after each round exactly one outcome must
//! stand and the books must balance.

mod common;

use std::sync::Arc;

use common::{rub_cabinet, rub_trader, TestApp};
use kassa_domain::ledger::{Transaction, TxnKind};
use kassa_domain::payout::{PayoutSource, PayoutStatus};
use kassa_domain::{Currency, DealStatus, InvoiceStatus, Merchant};
use kassa_engine::p2p::{BookRequest, NewCabinet, NewNotification};
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::payouts::NewPayout;
use kassa_engine::Engine;
use serde_json::{json, Value};
use tokio::sync::Barrier;

const CARD: &str = "4242424242424242";

fn rub() -> Currency {
    Currency::from_code("RUB").unwrap()
}

/// The test's app and a second node beside it: the same database, the same
/// clock, a listener and workers of its own.
struct Nodes {
    app: TestApp,
    second: kassa::Server,
}

impl Nodes {
    async fn start(adjust: impl FnOnce(&mut kassa::Config)) -> Nodes {
        let app = TestApp::spawn_with(adjust).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let second = kassa::Server::start(&app.config, Some(app.clock.clone()), listener)
            .await
            .expect("second node");
        Nodes { app, second }
    }

    /// Node 0 or 1.
    fn engine(&self, node: usize) -> &Arc<Engine> {
        [self.app.engine(), &self.second.engine][node % 2]
    }

    fn url(&self, node: usize, path: &str) -> String {
        let base = [&self.app.base_url, &self.second.base_url][node % 2];
        format!("{base}{path}")
    }

    async fn merchant(&self) -> Merchant {
        self.app
            .engine()
            .merchant(self.app.merchant.merchant_id.clone())
            .await
            .unwrap()
    }

    /// A trader API POST on a node: (status, body).
    async fn trader_post(&self, node: usize, path: &str, token: &str, body: Value) -> (u16, Value) {
        let response = self
            .app
            .http
            .post(self.url(node, path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(status < 500, "server error {status}: {text}");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Every live ledger transaction of the merchant.
    async fn transactions(&self) -> Vec<Transaction> {
        self.app
            .engine()
            .merchant_ledger(self.app.merchant.merchant_id.clone(), false, 0, i64::MAX)
            .await
            .unwrap()
            .0
    }

    async fn kinds_of(&self, reference: &str) -> Vec<TxnKind> {
        let mut kinds: Vec<TxnKind> = self
            .transactions()
            .await
            .into_iter()
            .filter(|t| t.reference == reference)
            .map(|t| t.kind)
            .collect();
        kinds.sort_by_key(|k| format!("{k:?}"));
        kinds
    }

    /// Every currency's accounts sum to zero; no merchant account is negative.
    async fn assert_books_balance(&self) {
        let totals = self.app.engine().ledger_totals().await.unwrap();
        for (test_mode, currency, sum) in &totals.per_currency {
            assert_eq!(*sum, 0, "{currency} (test {test_mode}) does not balance");
        }
        assert!(totals.negative.is_empty(), "{:?}", totals.negative);
    }

    async fn fund(&self, amount_minor: i64) {
        self.app
            .engine()
            .adjust_balance(
                self.app.merchant.merchant_id.clone(),
                false,
                rub(),
                amount_minor,
                "top-up".into(),
            )
            .await
            .unwrap();
    }

    async fn payout(&self, request_id: &str, amount_minor: i64) -> String {
        let fields = json!({"card_number": CARD, "card_holder": "Petr P.", "bank_name": "tinkoff"});
        let created = self
            .app
            .engine()
            .create_payout(
                &self.merchant().await,
                false,
                NewPayout {
                    request_id: request_id.into(),
                    amount_minor,
                    currency: "RUB".into(),
                    method: "card".into(),
                    additional_fields: fields.as_object().unwrap().clone(),
                    source: PayoutSource::H2h,
                    callback_url: None,
                    merchant_api: None,
                },
            )
            .await
            .expect("payout");
        created.payout.id
    }

    /// A live P2P invoice of `amount` RUB with its deal on a card:
    /// (invoice id, deal id).
    async fn deal(&self, node: usize, order: String, amount: &str) -> Option<(String, String)> {
        self.deal_by(node, order, amount, None).await
    }

    async fn deal_by(
        &self,
        node: usize,
        order: String,
        amount: &str,
        option: Option<&str>,
    ) -> Option<(String, String)> {
        let created = self
            .engine(node)
            .create_p2p_invoice(
                self.merchant().await,
                false,
                NewP2pInvoice {
                    internal_id: Some(order),
                    amount: amount.into(),
                    currency: "RUB".into(),
                    notification_url: "http://127.0.0.1:9/notify".into(),
                    notification_token: "token".into(),
                    start_deal: true,
                    payment_option: option.map(str::to_string),
                    ..Default::default()
                },
            )
            .await
            .ok()?;
        let deal_id = created.invoice.deal_id.clone()?;
        Some((created.invoice.id, deal_id))
    }
}

/// Runs `racers` together: each waits at one barrier, then goes.
async fn race<F, T>(racers: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let barrier = Barrier::new(racers.len());
    let barrier = &barrier;
    futures::future::join_all(racers.into_iter().map(|racer| async move {
        barrier.wait().await;
        racer.await
    }))
    .await
}

/// Polls `probe` until it answers, for 10 s at most.
async fn eventually<T, F, Fut>(probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

const ROUNDS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_traders_racing_for_one_payout_give_one_winner() {
    let nodes = Nodes::start(|_| {}).await;
    let mut traders = Vec::new();
    for i in 0..20 {
        let requisite = format!("22001234567890{i:02}");
        traders.push(rub_trader(&nodes.app, &format!("T{i}"), "card", &requisite).await);
    }
    nodes.fund(10_000_000).await;
    for round in 0..ROUNDS / 2 {
        let id = nodes.payout(&format!("race-take-{round}"), 100_000).await;
        let path = format!("/trader-api/payouts/{id}/take");
        let answers = race(
            traders
                .iter()
                .enumerate()
                .map(|(i, (_, token))| nodes.trader_post(i, &path, token, json!({})))
                .collect(),
        )
        .await;
        let winners: Vec<usize> = (0..answers.len())
            .filter(|i| answers[*i].0 == 200)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        for (i, (status, body)) in answers.iter().enumerate() {
            if i != winners[0] {
                assert_eq!(*status, 409, "round {round}: {body}");
                assert!(
                    !body.to_string().contains(CARD),
                    "a loser saw the card: {body}"
                );
            }
        }
        let payout = nodes
            .app
            .engine()
            .payout(nodes.app.merchant.merchant_id.clone(), false, id.clone())
            .await
            .unwrap();
        assert_eq!(payout.status, PayoutStatus::InProgress);
        assert_eq!(
            payout.trader_id.as_deref(),
            Some(traders[winners[0]].0.id.as_str())
        );
    }
    nodes.assert_books_balance().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payout_marked_done_as_its_deadline_passes_has_one_outcome() {
    let nodes = Nodes::start(|c| c.payout_ttl_secs = 60).await;
    let (trader, token) = rub_trader(&nodes.app, "Payer", "card", CARD).await;
    nodes.fund(10_000_000).await;
    let merchant_id = nodes.app.merchant.merchant_id.clone();
    for round in 0..ROUNDS {
        let id = nodes.payout(&format!("race-done-{round}"), 100_000).await;
        let (status, body) = nodes
            .trader_post(
                0,
                &format!("/trader-api/payouts/{id}/take"),
                &token,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (available_before, ..) = balance(&nodes).await;
        nodes.app.clock.advance_secs(61);
        let done_path = format!("/trader-api/payouts/{id}/done");
        let receipt = json!({"receipt": format!("r-{round}")});
        let (done, swept) = tokio::join!(
            async {
                tokio::task::yield_now().await;
                nodes
                    .trader_post(1, &done_path, &token, receipt.clone())
                    .await
            },
            nodes.engine(0).expire_due_payouts(),
        );
        swept.expect("sweep");
        // The workers of both nodes sweep too: wait for whichever won.
        let payout = eventually(|| async {
            let p = nodes
                .app
                .engine()
                .payout(merchant_id.clone(), false, id.clone())
                .await
                .unwrap();
            p.status.is_final().then_some(p)
        })
        .await;
        let kinds = nodes.kinds_of(&id).await;
        let (available, pending, _) = balance(&nodes).await;
        match payout.status {
            PayoutStatus::Success => {
                assert_eq!(done.0, 200, "round {round}: {:?}", done.1);
                assert_eq!(
                    kinds,
                    [TxnKind::PayoutDone, TxnKind::PayoutHold],
                    "round {round}"
                );
                assert_eq!(available, available_before, "round {round}");
                assert_eq!(payout.trader_id.as_deref(), Some(trader.id.as_str()));
            }
            PayoutStatus::Failed => {
                assert_eq!(done.0, 409, "round {round}: {:?}", done.1);
                assert_eq!(
                    kinds,
                    [TxnKind::PayoutHold, TxnKind::PayoutRelease],
                    "round {round}"
                );
                assert_eq!(available, available_before + 100_000, "round {round}");
            }
            other => panic!("round {round}: the payout is {other:?}"),
        }
        assert_eq!(pending, 0, "round {round}");
        nodes.assert_books_balance().await;
    }
}

async fn balance(nodes: &Nodes) -> (i64, i64, i64) {
    let balances = nodes
        .app
        .engine()
        .balances(nodes.app.merchant.merchant_id.clone(), false)
        .await
        .unwrap();
    balances
        .iter()
        .find(|b| b.currency == rub())
        .map(|b| (b.available_minor, b.pending_payouts_minor, b.reserve_minor))
        .unwrap_or_default()
}

/// The deal and its invoice agree, and a pay-in is booked exactly when the
/// deal completed.
async fn assert_one_outcome(
    nodes: &Nodes,
    round: usize,
    invoice_id: &str,
    deal_id: &str,
) -> DealStatus {
    // The workers of both nodes sweep too: wait for whichever won.
    let (invoice, deal) = eventually(|| async {
        let (invoice, deal) = nodes
            .app
            .engine()
            .invoice_with_deal(invoice_id.to_string())
            .await
            .unwrap();
        let deal = deal.expect("the invoice's deal");
        (!deal.status.is_open()).then_some((invoice, deal))
    })
    .await;
    assert_eq!(deal.id, deal_id);
    let kinds = nodes.kinds_of(invoice_id).await;
    match deal.status {
        DealStatus::Completed => {
            assert_eq!(invoice.status, InvoiceStatus::Processed, "round {round}");
            assert_eq!(kinds, [TxnKind::PayIn], "round {round}");
        }
        DealStatus::Canceled => {
            assert_eq!(invoice.status, InvoiceStatus::Expired, "round {round}");
            assert!(kinds.is_empty(), "round {round}: {kinds:?}");
        }
        other => panic!("round {round}: the deal is {other:?}"),
    }
    nodes.assert_books_balance().await;
    deal.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deal_confirmed_as_its_deadline_passes_has_one_outcome() {
    // Every round may end with the deal expired: the card health rule that
    // switches off a card whose deals keep expiring would end the rounds.
    let nodes = Nodes::start(|c| {
        c.deal_ttl_secs = 60;
        c.cabinet_expired_deals_max = 0;
    })
    .await;
    let (_, token) = rub_trader(&nodes.app, "Receiver", "card", CARD).await;
    for round in 0..ROUNDS {
        let (invoice_id, deal_id) = nodes
            .deal(0, format!("race-confirm-{round}"), "1500.00")
            .await
            .expect("a deal");
        nodes.app.clock.advance_secs(61);
        let path = format!("/trader-api/deals/{deal_id}/confirm");
        let (confirmed, swept) = tokio::join!(
            async {
                tokio::task::yield_now().await;
                nodes.trader_post(1, &path, &token, json!({})).await
            },
            nodes.engine(0).expire_due_deals(),
        );
        swept.expect("sweep");
        let status = assert_one_outcome(&nodes, round, &invoice_id, &deal_id).await;
        let expected = if status == DealStatus::Completed {
            200
        } else {
            409
        };
        assert_eq!(confirmed.0, expected, "round {round}: {:?}", confirmed.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_notifications_of_one_amount_complete_one_deal() {
    let nodes = Nodes::start(|_| {}).await;
    let (trader, _) = rub_trader(&nodes.app, "Receiver", "card", CARD).await;
    let cabinet = nodes
        .app
        .engine()
        .trader_cabinets(trader.id.clone())
        .await
        .unwrap()[0]
        .clone();
    for round in 0..ROUNDS {
        let (invoice_id, deal_id) = nodes
            .deal(round, format!("race-notify-{round}"), "2500.00")
            .await
            .expect("a deal");
        let amount = nodes
            .app
            .engine()
            .deal(deal_id.clone())
            .await
            .unwrap()
            .amount_minor;
        let text = kassa_domain::money::format_fixed(amount, 2);
        let outcomes = race(
            (0..2)
                .map(|node| {
                    let new = NewNotification {
                        external_id: format!("sms-{round}-{node}"),
                        cabinet_id: cabinet.id.clone(),
                        amount: text.clone(),
                        text: None,
                        received_at_secs: None,
                    };
                    let trader = trader.clone();
                    let engine = nodes.engine(node).clone();
                    async move { engine.post_bank_notification(&trader, new).await }
                })
                .collect(),
        )
        .await;
        let matched: Vec<_> = outcomes
            .into_iter()
            .map(|o| o.expect("notification").notification.deal_id)
            .collect();
        assert_eq!(
            matched
                .iter()
                .filter(|m| m.as_deref() == Some(deal_id.as_str()))
                .count(),
            1,
            "round {round}: {matched:?}"
        );
        assert_eq!(
            matched.iter().filter(|m| m.is_none()).count(),
            1,
            "round {round}"
        );
        let status = assert_one_outcome(&nodes, round, &invoice_id, &deal_id).await;
        assert_eq!(status, DealStatus::Completed);
    }
    // The one left over waits for review.
    let unmatched = nodes
        .app
        .engine()
        .notifications(Some(trader.id.clone()), true)
        .await
        .unwrap();
    assert_eq!(unmatched.len(), ROUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cabinets_limits_hold_when_bookings_race() {
    let nodes = Nodes::start(|_| {}).await;
    let engine = nodes.app.engine();
    let (trader, _) = engine.create_trader("Limited".into()).await.unwrap();
    engine
        .add_cabinet(NewCabinet {
            max_open_deals: 2,
            ..rub_cabinet(&trader.id, "card", CARD)
        })
        .await
        .unwrap();
    engine
        .add_cabinet(NewCabinet {
            daily_limit_minor: 100_000,
            ..rub_cabinet(&trader.id, "sbp", "+79001234567")
        })
        .await
        .unwrap();
    let merchant = nodes.merchant().await;

    // Twelve bookings for a card that may have two amounts in use.
    let booked = race(
        (0..12)
            .map(|i| {
                let engine = nodes.engine(i).clone();
                let merchant = merchant.clone();
                async move {
                    let request = BookRequest {
                        request_id: format!("book-{i}"),
                        method: "card".into(),
                        currency: "RUB".into(),
                        amount_minor: 150_000 + i as i64 * 100,
                        bank_name: None,
                    };
                    engine.book_cabinet(&merchant, request).await
                }
            })
            .collect(),
    )
    .await;
    let held = booked.iter().filter(|b| b.is_ok()).count();
    assert_eq!(held, 2, "{booked:?}");

    // Twelve SBP deals of 600.00 for a phone that may turn over 1 000.00 a day.
    let deals = race(
        (0..12)
            .map(|i| nodes.deal_by(i, format!("daily-{i}"), "600.00", Some("SBP")))
            .collect(),
    )
    .await;
    let opened = deals.iter().filter(|d| d.is_some()).count();
    assert_eq!(opened, 1, "{deals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_broken_item_leaves_the_rest_of_a_sweep() {
    let nodes = Nodes::start(|c| c.deal_ttl_secs = 60).await;
    rub_trader(&nodes.app, "Receiver", "card", CARD).await;
    let (broken_invoice, _) = nodes
        .deal(0, "broken".into(), "1000.00")
        .await
        .expect("a deal");
    let (invoice_id, deal_id) = nodes
        .deal(0, "healthy".into(), "2000.00")
        .await
        .expect("a deal");
    // The first deal's invoice can no longer be read by this build.
    corrupt_invoice(&nodes.app, &broken_invoice).await;
    nodes.app.clock.advance_secs(61);
    nodes.engine(0).expire_due_deals().await.expect("sweep");
    let status = assert_one_outcome(&nodes, 0, &invoice_id, &deal_id).await;
    assert_eq!(status, DealStatus::Canceled);
}

/// Replaces an invoice's stored document with one no build can read.
async fn corrupt_invoice(app: &TestApp, id: &str) {
    let url = app.config.database_url.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let sql = "UPDATE invoices SET doc = '{\"broken\": true}' WHERE id = ";
        if let Some(path) = url.strip_prefix("sqlite://") {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .unwrap();
            assert_eq!(conn.execute(&format!("{sql}?1"), [&id]).unwrap(), 1);
        } else {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            assert_eq!(client.execute(&format!("{sql}$1"), &[&id]).unwrap(), 1);
        }
    })
    .await
    .unwrap();
}
