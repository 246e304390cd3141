//! The P2P engine: traders and cabinets, `book_cabinet` holds that keep an
//! amount unique per cabinet, deals that turn a hold into a payment, bank
//! notifications and trader confirmations that settle them, disputes, and
//! the deadline that frees the amount.

mod collateral;
pub(crate) mod deals;
mod health;
mod holds;
mod messages;
mod received;
pub(crate) mod traders;

pub(crate) use collateral::exposure;
pub use collateral::TraderCollateral;
pub(crate) use deals::attach_deal_with;
pub use health::DEVICE_CABINETS_MAX;
pub(crate) use holds::{take_amount, Cabinets, HeldHints, HoldSpec, Pool};
pub(crate) use messages::PatternCache;
pub use messages::{MessageOutcome, NewMessage, PATTERNS_MAX, SENDER_MAX};

use std::collections::HashSet;

use kassa_domain::money::parse_minor;
use kassa_domain::{AlternativeRule, BankNotification, Currency, Merchant};
use kassa_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Engine, EngineError, EngineResult};

/// How long a read of the candidate cabinets is reused.
pub const CABINETS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Bounds on what traders and merchants may send.
pub(super) const TEXT_MAX: usize = 1024;
pub(super) const ID_MAX: usize = 255;
/// Deals and notifications listed at most at once.
pub const LIST_MAX: usize = 500;

#[derive(Clone, Debug)]
pub struct NewCabinet {
    pub trader_id: String,
    pub method: String,
    pub currency: Currency,
    pub bank_name: String,
    pub requisite: String,
    pub holder: String,
    pub min_amount_minor: i64,
    pub max_amount_minor: i64,
    pub daily_limit_minor: i64,
    pub max_open_deals: u32,
    pub active: bool,
}

/// A `book_cabinet` request, parsed by the H2H face.
#[derive(Clone, Debug, Serialize)]
pub struct BookRequest {
    pub request_id: String,
    pub method: String,
    pub currency: String,
    pub amount_minor: i64,
    pub bank_name: Option<String>,
}

/// A hold as answered: the amount held and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookAnswer {
    pub hold_id: String,
    pub cabinet_id: String,
    pub amount_minor: i64,
    pub created_at_secs: i64,
    pub expires_at_secs: i64,
    fingerprint: String,
}

/// A bank notification as a trader posts it.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub external_id: String,
    pub cabinet_id: String,
    /// Decimal text in the cabinet's currency (`9020.00`).
    pub amount: String,
    pub text: Option<String>,
    pub received_at_secs: Option<i64>,
}

/// What a posted notification did.
pub struct NotificationOutcome {
    pub notification: BankNotification,
    /// False for a repeat of a notification already posted.
    pub new: bool,
}

/// Where a deal is to be made: the method, currency and optional bank filter.
#[derive(Clone, Debug)]
pub struct DealTarget {
    pub method: String,
    pub currency: Currency,
    pub bank_name: Option<String>,
    /// Test-mode deals go to test cabinets only.
    pub test_mode: bool,
}

pub(crate) fn day_start(now_secs: i64) -> i64 {
    now_secs - now_secs.rem_euclid(86_400)
}

fn rule_key(currency: Currency) -> String {
    format!("amount_rule:{}", currency.code())
}

/// A rate is a positive decimal of at most 8 places.
pub(crate) fn check_rate(rate: &str) -> EngineResult<()> {
    match parse_minor(rate, 8) {
        Ok(v) if v > 0 => Ok(()),
        _ => Err(EngineError::invalid(
            "rate",
            "A positive decimal with at most 8 places.",
        )),
    }
}

pub(crate) fn put_rate_in(tx: &mut dyn Tx, currency: Currency, rate: String) -> EngineResult<()> {
    Ok(tx.put_setting(&rate_key(currency), &Value::String(rate))?)
}

pub(crate) fn rate_key(currency: Currency) -> String {
    format!("rate:{}", currency.code())
}

/// The operator's alternative-amount rule for a currency, or the default.
pub(crate) fn amount_rule(tx: &mut dyn Tx, currency: Currency) -> EngineResult<AlternativeRule> {
    Ok(match tx.setting(&rule_key(currency))? {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| kassa_store::StoreError::Backend(e.to_string()))?,
        None => AlternativeRule::default_for(currency),
    })
}

impl Engine {
    /// Active cabinets of active traders for a method, currency and mode,
    /// read at most once per [`CABINETS_TTL`]: a cabinet switched from
    /// another process is seen within that time, from this one at once. A
    /// test-mode request sees test cabinets only, a live one live cabinets
    /// only, so neither can hold, book or count against the other's.
    pub(crate) async fn candidate_cabinets(
        &self,
        method: String,
        currency: Currency,
        test_mode: bool,
    ) -> EngineResult<Cabinets> {
        let key = (method, currency, test_mode);
        if let Some(found) = self.cabinet_cache.get(&key) {
            return Ok(found);
        }
        let (method, _, _) = key.clone();
        let cabinets = self
            .read(move |tx| {
                let active: HashSet<String> = tx
                    .traders()?
                    .into_iter()
                    .filter(|t| t.active)
                    .map(|t| t.id)
                    .collect();
                Ok(tx
                    .active_cabinets(&method, currency.code())?
                    .into_iter()
                    .filter(|c| c.test_mode == test_mode && active.contains(&c.trader_id))
                    .collect::<Vec<_>>())
            })
            .await?;
        let cabinets = std::sync::Arc::new(cabinets);
        self.cabinet_cache.put(key, cabinets.clone());
        Ok(cabinets)
    }

