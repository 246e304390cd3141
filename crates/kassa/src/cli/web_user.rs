//! `kassa merchant user` and `kassa trader user`: the people who sign in to
//! the merchant portal and to the trader panel.

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

#[derive(Subcommand)]
pub enum TraderUserCommand {
    /// Add a trader panel user. The password is read from stdin with
    /// `--password-stdin`; otherwise one is made up and printed once.
    Add {
        #[arg(long)]
        trader: String,
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
    /// List a trader's panel users.
    List {
        #[arg(long)]
        trader: String,
    },
}

pub(super) async fn user(engine: &Engine, cmd: UserCommand) -> anyhow::Result<()> {
    let realm = WebRealm::Merchant;
    match cmd {
        UserCommand::Add {
            merchant,
            email,
            password_stdin,
            totp,
        } => add(engine, realm, merchant, &email, password_stdin, totp).await,
        UserCommand::Totp { email } => enrol(engine, realm, &email).await,
        UserCommand::List { merchant } => list(engine, realm, merchant).await,
    }
}

pub(super) async fn trader_user(engine: &Engine, cmd: TraderUserCommand) -> anyhow::Result<()> {
    let realm = WebRealm::Trader;
    match cmd {
        TraderUserCommand::Add {
            trader,
            email,
            password_stdin,
            totp,
        } => add(engine, realm, trader, &email, password_stdin, totp).await,
        TraderUserCommand::Totp { email } => enrol(engine, realm, &email).await,
        TraderUserCommand::List { trader } => list(engine, realm, trader).await,
    }
}

/// What the users of a realm are called in what is printed.
fn kind(realm: WebRealm) -> &'static str {
    match realm {
        WebRealm::Merchant => "portal user",
        WebRealm::Trader => "trader panel user",
        WebRealm::Operator => "console user",
    }
}

async fn add(
    engine: &Engine,
    realm: WebRealm,
    subject_id: String,
    email: &str,
    password_stdin: bool,
    totp: bool,
) -> anyhow::Result<()> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    } else {
        None
    };
    let issued = engine
        .create_web_user(realm, subject_id, email, password)
        .await?;
    println!("{} {} ({})", kind(realm), issued.user.email, issued.user.id);
    if let Some(p) = issued.generated_password {
        println!("password: {p}");
        println!("(shown once; keep it now)");
    }
    if totp {
        let url = engine.enrol_totp(issued.user.id).await?;
        println!("totp: {url}");
    }
    Ok(())
}

async fn enrol(engine: &Engine, realm: WebRealm, email: &str) -> anyhow::Result<()> {
    let user = engine
        .web_user_by_email(realm, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no {} {email}", kind(realm)))?;
    println!("totp: {}", engine.enrol_totp(user.id).await?);
    Ok(())
}

async fn list(engine: &Engine, realm: WebRealm, subject_id: String) -> anyhow::Result<()> {
    for u in engine.web_users(realm, subject_id).await? {
        let factor = if u.totp_secret_sealed.is_some() {
            "totp"
        } else {
            "password"
        };
        println!("{}\t{}\t{factor}", u.id, u.email);
    }
    Ok(())
}
