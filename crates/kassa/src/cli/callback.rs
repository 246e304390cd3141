//! `kassa callback`: resend, list and count the callbacks owed to merchants.

use clap::Subcommand;
use kassa_engine::Engine;

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

pub(super) async fn callback(engine: &Engine, cmd: CallbackCommand) -> anyhow::Result<()> {
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
