//! The `kassa` command line: the server, migrations, the demo, operator
//! commands and the benchmark.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use kassa_domain::money::{format_fixed, parse_minor};
use kassa_domain::{Currency, Service};
use kassa_engine::merchants::NewMerchant;
use kassa_engine::{Engine, SystemClock};
use tokio::net::TcpListener;

use crate::{open_engine, Config, Server};

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
    /// Measure invoice creation against a JSON echo on the same HTTP stack.
    Bench(crate::bench::BenchArgs),
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
pub enum MerchantCommand {
    /// Create a merchant with its site and credentials (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// The site's login; generated from the name when absent.
        #[arg(long)]
        site_login: Option<String>,
        /// Default callback URL for invoices that name none.
        #[arg(long)]
        callback_url: Option<String>,
        /// Refuse invoice creation through the public API.
        #[arg(long)]
        forbid_public_api: bool,
        /// Settlement currency of the account (default USD).
        #[arg(long)]
        currency: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List merchants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a merchant's settings.
    Set {
        id: String,
        #[arg(long)]
        forbid_public_api: Option<bool>,
        /// A URL, or "" to clear.
        #[arg(long)]
        callback_url: Option<String>,
    },
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
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    init_tracing(&config.log);
    match cli.command {
        Command::Serve => {
            let listener = TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("listening on {}", config.listen))?;
            let server = Server::start(&config, Arc::new(SystemClock), listener).await?;
            tracing::info!(addr = %server.addr, base_url = %server.base_url, "serving");
            server.run_until_ctrl_c().await
        }
        Command::Migrate => {
            let engine = operator_engine(&config).await?;
            println!("database ready: {}", config.sqlite_path()?.display());
            drop(engine);
            Ok(())
        }
        Command::Demo(args) => demo(config, args).await,
        Command::Merchant(cmd) => merchant(&*operator_engine(&config).await?, cmd).await,
        Command::Service(cmd) => service(&*operator_engine(&config).await?, cmd).await,
        Command::Callback(cmd) => callback(&*operator_engine(&config).await?, cmd).await,
        Command::Bench(args) => crate::bench::run(args).await,
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn operator_engine(config: &Config) -> anyhow::Result<Arc<Engine>> {
    let base = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    open_engine(config, Arc::new(SystemClock), base).await
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn merchant(engine: &Engine, cmd: MerchantCommand) -> anyhow::Result<()> {
    match cmd {
        MerchantCommand::Create {
            name,
            site_login,
            callback_url,
            forbid_public_api,
            currency,
            json,
        } => {
            let account_currency = currency
                .map(|c| {
                    Currency::from_code(&c).ok_or_else(|| anyhow::anyhow!("unknown currency {c}"))
                })
                .transpose()?;
            let issued = engine
                .create_merchant(NewMerchant {
                    name,
                    site_login,
                    callback_url,
                    forbid_public_api,
                    account_currency,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                print_json(&issued)
            } else {
                println!(
                    "merchant {} (site {} / {})",
                    issued.merchant_id, issued.site_id, issued.site_login
                );
                for (mode, c) in [("test", &issued.test), ("live", &issued.live)] {
                    println!("  {mode}: public key {}", c.public_key);
                    println!(
                        "  {mode}: private key {} secret {}",
                        c.private_key_id, c.private_key_secret
                    );
                    println!("  {mode}: callback secret {}", c.callback_secret);
                }
                println!("Secrets are shown once; store them now.");
                Ok(())
            }
        }
        MerchantCommand::List { json } => {
            let merchants = engine
                .merchants()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let list: Vec<_> = merchants
                    .iter()
                    .map(|m| serde_json::json!({
                        "merchant_id": m.id, "name": m.name, "site_id": m.site_id, "site_login": m.site_login,
                        "forbid_public_api": m.forbid_public_api, "callback_url": m.callback_url,
                        "test_public_key": m.test.public_key, "live_public_key": m.live.public_key,
                    }))
                    .collect();
                print_json(&list)
            } else {
                for m in merchants {
                    println!("{}\t{}\t{}\t{}", m.id, m.site_id, m.site_login, m.name);
                }
                Ok(())
            }
        }
        MerchantCommand::Set {
            id,
            forbid_public_api,
            callback_url,
        } => {
            if let Some(url) = callback_url.as_deref().filter(|u| !u.is_empty()) {
                engine
                    .check_callback_url(url)
                    .map_err(|m| anyhow::anyhow!("callback_url: {m}"))?;
            }
            let m = engine
                .update_merchant(id, move |m| {
                    if let Some(f) = forbid_public_api {
                        m.forbid_public_api = f;
                    }
                    if let Some(url) = callback_url {
                        m.callback_url = Some(url).filter(|u| !u.is_empty());
                    }
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "merchant {}: forbid_public_api={} callback_url={:?}",
                m.id, m.forbid_public_api, m.callback_url
            );
            Ok(())
        }
    }
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
    let server = Server::start(&config, Arc::new(SystemClock), listener).await?;
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
    println!(
        "\nAll credentials as JSON:\n{}",
        serde_json::to_string_pretty(&issued)?
    );
    println!("\nCtrl-C stops the demo.");
    server.run_until_ctrl_c().await
}
