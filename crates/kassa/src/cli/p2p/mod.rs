//! The P2P operator commands: traders and their devices, cabinets, rates,
//! amount rules, deals, bank notifications and bank message patterns. Card numbers are printed masked.

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use kassa_domain::money::{format_fixed, parse_minor, AmountError};
use kassa_domain::p2p::mask_card;
use kassa_domain::{Actor, AlternativeRule, Cabinet, Currency, Direction};
use kassa_engine::p2p::NewCabinet;
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Value};

use super::print_json;
use super::web_user::{trader_user, TraderUserCommand};

mod deal;
mod deposit;
mod messages;
pub(super) use deal::{deal, notification};
pub use deal::{DealCommand, NotificationCommand};
pub use deposit::DepositCommand;
pub(super) use messages::p2p;
pub use messages::{DeviceCommand, P2pCommand, PatternCommand};

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
    /// The devices that forward a trader's bank SMS and pushes.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The people who sign in to the trader panel (`/trader/`).
    User {
        #[command(subcommand)]
        cmd: TraderUserCommand,
    },
    /// A trader's collateral (insurance deposit) in the settlement currency.
    #[command(subcommand)]
    Deposit(DepositCommand),
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

/// `active`, or `inactive` and why (`inactive: device_silent`).
fn state(c: &Cabinet) -> String {
    match (c.active, c.disabled_reason) {
        (true, _) => "active".into(),
        (false, Some(r)) => format!("inactive: {}", r.as_str()),
        (false, None) => "inactive".into(),
    }
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
        "disabled_reason": c.disabled_reason.map(|r| r.as_str()),
        "test_mode": c.test_mode,
        "created_at": time(c.created_at_secs),
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
        TraderCommand::Device(cmd) => messages::device(engine, cmd).await,
        TraderCommand::User { cmd } => trader_user(engine, cmd).await,
        TraderCommand::Deposit(cmd) => deposit::deposit(engine, cmd).await,
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
                state(&cabinet)
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
                    state(&c)
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
            println!("cabinet {}: {}", c.id, state(&c));
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
