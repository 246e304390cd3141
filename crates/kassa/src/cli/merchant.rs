//! `kassa merchant`: merchants, their credentials and their settings.

use clap::Subcommand;
use kassa_domain::{Currency, Merchant};
use kassa_engine::merchants::{MerchantChange, MerchantSummary, NewMerchant};
use kassa_engine::Engine;

use super::print_json;
use super::web_user::{user, UserCommand};

#[derive(Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant with its site and credentials (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// The site's login; generated from the name when absent.
        #[arg(long)]
        site_login: Option<String>,
        /// Default callback URL for invoices that name none.
        #[arg(long)]
        callback_url: Option<String>,
        /// Refuse invoice creation through the public API.
        #[arg(long)]
        forbid_public_api: bool,
        /// Settlement currency of the account (default USD).
        #[arg(long)]
        currency: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List merchants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a merchant's settings.
    Set {
        id: String,
        #[arg(long)]
        forbid_public_api: Option<bool>,
        /// A URL, or "" to clear.
        #[arg(long)]
        callback_url: Option<String>,
        /// Origins that may frame the hosted page, comma-separated
        /// (`https://shop.example,https://*.shop.example`), or "" for none.
        #[arg(long)]
        frame_ancestors: Option<String>,
        /// Which callbacks are sent: `all` (every status change) or `final`
        /// (final statuses only).
        #[arg(long, value_parser = parse_callback_statuses)]
        callback_statuses: Option<kassa_domain::CallbackStatuses>,
        /// The merchant's own delays before each callback retry, in seconds,
        /// comma-separated (`30,60,600`; the last repeats), within the
        /// operator's bounds; `default` for the operator's schedule.
        #[arg(long, value_parser = parse_own_delays)]
        callback_retry_secs: Option<Own<Vec<i64>>>,
        /// The merchant's own attempts per callback, at most the operator's
        /// `callback_max_attempts`; `default` for the operator's.
        #[arg(long, value_parser = parse_own_attempts)]
        callback_max_attempts: Option<Own<u32>>,
        /// Where customers return after paying when the invoice names no
        /// return URL; a URL, or "" to clear.
        #[arg(long)]
        return_url: Option<String>,
        /// Hosts under which the public API and the HTML form may name their
        /// own callback and return URLs, comma-separated ("" for none).
        #[arg(long)]
        url_hosts: Option<String>,
    },
    /// The people who sign in to the merchant portal.
    User {
        #[command(subcommand)]
        cmd: UserCommand,
    },
    /// The merchant's private API keys: make, list, revoke.
    Key {
        #[command(subcommand)]
        cmd: super::api_key::KeyCommand,
    },
}

