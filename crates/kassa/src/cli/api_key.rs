//! `kassa merchant key`: a merchant's private API keys, to roll one over
//! (make a new one, deploy it, revoke the old one). A new secret is printed
//! once; only its SHA-256 is kept.

use clap::{Subcommand, ValueEnum};
use kassa_engine::Engine;

use super::print_json;

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Test,
    Live,
}

impl ModeArg {
    fn is_test(self) -> bool {
        matches!(self, ModeArg::Test)
    }
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make another private key; its secret is printed once.
    Create {
        #[arg(long)]
        merchant: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
    },
    /// The private keys of a mode (ids only: secrets are never kept).
    List {
        #[arg(long)]
        merchant: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
    },
    /// Revoke a private key; the mode's last one stays.
    Revoke {
        #[arg(long)]
        merchant: String,
        #[arg(long, value_enum)]
        mode: ModeArg,
        id: String,
    },
}

pub(super) async fn key(engine: &Engine, cmd: KeyCommand) -> anyhow::Result<()> {
    let fail = |e: kassa_engine::EngineError| anyhow::anyhow!("{e}");
    match cmd {
        KeyCommand::Create { merchant, mode } => {
            let issued = engine
                .create_private_key(merchant, mode.is_test())
                .await
                .map_err(fail)?;
            println!("private key id     {}", issued.private_key_id);
            println!("private key secret {}", issued.private_key_secret);
            println!("(shown once; keep it now)");
            Ok(())
        }
        KeyCommand::List { merchant, mode } => {
            let m = engine.merchant(merchant).await.map_err(fail)?;
            let keys: Vec<_> = m
                .credentials(mode.is_test())
                .private_keys()
                .into_iter()
                .map(|k| {
                    serde_json::json!({
                        "private_key_id": k.id,
                        "created_at": if k.created_at_secs > 0 { k.created_at_secs } else { m.created_at_secs },
                    })
                })
                .collect();
            print_json(&keys)
        }
        KeyCommand::Revoke { merchant, mode, id } => {
            engine
                .revoke_private_key(merchant, mode.is_test(), id.clone())
                .await
                .map_err(fail)?;
            println!("private key {id} revoked");
            Ok(())
        }
    }
}
