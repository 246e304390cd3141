//! The `kassa` command line: the server, migrations, the demo, operator
//! commands and the benchmark.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use kassa_domain::money::{format_fixed, parse_minor};
use kassa_domain::{Currency, Service};
use kassa_engine::merchants::NewMerchant;
use kassa_engine::Engine;
use tokio::net::TcpListener;

use crate::{open_engine, Config, Server};

mod merchant;
use merchant::merchant;
pub use merchant::MerchantCommand;

#[derive(Parser)]
#[command(
    name = "kassa",
    version,
    about = "Kassa, a self-hosted payment gateway"
)]
pub struct Cli {
    /// Configuration file (TOML); default: ./kassa.toml when present.
    #[arg(long, global = true, env = "KASSA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP API and run the background workers.
    Serve,
    /// Create or upgrade the database schema and install the shipped catalog.
    Migrate,
    /// Start a server on a fresh database with a demo merchant, and print how
    /// to use it.
    Demo(DemoArgs),
    /// Manage merchants.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Manage the service catalog.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Manage callbacks.
    #[command(subcommand)]
    Callback(CallbackCommand),
    /// Manage P2P traders.
    #[command(subcommand)]
    Trader(TraderCommand),
    /// Manage traders' cabinets (the requisites that receive transfers).
    #[command(subcommand)]
    Cabinet(CabinetCommand),
    /// Exchange rates of P2P currencies.
    #[command(subcommand)]
    Rate(RateCommand),
    /// How alternative amounts are picked when an amount is taken on a cabinet.
    #[command(subcommand, name = "amount-rule")]
    AmountRule(AmountRuleCommand),
    /// P2P deals: confirm, resolve disputes, list.
    #[command(subcommand)]
    Deal(DealCommand),
    /// Bank notifications posted by traders.
    #[command(subcommand)]
    Notification(NotificationCommand),
    /// Measure invoice creation against a JSON echo on the same HTTP stack.
    Bench(crate::bench::BenchArgs),
    /// A merchant's balances: available, held for payouts, in reserve.
    Balance(ledger::BalanceArgs),
    /// Statements from the ledger.
    #[command(subcommand)]
    Report(ledger::ReportCommand),
    /// The operator's fee on payouts, per currency.
    #[command(subcommand, name = "payout-fee")]
    PayoutFee(ledger::PayoutFeeCommand),
    /// Credit (or, with a negative amount, debit) a merchant's available
    /// balance by hand: a top-up from outside, or a correction.
    Adjust(ledger::AdjustArgs),
}

