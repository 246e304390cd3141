//! The admin API's request bodies as types, and their meaning as engine
//! commands. Read by the trader API's reader (`read_json`): every bad or
//! unknown field is named at once.

use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{AlternativeRule, CallbackStatuses, Currency, Direction};
use kassa_engine::merchants::MerchantChange;
use kassa_engine::p2p::NewCabinet;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::field::{
    Change, Count, Count32OrNull, Field, Flag, IntegersOrNull, Text, TextOrNull, TextsOrNull,
};
use crate::trader::request::Problems;
use crate::trader::{ApiError, Result};

/// Decimal text in `currency`'s units as minor units: positive, or also zero
/// when `zero_ok`.
fn amount(
    p: &mut Problems,
    name: &str,
    field: Text,
    currency: Currency,
    zero_ok: bool,
) -> Option<i64> {
    let text = p.optional(name, field)?;
    let message = match parse_minor(&text, currency.exponent()) {
        Ok(v) if v > 0 || (v == 0 && zero_ok) => return Some(v),
        Ok(_) if zero_ok => "This value should not be negative.".to_string(),
        Ok(_) => "This value should be greater than 0.".to_string(),
        Err(AmountError::TooPrecise(places)) => {
            format!("This value should have at most {places} decimal places.")
        }
        Err(e) => e.to_string(),
    };
    p.fail(name, message);
    None
}

/// A new trader; its token is in the answer, once.
#[derive(Default, Deserialize, ToSchema)]
pub struct NewTraderBody {
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub name: Text,
    /// A test trader's cabinets serve test invoices only.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub test_mode: Flag,
}

impl NewTraderBody {
    /// The name and the mode.
    pub fn command(self, mut p: Problems) -> Result<(String, bool)> {
        let name = p.required("name", self.name);
        let test_mode = p.optional("test_mode", self.test_mode).unwrap_or(false);
        p.finish()?;
        Ok((name.unwrap_or_default(), test_mode))
    }
}

/// A trader's new cabinet: where customers transfer money, and its limits.
/// Amounts are decimal text in the cabinet's currency.
#[derive(Default, Deserialize, ToSchema)]
pub struct NewCabinetBody {
    /// The payment method (`card`, `sbp`, ...), in lower case.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub method: Text,
    /// ISO 4217 code.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z]{3,4}$")]
    pub currency: Text,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub bank: Text,
    /// The card number, phone or account customers pay to.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub requisite: Text,
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub holder: Text,
    /// The smallest deal (the default: the currency's least unit).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub min_amount: Text,
    /// The largest deal; 0 or absent: no limit.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub max_amount: Text,
    /// The most the cabinet takes a day; 0 or absent: no limit.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub daily_limit: Text,
    /// The most deals open at once; 0 or absent: no limit.
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub max_open_deals: Count,
    /// Absent: active.
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Flag,
}

impl NewCabinetBody {
    pub fn command(self, trader_id: String, mut p: Problems) -> Result<NewCabinet> {
        let method = p.required("method", self.method);
        let currency = p.required("currency", self.currency).and_then(|code| {
            let c = Currency::from_code(&code.to_ascii_uppercase());
            if c.is_none() {
                p.fail("currency", "Unknown currency.");
            }
            c
        });
        let bank = p.required("bank", self.bank);
        let requisite = p.required("requisite", self.requisite);
        let holder = p.required("holder", self.holder);
        let (min, max, daily) = match currency {
            Some(c) => (
                amount(&mut p, "min_amount", self.min_amount, c, false),
                amount(&mut p, "max_amount", self.max_amount, c, true),
                amount(&mut p, "daily_limit", self.daily_limit, c, true),
            ),
            None => {
                // The amounts cannot be read without the currency: only
                // their kind is checked.
                p.optional("min_amount", self.min_amount);
                p.optional("max_amount", self.max_amount);
                p.optional("daily_limit", self.daily_limit);
                (None, None, None)
            }
        };
        let max_open_deals = match self.max_open_deals {
            Field::Absent => None,
            Field::Given(n) if n <= u64::from(u32::MAX) => Some(n as u32),
            _ => {
                p.fail(
                    "max_open_deals",
                    format!("This value should be an integer from 0 to {}.", u32::MAX),
                );
                None
            }
        };
        let active = p.optional("active", self.active);
        p.finish()?;
        // Without a currency `p` has a problem with it, so this is not met.
        let Some(currency) = currency else {
            return Err(ApiError::invalid("currency", "Unknown currency."));
        };
        Ok(NewCabinet {
            trader_id,
            method: method.unwrap_or_default().to_ascii_lowercase(),
            currency,
            bank_name: bank.unwrap_or_default(),
            requisite: requisite.unwrap_or_default(),
            holder: holder.unwrap_or_default(),
            min_amount_minor: min.unwrap_or(1),
            max_amount_minor: max.unwrap_or(0),
            daily_limit_minor: daily.unwrap_or(0),
            max_open_deals: max_open_deals.unwrap_or(0),
            active: active.unwrap_or(true),
        })
    }
}

/// A currency's rate, as decimal text.
#[derive(Default, Deserialize, ToSchema)]
pub struct RateBody {
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub rate: Text,
}

impl RateBody {
    pub fn rate(self, mut p: Problems) -> Result<String> {
        let rate = p.required("rate", self.rate);
        p.finish()?;
        Ok(rate.unwrap_or_default())
    }
}

/// How alternatives to a taken amount are offered in a currency.
#[derive(Default, Deserialize, ToSchema)]
pub struct AmountRuleBody {
    /// The distance between alternatives, as decimal text greater than 0.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub step: Text,
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^(up|down|alternate)$")]
    pub direction: Text,
}

