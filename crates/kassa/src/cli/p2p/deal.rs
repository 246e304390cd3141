//! `kassa deal` and `kassa notification`: settle P2P deals and review the
//! bank notifications traders post.

use std::collections::HashMap;

use anyhow::{anyhow, bail};
use clap::Subcommand;
use kassa_domain::money::format_fixed;
use kassa_domain::p2p::mask_card;
use kassa_domain::{Actor, BankNotification, Currency, Deal};
use kassa_engine::{Engine, EngineError};
use serde_json::{json, Value};

use super::{fail, time};
use crate::cli::print_json;

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
    /// Complete a waiting or disputed deal for what actually arrived (a
    /// decimal in the invoice's currency); its invoice is paid that amount.
    Settle {
        id: String,
        #[arg(long)]
        amount_received: String,
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
        "amount_received": d.received_amount_minor.and_then(|r| currency.map(|c| format_fixed(r, c.exponent()))),
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

pub(in crate::cli) async fn deal(engine: &Engine, cmd: DealCommand) -> anyhow::Result<()> {
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
        DealCommand::Settle {
            id,
            amount_received,
            json,
        } => (
            engine
                .settle_deal_received(Actor::Operator, id.clone(), amount_received)
                .await
                .map_err(not_found(&id))?,
            json,
        ),
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
                let list: Vec<Value> = deals.iter().map(|d| deal_json(d, &currencies)).collect();
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

pub(in crate::cli) async fn notification(
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