#[derive(Args)]
pub struct DemoArgs {
    /// Directory of the demo database; emptied at start.
    #[arg(long, default_value = "kassa-demo")]
    pub dir: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// List the catalog's services.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a service: limits and fees in the currency's units, rates in percent.
    Set {
        code: String,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        available: Option<bool>,
        #[arg(long)]
        amount_min: Option<String>,
        #[arg(long)]
        amount_max: Option<String>,
        #[arg(long)]
        fee_rate: Option<String>,
        #[arg(long)]
        fee_fix: Option<String>,
        #[arg(long)]
        fee_min: Option<String>,
        #[arg(long)]
        fee_max: Option<String>,
        #[arg(long)]
        reserve_rate: Option<String>,
        #[arg(long)]
        reserve_lifetime_secs: Option<i64>,
    },
    /// Add or replace a service from a JSON file (the shape `service list --json` prints).
    Put {
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum CallbackCommand {
    /// Send an invoice's current status to its callback URL again.
    Resend { invoice_id: String },
    /// Show an invoice's callbacks and their attempts.
    List { invoice_id: String },
    /// The backlog: owed, due, leased and failed callbacks over every node,
    /// and the hosts whose callbacks wait for a retry.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum TraderCommand {
    /// Create a trader; its API token is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// A sandbox trader: its cabinets take test-mode deals only.
        #[arg(long)]
        test: bool,
        #[arg(long)]
        json: bool,
    },
    /// List traders.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct CabinetAdd {
    #[arg(long)]
    pub trader: String,
    /// `card`, `sbp`, `account`, ...
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub currency: String,
    #[arg(long)]
    pub bank: String,
    /// The card number, phone or account the customer transfers to.
    #[arg(long)]
    pub requisite: String,
    #[arg(long)]
    pub holder: String,
    /// Smallest deal (default: one minor unit).
    #[arg(long)]
    pub min: Option<String>,
    /// Largest deal (default: none).
    #[arg(long)]
    pub max: Option<String>,
    /// Turnover allowed per UTC day (default: none).
    #[arg(long)]
    pub daily_limit: Option<String>,
    /// Deals open at once (default: no limit).
    #[arg(long)]
    pub max_open_deals: Option<u32>,
    /// Add it switched off.
    #[arg(long)]
    pub inactive: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum CabinetCommand {
    /// Add a cabinet to a trader. Amounts in the currency's units (`100.00`).
    Add(Box<CabinetAdd>),
    /// List a trader's cabinets (card numbers masked).
    List {
        #[arg(long)]
        trader: String,
        #[arg(long)]
        json: bool,
    },
    /// Switch a cabinet on or off; an inactive cabinet gets no new deals.
    Set {
        id: String,
        #[arg(long, required = true)]
        active: Option<bool>,
    },
}

#[derive(Subcommand)]
pub enum RateCommand {
    /// Set a currency's rate against the traders' settlement currency.
    Set { currency: String, rate: String },
    /// Show a currency's rate.
    Show { currency: String },
}

#[derive(Subcommand)]
pub enum AmountRuleCommand {
    /// Set the step (in the currency's units) and direction of alternatives.
    Set {
        currency: String,
        #[arg(long)]
        step: String,
        /// `up`, `down` or `alternate`.
        #[arg(long)]
        direction: String,
    },
    /// Show a currency's rule (the default when none is set).
    Show {
        currency: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum DealCommand {
    /// Mark a deal's money as arrived (as the operator).
    Confirm {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// End a dispute: the money arrived (`completed`) or not (`canceled`).
    Resolve {
        id: String,
        #[arg(long)]
        outcome: String,
        #[arg(long)]
        json: bool,
    },
    /// List a trader's deals, newest first.
    List {
        #[arg(long)]
        trader: String,
        /// Only deals waiting for the transfer.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum NotificationCommand {
    /// List bank notifications, newest first.
    List {
        /// Only those that matched no deal (kept for review).
        #[arg(long)]
        unmatched: bool,
        #[arg(long)]
        trader: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    init_tracing(&config.log);
    match cli.command {
        Command::Serve => {
            let listener = TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("listening on {}", config.listen))?;
            let server = Server::start(&config, None, listener).await?;
            tracing::info!(addr = %server.addr, admin_addr = ?server.admin_addr, base_url = %server.base_url, "serving");
            server.run_until_ctrl_c().await
        }
        Command::Migrate => {
            let engine = operator_engine(&config).await?;
            println!(
                "database ready: {}",
                crate::config::redacted_url(&config.database_url)
            );
            drop(engine);
            Ok(())
        }
        Command::Demo(args) => demo(config, args).await,
        Command::Merchant(cmd) => merchant(&*operator_engine(&config).await?, cmd).await,
        Command::Service(cmd) => service(&*operator_engine(&config).await?, cmd).await,
        Command::Callback(cmd) => callback(&*operator_engine(&config).await?, cmd).await,
        Command::Trader(cmd) => p2p::trader(&*operator_engine(&config).await?, cmd).await,
        Command::Cabinet(cmd) => p2p::cabinet(&*operator_engine(&config).await?, cmd).await,
        Command::Rate(cmd) => p2p::rate(&*operator_engine(&config).await?, cmd).await,
        Command::AmountRule(cmd) => p2p::amount_rule(&*operator_engine(&config).await?, cmd).await,
        Command::Deal(cmd) => p2p::deal(&*operator_engine(&config).await?, cmd).await,
        Command::Notification(cmd) => {
            p2p::notification(&*operator_engine(&config).await?, cmd).await
        }
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Balance(args) => ledger::balance(&*operator_engine(&config).await?, args).await,
        Command::Report(cmd) => ledger::report(&*operator_engine(&config).await?, cmd).await,
        Command::PayoutFee(cmd) => ledger::payout_fee(&*operator_engine(&config).await?, cmd).await,
        Command::Adjust(args) => ledger::adjust(&*operator_engine(&config).await?, args).await,
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// How long an operator's command may wait on the database: a report reads
/// a whole day of the books, which may take longer than a request may.
const OPERATOR_DB_TIMEOUT_MS: u64 = 10 * 60 * 1000;

async fn operator_engine(config: &Config) -> anyhow::Result<Arc<Engine>> {
    let base = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let mut config = config.clone();
    config.db_timeout_ms = config.db_timeout_ms.max(OPERATOR_DB_TIMEOUT_MS);
    config.db_statement_timeout_ms = config.db_statement_timeout_ms.max(OPERATOR_DB_TIMEOUT_MS);
    open_engine(&config, None, base).await
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn minor(text: &str, currency: Currency, what: &str) -> anyhow::Result<i64> {
    match parse_minor(text, currency.exponent()) {
        Ok(v) if v >= 0 => Ok(v),
        Ok(_) => bail!("{what}: must not be negative"),
        Err(e) => bail!("{what}: {e}"),
    }
}

fn rate(text: &str, what: &str) -> anyhow::Result<i64> {
    kassa_domain::fee::parse_rate_percent(text).ok_or_else(|| {
        anyhow::anyhow!("{what}: a percentage from 0 to 100 with at most 4 decimals")
    })
}

async fn service(engine: &Engine, cmd: ServiceCommand) -> anyhow::Result<()> {
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    match cmd {
        ServiceCommand::List { json } => {
            let catalog = engine.catalog().await.map_err(fail)?;
            if json {
                return print_json(&catalog.services);
            }
            for s in catalog.services.iter() {
                let e = s.currency.exponent();
                println!(
                    "{}\t{}\t{}\t{}\t{}..{}\tfee {}%+{}\t{}",
                    s.code,
                    s.method,
                    s.flow.as_str(),
                    s.currency,
                    format_fixed(s.amount_min_minor, e),
                    format_fixed(s.amount_max_minor, e),
                    kassa_domain::fee::format_rate_percent(s.fee.rate_ppm),
                    format_fixed(s.fee.fix_minor, e),
                    if s.enabled { "enabled" } else { "disabled" }
                );
            }
            Ok(())
        }
        ServiceCommand::Set {
            code,
            enabled,
            available,
            amount_min,
            amount_max,
            fee_rate,
            fee_fix,
            fee_min,
            fee_max,
            reserve_rate,
            reserve_lifetime_secs,
        } => {
            let catalog = engine.catalog().await.map_err(fail)?;
            let mut s: Service = catalog
                .service(&code)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no service {code}"))?;
            let c = s.currency;
            if let Some(v) = enabled {
                s.enabled = v;
            }
            if let Some(v) = available {
                s.available = v;
            }
            if let Some(v) = amount_min {
                s.amount_min_minor = minor(&v, c, "amount_min")?;
            }
            if let Some(v) = amount_max {
                s.amount_max_minor = minor(&v, c, "amount_max")?;
            }
            if let Some(v) = fee_rate {
                s.fee.rate_ppm = rate(&v, "fee_rate")?;
            }
            if let Some(v) = fee_fix {
                s.fee.fix_minor = minor(&v, c, "fee_fix")?;
            }
            if let Some(v) = fee_min {
                s.fee.min_minor = minor(&v, c, "fee_min")?;
            }
            if let Some(v) = fee_max {
                s.fee.max_minor = minor(&v, c, "fee_max")?;
            }
            if let Some(v) = reserve_rate {
                s.reserve.rate_ppm = rate(&v, "reserve_rate")?;
            }
            if let Some(v) = reserve_lifetime_secs {
                if v < 0 {
                    bail!("reserve_lifetime_secs must not be negative");
                }
                s.reserve.lifetime_secs = v;
            }
            let s = engine.put_service(s).await.map_err(fail)?;
            println!("service {} updated", s.code);
            Ok(())
        }
        ServiceCommand::Put { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let s: Service = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", file.display()))?;
            let s = engine.put_service(s).await.map_err(fail)?;
            println!("service {} saved", s.code);
            Ok(())
        }
    }
}

async fn callback(engine: &Engine, cmd: CallbackCommand) -> anyhow::Result<()> {
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    match cmd {
        CallbackCommand::Resend { invoice_id } => {
            let cb = engine
                .resend_callback(None, invoice_id.clone())
                .await
                .map_err(|e| anyhow::anyhow!("invoice {invoice_id}: {e}"))?;
            println!(
                "callback {} owed to {} ({}); a running server delivers it",
                cb.id, cb.url, cb.transaction_status
            );
            Ok(())
        }
        CallbackCommand::List { invoice_id } => {
            // An unknown invoice is an error, not an empty list.
            engine
                .invoice_for_page(invoice_id.clone())
                .await
                .map_err(|e| anyhow::anyhow!("invoice {invoice_id}: {e}"))?;
            let callbacks = engine.callbacks(invoice_id.clone()).await.map_err(fail)?;
            let attempts = engine.callback_attempts(invoice_id).await.map_err(fail)?;
            for cb in callbacks {
                println!(
                    "{}\t{}\t{}\tattempts {}\t{}",
                    cb.id,
                    cb.transaction_status,
                    cb.state.as_str(),
                    cb.attempts,
                    cb.url
                );
                for a in attempts.iter().filter(|a| a.callback_id == cb.id) {
                    println!(
                        "  at {}\t{}\t{:?}\t{}",
                        a.at_secs,
                        a.status,
                        a.response_code,
                        a.error.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        CallbackCommand::Stats { json } => {
            let backlog = engine.callback_backlog().await.map_err(fail)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&backlog)?);
                return Ok(());
            }
            let c = backlog.counts;
            println!(
                "owed {}\tdue {}\tleased {}\tfailed {}",
                c.owed, c.due, c.leased, c.failed
            );
            for h in &backlog.waiting_hosts {
                println!(
                    "waiting\t{}\t{}\tnext attempt at {}",
                    h.host, h.waiting, h.next_attempt_at_secs
                );
            }
            Ok(())
        }
    }
}

async fn demo(mut config: Config, args: DemoArgs) -> anyhow::Result<()> {
    // A fresh database every time: remove only what the demo itself made.
    for name in [
        "kassa.sqlite",
        "kassa.sqlite-wal",
        "kassa.sqlite-shm",
        "master.key",
    ] {
        let _ = std::fs::remove_file(args.dir.join(name));
    }
    config.database_url = format!("sqlite://{}", args.dir.join("kassa.sqlite").display());
    config.master_key = None;
    config.listen = args.listen.clone();
    config.allow_private_callback_urls = true;
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let server = Server::start(&config, None, listener).await?;
    let issued = server
        .engine
        .create_merchant(NewMerchant {
            name: "Demo Shop".into(),
            site_login: Some("demo_shop".into()),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = &server.base_url;
    let t = &issued.test;
    println!(
        "Kassa demo on {base} (database {})",
        config.sqlite_path()?.display()
    );
    println!("\nDemo merchant (test mode credentials; live ones are in the JSON below):");
    println!("  public key        {}", t.public_key);
    println!("  private key id    {}", t.private_key_id);
    println!("  private secret    {}", t.private_key_secret);
    println!("  callback secret   {}", t.callback_secret);
    println!("\nCreate a test invoice that the test provider will mark processed:\n");
    println!(
        "curl -s -u '{}:{}' -H 'Content-Type: application/json' {base}/api/payment-invoices -d '{{\"data\":{{\"type\":\"payment-invoices\",\"attributes\":{{\"amount\":\"100.50\",\"currency\":\"USD\",\"service\":\"test_usd_test\",\"service_fields\":{{\"status\":\"processed\"}},\"description\":\"First invoice\"}}}}}}'",
        t.private_key_id, t.private_key_secret
    );
    println!("\nOr one to pay by hand on the hosted page (open its hpp_url):\n");
    println!(
        "curl -s {base}/public-api/payment-invoices -H 'Content-Type: application/json' -d '{{\"public_key\":\"{}\",\"service\":\"payment_card_usd_hpp\",\"currency\":\"USD\",\"amount\":123.45,\"description\":\"Demo order\"}}'",
        t.public_key
    );
    demo_p2p(&server, &issued).await?;
    crate::sandbox_demo::seed(&server, &issued).await?;
    println!(
        "\nAll credentials as JSON:\n{}",
        serde_json::to_string_pretty(&issued)?
    );
    println!("\nCtrl-C stops the demo.");
    server.run_until_ctrl_c().await
}

/// The demo's P2P side: a trader with a card and an SBP phone in RUB, a rate,
/// and ready-signed requests for `book_cabinet`, the Merchant API and the
/// trader API.
async fn demo_p2p(
    server: &Server,
    issued: &kassa_engine::merchants::IssuedMerchant,
) -> anyhow::Result<()> {
    use kassa_engine::p2p::NewCabinet;
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    let engine = &server.engine;
    let base = &server.base_url;
    let rub = Currency::from_code("RUB").expect("RUB");
    let (trader, token) = engine
        .create_trader("Demo Trader".into())
        .await
        .map_err(fail)?;
    let mut cabinets = Vec::new();
    for (method, bank, requisite) in [
        ("card", "Tinkoff", "2200700123456789"),
        ("sbp", "Sberbank", "+79967779977"),
    ] {
        let cabinet = engine
            .add_cabinet(NewCabinet {
                trader_id: trader.id.clone(),
                method: method.into(),
                currency: rub,
                bank_name: bank.into(),
                requisite: requisite.into(),
                holder: "Ivan Petrov".into(),
                min_amount_minor: 10_000,
                max_amount_minor: 10_000_000,
                daily_limit_minor: 0,
                max_open_deals: 0,
                active: true,
            })
            .await
            .map_err(fail)?;
        cabinets.push(cabinet);
    }
    engine.set_rate(rub, "99.23".into()).await.map_err(fail)?;
    println!(
        "\nDemo trader {} (token {token}) with a card and an SBP phone in RUB:",
        trader.id
    );
    for c in &cabinets {
        println!("  {}  {} {} {}", c.id, c.method, c.bank_name, c.requisite);
    }
    let mut book = match serde_json::json!({
        "request_id": "demo-book-1", "merchant_id": issued.merchant_id, "site_id": issued.site_id,
        "site_login": issued.site_login, "method": "card", "currency": "RUB", "amount": 900_000,
    }) {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    };
    let signature = kassa_http::h2h::sign(&issued.h2h_secret, &book);
    book.insert("signature".into(), signature.into());
    println!("\nHold 9000.00 RUB on a card for 30 s (H2H book_cabinet; amounts in minor units):\n");
    println!(
        "curl -s {base}/api/book_cabinet -H 'Content-Type: application/json' -d '{}'",
        serde_json::Value::Object(book)
    );
    let invoice = r#"{"type":"in","amount":"9000.00","currency":"RUB","notificationUrl":"http://127.0.0.1:9/","notificationToken":"demo","internalId":"demo-1","paymentOption":"CARD","startDeal":true}"#;
    let api = &issued.live;
    let signature = hex_of(&kassa_http::h2h::hmac_sha256(
        api.merchant_api_secret.as_bytes(),
        invoice.as_bytes(),
    ));
    println!("\nThen make the invoice with its P2P deal (Merchant API); open its invoiceUrl to see the requisites:\n");
    println!(
        "curl -s {base}/api/merchant/invoices -H 'Content-Type: application/json' -H 'X-Identity: {}' -H 'X-Signature: {signature}' -d '{invoice}'",
        api.merchant_api_key
    );
    println!("\nAnd report the money as the trader's bank would (trader API):\n");
    println!(
        "curl -s {base}/trader-api/notifications -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"id\":\"sms-1\",\"cabinet\":\"{}\",\"amount\":\"9000.00\",\"text\":\"Received 9 000.00 RUB\"}}'",
        cabinets[0].id
    );
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The P2P operator commands: traders, cabinets, rates, amount rules, deals
/// and bank notifications. Card numbers are printed masked.
mod p2p {
    use std::collections::HashMap;

    use anyhow::{anyhow, bail};
    use kassa_domain::money::{format_fixed, parse_minor, AmountError};
    use kassa_domain::p2p::mask_card;
    use kassa_domain::{
        Actor, AlternativeRule, BankNotification, Cabinet, Currency, Deal, Direction,
    };
    use kassa_engine::p2p::NewCabinet;
    use kassa_engine::{Engine, EngineError};
    use serde_json::{json, Value};

    use super::{
        print_json, AmountRuleCommand, CabinetAdd, CabinetCommand, DealCommand,
        NotificationCommand, RateCommand, TraderCommand,
    };

    /// An engine error in words an operator reads: the fields and what is
    /// wrong with each.
    pub(super) fn fail(e: EngineError) -> anyhow::Error {
        match e {
            EngineError::Invalid(fields) => anyhow!(
                "{}",
                fields
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            other => anyhow!("{other}"),
        }
    }

    fn currency(code: &str) -> anyhow::Result<Currency> {
        Currency::from_code(&code.to_ascii_uppercase())
            .ok_or_else(|| anyhow!("unknown currency {code}"))
    }

    /// Decimal text in `currency`'s units as minor units, at least `least`.
    fn amount(text: &str, currency: Currency, what: &str, least: i64) -> anyhow::Result<i64> {
        match parse_minor(text, currency.exponent()) {
            Ok(v) if v >= least => Ok(v),
            Ok(_) if least > 0 => bail!("{what}: must be greater than 0"),
            Ok(_) => bail!("{what}: must not be negative"),
            Err(AmountError::TooPrecise(p)) => {
                bail!("{what}: {text} has more than {p} decimal places for {currency}")
            }
            Err(e) => bail!("{what}: {text}: {e}"),
        }
    }

    fn time(secs: i64) -> String {
        chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    }

    fn cabinet_json(c: &Cabinet) -> Value {
        let e = c.currency.exponent();
        let limit = |minor: i64| (minor > 0).then(|| format_fixed(minor, e));
        json!({
            "cabinet_id": c.id,
            "trader_id": c.trader_id,
            "method": c.method,
            "currency": c.currency,
            "bank": c.bank_name,
            "requisite": mask_card(&c.requisite),
            "holder": c.holder,
            "min_amount": format_fixed(c.min_amount_minor, e),
            "max_amount": limit(c.max_amount_minor),
            "daily_limit": limit(c.daily_limit_minor),
            "max_open_deals": (c.max_open_deals > 0).then_some(c.max_open_deals),
            "active": c.active,
            "test_mode": c.test_mode,
            "created_at": time(c.created_at_secs),
        })
    }

    /// Each cabinet's currency, to write amounts of its deals and notifications.
    async fn currencies(
        engine: &Engine,
        trader_ids: impl IntoIterator<Item = String>,
    ) -> anyhow::Result<HashMap<String, Currency>> {
        let mut out = HashMap::new();
        for t in trader_ids {
            for c in engine.trader_cabinets(t).await.map_err(fail)? {
                out.insert(c.id, c.currency);
            }
        }
        Ok(out)
    }

    fn money(minor: i64, currency: Option<&Currency>) -> String {
        match currency {
            Some(c) => format!("{} {c}", format_fixed(minor, c.exponent())),
            None => format!("{minor} (minor units)"),
        }
    }

    fn deal_json(d: &Deal, currencies: &HashMap<String, Currency>) -> Value {
        let currency = currencies.get(&d.cabinet_id);
        json!({
            "deal_id": d.id,
            "invoice_id": d.invoice_id,
            "trader_id": d.trader_id,
            "cabinet_id": d.cabinet_id,
            "status": d.status.as_str(),
            "amount": currency.map(|c| format_fixed(d.amount_minor, c.exponent())),
            "currency": currency,
            "method": d.method,
            "bank": d.bank_name,
            "requisite": mask_card(&d.requisite),
            "holder": d.holder,
            "created_at": time(d.created_at_secs),
            "deadline": time(d.deadline_secs),
            "ended_at": d.ended_at_secs.map(time),
            "dispute_reason": d.dispute_reason,
            "settled_by": d.settled_by,
        })
    }

    fn print_deal(d: &Deal, currencies: &HashMap<String, Currency>) {
        println!(
            "{}\t{}\t{}\tcabinet {}\tinvoice {}",
            d.id,
            d.status.as_str(),
            money(d.amount_minor, currencies.get(&d.cabinet_id)),
            d.cabinet_id,
            d.invoice_id
        );
    }

    fn notification_json(n: &BankNotification, currencies: &HashMap<String, Currency>) -> Value {
        let currency = currencies.get(&n.cabinet_id);
        json!({
            "notification_id": n.id,
            "external_id": n.external_id,
            "trader_id": n.trader_id,
            "cabinet_id": n.cabinet_id,
            "amount": currency.map(|c| format_fixed(n.amount_minor, c.exponent())),
            "currency": currency,
            "text": n.text,
            "received_at": n.received_at_secs.map(time),
            "created_at": time(n.created_at_secs),
            "matched": n.deal_id.is_some(),
            "deal_id": n.deal_id,
        })
    }

    pub(super) async fn trader(engine: &Engine, cmd: TraderCommand) -> anyhow::Result<()> {
        match cmd {
            TraderCommand::Create { name, test, json } => {
                let (t, token) = engine.create_trader_in(name, test).await.map_err(fail)?;
                if json {
                    return print_json(&json!({
                        "trader_id": t.id,
                        "name": t.name,
                        "test_mode": t.test_mode,
                        "token": token,
                    }));
                }
                let mode = if t.test_mode { ", test mode" } else { "" };
                println!("trader {} ({}{mode})", t.id, t.name);
                println!("  API token {token}");
                println!("The token is shown once; hand it to the trader now.");
                Ok(())
            }
            TraderCommand::List { json } => {
                let traders = engine.traders().await.map_err(fail)?;
                if json {
                    let list: Vec<Value> = traders
                        .iter()
                        .map(|t| {
                            json!({
                                "trader_id": t.id,
                                "name": t.name,
                                "active": t.active,
                                "test_mode": t.test_mode,
                                "created_at": time(t.created_at_secs),
                            })
                        })
                        .collect();
                    return print_json(&list);
                }
                for t in traders {
                    let state = if t.active { "active" } else { "inactive" };
                    let mode = if t.test_mode { "test" } else { "live" };
                    println!("{}\t{}\t{mode}\t{}", t.id, state, t.name);
                }
                Ok(())
            }
        }
    }

    pub(super) async fn cabinet(engine: &Engine, cmd: CabinetCommand) -> anyhow::Result<()> {
        match cmd {
            CabinetCommand::Add(args) => {
                let CabinetAdd {
                    trader,
                    method,
                    currency: code,
                    bank,
                    requisite,
                    holder,
                    min,
                    max,
                    daily_limit,
                    max_open_deals,
                    inactive,
                    json,
                } = *args;
                let c = currency(&code)?;
                let new = NewCabinet {
                    trader_id: trader,
                    method: method.to_ascii_lowercase(),
                    currency: c,
                    bank_name: bank,
                    requisite,
                    holder,
                    min_amount_minor: min
                        .map(|v| amount(&v, c, "min", 1))
                        .transpose()?
                        .unwrap_or(1),
                    max_amount_minor: max
                        .map(|v| amount(&v, c, "max", 1))
                        .transpose()?
                        .unwrap_or(0),
                    daily_limit_minor: daily_limit
                        .map(|v| amount(&v, c, "daily_limit", 1))
                        .transpose()?
                        .unwrap_or(0),
                    max_open_deals: max_open_deals.unwrap_or(0),
                    active: !inactive,
                };
                let cabinet = engine.add_cabinet(new).await.map_err(fail)?;
                if json {
                    return print_json(&cabinet_json(&cabinet));
                }
                println!(
                    "cabinet {} of trader {}: {} {} {} {} ({})",
                    cabinet.id,
                    cabinet.trader_id,
                    cabinet.method,
                    cabinet.currency,
                    cabinet.bank_name,
                    cabinet.masked_requisite(),
                    if cabinet.active { "active" } else { "inactive" }
                );
                Ok(())
            }
            CabinetCommand::List { trader, json } => {
                // An unknown trader is an error, not an empty list.
                if !engine
                    .traders()
                    .await
                    .map_err(fail)?
                    .iter()
                    .any(|t| t.id == trader)
                {
                    bail!("no trader {trader}");
                }
                let cabinets = engine.trader_cabinets(trader).await.map_err(fail)?;
                if json {
                    let list: Vec<Value> = cabinets.iter().map(cabinet_json).collect();
                    return print_json(&list);
                }
                for c in cabinets {
                    let e = c.currency.exponent();
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}..{}\t{}",
                        c.id,
                        c.method,
                        c.currency,
                        c.bank_name,
                        c.masked_requisite(),
                        c.holder,
                        format_fixed(c.min_amount_minor, e),
                        if c.max_amount_minor > 0 {
                            format_fixed(c.max_amount_minor, e)
                        } else {
                            String::new()
                        },
                        if c.active { "active" } else { "inactive" }
                    );
                }
                Ok(())
            }
            CabinetCommand::Set { id, active } => {
                let active = active.ok_or_else(|| anyhow!("--active true|false is required"))?;
                let c = engine
                    .set_cabinet_active(Actor::Operator, id.clone(), active)
                    .await
                    .map_err(|e| match e {
                        EngineError::NotFound => anyhow!("no cabinet {id}"),
                        other => fail(other),
                    })?;
                println!(
                    "cabinet {}: {}",
                    c.id,
                    if c.active { "active" } else { "inactive" }
                );
                Ok(())
            }
        }
    }

    pub(super) async fn rate(engine: &Engine, cmd: RateCommand) -> anyhow::Result<()> {
        match cmd {
            RateCommand::Set {
                currency: code,
                rate,
            } => {
                let c = currency(&code)?;
                engine.set_rate(c, rate.clone()).await.map_err(fail)?;
                println!("rate {c} {rate}");
                Ok(())
            }
            RateCommand::Show { currency: code } => {
                let c = currency(&code)?;
                match engine.rate(c).await.map_err(fail)? {
                    Some(r) => println!("rate {c} {r}"),
                    None => println!("rate {c} not set"),
                }
                Ok(())
            }
        }
    }

    fn direction_str(d: Direction) -> &'static str {
        match d {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Alternate => "alternate",
        }
    }

    pub(super) async fn amount_rule(engine: &Engine, cmd: AmountRuleCommand) -> anyhow::Result<()> {
        match cmd {
            AmountRuleCommand::Set {
                currency: code,
                step,
                direction,
            } => {
                let c = currency(&code)?;
                let step_minor = amount(&step, c, "step", 1)?;
                let direction = match direction.as_str() {
                    "up" => Direction::Up,
                    "down" => Direction::Down,
                    "alternate" => Direction::Alternate,
                    other => bail!("direction: {other}: use up, down or alternate"),
                };
                let rule = AlternativeRule {
                    step_minor,
                    direction,
                };
                engine.set_amount_rule(c, rule).await.map_err(fail)?;
                println!(
                    "amount rule {c}: step {} {}",
                    format_fixed(step_minor, c.exponent()),
                    direction_str(direction)
                );
                Ok(())
            }
            AmountRuleCommand::Show {
                currency: code,
                json,
            } => {
                let c = currency(&code)?;
                let rule = engine.amount_rule(c).await.map_err(fail)?;
                let step = format_fixed(rule.step_minor, c.exponent());
                if json {
                    return print_json(&json!({
                        "currency": c,
                        "step": step,
                        "direction": direction_str(rule.direction),
                    }));
                }
                println!(
                    "amount rule {c}: step {step} {}",
                    direction_str(rule.direction)
                );
                Ok(())
            }
        }
    }

    pub(super) async fn deal(engine: &Engine, cmd: DealCommand) -> anyhow::Result<()> {
        let not_found = |id: &str| {
            let id = id.to_string();
            move |e| match e {
                EngineError::NotFound => anyhow!("no deal {id}"),
                other => fail(other),
            }
        };
        let (deal, json) = match cmd {
            DealCommand::Confirm { id, json } => (
                engine
                    .confirm_deal(Actor::Operator, id.clone())
                    .await
                    .map_err(not_found(&id))?,
                json,
            ),
            DealCommand::Resolve { id, outcome, json } => {
                let complete = match outcome.as_str() {
                    "completed" => true,
                    "canceled" => false,
                    other => bail!("outcome: {other}: use completed or canceled"),
                };
                (
                    engine
                        .resolve_dispute(Actor::Operator, id.clone(), complete)
                        .await
                        .map_err(not_found(&id))?,
                    json,
                )
            }
            DealCommand::List { trader, open, json } => {
                if !engine
                    .traders()
                    .await
                    .map_err(fail)?
                    .iter()
                    .any(|t| t.id == trader)
                {
                    bail!("no trader {trader}");
                }
                let currencies = currencies(engine, [trader.clone()]).await?;
                let deals = engine.trader_deals(trader, open).await.map_err(fail)?;
                if json {
                    let list: Vec<Value> =
                        deals.iter().map(|d| deal_json(d, &currencies)).collect();
                    return print_json(&list);
                }
                for d in &deals {
                    print_deal(d, &currencies);
                }
                return Ok(());
            }
        };
        let currencies = currencies(engine, [deal.trader_id.clone()]).await?;
        if json {
            return print_json(&deal_json(&deal, &currencies));
        }
        print_deal(&deal, &currencies);
        Ok(())
    }

    pub(super) async fn notification(
        engine: &Engine,
        cmd: NotificationCommand,
    ) -> anyhow::Result<()> {
        match cmd {
            NotificationCommand::List {
                unmatched,
                trader,
                json,
            } => {
                let list = engine
                    // One trader's are those it sees itself.
                    .notifications(trader.map_or(Actor::Operator, Actor::Trader), unmatched)
                    .await
                    .map_err(fail)?;
                let mut traders: Vec<String> = list.iter().map(|n| n.trader_id.clone()).collect();
                traders.sort();
                traders.dedup();
                let currencies = currencies(engine, traders).await?;
                if json {
                    let list: Vec<Value> = list
                        .iter()
                        .map(|n| notification_json(n, &currencies))
                        .collect();
                    return print_json(&list);
                }
                for n in &list {
                    println!(
                        "{}\t{}\t{}\tcabinet {}\t{}\t{}",
                        n.id,
                        n.external_id,
                        money(n.amount_minor, currencies.get(&n.cabinet_id)),
                        n.cabinet_id,
                        n.deal_id
                            .as_deref()
                            .map_or("unmatched".to_string(), |d| format!("deal {d}")),
                        n.text.as_deref().unwrap_or("")
                    );
                }
                Ok(())
            }
        }
    }
}

/// The ledger's operator commands: balances, the daily report, payout fees.
mod ledger {
    use std::path::PathBuf;

    use anyhow::{anyhow, bail, Context};
    use clap::{Args, Subcommand};
    use kassa_domain::fee::{parse_rate_percent, FeeRule};
    use kassa_domain::money::{format_fixed, parse_minor, AmountError};
    use kassa_domain::{payout, Currency};
    use kassa_engine::ledger::balance_json;
    use kassa_engine::report::parse_report_date;
    use kassa_engine::{Engine, EngineError};
    use serde_json::json;

    use super::print_json;

    #[derive(Args)]
    pub struct BalanceArgs {
        #[arg(long)]
        pub merchant: String,
        /// The test books instead of the live ones.
        #[arg(long)]
        pub test: bool,
        #[arg(long)]
        pub json: bool,
    }

    #[derive(Args)]
    pub struct AdjustArgs {
        #[arg(long)]
        pub merchant: String,
        #[arg(long)]
        pub currency: String,
        /// In the currency's units; negative to debit (`-10.00`).
        #[arg(long, allow_hyphen_values = true)]
        pub amount: String,
        /// Why: kept with the ledger transaction.
        #[arg(long)]
        pub reason: String,
        /// The test books instead of the live ones.
        #[arg(long)]
        pub test: bool,
    }

    pub async fn adjust(engine: &Engine, args: AdjustArgs) -> anyhow::Result<()> {
        let currency = Currency::from_code(&args.currency)
            .ok_or_else(|| anyhow!("currency: unknown {}", args.currency))?;
        let minor = match parse_minor(&args.amount, currency.exponent()) {
            Ok(m) if m != 0 => m,
            Ok(_) => bail!("amount: must not be zero"),
            Err(e) => bail!("amount: {e}"),
        };
        engine
            .adjust_balance(
                args.merchant.clone(),
                args.test,
                currency,
                minor,
                args.reason,
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
        println!(
            "merchant {}: {} {} {}",
            args.merchant,
            if minor > 0 { "credited" } else { "debited" },
            format_fixed(minor.abs(), currency.exponent()),
            currency
        );
        Ok(())
    }

    #[derive(Subcommand)]
    pub enum ReportCommand {
        /// A merchant's statement of one UTC day, as CSV (columns in docs/ledger.md).
        Daily {
            #[arg(long)]
            merchant: String,
            /// The UTC day, `YYYY-MM-DD`.
            #[arg(long)]
            date: String,
            /// The test books instead of the live ones.
            #[arg(long)]
            test: bool,
            /// Write the CSV to this file instead of standard output.
            #[arg(long)]
            out: Option<PathBuf>,
        },
    }

    #[derive(Subcommand)]
    pub enum PayoutFeeCommand {
        /// Set the fee charged on top of each payout in a currency; the parts
        /// not given are zero. Amounts in the currency's units, the rate in percent.
        Set {
            currency: String,
            /// Percentage of the payout amount (`1.5`), rounded up to a minor unit.
            #[arg(long)]
            rate: Option<String>,
            /// A fixed part added to the percentage.
            #[arg(long)]
            fix: Option<String>,
            /// The smallest fee.
            #[arg(long)]
            min: Option<String>,
            /// The largest fee (default: no cap).
            #[arg(long)]
            max: Option<String>,
        },
    }

    fn fail(e: EngineError) -> anyhow::Error {
        match e {
            EngineError::Invalid(fields) => anyhow!(
                "{}",
                fields
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            other => anyhow!("{other}"),
        }
    }

    /// Refuses an unknown merchant rather than printing nothing.
    async fn known_merchant(engine: &Engine, id: &str) -> anyhow::Result<()> {
        match engine.merchant(id.to_string()).await {
            Ok(_) => Ok(()),
            Err(EngineError::NotFound) => bail!("no merchant {id}"),
            Err(e) => Err(fail(e)),
        }
    }

    fn mode(test: bool) -> &'static str {
        if test {
            "test"
        } else {
            "live"
        }
    }

    pub(super) async fn balance(engine: &Engine, args: BalanceArgs) -> anyhow::Result<()> {
        known_merchant(engine, &args.merchant).await?;
        let balances = engine
            .balances(args.merchant.clone(), args.test)
            .await
            .map_err(fail)?;
        if args.json {
            return print_json(&json!({
                "merchant_id": args.merchant,
                "test_mode": args.test,
                "balances": balances.iter().map(balance_json).collect::<Vec<_>>(),
            }));
        }
        if balances.is_empty() {
            println!(
                "merchant {} has no money in its {} books",
                args.merchant,
                mode(args.test)
            );
        }
        for b in &balances {
            let e = b.currency.exponent();
            println!(
                "{}\tavailable {}\tpending_payouts {}\treserve {}",
                b.currency,
                format_fixed(b.available_minor, e),
                format_fixed(b.pending_payouts_minor, e),
                format_fixed(b.reserve_minor, e)
            );
        }
        Ok(())
    }

    pub(super) async fn report(engine: &Engine, cmd: ReportCommand) -> anyhow::Result<()> {
        match cmd {
            ReportCommand::Daily {
                merchant,
                date,
                test,
                out,
            } => {
                let day = parse_report_date(&date)
                    .ok_or_else(|| anyhow!("date: {date}: use a calendar date as YYYY-MM-DD"))?;
                known_merchant(engine, &merchant).await?;
                let csv = engine
                    .daily_report(merchant, test, day)
                    .await
                    .map_err(fail)?;
                match out {
                    None => {
                        use std::io::Write;
                        let mut out = std::io::stdout().lock();
                        out.write_all(csv.as_bytes())
                            .and_then(|()| out.flush())
                            .context("writing the report")?;
                    }
                    Some(path) => {
                        std::fs::write(&path, &csv)
                            .with_context(|| format!("writing {}", path.display()))?;
                        println!("report written to {}", path.display());
                    }
                }
                Ok(())
            }
        }
    }

    fn payout_currency(code: &str) -> anyhow::Result<Currency> {
        Currency::from_code(&code.to_ascii_uppercase())
            .filter(|c| payout::CURRENCIES.contains(&c.code()))
            .ok_or_else(|| {
                anyhow!(
                    "currency: {code}: payouts are made in {}",
                    payout::CURRENCIES.join(", ")
                )
            })
    }

    fn amount(text: &str, currency: Currency, what: &str) -> anyhow::Result<i64> {
        match parse_minor(text, currency.exponent()) {
            Ok(v) if v >= 0 => Ok(v),
            Ok(_) => bail!("{what}: must not be negative"),
            Err(AmountError::TooPrecise(p)) => {
                bail!("{what}: {text} has more than {p} decimal places for {currency}")
            }
            Err(e) => bail!("{what}: {text}: {e}"),
        }
    }

    pub(super) async fn payout_fee(engine: &Engine, cmd: PayoutFeeCommand) -> anyhow::Result<()> {
        match cmd {
            PayoutFeeCommand::Set {
                currency,
                rate,
                fix,
                min,
                max,
            } => {
                let c = payout_currency(&currency)?;
                let rule = FeeRule {
                    rate_ppm: rate
                        .map(|r| {
                            parse_rate_percent(&r).ok_or_else(|| {
                                anyhow!(
                                    "rate: {r}: a percentage from 0 to 100 with at most 4 decimals"
                                )
                            })
                        })
                        .transpose()?
                        .unwrap_or(0),
                    fix_minor: fix.map(|v| amount(&v, c, "fix")).transpose()?.unwrap_or(0),
                    min_minor: min.map(|v| amount(&v, c, "min")).transpose()?.unwrap_or(0),
                    max_minor: max.map(|v| amount(&v, c, "max")).transpose()?.unwrap_or(0),
                };
                if rule.max_minor > 0 && rule.min_minor > rule.max_minor {
                    bail!("min: must not be more than max");
                }
                engine.set_payout_fee(c, rule).await.map_err(fail)?;
                let e = c.exponent();
                println!(
                    "payout fee {c}: {}% + {}, min {}, max {}",
                    kassa_domain::fee::format_rate_percent(rule.rate_ppm),
                    format_fixed(rule.fix_minor, e),
                    format_fixed(rule.min_minor, e),
                    if rule.max_minor > 0 {
                        format_fixed(rule.max_minor, e)
                    } else {
                        "none".to_string()
                    }
                );
                Ok(())
            }
        }
    }
}