impl AmountRuleBody {
    pub fn rule(self, currency: Currency, mut p: Problems) -> Result<AlternativeRule> {
        let step = amount(&mut p, "step", self.step, currency, false);
        if step.is_none() && !p.has("step") {
            p.fail("step", "This field is required.");
        }
        let direction = match p.required("direction", self.direction).as_deref() {
            Some("up") => Some(Direction::Up),
            Some("down") => Some(Direction::Down),
            Some("alternate") => Some(Direction::Alternate),
            Some(_) => {
                p.fail("direction", "Use up, down or alternate.");
                None
            }
            None => None,
        };
        p.finish()?;
        Ok(AlternativeRule {
            step_minor: step.unwrap_or_default(),
            direction: direction.unwrap_or(Direction::Up),
        })
    }
}

/// The merchant's settings to change; those absent stay as they are.
#[derive(Default, Deserialize, ToSchema)]
pub struct MerchantPatch {
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub forbid_public_api: Flag,
    /// `null` clears it.
    #[serde(default)]
    pub callback_url: TextOrNull,
    /// `null` clears it.
    #[serde(default)]
    pub return_url: TextOrNull,
    /// Hosts the merchant's URLs may name, one item each.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub url_hosts: TextsOrNull,
    /// Origins that may frame the hosted page, one item each.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub frame_ancestors: TextsOrNull,
    /// `all` or `final`: which status changes are called back.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(all|final)$")]
    pub callback_statuses: Text,
    /// Delays between callback attempts in seconds; `null`: the operator's.
    #[serde(default)]
    pub callback_retry_secs: IntegersOrNull,
    /// Attempts per callback; `null`: the operator's.
    #[serde(default)]
    pub callback_max_attempts: Count32OrNull,
}

/// A setting that may be cleared: kept (`None`), cleared (`Some(None)`) or
/// set; a wrong kind is `message`.
fn change<T>(p: &mut Problems, name: &str, field: Change<T>, message: &str) -> Option<Option<T>> {
    match field {
        Change::Keep => None,
        Change::Clear => Some(None),
        Change::Set(v) => Some(Some(v)),
        Change::Wrong(_) => {
            p.fail(name, message);
            None
        }
    }
}

/// A list of strings, one item each (so no item may hold a comma); `null`
/// is no list.
fn strings(p: &mut Problems, name: &str, field: TextsOrNull) -> Option<Vec<String>> {
    match field {
        Change::Keep => None,
        Change::Set(items) if !items.iter().any(|i| i.contains(',')) => Some(items),
        _ => {
            p.fail(
                name,
                "This value should be a list of strings, one item each.",
            );
            None
        }
    }
}

impl MerchantPatch {
    /// The change, and the problems found with it: they are a 422 only once
    /// the merchant is known to exist.
    pub fn change(self, mut p: Problems) -> (MerchantChange, Problems) {
        let forbid_public_api = p.optional("forbid_public_api", self.forbid_public_api);
        let url_or_null = "This value should be a string or null.";
        let callback_url = change(&mut p, "callback_url", self.callback_url, url_or_null);
        let return_url = change(&mut p, "return_url", self.return_url, url_or_null);
        let url_hosts = strings(&mut p, "url_hosts", self.url_hosts);
        let frame_ancestors =
            strings(&mut p, "frame_ancestors", self.frame_ancestors).map(|o| o.join(","));
        let callback_statuses = p
            .optional("callback_statuses", self.callback_statuses)
            .and_then(|text| {
                let statuses = CallbackStatuses::parse(&text);
                if statuses.is_none() {
                    p.fail("callback_statuses", "Use all or final.");
                }
                statuses
            });
        let callback_retry_secs = change(
            &mut p,
            "callback_retry_secs",
            self.callback_retry_secs,
            "This value should be a list of whole seconds, or null.",
        );
        let callback_max_attempts = change(
            &mut p,
            "callback_max_attempts",
            self.callback_max_attempts,
            "This value should be a positive integer, or null.",
        );
        let change = MerchantChange {
            forbid_public_api,
            callback_url,
            return_url,
            url_hosts,
            frame_ancestors,
            callback_statuses,
            callback_retry_secs,
            callback_max_attempts,
        };
        (change, p)
    }
}

/// A change of a trader's deposit, in the settlement currency.
#[derive(Default, Deserialize, ToSchema)]
pub struct DepositBody {
    /// `credit` raises the deposit, `debit` lowers it (never below what the
    /// trader holds and owes).
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^(credit|debit)$")]
    pub action: Text,
    /// Decimal text greater than 0 in the settlement currency's units.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[0-9]+(\.[0-9]+)?$")]
    pub amount: Text,
    /// Why, kept with the ledger transaction (1 to 255 characters).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub reason: Text,
}

impl DepositBody {
    /// The signed amount (a debit negative) and the reason.
    pub fn change(self, settlement: Currency, mut p: Problems) -> Result<(i64, String)> {
        let debit = match p.required("action", self.action).as_deref() {
            Some("credit") => Some(false),
            Some("debit") => Some(true),
            Some(_) => {
                p.fail("action", "This value should be credit or debit.");
                None
            }
            None => None,
        };
        let amount = amount(&mut p, "amount", self.amount, settlement, false);
        if amount.is_none() && !p.has("amount") {
            p.fail("amount", "This field is required.");
        }
        let reason = p.required("reason", self.reason);
        p.finish()?;
        let amount = amount.unwrap_or_default();
        Ok((
            if debit == Some(true) { -amount } else { amount },
            reason.unwrap_or_default(),
        ))
    }
}
