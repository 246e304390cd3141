//! `kassa trader deposit`: a trader's collateral, credited, debited and shown.

use clap::Subcommand;
use kassa_domain::money::format_fixed;
use kassa_engine::p2p::TraderCollateral;
use kassa_engine::Engine;
use serde::Serialize;

use super::super::print_json;
use super::{amount, fail};

#[derive(Subcommand)]
pub enum DepositCommand {
    /// Credit a trader's deposit: collateral it sent in. The amount is in
    /// the settlement currency's units (`500.00`).
    Credit {
        trader: String,
        amount: String,
        #[arg(long, default_value = "deposit")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Debit a trader's deposit: collateral given back. Refused when the
    /// deposit would not cover what the trader holds and owes.
    Debit {
        trader: String,
        amount: String,
        #[arg(long, default_value = "withdrawal")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a trader's deposit, what it holds and owes, and what is free.
    Show {
        trader: String,
        #[arg(long)]
        json: bool,
    },
}

/// The collateral as printed with `--json`: decimal text in the settlement
/// currency.
#[derive(Serialize)]
struct CollateralJson {
    trader_id: String,
    currency: String,
    required: bool,
    deposit: String,
    held: String,
    owed: String,
    free: String,
    uncounted_currency: Option<String>,
}

pub(super) async fn deposit(engine: &Engine, cmd: DepositCommand) -> anyhow::Result<()> {
    let settlement = engine.config().settlement_currency;
    let (trader, collateral, json) = match cmd {
        DepositCommand::Credit {
            trader,
            amount: text,
            reason,
            json,
        } => {
            let minor = amount(&text, settlement, "amount", 1)?;
            let c = engine
                .change_deposit(trader.clone(), minor, reason)
                .await
                .map_err(fail)?;
            (trader, c, json)
        }
        DepositCommand::Debit {
            trader,
            amount: text,
            reason,
            json,
        } => {
            let minor = amount(&text, settlement, "amount", 1)?;
            let c = engine
                .change_deposit(trader.clone(), -minor, reason)
                .await
                .map_err(fail)?;
            (trader, c, json)
        }
        DepositCommand::Show { trader, json } => {
            let c = engine
                .trader_collateral(trader.clone())
                .await
                .map_err(fail)?;
            (trader, c, json)
        }
    };
    print(&trader, &collateral, json)
}

fn print(trader: &str, c: &TraderCollateral, json: bool) -> anyhow::Result<()> {
    let f = |m: i64| format_fixed(m, c.currency.exponent());
    let e = &c.exposure;
    if json {
        return print_json(&CollateralJson {
            trader_id: trader.to_string(),
            currency: c.currency.code().to_string(),
            required: c.required,
            deposit: f(e.deposit_minor),
            held: f(e.held_minor),
            owed: f(e.owed_minor),
            free: f(e.free_minor()),
            uncounted_currency: c.uncounted.map(|u| u.code().to_string()),
        });
    }
    let code = c.currency.code();
    println!("trader {trader} deposit {} {code}", f(e.deposit_minor));
    println!(
        "  held  {} {code} (live holds and open deals)",
        f(e.held_minor)
    );
    println!(
        "  owed  {} {code} (pay-ins it holds for merchants)",
        f(e.owed_minor)
    );
    println!("  free  {} {code}", f(e.free_minor()));
    if let Some(u) = c.uncounted {
        println!("  {u}: no rate set, not counted; the trader takes no new deals");
    }
    if !c.required {
        println!("  (trader_collateral_required is off: deals are not bounded by it)");
    }
    Ok(())
}
