//! Property tests of the ledger: random sequences of operations against a
//! real server and engine on a real SQLite file with the manual clock. Pay-ins
//! on services with random fees and reserves (test service and P2P deals),
//! processed, partly processed or failed; payouts created (some beyond the
//! available money), settled by the test executor or by traders (take, done,
//! decline), several at once racing for the same money; deadlines and
//! reserve releases by moving the clock; refunds of paid test invoices
//! (some past what is left or past the balance), with the fee kept or given
//! back, settled or failed by the test provider; refunds of confirmed live
//! P2P pay-ins, paid out by the traders as payouts (or failed at the
//! payout's deadline).
//!
//! The test keeps its own model of every account, written from the rules in
//! `docs/ledger.md` rather than from the engine's code, and after each
//! operation waits for the workers to settle and compares: every account of
//! the books equals the model; every transaction sums to zero; the books of
//! each mode and currency sum to zero (merchant + revenue + traders + world);
//! no merchant account is negative; and the daily reports chain from day to
//! day and end at the balances.
//!
//! Sequence `i` makes its choices from the seed `SEED_BASE + i` (only which of
//! the racing payouts wins may differ from run to run). To replay one,
//! run with `KASSA_LEDGER_SEED=<seed>`; `KASSA_LEDGER_SEQUENCES=<n>` runs more;
//! `KASSA_LEDGER_LOG=1` prints the operations of every sequence.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use common::TestApp;
use kassa_domain::ledger::Transaction;
use kassa_domain::money::format_fixed;
use kassa_domain::payout::{PayoutSource, PayoutStatus};
use kassa_domain::{
    Currency, DealStatus, FeeRule, InvoiceStatus, Merchant, RefundFee, RefundStatus, ReserveRule,
};
use kassa_engine::p2p::NewCabinet;
use kassa_engine::p2p_invoices::NewP2pInvoice;
use kassa_engine::payouts::NewPayout;
use kassa_engine::report::day_start_secs;
use kassa_engine::{Clock, EngineError, NewInvoice, NewRefund};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map};

const SEED_BASE: u64 = 0x6b61_7373_6100;
const SEQUENCES: u64 = 12;
const OPERATIONS_MAX: usize = 25;
/// How long the workers may take to reach the expected state.
const SETTLE_MAX: Duration = Duration::from_secs(10);

