//! The ledger's operator commands: balances, the daily report, payout fees.

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
            "{}\tavailable {}\tpending_payouts {}\tpending_refunds {}\treserve {}",
            b.currency,
            format_fixed(b.available_minor, e),
            format_fixed(b.pending_payouts_minor, e),
            format_fixed(b.pending_refunds_minor, e),
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
                            anyhow!("rate: {r}: a percentage from 0 to 100 with at most 4 decimals")
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
