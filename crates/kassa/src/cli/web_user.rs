//! `kassa merchant user`: the people who sign in to the merchant portal.

use std::io::BufRead;

use clap::Subcommand;
use kassa_domain::WebRealm;
use kassa_engine::Engine;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a portal user. The password is read from stdin with
    /// `--password-stdin`; otherwise one is made up and printed once.
    Add {
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin (never argv).
        #[arg(long)]
        password_stdin: bool,
        /// Enrol a TOTP second factor; its otpauth URL is printed once.
        #[arg(long)]
        totp: bool,
    },
    /// Enrol (or replace) a user's TOTP second factor; prints the otpauth URL once.
    Totp {
        #[arg(long)]
        email: String,
    },
    /// List a merchant's portal users.
    List {
        #[arg(long)]
        merchant: String,
    },
}

pub(super) async fn user(engine: &Engine, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            merchant,
            email,
            password_stdin,
            totp,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let issued = engine
                .create_web_user(WebRealm::Merchant, merchant, &email, password)
                .await?;
            println!("portal user {} ({})", issued.user.email, issued.user.id);
            if let Some(p) = issued.generated_password {
                println!("password: {p}");
                println!("(shown once; keep it now)");
            }
            if totp {
                let url = engine.enrol_totp(issued.user.id).await?;
                println!("totp: {url}");
            }
        }
        UserCommand::Totp { email } => {
            let user = engine
                .web_user_by_email(WebRealm::Merchant, &email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no portal user {email}"))?;
            println!("totp: {}", engine.enrol_totp(user.id).await?);
        }
        UserCommand::List { merchant } => {
            for u in engine.web_users(WebRealm::Merchant, merchant).await? {
                let factor = if u.totp_secret_sealed.is_some() {
                    "totp"
                } else {
                    "password"
                };
                println!("{}\t{}\t{factor}", u.id, u.email);
            }
        }
    }
    Ok(())
}
