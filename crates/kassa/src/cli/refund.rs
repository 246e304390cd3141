//! `kassa refund`: the operator settles a refund that no provider reports
//! on (a live refund paid back by hand).

use anyhow::bail;
use clap::Subcommand;
use kassa_engine::Engine;

use super::print_json;

#[derive(Subcommand)]
pub enum RefundCommand {
    /// Mark a refund under way as paid back (`refunded`) or failed
    /// (`refund_failed`, its money goes back to the merchant).
    Settle {
        id: String,
        #[arg(long)]
        outcome: String,
    },
}

pub(super) async fn refund(engine: &Engine, cmd: RefundCommand) -> anyhow::Result<()> {
    match cmd {
        RefundCommand::Settle { id, outcome } => {
            let succeeded = match outcome.as_str() {
                "refunded" => true,
                "refund_failed" => false,
                _ => bail!("outcome: refunded or refund_failed"),
            };
            let refund = engine
                .settle_refund(id, succeeded)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print_json(&serde_json::json!({
                "id": refund.id,
                "invoice_id": refund.invoice_id,
                "status": refund.status.as_str(),
            }))
        }
    }
}
