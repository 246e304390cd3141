//! The `kassa` command line: the server, migrations, the demo, operator
//! commands and the benchmark.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use kassa_domain::money::parse_minor;
use kassa_domain::Currency;
use kassa_engine::Engine;
use tokio::net::TcpListener;

use crate::{open_engine, Config, Server};

mod api_key;
mod callback;
mod demo;
mod ledger;
mod merchant;
mod p2p;
mod refund;
mod service;
mod web_user;

use callback::callback;
pub use callback::CallbackCommand;
use demo::demo;
pub use demo::DemoArgs;
use merchant::merchant;
pub use merchant::MerchantCommand;
pub use p2p::{
    AmountRuleCommand, CabinetAdd, CabinetCommand, DealCommand, DeviceCommand, NotificationCommand,
    P2pCommand, PatternCommand, RateCommand, TraderCommand,
};
use service::service;
pub use service::ServiceCommand;

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// The people who sign in to the operator console (`/console/`).
    User {
        #[command(subcommand)]
        cmd: web_user::OperatorUserCommand,
    },
}

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
    /// The operator console's users.
    #[command(subcommand)]
    Operator(OperatorCommand),
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
    /// Bank SMS and pushes: the patterns that read them, the messages kept.
    #[command(subcommand)]
    P2p(P2pCommand),
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
    /// Refunds: settle one by hand.
    #[command(subcommand)]
    Refund(refund::RefundCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    init_tracing(&config.log, config.json_logs());
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
        Command::Operator(OperatorCommand::User { cmd }) => {
            web_user::operator_user(&*operator_engine(&config).await?, cmd).await
        }
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
        Command::P2p(cmd) => p2p::p2p(&*operator_engine(&config).await?, cmd).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Balance(args) => ledger::balance(&*operator_engine(&config).await?, args).await,
        Command::Report(cmd) => ledger::report(&*operator_engine(&config).await?, cmd).await,
        Command::PayoutFee(cmd) => ledger::payout_fee(&*operator_engine(&config).await?, cmd).await,
        Command::Adjust(args) => ledger::adjust(&*operator_engine(&config).await?, args).await,
        Command::Refund(cmd) => refund::refund(&*operator_engine(&config).await?, cmd).await,
    }
}

/// Logs go to stderr: lines for people, or with `log_format = "json"` one
/// JSON object per line (time, level, target, message and fields, and the
/// spans they happened in) for a log shipper.
fn init_tracing(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init()
    } else {
        logs.try_init()
    };
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