pub(super) async fn merchant(engine: &Engine, cmd: MerchantCommand) -> anyhow::Result<()> {
    match cmd {
        MerchantCommand::User { cmd } => user(engine, cmd).await,
        MerchantCommand::Key { cmd } => super::api_key::key(engine, cmd).await,
        MerchantCommand::Create {
            name,
            site_login,
            callback_url,
            forbid_public_api,
            currency,
            json,
        } => {
            let account_currency = currency
                .map(|c| {
                    Currency::from_code(&c).ok_or_else(|| anyhow::anyhow!("unknown currency {c}"))
                })
                .transpose()?;
            let issued = engine
                .create_merchant(NewMerchant {
                    name,
                    site_login,
                    callback_url,
                    forbid_public_api,
                    account_currency,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                print_json(&issued)
            } else {
                println!(
                    "merchant {} (site {} / {})",
                    issued.merchant_id, issued.site_id, issued.site_login
                );
                for (mode, c) in [("test", &issued.test), ("live", &issued.live)] {
                    println!("  {mode}: public key {}", c.public_key);
                    println!(
                        "  {mode}: private key {} secret {}",
                        c.private_key_id, c.private_key_secret
                    );
                    println!("  {mode}: callback secret {}", c.callback_secret);
                    println!(
                        "  {mode}: Merchant API identity {} secret {}",
                        c.merchant_api_key, c.merchant_api_secret
                    );
                }
                println!("  H2H secret {}", issued.h2h_secret);
                println!("  H2H test secret {}", issued.h2h_test_secret);
                println!("Secrets are shown once; store them now.");
                Ok(())
            }
        }
        MerchantCommand::List { json } => {
            let merchants = engine
                .merchants()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let list: Vec<MerchantSummary> = merchants.iter().map(Into::into).collect();
                print_json(&list)
            } else {
                for m in merchants {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        m.id,
                        m.site_id,
                        m.site_login,
                        m.name,
                        callback_settings(&m)
                    );
                }
                Ok(())
            }
        }
        MerchantCommand::Set {
            id,
            forbid_public_api,
            callback_url,
            frame_ancestors,
            callback_statuses,
            callback_retry_secs,
            callback_max_attempts,
            return_url,
            url_hosts,
        } => {
            let url = |u: String| Some(u).filter(|u| !u.is_empty());
            let m = engine
                .change_merchant(
                    id,
                    MerchantChange {
                        forbid_public_api,
                        callback_url: callback_url.map(url),
                        return_url: return_url.map(url),
                        url_hosts: url_hosts.map(|hosts| {
                            hosts
                                .split(',')
                                .map(str::trim)
                                .filter(|h| !h.is_empty())
                                .map(str::to_string)
                                .collect()
                        }),
                        frame_ancestors,
                        callback_statuses,
                        callback_retry_secs: callback_retry_secs.map(|o| o.0),
                        callback_max_attempts: callback_max_attempts.map(|o| o.0),
                    },
                )
                .await
                .map_err(super::p2p::fail)?;
            println!(
                "merchant {}: forbid_public_api={} callback_url={:?} return_url={:?} url_hosts={} frame_ancestors={:?} {}",
                m.id,
                m.forbid_public_api,
                m.callback_url,
                m.return_url,
                m.url_hosts.join(","),
                m.frame_ancestors,
                callback_settings(&m)
            );
            Ok(())
        }
    }
}

fn parse_callback_statuses(text: &str) -> Result<kassa_domain::CallbackStatuses, String> {
    kassa_domain::CallbackStatuses::parse(text)
        .ok_or_else(|| format!("{text:?} is not all or final"))
}

/// A merchant's setting on the command line: its own value, or `default`
/// (`None`) for the operator's.
#[derive(Clone, Debug)]
pub struct Own<T>(Option<T>);

fn parse_own_delays(text: &str) -> Result<Own<Vec<i64>>, String> {
    match text.trim() {
        "default" => return Ok(Own(None)),
        // None at all: the engine says what it needs.
        "" => return Ok(Own(Some(Vec::new()))),
        _ => {}
    }
    text.split(',')
        .map(|d| {
            d.trim()
                .parse::<i64>()
                .map_err(|_| format!("{d:?} is not a number of seconds (or use default)"))
        })
        .collect::<Result<_, _>>()
        .map(|delays| Own(Some(delays)))
}

fn parse_own_attempts(text: &str) -> Result<Own<u32>, String> {
    match text.trim() {
        "default" => Ok(Own(None)),
        n => n
            .parse()
            .map(|n| Own(Some(n)))
            .map_err(|_| format!("{n:?} is not a number of attempts (or use default)")),
    }
}

/// The callback settings as `list` and `set` print them.
fn callback_settings(m: &Merchant) -> String {
    let delays = m
        .callback_retry_secs
        .as_ref()
        .map_or("default".into(), |d| {
            d.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        });
    let attempts = m
        .callback_max_attempts
        .map_or("default".into(), |n| n.to_string());
    format!(
        "callback_statuses={} callback_retry_secs={delays} callback_max_attempts={attempts}",
        m.callback_statuses.as_str()
    )
}
