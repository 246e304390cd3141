//! `kassa trader device` and `kassa p2p`: the devices that forward a
//! trader's bank SMS and pushes, the pattern table that reads them, and the
//! messages kept.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kassa_domain::bank_message::{
    builtin_patterns, BankMessage, MessageKind, MessagePattern, TraderDevice,
};
use kassa_domain::money::format_fixed;
use kassa_domain::Actor;
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Value};

use super::{fail, time};
use crate::cli::print_json;

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Add a device to a trader; its token is printed once.
    Add {
        #[arg(long)]
        trader: String,
        /// What the trader calls it (`Pixel 7, Sber card`).
        #[arg(long)]
        name: String,
        /// A cabinet of the trader it forwards for (repeat for several);
        /// none: all the trader's cabinets.
        #[arg(long = "cabinet")]
        cabinets: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set the cabinets a device forwards for (none: all its trader's).
    Cabinets {
        id: String,
        #[arg(long = "cabinet")]
        cabinets: Vec<String>,
    },
    /// Revoke a device: its token is refused from now on.
    Revoke { id: String },
    /// A trader's devices.
    List {
        #[arg(long)]
        trader: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum P2pCommand {
    /// The patterns that read bank SMS and pushes.
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// The bank messages traders' devices posted, newest first.
    Messages {
        #[arg(long)]
        trader: Option<String>,
        /// `credit`, `debit`, `balance` or `unknown`.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PatternCommand {
    /// Add a pattern, tried before the built-in ones. The regex (case
    /// insensitive) has the named groups `amount` and, for a credit,
    /// `digits`; `currency` is optional (the ruble when absent).
    Add {
        /// `credit`, `debit` or `balance`.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        regex: String,
        /// A regex the sender must match (`^MyBank$`).
        #[arg(long)]
        sender: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the operator's patterns (with `--builtin`, the shipped ones after them).
    List {
        #[arg(long)]
        builtin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Remove an operator pattern.
    Remove { id: String },
    /// Read a message against the table as it is now, keeping nothing.
    Test {
        #[arg(long)]
        sender: String,
        #[arg(long)]
        text: String,
    },
}

pub(crate) async fn device(engine: &Engine, cmd: DeviceCommand) -> anyhow::Result<()> {
    match cmd {
        DeviceCommand::Add {
            trader,
            name,
            cabinets,
            json,
        } => {
            let (d, token) = engine
                .create_device(Actor::Operator, trader, name, cabinets)
                .await
                .map_err(fail)?;
            if json {
                return print_json(&json!({
                    "device_id": d.id,
                    "trader_id": d.trader_id,
                    "name": d.name,
                    "cabinets": d.cabinet_ids,
                    "token": token,
                }));
            }
            println!("device {} ({}) of trader {}", d.id, d.name, d.trader_id);
            println!("  forwards for {}", forwards_for(&d));
            println!("  device token {token}");
            println!("The token is shown once; enter it in the forwarding app now.");
            Ok(())
        }
        DeviceCommand::Cabinets { id, cabinets } => {
            let d = engine
                .set_device_cabinets(Actor::Operator, id.clone(), cabinets)
                .await
                .map_err(|e| match e {
                    EngineError::NotFound => anyhow!("no device {id}"),
                    other => fail(other),
                })?;
            println!("device {} forwards for {}", d.id, forwards_for(&d));
            Ok(())
        }
        DeviceCommand::Revoke { id } => {
            let d = engine
                .revoke_device(Actor::Operator, id.clone())
                .await
                .map_err(|e| match e {
                    EngineError::NotFound => anyhow!("no device {id}"),
                    other => fail(other),
                })?;
            println!("device {} revoked", d.id);
            Ok(())
        }
        DeviceCommand::List { trader, json } => {
            let devices = engine.devices(trader).await.map_err(fail)?;
            if json {
                let list: Vec<Value> = devices
                    .iter()
                    .map(|d| {
                        json!({
                            "device_id": d.id,
                            "name": d.name,
                            "active": d.revoked_at_secs.is_none(),
                            "created_at": time(d.created_at_secs),
                            "revoked_at": d.revoked_at_secs.map(time),
                            "last_seen": d.last_seen_at_secs.map(time),
                            "cabinets": d.cabinet_ids,
                        })
                    })
                    .collect();
                return print_json(&list);
            }
            for d in devices {
                let state = if d.revoked_at_secs.is_none() {
                    "active"
                } else {
                    "revoked"
                };
                let seen = d
                    .last_seen_at_secs
                    .map(time)
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{state}\t{}\tlast seen {seen}\t{}",
                    d.id,
                    d.name,
                    forwards_for(&d)
                );
            }
            Ok(())
        }
    }
}

fn forwards_for(d: &TraderDevice) -> String {
    if d.cabinet_ids.is_empty() {
        "all cabinets".into()
    } else {
        d.cabinet_ids.join(",")
    }
}

fn kind(text: &str) -> anyhow::Result<MessageKind> {
    MessageKind::parse(text)
        .ok_or_else(|| anyhow!("kind: {text}: use credit, debit, balance or unknown"))
}

fn pattern_json(p: &MessagePattern) -> Value {
    json!({"id": p.id, "kind": p.kind.as_str(), "sender": p.sender, "regex": p.regex})
}

fn message_json(m: &BankMessage) -> Value {
    let r = &m.reading;
    json!({
        "id": m.id,
        "trader_id": m.trader_id,
        "device_id": m.device_id,
        "sender": m.sender,
        "text": m.text,
        "time": time(m.received_at_secs),
        "kind": r.kind.as_str(),
        "amount": r.amount_minor.zip(r.currency).map(|(a, c)| format_fixed(a, c.exponent())),
        "currency": r.currency.map(|c| c.code()),
        "digits": r.digits,
        "pattern": r.pattern_id,
        "cabinet": m.cabinet_id,
        "deal_id": m.deal_id,
    })
}

pub(crate) async fn p2p(engine: &Engine, cmd: P2pCommand) -> anyhow::Result<()> {
    match cmd {
        P2pCommand::Pattern(cmd) => pattern(engine, cmd).await,
        P2pCommand::Messages {
            trader,
            kind: k,
            json,
        } => {
            let k = k.as_deref().map(kind).transpose()?;
            let messages = engine
                .bank_messages(Actor::from(trader), k)
                .await
                .map_err(fail)?;
            if json {
                return print_json(&messages.iter().map(message_json).collect::<Vec<_>>());
            }
            for m in &messages {
                let j = message_json(m);
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    m.id,
                    time(m.received_at_secs),
                    m.reading.kind.as_str(),
                    j["amount"].as_str().unwrap_or("-"),
                    m.deal_id.as_deref().unwrap_or("-"),
                    m.text.replace('\n', " "),
                );
            }
            Ok(())
        }
    }
}

async fn pattern(engine: &Engine, cmd: PatternCommand) -> anyhow::Result<()> {
    match cmd {
        PatternCommand::Add {
            kind: k,
            regex,
            sender,
            json,
        } => {
            let k = kind(&k)?;
            if k == MessageKind::Unknown {
                bail!("kind: a pattern is credit, debit or balance");
            }
            let p = engine
                .add_message_pattern(k, sender, regex)
                .await
                .map_err(fail)?;
            if json {
                return print_json(&pattern_json(&p));
            }
            println!("pattern {} ({})", p.id, p.kind.as_str());
            Ok(())
        }
        PatternCommand::List { builtin, json } => {
            let mut patterns = engine.message_patterns().await.map_err(fail)?;
            if builtin {
                patterns.extend(builtin_patterns());
            }
            if json {
                return print_json(&patterns.iter().map(pattern_json).collect::<Vec<_>>());
            }
            for p in patterns {
                let sender = p.sender.as_deref().unwrap_or("*");
                println!("{}\t{}\t{sender}\t{}", p.id, p.kind.as_str(), p.regex);
            }
            Ok(())
        }
        PatternCommand::Remove { id } => {
            engine
                .remove_message_pattern(id.clone())
                .await
                .map_err(|e| match e {
                    EngineError::NotFound => anyhow!("no pattern {id}"),
                    other => fail(other),
                })?;
            println!("pattern {id} removed");
            Ok(())
        }
        PatternCommand::Test { sender, text } => {
            let r = engine.read_message(&sender, &text).await.map_err(fail)?;
            print_json(&json!({
                "kind": r.kind.as_str(),
                "amount": r.amount_minor.zip(r.currency).map(|(a, c)| format_fixed(a, c.exponent())),
                "currency": r.currency.map(|c| c.code()),
                "digits": r.digits,
                "pattern": r.pattern_id,
            }))
        }
    }
}
