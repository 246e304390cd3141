//! `kassa service`: list and change the service catalog.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use kassa_domain::money::format_fixed;
use kassa_domain::{RefundFee, Service};
use kassa_engine::Engine;

use super::{minor, print_json, rate};

/// `--refund-fee`: the catalog's rule, as the operator writes it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RefundFeeArg {
    Kept,
    Returned,
}

// Parsed once per process: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
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
        /// Whether a refund gives the fee back: `kept` (the default) or `returned`.
        #[arg(long)]
        refund_fee: Option<RefundFeeArg>,
        /// What a `verify` invoice may be for besides 0 (0: nothing else).
        #[arg(long)]
        verification_amount: Option<String>,
    },
    /// Add or replace a service from a JSON file (the shape `service list --json` prints).
    Put {
        #[arg(long)]
        file: PathBuf,
    },
}

pub(super) async fn service(engine: &Engine, cmd: ServiceCommand) -> anyhow::Result<()> {
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
            refund_fee,
            verification_amount,
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
            if let Some(v) = refund_fee {
                s.refund_fee = match v {
                    RefundFeeArg::Kept => RefundFee::Kept,
                    RefundFeeArg::Returned => RefundFee::Returned,
                };
            }
            if let Some(v) = verification_amount {
                let amount = minor(&v, c, "verification_amount")?;
                s.verification_amount_minor = (amount > 0).then_some(amount);
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