    /// The settlement currency when bookings are bounded by collateral.
    pub(crate) fn collateral_rule(&self) -> Option<Currency> {
        self.config
            .trader_collateral_required
            .then_some(self.config.settlement_currency)
    }

    /// The operator's rate of a currency against the traders' settlement currency.
    pub async fn set_rate(&self, currency: Currency, rate: String) -> EngineResult<()> {
        check_rate(&rate)?;
        self.write(move |tx| put_rate_in(tx, currency, rate)).await
    }

    /// Every currency's rate, `None` where none is set.
    pub async fn rates(&self) -> EngineResult<Vec<(Currency, Option<String>)>> {
        self.read(|tx| {
            let mut out = Vec::new();
            for c in Currency::all() {
                let rate = tx
                    .setting(&rate_key(c))?
                    .and_then(|v| v.as_str().map(str::to_string));
                out.push((c, rate));
            }
            Ok(out)
        })
        .await
    }

    pub async fn rate(&self, currency: Currency) -> EngineResult<Option<String>> {
        self.read(move |tx| {
            Ok(tx
                .setting(&rate_key(currency))?
                .and_then(|v| v.as_str().map(str::to_string)))
        })
        .await
    }

    pub async fn set_amount_rule(
        &self,
        currency: Currency,
        rule: AlternativeRule,
    ) -> EngineResult<()> {
        if rule.step_minor < 1 {
            return Err(EngineError::invalid(
                "step",
                "The step must be at least one minor unit.",
            ));
        }
        self.write(move |tx| {
            Ok(tx.put_setting(
                &rule_key(currency),
                &serde_json::to_value(rule).expect("serializes"),
            )?)
        })
        .await
    }

    pub async fn amount_rule(&self, currency: Currency) -> EngineResult<AlternativeRule> {
        self.read(move |tx| amount_rule(tx, currency)).await
    }

    /// `book_cabinet` in live mode.
    pub async fn book_cabinet(
        &self,
        merchant: &Merchant,
        request: BookRequest,
    ) -> EngineResult<BookAnswer> {
        self.book_cabinet_in(merchant, false, request).await
    }

    /// `book_cabinet`: holds a unique amount on a matching cabinet of the
    /// mode for the hold's lifetime. A repeated `request_id` gets the same
    /// answer (in the other mode, a conflict).
    pub async fn book_cabinet_in(
        &self,
        merchant: &Merchant,
        test_mode: bool,
        request: BookRequest,
    ) -> EngineResult<BookAnswer> {
        let mut errors = std::collections::BTreeMap::new();
        if request.request_id.is_empty()
            || request.request_id.len() > ID_MAX
            || request.request_id.chars().any(char::is_control)
        {
            errors.insert(
                "request_id".to_string(),
                "must be 1 to 255 characters".to_string(),
            );
        }
        let currency = Currency::from_code(&request.currency);
        if currency.is_none() {
            errors.insert("currency".into(), "unknown currency".into());
        }
        if request.amount_minor <= 0 || request.amount_minor > kassa_domain::money::MINOR_MAX {
            errors.insert(
                "amount".into(),
                "must be a positive integer of minor units".into(),
            );
        }
        if request.method.is_empty() || request.method.len() > 32 {
            errors.insert("method".into(), "must be 1 to 32 characters".into());
        }
        if request.bank_name.as_ref().is_some_and(|b| b.len() > 128) {
            errors.insert("bank_name".into(), "must be at most 128 characters".into());
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let currency = currency.expect("checked");
        // A test request's fingerprint differs from the live one's, so a
        // request_id answered in one mode is never answered in the other.
        let fingerprint = crate::invoices::fingerprint_of(
            &self.fingerprint_key,
            &serde_json::json!({ "request": request, "test_mode": test_mode }),
        );
        let now = self.now_secs();
        let expires_at = now + self.config.hold_ttl_secs;
        let merchant_id = merchant.id.clone();
        let method = request.method.to_lowercase();
        let cabinets = self
            .candidate_cabinets(method.clone(), currency, test_mode)
            .await?;
        let hints = self.held_hints.clone();
        let collateral = self.collateral_rule();
        self.write(move |tx| {
            if let Some(answer) = tx.hold_request(&merchant_id, &request.request_id)? {
                let answer: BookAnswer = serde_json::from_value(answer)
                    .map_err(|e| kassa_store::StoreError::Backend(e.to_string()))?;
                return if answer.fingerprint == fingerprint {
                    Ok(answer)
                } else {
                    Err(EngineError::Conflict(
                        "request_id was used with another request".into(),
                    ))
                };
            }
            let target = DealTarget {
                method,
                currency,
                bank_name: request.bank_name.clone(),
                test_mode,
            };
            let spec = HoldSpec {
                merchant_id: &merchant_id,
                target: &target,
                amount_minor: request.amount_minor,
                request_id: Some(&request.request_id),
                fingerprint: &fingerprint,
                expires_at_secs: expires_at,
            };
            let hold = take_amount(
                tx,
                &spec,
                &Pool {
                    cabinets: &cabinets,
                    hints: &hints,
                    collateral,
                },
                now,
            )?;
            let answer = BookAnswer {
                hold_id: hold.id,
                cabinet_id: hold.cabinet_id,
                amount_minor: hold.amount_minor,
                created_at_secs: now,
                expires_at_secs: expires_at,
                fingerprint,
            };
            tx.insert_hold_request(
                &merchant_id,
                &request.request_id,
                &serde_json::to_value(&answer).expect("serializes"),
            )?;
            Ok(answer)
        })
        .await
    }
}