const CURRENCIES: [&str; 2] = ["USD", "RUB"];
/// The services whose fees and reserves the sequences change.
const SERVICES: [&str; 3] = ["test_usd_test", "test_rub_test", "card_rub_p2p"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_keep_the_books_balanced() {
    let seeds: Vec<u64> = match std::env::var("KASSA_LEDGER_SEED") {
        Ok(s) => vec![s.parse().expect("KASSA_LEDGER_SEED is a number")],
        Err(_) => {
            let n = std::env::var("KASSA_LEDGER_SEQUENCES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(SEQUENCES);
            (0..n).map(|i| SEED_BASE + i).collect()
        }
    };
    // Two sequences at a time, each on its own server and database.
    for pair in seeds.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|s| tokio::spawn(run_sequence(*s)))
            .collect();
        for run in runs {
            if let Err(e) = run.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The model

/// `amount * rate_ppm / 10^6`, rounded up.
fn ceil_ppm(amount: i64, rate_ppm: i64) -> i64 {
    let product = amount as i128 * rate_ppm as i128;
    ((product + 999_999) / 1_000_000) as i64
}

/// The rules as `docs/ledger.md` states them, written apart from the engine.
fn pay_in_fee(rule: &FeeRule, amount: i64) -> i64 {
    let proportional = ceil_ppm(amount, rule.rate_ppm);
    let mut fee = (proportional + rule.fix_minor).max(rule.min_minor);
    if rule.max_minor > 0 {
        fee = fee.min(rule.max_minor);
    }
    fee.min(amount)
}

fn payout_fee(rule: &FeeRule, amount: i64) -> i64 {
    let proportional = ceil_ppm(amount, rule.rate_ppm);
    let fee = (proportional + rule.fix_minor).max(rule.min_minor);
    if rule.max_minor > 0 {
        fee.min(rule.max_minor)
    } else {
        fee
    }
}

fn reserve_of(deposit: i64, rate_ppm: i64) -> i64 {
    (deposit as i128 * rate_ppm as i128 / 1_000_000) as i64
}

#[derive(Clone, Debug)]
struct HeldReserve {
    test: bool,
    currency: &'static str,
    amount: i64,
    release_at: i64,
}

#[derive(Clone, Debug)]
struct OpenPayout {
    id: String,
    currency: &'static str,
    amount: i64,
    fee: i64,
    /// The trader who took it (in progress) or none (pending).
    trader: Option<String>,
    declined_by: Vec<String>,
    deadline: i64,
    /// A refund's payout: the index of its invoice in `p2p_paid`, and the
    /// fee the refund gives back.
    refund: Option<(usize, i64)>,
}

#[derive(Clone, Debug)]
struct OpenDeal {
    id: String,
    invoice_id: String,
    test: bool,
    trader: String,
    amount: i64,
    fee: i64,
    deadline: i64,
}

/// A paid test invoice, and what its refunds took of it.
#[derive(Clone, Debug)]
struct PaidInvoice {
    id: String,
    currency: &'static str,
    service: String,
    processed: i64,
    fee: i64,
    /// Refunded so far (refunds that did not fail).
    refunded: i64,
    /// The fee those refunds gave back.
    fee_returned: i64,
}

struct Trader {
    id: String,
    currencies: Vec<&'static str>,
}

struct Model {
    merchant: String,
    /// The clock when the sequence started, and now.
    start: i64,
    now: i64,
    /// (store key of the account, currency) to its balance.
    books: BTreeMap<(String, String), i64>,
    reserves: Vec<HeldReserve>,
    /// Live payouts not final yet.
    payouts: Vec<OpenPayout>,
    deals: Vec<OpenDeal>,
    services: BTreeMap<&'static str, (FeeRule, ReserveRule)>,
    payout_fees: BTreeMap<&'static str, FeeRule>,
    refund_fees: BTreeMap<String, RefundFee>,
    paid: Vec<PaidInvoice>,
    /// Confirmed live P2P pay-ins, which traders refund.
    p2p_paid: Vec<PaidInvoice>,
    traders: Vec<Trader>,
    log: Vec<String>,
}

/// Where money of a pay-in came from, or where a payout's went.
#[derive(Clone, Debug)]
enum Outside {
    World,
    Trader(String),
}

impl Model {
    fn key(&self, test: bool, account: &str) -> String {
        let prefix = if test { "test:" } else { "" };
        match account {
            "available" | "pending_payouts" | "reserve" | "pending_refunds" => {
                format!("{prefix}merchant:{}:{account}", self.merchant)
            }
            other => format!("{prefix}{other}"),
        }
    }

    fn outside_key(&self, test: bool, outside: &Outside) -> String {
        match outside {
            Outside::World => self.key(test, "world"),
            Outside::Trader(t) => self.key(test, &format!("trader:{t}:settlement")),
        }
    }

    /// Books a movement, checking first that the model itself balances.
    fn post(&mut self, currency: &str, entries: Vec<(String, i64)>) {
        assert_eq!(
            entries.iter().map(|(_, a)| a).sum::<i64>(),
            0,
            "{entries:?}"
        );
        for (key, amount) in entries {
            *self.books.entry((key, currency.to_string())).or_default() += amount;
        }
    }

    fn balance(&self, test: bool, currency: &str, account: &str) -> i64 {
        self.books
            .get(&(self.key(test, account), currency.to_string()))
            .copied()
            .unwrap_or(0)
    }

    fn pay_in(
        &mut self,
        test: bool,
        currency: &'static str,
        source: Outside,
        amount: i64,
        fee: i64,
        reserve_rule: ReserveRule,
    ) {
        let reserve = reserve_of(amount - fee, reserve_rule.rate_ppm);
        let entries = vec![
            (self.outside_key(test, &source), -amount),
            (self.key(test, "platform:revenue"), fee),
            (self.key(test, "available"), amount - fee - reserve),
            (self.key(test, "reserve"), reserve),
        ];
        self.post(currency, entries);
        if reserve > 0 {
            self.reserves.push(HeldReserve {
                test,
                currency,
                amount: reserve,
                release_at: self.now + reserve_rule.lifetime_secs,
            });
        }
    }

    fn hold(&mut self, test: bool, currency: &str, total: i64) {
        let entries = vec![
            (self.key(test, "available"), -total),
            (self.key(test, "pending_payouts"), total),
        ];
        self.post(currency, entries);
    }

    fn release(&mut self, test: bool, currency: &str, total: i64) {
        let entries = vec![
            (self.key(test, "pending_payouts"), -total),
            (self.key(test, "available"), total),
        ];
        self.post(currency, entries);
    }

    /// A live refund asked for: its amount held from available, less the fee
    /// revenue gives back.
    fn refund_hold(&mut self, currency: &str, amount: i64, fee_returned: i64) {
        let entries = vec![
            (self.key(false, "available"), -(amount - fee_returned)),
            (self.key(false, "platform:revenue"), -fee_returned),
            (self.key(false, "pending_refunds"), amount),
        ];
        self.post(currency, entries);
    }

    /// A refund's payout failed: the hold goes back, and the invoice may be
    /// refunded again.
    fn refund_failed(&mut self, currency: &str, index: usize, amount: i64, fee_returned: i64) {
        let entries = vec![
            (self.key(false, "pending_refunds"), -amount),
            (self.key(false, "platform:revenue"), fee_returned),
            (self.key(false, "available"), amount - fee_returned),
        ];
        self.post(currency, entries);
        let paid = &mut self.p2p_paid[index];
        paid.refunded -= amount;
        paid.fee_returned -= fee_returned;
    }

    fn payout_done(&mut self, test: bool, currency: &str, sink: Outside, amount: i64, fee: i64) {
        let entries = vec![
            (self.key(test, "pending_payouts"), -(amount + fee)),
            (self.key(test, "platform:revenue"), fee),
            (self.outside_key(test, &sink), amount),
        ];
        self.post(currency, entries);
    }

    /// What the workers do at the model's `now`: reserves due are released,
    /// live payouts past their deadline fail, deals past theirs end.
    fn settle_due(&mut self) {
        let now = self.now;
        let (due, kept): (Vec<_>, Vec<_>) =
            self.reserves.drain(..).partition(|r| r.release_at <= now);
        self.reserves = kept;
        for r in due {
            let entries = vec![
                (self.key(r.test, "reserve"), -r.amount),
                (self.key(r.test, "available"), r.amount),
            ];
            self.post(r.currency, entries);
        }
        let (due, kept): (Vec<_>, Vec<_>) = self.payouts.drain(..).partition(|p| p.deadline <= now);
        self.payouts = kept;
        for p in due {
            match p.refund {
                Some((index, fee_returned)) => {
                    self.refund_failed(p.currency, index, p.amount, fee_returned)
                }
                None => self.release(false, p.currency, p.amount + p.fee),
            }
        }
        self.deals.retain(|d| d.deadline > now);
    }
}

// ---------------------------------------------------------------------------
// A sequence

struct Run {
    app: TestApp,
    merchant: Merchant,
    model: Model,
    rng: StdRng,
    seed: u64,
    serial: u32,
}

async fn run_sequence(seed: u64) {
    let rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let engine = app.engine().clone();
    let merchant = engine
        .merchant(app.merchant.merchant_id.clone())
        .await
        .expect("merchant");
    // Two traders: the first pays out in RUB and USD, the second in RUB; both
    // receive RUB card transfers.
    let mut traders = Vec::new();
    for (name, currencies, card) in [
        ("Ivan", vec!["RUB", "USD"], "4242424242424242"),
        ("Petr", vec!["RUB"], "5555555555554444"),
    ] {
        let (trader, _token) = engine.create_trader(name.into()).await.expect("trader");
        for currency in &currencies {
            engine
                .add_cabinet(NewCabinet {
                    trader_id: trader.id.clone(),
                    method: "card".into(),
                    currency: Currency::from_code(currency).unwrap(),
                    bank_name: "Tinkoff".into(),
                    requisite: card.into(),
                    holder: format!("{name} I."),
                    min_amount_minor: 100,
                    max_amount_minor: 10_000_000,
                    daily_limit_minor: 0,
                    max_open_deals: 0,
                    active: true,
                })
                .await
                .expect("cabinet");
        }
        traders.push(Trader {
            id: trader.id,
            currencies,
        });
    }
    // A test trader's card: where test-mode deals go (it takes no payouts).
    let (sandbox, _token) = engine
        .create_trader_in("Sandbox".into(), true)
        .await
        .expect("trader");
    engine
        .add_cabinet(NewCabinet {
            trader_id: sandbox.id,
            method: "card".into(),
            currency: Currency::from_code("RUB").unwrap(),
            bank_name: "Tinkoff".into(),
            requisite: "4111111111111111".into(),
            holder: "Sandbox".into(),
            min_amount_minor: 100,
            max_amount_minor: 10_000_000,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
        })
        .await
        .expect("cabinet");
    let model = Model {
        merchant: merchant.id.clone(),
        start: app.clock.now_secs(),
        now: app.clock.now_secs(),
        books: BTreeMap::new(),
        reserves: Vec::new(),
        payouts: Vec::new(),
        deals: Vec::new(),
        services: SERVICES
            .iter()
            .map(|s| (*s, (FeeRule::default(), ReserveRule::default())))
            .collect(),
        payout_fees: BTreeMap::new(),
        refund_fees: BTreeMap::new(),
        paid: Vec::new(),
        p2p_paid: Vec::new(),
        traders,
        log: Vec::new(),
    };
    let mut run = Run {
        app,
        merchant,
        model,
        rng,
        seed,
        serial: 0,
    };
    // Money first, so that payouts have something to spend.
    run.set_service().await;
    run.pay_in(Some("processed")).await;
    run.check_books().await;
    let operations = run.rng.gen_range(OPERATIONS_MAX / 2..=OPERATIONS_MAX);
    for _ in 0..operations {
        match run.rng.gen_range(0..100) {
            0..=7 => run.set_service().await,
            8..=11 => run.set_payout_fee().await,
            12..=33 => run.pay_in(None).await,
            34..=41 => run.p2p_pay_in().await,
            42..=44 => run.confirm_open_deal().await,
            45..=59 => run.create_payout().await,
            60..=64 => run.concurrent_payouts().await,
            65..=79 => run.trader_acts().await,
            80..=85 => run.refund().await,
            86..=89 => run.p2p_refund().await,
            _ => run.advance_clock().await,
        }
        run.check_books().await;
    }
    // The end: let every deadline and reserve pass, then check everything.
    run.model.log.push("advance 4 days".into());
    run.advance(4 * 86_400).await;
    run.check_books().await;
    run.check_transactions().await;
    run.check_reports().await;
    if std::env::var_os("KASSA_LEDGER_LOG").is_some() {
        eprintln!("seed {seed}:\n  {}", run.model.log.join("\n  "));
    }
    // Its workers stop with it, and leave the next sequences the CPU.
    run.app.stop().await;
}

impl Run {
    fn engine(&self) -> &kassa_engine::Engine {
        self.app.engine()
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "seed {} (replay with KASSA_LEDGER_SEED={}): {what}\noperations:\n  {}",
            self.seed,
            self.seed,
            self.model.log.join("\n  ")
        )
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}-{}-{}", self.seed, self.serial)
    }

    fn random_fee(&mut self) -> FeeRule {
        let rng = &mut self.rng;
        FeeRule {
            rate_ppm: match rng.gen_range(0..8) {
                0 | 1 => 0,
                2 => 1,
                3 => 1_000_000,
                _ => rng.gen_range(1..=100_000),
            },
            fix_minor: match rng.gen_range(0..3) {
                0 => 0,
                _ => rng.gen_range(1..=500),
            },
            min_minor: match rng.gen_range(0..3) {
                0 | 1 => 0,
                _ => rng.gen_range(1..=1_000),
            },
            max_minor: match rng.gen_range(0..3) {
                0 | 1 => 0,
                _ => rng.gen_range(1..=5_000),
            },
        }
    }

    fn random_amount(&mut self) -> i64 {
        match self.rng.gen_range(0..10) {
            0 => self.rng.gen_range(1..=10),
            1..=3 => self.rng.gen_range(11..=10_000),
            _ => self.rng.gen_range(10_001..=2_000_000),
        }
    }

    /// Random fees and reserves on one of the services.
    async fn set_service(&mut self) {
        let code = SERVICES[self.rng.gen_range(0..SERVICES.len())];
        let fee = self.random_fee();
        let reserve = ReserveRule {
            rate_ppm: match self.rng.gen_range(0..8) {
                0 | 1 => 0,
                2 => 1_000_000,
                _ => self.rng.gen_range(1..=300_000),
            },
            lifetime_secs: match self.rng.gen_range(0..6) {
                0 => 0,
                1 => 60,
                2 => 3_600,
                3 => 86_400,
                _ => self.rng.gen_range(1..=200_000),
            },
        };
        self.model
            .log
            .push(format!("service {code}: fee {fee:?}, reserve {reserve:?}"));
        let refund_fee = if self.rng.gen_bool(0.5) {
            RefundFee::Returned
        } else {
            RefundFee::Kept
        };
        self.model
            .log
            .push(format!("service {code}: refund fee {refund_fee:?}"));
        let catalog = self.engine().catalog().await.expect("catalog");
        let mut service = catalog.service(code).cloned().expect("shipped service");
        service.fee = fee;
        service.reserve = reserve;
        service.refund_fee = refund_fee;
        self.model.refund_fees.insert(code.to_string(), refund_fee);
        self.engine()
            .put_service(service)
            .await
            .expect("put_service");
        self.model.services.insert(code, (fee, reserve));
    }

    async fn set_payout_fee(&mut self) {
        let currency = CURRENCIES[self.rng.gen_range(0..2)];
        let rule = self.random_fee();
        self.model
            .log
            .push(format!("payout fee {currency}: {rule:?}"));
        self.engine()
            .set_payout_fee(Currency::from_code(currency).unwrap(), rule)
            .await
            .expect("set_payout_fee");
        self.model.payout_fees.insert(currency, rule);
    }

    /// A pay-in through the test service, in either mode, with an outcome.
    async fn pay_in(&mut self, outcome: Option<&str>) {
        let test = self.rng.gen_bool(0.5);
        let currency = CURRENCIES[self.rng.gen_range(0..2)];
        if !test {
            // The test service takes test invoices only: live money comes
            // from the operator's top-ups here, and from P2P deals.
            self.top_up(currency).await;
            return;
        }
        let outcome = outcome.unwrap_or(match self.rng.gen_range(0..10) {
            0..=4 => "processed",
            5 | 6 => "partially_processed",
            7 => "process_failed",
            8 => "terminated",
            _ => "processing",
        });
        let amount = self.random_amount();
        let service = format!("test_{}_test", currency.to_lowercase());
        let (fee_rule, reserve_rule) = self.model.services[service.as_str()];
        self.model.log.push(format!(
            "pay-in {} {currency} {amount} -> {outcome}",
            mode(test)
        ));
        let mut fields = Map::new();
        fields.insert("status".into(), json!(outcome));
        let reference_id = self.next_id("order");
        let created = self
            .engine()
            .create_invoice(
                self.merchant.clone(),
                test,
                NewInvoice {
                    service: service.clone(),
                    currency: currency.into(),
                    amount: format_fixed(amount, 2),
                    service_fields: Some(fields),
                    reference_id: Some(reference_id),
                    test_mode: test,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| self.fail(&format!("create_invoice: {e}")));
        let invoice = created.invoice;
        let fee = pay_in_fee(&fee_rule, amount);
        if invoice.fee_minor != fee {
            self.fail(&format!(
                "invoice fee {} where the rule {fee_rule:?} gives {fee} on {amount}",
                invoice.fee_minor
            ));
        }
        let expected = InvoiceStatus::parse(outcome).expect("an outcome");
        let id = invoice.id.clone();
        let merchant_id = self.model.merchant.clone();
        let invoice = self
            .eventually("the test provider", || {
                let engine = self.engine();
                let (id, merchant_id) = (id.clone(), merchant_id.clone());
                async move {
                    let i = engine
                        .invoice(merchant_id, test, id)
                        .await
                        .map_err(|e| e.to_string())?;
                    if i.status == expected {
                        Ok(i)
                    } else {
                        Err(format!("invoice is {:?}", i.status))
                    }
                }
            })
            .await;
        if expected.is_success() {
            // A part paid: half the amount (at least one minor unit), the fee
            // in proportion, rounded down.
            let processed = match expected {
                InvoiceStatus::PartiallyProcessed => (amount / 2).max(1),
                _ => amount,
            };
            let processed_fee = (fee as i128 * processed as i128 / amount as i128) as i64;
            if invoice.processed_amount_minor != Some(processed)
                || invoice.processed_fee_minor != Some(processed_fee)
            {
                self.fail(&format!(
                    "processed {:?} fee {:?}, expected {processed} fee {processed_fee}",
                    invoice.processed_amount_minor, invoice.processed_fee_minor
                ));
            }
            self.model.pay_in(
                test,
                currency,
                Outside::World,
                processed,
                processed_fee,
                reserve_rule,
            );
            self.model.paid.push(PaidInvoice {
                id: invoice.id.clone(),
                currency,
                service: service.clone(),
                processed,
                fee: processed_fee,
                refunded: 0,
                fee_returned: 0,
            });
        }
    }

    /// A refund of a paid test invoice: sometimes all that is left, sometimes
    /// more than that; the test provider pays it back or fails it.
    async fn refund(&mut self) {
        if self.model.paid.is_empty() {
            return;
        }
        let index = self.rng.gen_range(0..self.model.paid.len());
        let paid = self.model.paid[index].clone();
        let left = paid.processed - paid.refunded;
        let asked = match self.rng.gen_range(0..6) {
            0 => None,
            1 => Some(left + self.rng.gen_range(1..=1_000)),
            _ if left > 0 => Some(self.rng.gen_range(1..=left)),
            _ => Some(1),
        };
        let fail = self.rng.gen_range(0..4) == 0;
        let outcome = if fail { "refund_failed" } else { "refunded" };
        self.model.log.push(format!(
            "refund {} {} {asked:?} of {left} left -> {outcome}",
            paid.id, paid.currency
        ));
        let amount = asked.unwrap_or(left);
        // The rules of docs/ledger.md: the fee's share of every live refund
        // together, rounded down, less what the earlier ones gave back.
        let rule = self
            .model
            .refund_fees
            .get(&paid.service)
            .copied()
            .unwrap_or_default();
        let fee_returned = match rule {
            RefundFee::Kept => 0,
            RefundFee::Returned => {
                let share = (paid.fee as i128 * (paid.refunded + amount) as i128
                    / paid.processed as i128) as i64;
                (share - paid.fee_returned).clamp(0, amount.max(0))
            }
        };
        let available = self.model.balance(true, paid.currency, "available");
        let mut fields = Map::new();
        fields.insert("status".into(), json!(outcome));
        let reference_id = self.next_id("refund");
        let result = self
            .engine()
            .create_refund(
                &self.merchant,
                NewRefund {
                    invoice_id: paid.id.clone(),
                    reference_id: Some(reference_id),
                    amount: asked.map(|a| format_fixed(a, 2)),
                    service_fields: Some(fields),
                    payee: None,
                    test_mode: true,
                },
            )
            .await;
        let over = amount > left || amount <= 0;
        match result {
            Err(EngineError::Invalid(fields)) if over && fields.contains_key("amount") => return,
            Err(EngineError::InsufficientFunds) if !over && available < amount - fee_returned => {
                return
            }
            Ok(created)
                if !over
                    && available >= amount - fee_returned
                    && created.refund.amount_minor == amount
                    && created.refund.fee_returned_minor == fee_returned => {}
            other => self.fail(&format!(
                "refund of {amount} ({left} left, fee back {fee_returned}, available {available}): {:?}",
                other.map(|c| c.refund)
            )),
        }
        if !fail {
            let p = &mut self.model.paid[index];
            p.refunded += amount;
            p.fee_returned += fee_returned;
            let entries = vec![
                (self.model.key(true, "available"), -(amount - fee_returned)),
                (self.model.key(true, "platform:revenue"), -fee_returned),
                (self.model.key(true, "world"), amount),
            ];
            self.model.post(paid.currency, entries);
        }
        // The refund settles as asked, and the invoice follows it.
        let (merchant_id, id) = (self.model.merchant.clone(), paid.id.clone());
        let expected = if fail {
            RefundStatus::RefundFailed
        } else {
            RefundStatus::Refunded
        };
        self.eventually("the test provider to settle the refund", || {
            let engine = self.engine();
            let (merchant_id, id) = (merchant_id.clone(), id.clone());
            async move {
                let refunds = engine
                    .refunds_of_invoice(merchant_id, true, id)
                    .await
                    .map_err(|e| e.to_string())?;
                match refunds.last() {
                    Some(r) if r.status == expected => Ok(()),
                    other => Err(format!("last refund {other:?}")),
                }
            }
        })
        .await;
    }

    /// A refund of a confirmed live P2P pay-in, to the customer's card:
    /// sometimes past what is left (refused); made, its payout is offered to
    /// the traders like any live payout, and settles the refund when paid or
    /// failed.
    async fn p2p_refund(&mut self) {
        if self.model.p2p_paid.is_empty() {
            return self.confirm_open_deal().await;
        }
        let index = self.rng.gen_range(0..self.model.p2p_paid.len());
        let paid = self.model.p2p_paid[index].clone();
        let left = paid.processed - paid.refunded;
        let asked = match self.rng.gen_range(0..5) {
            0 => None,
            1 => Some(left + self.rng.gen_range(1..=1_000)),
            _ if left > 0 => Some(self.rng.gen_range(1..=left)),
            _ => Some(1),
        };
        self.model
            .log
            .push(format!("p2p refund {} {asked:?} of {left} left", paid.id));
        let amount = asked.unwrap_or(left);
        let rule = self
            .model
            .refund_fees
            .get(&paid.service)
            .copied()
            .unwrap_or_default();
        let fee_returned = match rule {
            RefundFee::Kept => 0,
            RefundFee::Returned => {
                let share = (paid.fee as i128 * (paid.refunded + amount) as i128
                    / paid.processed as i128) as i64;
                (share - paid.fee_returned).clamp(0, amount.max(0))
            }
        };
        let available = self.model.balance(false, "RUB", "available");
        let mut fields = Map::new();
        fields.insert("card_number".into(), json!("4000000000000002"));
        let reference_id = self.next_id("p2p-refund");
        let result = self
            .engine()
            .create_refund(
                &self.merchant,
                NewRefund {
                    invoice_id: paid.id.clone(),
                    reference_id: Some(reference_id),
                    amount: asked.map(|a| format_fixed(a, 2)),
                    service_fields: None,
                    payee: Some(kassa_engine::refunds::RefundPayee {
                        method: "card".into(),
                        fields,
                    }),
                    test_mode: false,
                },
            )
            .await;
        let over = amount > left || amount <= 0;
        let created = match result {
            Err(EngineError::Invalid(fields)) if over && fields.contains_key("amount") => return,
            Err(EngineError::InsufficientFunds) if !over && available < amount - fee_returned => {
                return
            }
            Ok(created)
                if !over
                    && available >= amount - fee_returned
                    && created.refund.amount_minor == amount
                    && created.refund.fee_returned_minor == fee_returned =>
            {
                created
            }
            other => self.fail(&format!(
                "p2p refund of {amount} ({left} left, fee back {fee_returned}, available {available}): {:?}",
                other.map(|c| c.refund)
            )),
        };
        let payout_id = created.refund.payout_id.clone().expect("a payout");
        let payout = self
            .engine()
            .payout(self.model.merchant.clone(), false, payout_id)
            .await
            .expect("the refund's payout");
        if payout.amount_minor != amount || payout.fee_minor != 0 {
            self.fail(&format!("the refund's payout: {payout:?}"));
        }
        let p = &mut self.model.p2p_paid[index];
        p.refunded += amount;
        p.fee_returned += fee_returned;
        self.model.refund_hold("RUB", amount, fee_returned);
        self.model.payouts.push(OpenPayout {
            id: payout.id,
            currency: "RUB",
            amount,
            fee: 0,
            trader: None,
            declined_by: Vec::new(),
            deadline: payout.deadline_secs,
            refund: Some((index, fee_returned)),
        });
    }

    /// The operator credits the live books by hand (`kassa adjust`).
    async fn top_up(&mut self, currency: &'static str) {
        let amount = self.random_amount();
        self.model
            .log
            .push(format!("top-up live {currency} {amount}"));
        self.engine()
            .adjust_balance(
                self.model.merchant.clone(),
                false,
                Currency::from_code(currency).unwrap(),
                amount,
                "top-up".into(),
            )
            .await
            .unwrap_or_else(|e| self.fail(&format!("adjust_balance: {e}")));
        let entries = vec![
            (self.model.outside_key(false, &Outside::World), -amount),
            (self.model.key(false, "available"), amount),
        ];
        self.model.post(currency, entries);
    }

    /// A P2P pay-in: a Merchant API invoice with a deal on a trader's card,
    /// confirmed at once, or left open (to be confirmed later or to lapse).
    async fn p2p_pay_in(&mut self) {
        let test = self.rng.gen_bool(0.3);
        let amount = self.rng.gen_range(100..=500_000);
        self.model
            .log
            .push(format!("p2p pay-in {} RUB {amount}", mode(test)));
        let internal_id = self.next_id("p2p");
        let result = self
            .engine()
            .create_p2p_invoice(
                self.merchant.clone(),
                test,
                NewP2pInvoice {
                    internal_id: Some(internal_id),
                    amount: format_fixed(amount, 2),
                    currency: "RUB".into(),
                    notification_url: "http://127.0.0.1:9/callback".into(),
                    notification_token: "token".into(),
                    payment_option: Some("CARD".into()),
                    start_deal: true,
                    ..Default::default()
                },
            )
            .await;
        let invoice = match result {
            Ok(created) => created.invoice,
            Err(e @ (EngineError::NoCabinet | EngineError::AmountsTaken)) => {
                self.model.log.push(format!("  refused: {e}"));
                return;
            }
            Err(e) => self.fail(&format!("create_p2p_invoice: {e}")),
        };
        let deal_id = invoice.deal_id.clone().expect("a deal");
        let deal = self.engine().deal(deal_id.clone()).await.expect("deal");
        // The deal may have an alternative amount; the fee is the rule's on it.
        let (fee_rule, _) = self.model.services["card_rub_p2p"];
        let fee = pay_in_fee(&fee_rule, invoice.amount_minor);
        if invoice.fee_minor != fee || deal.amount_minor != invoice.amount_minor {
            self.fail(&format!(
                "p2p invoice {} fee {}, deal {}: expected fee {fee}",
                invoice.amount_minor, invoice.fee_minor, deal.amount_minor
            ));
        }
        self.model.log.push(format!(
            "  deal {} of {} for {}",
            deal.id, deal.trader_id, deal.amount_minor
        ));
        self.model.deals.push(OpenDeal {
            id: deal.id.clone(),
            invoice_id: invoice.id.clone(),
            test,
            trader: deal.trader_id.clone(),
            amount: deal.amount_minor,
            fee,
            deadline: deal.deadline_secs,
        });
        if self.rng.gen_bool(0.75) {
            let index = self.model.deals.len() - 1;
            self.confirm(index).await;
        }
    }

    async fn confirm_open_deal(&mut self) {
        if self.model.deals.is_empty() {
            return self.p2p_pay_in().await;
        }
        let index = self.rng.gen_range(0..self.model.deals.len());
        self.confirm(index).await;
    }

    /// The operator confirms a deal's money: the pay-in comes from the trader
    /// with the fee fixed when the invoice was made and the reserve rule in
    /// force now.
    async fn confirm(&mut self, index: usize) {
        let d = self.model.deals.remove(index);
        self.model.log.push(format!("confirm deal {}", d.id));
        let deal = self
            .engine()
            .confirm_deal(None, d.id.clone())
            .await
            .unwrap_or_else(|e| self.fail(&format!("confirm_deal: {e}")));
        assert_eq!(deal.status, DealStatus::Completed);
        let (invoice, _) = self
            .engine()
            .invoice_with_deal(d.invoice_id.clone())
            .await
            .expect("invoice");
        if invoice.status != InvoiceStatus::Processed || invoice.processed_fee_minor != Some(d.fee)
        {
            self.fail(&format!(
                "confirmed deal's invoice is {:?} with fee {:?}",
                invoice.status, invoice.processed_fee_minor
            ));
        }
        if !d.test {
            self.model.p2p_paid.push(PaidInvoice {
                id: invoice.id.clone(),
                currency: "RUB",
                service: invoice.service.clone(),
                processed: d.amount,
                fee: d.fee,
                refunded: 0,
                fee_returned: 0,
            });
        }
        let (_, reserve_rule) = self.model.services["card_rub_p2p"];
        self.model.pay_in(
            d.test,
            "RUB",
            Outside::Trader(d.trader),
            d.amount,
            d.fee,
            reserve_rule,
        );
    }

    /// A payout of a random amount, often within the available money, at
    /// times beyond it (refused, changing nothing).
    /// A mode and currency for payouts: mostly books that have money, so
    /// that payouts get made.
    fn pick_books(&mut self) -> (bool, &'static str) {
        let funded: Vec<(bool, &'static str)> = [false, true]
            .into_iter()
            .flat_map(|t| CURRENCIES.map(|c| (t, c)))
            .filter(|(t, c)| self.model.balance(*t, c, "available") > 0)
            .collect();
        if !funded.is_empty() && self.rng.gen_bool(0.8) {
            funded[self.rng.gen_range(0..funded.len())]
        } else {
            (self.rng.gen_bool(0.5), CURRENCIES[self.rng.gen_range(0..2)])
        }
    }

    async fn create_payout(&mut self) {
        let (test, currency) = self.pick_books();
        let available = self.model.balance(test, currency, "available");
        let amount = if available > 1 && self.rng.gen_bool(0.75) {
            self.rng.gen_range(1..=available)
        } else {
            self.random_amount()
        };
        let rule = self
            .model
            .payout_fees
            .get(currency)
            .copied()
            .unwrap_or_default();
        let fee = payout_fee(&rule, amount);
        let outcome = if test {
            if self.rng.gen_bool(0.7) {
                "success"
            } else {
                "failed"
            }
        } else {
            "trader"
        };
        self.model.log.push(format!(
            "payout {} {currency} {amount} + fee {fee} (available {available}) -> {outcome}",
            mode(test)
        ));
        let mut fields = Map::new();
        fields.insert("card_number".into(), json!("4111111111111111"));
        if test {
            fields.insert("test_status".into(), json!(outcome));
        }
        let request_id = self.next_id("payout");
        let result = self
            .engine()
            .create_payout(
                &self.merchant,
                test,
                NewPayout {
                    request_id: request_id.clone(),
                    amount_minor: amount,
                    currency: currency.into(),
                    method: "card".into(),
                    additional_fields: fields,
                    source: PayoutSource::H2h,
                    callback_url: None,
                    merchant_api: None,
                },
            )
            .await;
        let covered = amount + fee <= available;
        let payout = match result {
            Ok(created) if covered => created.payout,
            Err(EngineError::InsufficientFunds) if !covered => {
                // Refused, and nothing of it was kept.
                let kept = self
                    .engine()
                    .payout_by_request(self.model.merchant.clone(), test, request_id)
                    .await;
                if !matches!(kept, Err(EngineError::NotFound)) {
                    self.fail(&format!("a refused payout was kept: {kept:?}"));
                }
                self.model.log.push("  refused: insufficient funds".into());
                return;
            }
            Ok(created) => self.fail(&format!(
                "payout of {} accepted beyond the available money",
                created.payout.amount_minor + created.payout.fee_minor
            )),
            Err(e) => self.fail(&format!("create_payout: {e}")),
        };
        if payout.fee_minor != fee {
            self.fail(&format!(
                "payout fee {} where the rule {rule:?} gives {fee}",
                payout.fee_minor
            ));
        }
        self.model.hold(test, currency, amount + fee);
        if !test {
            self.model.payouts.push(OpenPayout {
                id: payout.id.clone(),
                currency,
                amount,
                fee,
                trader: None,
                declined_by: Vec::new(),
                deadline: payout.deadline_secs,
                refund: None,
            });
            return;
        }
        // The test executor settles it as asked.
        let expected = if outcome == "success" {
            PayoutStatus::Success
        } else {
            PayoutStatus::Failed
        };
        self.wait_payout(test, &payout.id, expected).await;
        if expected == PayoutStatus::Success {
            self.model
                .payout_done(test, currency, Outside::World, amount, fee);
        } else {
            self.model.release(test, currency, amount + fee);
        }
    }

    /// Several payouts at once from the same books, together asking for more
    /// than there is at times: the ones accepted fit in the available money,
    /// and each one refused did not fit in what the others left.
    async fn concurrent_payouts(&mut self) {
        let (test, currency) = self.pick_books();
        let available = self.model.balance(test, currency, "available");
        let rule = self
            .model
            .payout_fees
            .get(currency)
            .copied()
            .unwrap_or_default();
        let count = self.rng.gen_range(2..=5);
        let mut wanted = Vec::new();
        for _ in 0..count {
            let amount = self.rng.gen_range(1..=(available / 2).max(1_000));
            let outcome = if !test {
                "trader"
            } else if self.rng.gen_bool(0.7) {
                "success"
            } else {
                "failed"
            };
            let request_id = self.next_id("race");
            wanted.push((request_id, amount, payout_fee(&rule, amount), outcome));
        }
        self.model.log.push(format!(
            "{count} payouts at once {} {currency} (available {available}): {:?}",
            mode(test),
            wanted
                .iter()
                .map(|(_, a, f, o)| format!("{a}+{f} {o}"))
                .collect::<Vec<_>>()
        ));
        let engine = self.app.engine().clone();
        let calls = wanted.iter().map(|(request_id, amount, _, outcome)| {
            let mut fields = Map::new();
            fields.insert("card_number".into(), json!("4111111111111111"));
            if test {
                fields.insert("test_status".into(), json!(outcome));
            }
            let engine = engine.clone();
            let merchant = self.merchant.clone();
            let new = NewPayout {
                request_id: request_id.clone(),
                amount_minor: *amount,
                currency: currency.into(),
                method: "card".into(),
                additional_fields: fields,
                source: PayoutSource::H2h,
                callback_url: None,
                merchant_api: None,
            };
            async move { engine.create_payout(&merchant, test, new).await }
        });
        let results = futures::future::join_all(calls).await;
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for ((_, amount, fee, outcome), result) in wanted.into_iter().zip(results) {
            match result {
                Ok(created) => {
                    if created.payout.fee_minor != fee {
                        self.fail(&format!(
                            "payout fee {} not {fee}",
                            created.payout.fee_minor
                        ));
                    }
                    accepted.push((created.payout, outcome));
                }
                Err(EngineError::InsufficientFunds) => refused.push(amount + fee),
                Err(e) => self.fail(&format!("create_payout: {e}")),
            }
        }
        // The test executor may give a failed one's hold back while the
        // others are still being made: only those that stay must fit.
        let held: i64 = accepted
            .iter()
            .map(|(p, _)| p.amount_minor + p.fee_minor)
            .sum();
        let kept: i64 = accepted
            .iter()
            .filter(|(_, outcome)| *outcome != "failed")
            .map(|(p, _)| p.amount_minor + p.fee_minor)
            .sum();
        if kept > available || refused.iter().any(|total| *total <= available - held) {
            self.fail(&format!(
                "accepted {held} of {available}, refused {refused:?}"
            ));
        }
        self.model.log.push(format!(
            "  accepted {}, refused {}",
            accepted.len(),
            refused.len()
        ));
        for (p, outcome) in accepted {
            let total = p.amount_minor + p.fee_minor;
            self.model.hold(test, currency, total);
            if !test {
                self.model.payouts.push(OpenPayout {
                    id: p.id.clone(),
                    currency,
                    amount: p.amount_minor,
                    fee: p.fee_minor,
                    trader: None,
                    declined_by: Vec::new(),
                    deadline: p.deadline_secs,
                    refund: None,
                });
            } else if outcome == "success" {
                self.wait_payout(test, &p.id, PayoutStatus::Success).await;
                self.model
                    .payout_done(test, currency, Outside::World, p.amount_minor, p.fee_minor);
            } else {
                self.wait_payout(test, &p.id, PayoutStatus::Failed).await;
                self.model.release(test, currency, total);
            }
        }
    }

    async fn wait_payout(&self, test: bool, id: &str, expected: PayoutStatus) {
        let merchant_id = self.model.merchant.clone();
        self.eventually("the payout's status", || {
            let engine = self.engine();
            let (id, merchant_id) = (id.to_string(), merchant_id.clone());
            async move {
                let p = engine
                    .payout(merchant_id, test, id)
                    .await
                    .map_err(|e| e.to_string())?;
                if p.status == expected {
                    Ok(())
                } else {
                    Err(format!("payout is {:?}", p.status))
                }
            }
        })
        .await
    }

    /// A trader takes, pays or declines an open live payout; now and then a
    /// trader tries what it may not, and is refused.
    async fn trader_acts(&mut self) {
        if self.model.payouts.is_empty() {
            return self.create_payout().await;
        }
        // Payouts in progress first: they are the ones a trader pays.
        let taken: Vec<usize> = (0..self.model.payouts.len())
            .filter(|i| self.model.payouts[*i].trader.is_some())
            .collect();
        let index = if !taken.is_empty() && self.rng.gen_bool(0.6) {
            taken[self.rng.gen_range(0..taken.len())]
        } else {
            self.rng.gen_range(0..self.model.payouts.len())
        };
        let p = self.model.payouts[index].clone();
        let serving: Vec<String> = self
            .model
            .traders
            .iter()
            .filter(|t| t.currencies.contains(&p.currency))
            .map(|t| t.id.clone())
            .collect();
        let others: Vec<String> = self
            .model
            .traders
            .iter()
            .map(|t| t.id.clone())
            .filter(|t| Some(t) != p.trader.as_ref())
            .collect();
        let engine = self.app.engine().clone();
        let roll = self.rng.gen_range(0..10);
        match &p.trader {
            None => {
                let candidates: Vec<&String> = serving
                    .iter()
                    .filter(|t| !p.declined_by.contains(t))
                    .collect();
                if roll < 6 && !candidates.is_empty() {
                    let t = candidates[self.rng.gen_range(0..candidates.len())].clone();
                    self.model.log.push(format!("{t} takes {}", p.id));
                    let taken = engine.take_payout(t.clone(), p.id.clone()).await;
                    if let Err(e) = taken {
                        self.fail(&format!("take_payout: {e}"));
                    }
                    self.model.payouts[index].trader = Some(t);
                } else if roll < 8 && !candidates.is_empty() {
                    let t = candidates[self.rng.gen_range(0..candidates.len())].clone();
                    self.model
                        .log
                        .push(format!("{t} declines pending {}", p.id));
                    if let Err(e) = engine.decline_payout(t.clone(), p.id.clone()).await {
                        self.fail(&format!("decline_payout: {e}"));
                    }
                    self.model.payouts[index].declined_by.push(t);
                } else {
                    // Completing a payout nobody took is refused.
                    let t = serving[0].clone();
                    self.model
                        .log
                        .push(format!("{t} completes untaken {}", p.id));
                    if engine
                        .complete_payout(t, p.id.clone(), "r-1".into())
                        .await
                        .is_ok()
                    {
                        self.fail("an untaken payout was completed");
                    }
                }
            }
            Some(owner) => {
                if roll < 7 {
                    self.model.log.push(format!("{owner} pays {}", p.id));
                    let receipt = self.next_id("receipt");
                    if let Err(e) = engine
                        .complete_payout(owner.clone(), p.id.clone(), receipt)
                        .await
                    {
                        self.fail(&format!("complete_payout: {e}"));
                    }
                    self.model.payouts.remove(index);
                    if p.refund.is_some() {
                        // The refund is paid: the trader paid it from its own funds.
                        let entries = vec![
                            (self.model.key(false, "pending_refunds"), -p.amount),
                            (
                                self.model
                                    .outside_key(false, &Outside::Trader(owner.clone())),
                                p.amount,
                            ),
                        ];
                        self.model.post(p.currency, entries);
                    } else {
                        self.model.payout_done(
                            false,
                            p.currency,
                            Outside::Trader(owner.clone()),
                            p.amount,
                            p.fee,
                        );
                    }
                } else if roll < 9 {
                    self.model.log.push(format!("{owner} declines {}", p.id));
                    if let Err(e) = engine.decline_payout(owner.clone(), p.id.clone()).await {
                        self.fail(&format!("decline_payout: {e}"));
                    }
                    let m = &mut self.model.payouts[index];
                    m.trader = None;
                    m.declined_by.push(owner.clone());
                } else {
                    // Another trader can neither pay nor take it.
                    let t = others[0].clone();
                    self.model.log.push(format!("{t} meddles with {}", p.id));
                    let paid = engine
                        .complete_payout(t.clone(), p.id.clone(), "r-x".into())
                        .await;
                    let taken = engine.take_payout(t, p.id.clone()).await;
                    if paid.is_ok() || taken.is_ok() {
                        self.fail("another trader's payout was paid or taken");
                    }
                }
            }
        }
    }

    async fn advance_clock(&mut self) {
        let secs = match self.rng.gen_range(0..5) {
            0 => self.rng.gen_range(1..=120),
            1 => 31 * 60,
            2 => 61 * 60,
            3 => 86_400 + 1,
            _ => self.rng.gen_range(1..=7_200),
        };
        self.model.log.push(format!("advance {secs} s"));
        self.advance(secs).await;
    }

    async fn advance(&mut self, secs: i64) {
        let lapsing: Vec<OpenDeal> = self
            .model
            .deals
            .iter()
            .filter(|d| d.deadline <= self.model.now + secs)
            .cloned()
            .collect();
        let failing: Vec<String> = self
            .model
            .payouts
            .iter()
            .filter(|p| p.deadline <= self.model.now + secs)
            .map(|p| p.id.clone())
            .collect();
        self.app.advance_secs(secs);
        self.model.now += secs;
        assert_eq!(self.model.now, self.app.clock.now_secs());
        self.model.settle_due();
        for d in lapsing {
            let id = d.id.clone();
            self.eventually("the deal's deadline", || {
                let engine = self.engine();
                let id = id.clone();
                async move {
                    let deal = engine.deal(id).await.map_err(|e| e.to_string())?;
                    match deal.status {
                        DealStatus::Canceled => Ok(()),
                        other => Err(format!("deal is {other:?}")),
                    }
                }
            })
            .await;
        }
        for id in failing {
            self.wait_payout(false, &id, PayoutStatus::Failed).await;
        }
    }

    /// Polls `probe` until it answers `Ok`, failing the sequence after
    /// [`SETTLE_MAX`] with its last answer.
    async fn eventually<T, F, Fut>(&self, what: &str, probe: F) -> T
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let deadline = tokio::time::Instant::now() + SETTLE_MAX;
        loop {
            match probe().await {
                Ok(v) => return v,
                Err(last) if tokio::time::Instant::now() >= deadline => {
                    self.fail(&format!("timed out waiting for {what}: {last}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    /// Every account of the books, as the store sums its postings.
    async fn books(&self) -> BTreeMap<(String, String), i64> {
        let rows = kassa_store::read(self.engine().store(), |tx| tx.balances(""))
            .await
            .expect("balances");
        rows.into_iter()
            .filter(|(_, _, sum)| *sum != 0)
            .map(|(account, currency, sum)| ((account, currency), sum))
            .collect()
    }

    /// Waits for the books to reach the model's state (the workers may still
    /// be releasing reserves), then checks the invariants.
    async fn check_books(&mut self) {
        self.model.settle_due();
        let expected: BTreeMap<(String, String), i64> = self
            .model
            .books
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let found = self
            .eventually("the books to match the model", || async {
                let found = self.books().await;
                if found == expected {
                    Ok(found)
                } else {
                    Err(diff(&expected, &found))
                }
            })
            .await;
        // Per mode and currency the books sum to zero: the merchant's money,
        // the platform's revenue and the traders' balances are what the world
        // is owed.
        let mut sums: BTreeMap<(bool, String), i64> = BTreeMap::new();
        for ((account, currency), sum) in &found {
            *sums
                .entry((account.starts_with("test:"), currency.clone()))
                .or_default() += sum;
        }
        if sums.values().any(|s| *s != 0) {
            self.fail(&format!("the books do not balance: {sums:?}"));
        }
        let totals = self.engine().ledger_totals().await.expect("totals");
        if totals.per_currency.iter().any(|(_, _, s)| *s != 0) || !totals.negative.is_empty() {
            self.fail(&format!("ledger_totals: {totals:?}"));
        }
        // The merchant's balances as the faces show them.
        for test in [false, true] {
            let balances = self
                .engine()
                .balances(self.model.merchant.clone(), test)
                .await
                .expect("balances");
            for currency in CURRENCIES {
                let shown = balances
                    .iter()
                    .find(|b| b.currency.code() == currency)
                    .map(|b| (b.available_minor, b.pending_payouts_minor, b.reserve_minor))
                    .unwrap_or((0, 0, 0));
                let model = (
                    self.model.balance(test, currency, "available"),
                    self.model.balance(test, currency, "pending_payouts"),
                    self.model.balance(test, currency, "reserve"),
                );
                if shown != model {
                    self.fail(&format!(
                        "{} {currency} balances {shown:?}, model {model:?}",
                        mode(test)
                    ));
                }
                if model.0 < 0 || model.1 < 0 || model.2 < 0 {
                    self.fail(&format!("a negative merchant balance: {model:?}"));
                }
            }
        }
        // The reserve held is the sum of the reserves not yet released.
        for test in [false, true] {
            for currency in CURRENCIES {
                let held: i64 = self
                    .model
                    .reserves
                    .iter()
                    .filter(|r| r.test == test && r.currency == currency)
                    .map(|r| r.amount)
                    .sum();
                assert_eq!(held, self.model.balance(test, currency, "reserve"));
            }
        }
    }

    /// Every transaction of the store, both modes.
    async fn transactions(&self) -> Vec<Transaction> {
        kassa_store::read(self.engine().store(), |tx| {
            tx.transactions_touching("", i64::MIN, i64::MAX)
        })
        .await
        .expect("transactions")
    }

    /// Every transaction balances, and the transactions add up to the
    /// balances the postings give.
    async fn check_transactions(&self) {
        let mut from_docs: BTreeMap<(String, String), i64> = BTreeMap::new();
        for t in self.transactions().await {
            check_transaction(&t).unwrap_or_else(|m| self.fail(&m));
            for p in &t.postings {
                *from_docs
                    .entry((t.account_key(&p.account), t.currency.code().to_string()))
                    .or_default() += p.amount_minor;
            }
        }
        from_docs.retain(|_, v| *v != 0);
        let found = self.books().await;
        if from_docs != found {
            self.fail(&format!(
                "transactions and postings disagree: {}",
                diff(&from_docs, &found)
            ));
        }
    }

    /// The daily reports of every day of the sequence chain: each day closes
    /// where the next opens, each closing is its opening plus its lines, and
    /// the last closes at the balances.
    ///
    /// The reports list every transaction once: each is this merchant's,
    /// the only one of the sequence (pay-ins whose fee took everything too).
    async fn check_reports(&self) {
        let all = self.transactions().await;
        let first = chrono::DateTime::from_timestamp(self.model.start - 86_400, 0)
            .unwrap()
            .date_naive();
        let last = chrono::DateTime::from_timestamp(self.model.now, 0)
            .unwrap()
            .date_naive();
        for test in [false, true] {
            let mut carried: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
            let mut listed: Vec<String> = Vec::new();
            let mut day = first;
            while day <= last {
                let report = self
                    .engine()
                    .daily_report_lines(self.model.merchant.clone(), test, day)
                    .await
                    .unwrap_or_else(|e| self.fail(&format!("report of {day}: {e}")));
                let mut running: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
                for line in &report.lines {
                    let code = line.currency.code().to_string();
                    let v = (
                        line.available_minor,
                        line.pending_payouts_minor,
                        line.reserve_minor,
                    );
                    match line.kind {
                        kassa_engine::report::LineKind::OpeningBalance => {
                            let before = carried.get(&code).copied().unwrap_or((0, 0, 0));
                            if v != before || line.at_secs != day_start_secs(day) {
                                self.fail(&format!("{day} {code} opens at {v:?}, not {before:?}"));
                            }
                            running.insert(code, v);
                        }
                        kassa_engine::report::LineKind::Transaction(kind) => {
                            listed.push(line.transaction_id.clone());
                            let t = all
                                .iter()
                                .find(|t| t.id == line.transaction_id)
                                .unwrap_or_else(|| {
                                    self.fail(&format!("{line:?}: no such transaction"))
                                });
                            if t.kind != kind
                                || t.reference != line.reference
                                || t.at_secs != line.at_secs
                            {
                                self.fail(&format!("{line:?} misreports {t:?}"));
                            }
                            let r = running.get_mut(&code).expect("opened");
                            r.0 += v.0;
                            r.1 += v.1;
                            r.2 += v.2;
                            if line.at_secs < day_start_secs(day)
                                || line.at_secs >= day_start_secs(day) + 86_400
                            {
                                self.fail(&format!("{day}: a line of another day {line:?}"));
                            }
                        }
                        kassa_engine::report::LineKind::ClosingBalance => {
                            if running.get(&code) != Some(&v) {
                                self.fail(&format!("{day} {code} closes at {v:?}"));
                            }
                            carried.insert(code, v);
                        }
                    }
                }
                day = day.succ_opt().unwrap();
            }
            let mut expected: Vec<String> = all
                .iter()
                .filter(|t| t.test_mode == test)
                .map(|t| t.id.clone())
                .collect();
            expected.sort();
            listed.sort();
            if listed != expected {
                self.fail(&format!(
                    "{} reports list {} transactions of {}",
                    mode(test),
                    listed.len(),
                    expected.len()
                ));
            }
            for currency in CURRENCIES {
                let closing = carried.get(currency).copied().unwrap_or((0, 0, 0));
                let model = (
                    self.model.balance(test, currency, "available"),
                    self.model.balance(test, currency, "pending_payouts"),
                    self.model.balance(test, currency, "reserve"),
                );
                if closing != model {
                    self.fail(&format!(
                        "the last report of {} {currency} closes at {closing:?}, balances {model:?}",
                        mode(test)
                    ));
                }
            }
        }
    }
}

fn check_transaction(t: &Transaction) -> Result<(), String> {
    let sum: i64 = t.postings.iter().map(|p| p.amount_minor).sum();
    if sum != 0 {
        return Err(format!("transaction {} sums to {sum}: {t:?}", t.id));
    }
    if t.postings.iter().any(|p| p.amount_minor == 0) {
        return Err(format!("transaction {} has a zero posting", t.id));
    }
    Ok(())
}

fn mode(test: bool) -> &'static str {
    if test {
        "test"
    } else {
        "live"
    }
}

fn diff(
    expected: &BTreeMap<(String, String), i64>,
    found: &BTreeMap<(String, String), i64>,
) -> String {
    let mut out = Vec::new();
    for (k, v) in expected {
        if found.get(k) != Some(v) {
            out.push(format!("{k:?}: model {v}, books {:?}", found.get(k)));
        }
    }
    for (k, v) in found {
        if !expected.contains_key(k) {
            out.push(format!("{k:?}: model none, books {v}"));
        }
    }
    out.join("; ")
}

/// A reserve rule outside 0..=100% (or a negative lifetime) is refused when
/// the service is saved: booked, it would fail every pay-in of the service.
#[tokio::test]
async fn a_service_with_an_impossible_reserve_is_refused() {
    let app = TestApp::spawn().await;
    let engine = app.engine();
    let service = engine
        .catalog()
        .await
        .unwrap()
        .service("test_usd_test")
        .cloned()
        .unwrap();
    for reserve in [
        ReserveRule {
            rate_ppm: 1_000_001,
            lifetime_secs: 60,
        },
        ReserveRule {
            rate_ppm: -1,
            lifetime_secs: 60,
        },
        ReserveRule {
            rate_ppm: 100_000,
            lifetime_secs: -1,
        },
    ] {
        let mut bad = service.clone();
        bad.reserve = reserve;
        match engine.put_service(bad).await {
            Err(EngineError::Invalid(fields)) => {
                assert!(fields.contains_key("reserve"), "{fields:?}")
            }
            other => panic!("{reserve:?}: {:?}", other.map(|s| s.reserve)),
        }
    }
    // The service is unchanged and still takes payments.
    let (status, body) = app.create_private(common::test_invoice("processed")).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    app.wait_for_invoice(&id, "processed", |a| a["status"] == "processed")
        .await;
}
