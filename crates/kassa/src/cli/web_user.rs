//! `kassa merchant user`, `kassa trader user` and `kassa operator user`: the
//! people who sign in to the merchant portal, the trader panel and the
//! operator console.

use std::io::BufRead;

use clap::Subcommand;
use kassa_domain::{OperatorRole, WebRealm, WebUser};
use kassa_engine::web::IssuedWebUser;
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
    let password = read_password(password_stdin)?;
    let issued = engine
        .create_web_user(realm, subject_id, email, password)
        .await?;
    println!("{} {} ({})", kind(realm), issued.user.email, issued.user.id);
    issued_once(engine, issued, totp).await
}

fn read_password(from_stdin: bool) -> anyhow::Result<Option<String>> {
    if !from_stdin {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// Prints what a new user is shown once: a made-up password, a TOTP URL.
async fn issued_once(engine: &Engine, issued: IssuedWebUser, totp: bool) -> anyhow::Result<()> {
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
        println!("{}\t{}\t{}", u.id, u.email, factor(&u));
    }
    Ok(())
}

fn factor(u: &WebUser) -> &'static str {
    if u.totp_secret_sealed.is_some() {
        "totp"
    } else {
        "password"
    }
}

#[derive(Subcommand)]
pub enum OperatorUserCommand {
    /// Add an operator console user. The password is read from stdin with
    /// `--password-stdin`; otherwise one is made up and printed once.
    Add {
        #[arg(long)]
        email: String,
        /// `admin` changes things; `support` only reads.
        #[arg(long, default_value = "admin", value_parser = ["admin", "support"])]
        role: String,
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
    /// List the operator console's users.
    List,
}

pub(super) async fn operator_user(engine: &Engine, cmd: OperatorUserCommand) -> anyhow::Result<()> {
    match cmd {
        OperatorUserCommand::Add {
            email,
            role,
            password_stdin,
            totp,
        } => {
            let role =
                OperatorRole::parse(&role).ok_or_else(|| anyhow::anyhow!("no role {role}"))?;
            let password = read_password(password_stdin)?;
            let issued = engine.create_operator_user(&email, password, role).await?;
            println!(
                "console user {} ({}), role {}",
                issued.user.email,
                issued.user.id,
                role.as_str()
            );
            issued_once(engine, issued, totp).await
        }
        OperatorUserCommand::Totp { email } => enrol(engine, WebRealm::Operator, &email).await,
        OperatorUserCommand::List => {
            for u in engine.web_users(WebRealm::Operator, String::new()).await? {
                let role = u.operator_role().map_or("", |r| r.as_str());
                println!("{}\t{}\t{role}\t{}", u.id, u.email, factor(&u));
            }
            Ok(())
        }
    }
}
