//! Traders' collateral: a deposit in the settlement currency, credited and
//! debited by the operator through the ledger, that bounds what a trader may
//! hold. The rule is decided inside the store's write under a per-trader
//! lock, so that it holds across nodes (see `docs/ledger.md`).

use std::collections::HashMap;

use kassa_domain::collateral::{to_settlement_minor, Exposure};
use kassa_domain::ledger::{self, book_key, Account, TxnKind};
use kassa_domain::money::{format_fixed, MINOR_MAX};
use kassa_domain::{Cabinet, Currency};
use kassa_store::Tx;

use super::rate_key;
use crate::ledger::post;
use crate::{Engine, EngineError, EngineResult};

/// A trader's standing as shown to the operator, in the settlement currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraderCollateral {
    pub currency: Currency,
    /// Whether the rule is on (`trader_collateral_required`).
    pub required: bool,
    pub exposure: Exposure,
    /// A currency the trader holds or owes money in that has no rate: that
    /// money is not counted above, and the trader takes nothing new.
    pub uncounted: Option<Currency>,
}

/// The key every write that judges a trader's collateral locks first.
fn lock_key(trader_id: &str) -> String {
    format!("collateral:{trader_id}")
}

/// The operator's current rate of a currency, read in the write.
fn current_rate(
    tx: &mut dyn Tx,
    rates: &mut HashMap<Currency, Option<String>>,
    currency: Currency,
) -> EngineResult<Option<String>> {
    if let Some(rate) = rates.get(&currency) {
        return Ok(rate.clone());
    }
    let rate = tx
        .setting(&rate_key(currency))?
        .and_then(|v| v.as_str().map(str::to_string));
    rates.insert(currency, rate.clone());
    Ok(rate)
}

/// Where a trader stands now: its deposit, what its cabinets hold (each
/// deal at its own rate, each hold at the current one) and what it owes
/// (its settlement account's debt per currency, at the current rate), and a
/// currency it has money in that has no rate, if any: that money cannot be
/// counted.
pub(crate) fn exposure(
    tx: &mut dyn Tx,
    trader_id: &str,
    test_mode: bool,
    settlement: Currency,
    now_secs: i64,
) -> EngineResult<(Exposure, Option<Currency>)> {
    let mut uncounted = None;
    let mut rates = HashMap::new();
    let deposit_key = book_key(test_mode, &Account::TraderDeposit(trader_id.into()));
    let deposit_minor = tx.balance(&deposit_key, settlement.code(), None)?;
    let mut held_minor: i64 = 0;
    for held in tx.held_of_trader(trader_id, now_secs)? {
        let Some(currency) = Currency::from_code(&held.currency) else {
            continue;
        };
        let rate = match held.rate {
            Some(rate) => Some(rate),
            None => current_rate(tx, &mut rates, currency)?,
        };
        match to_settlement_minor(held.amount_minor, currency, rate.as_deref(), settlement) {
            Some(minor) => held_minor = held_minor.saturating_add(minor),
            None => uncounted = Some(currency),
        }
    }
    let settlement_key = book_key(test_mode, &Account::TraderSettlement(trader_id.into()));
    let mut owed_minor: i64 = 0;
    for (account, code, sum) in tx.balances(&settlement_key)? {
        if account != settlement_key || sum >= 0 {
            continue;
        }
        let Some(currency) = Currency::from_code(&code) else {
            continue;
        };
        let rate = current_rate(tx, &mut rates, currency)?;
        match to_settlement_minor(-sum, currency, rate.as_deref(), settlement) {
            Some(minor) => owed_minor = owed_minor.saturating_add(minor),
            None => uncounted = Some(currency),
        }
    }
    let exposure = Exposure {
        deposit_minor,
        held_minor,
        owed_minor,
    };
    Ok((exposure, uncounted))
}

/// How often, and how long at most, a booking waits for a lock another
/// booking holds: that one holds it for milliseconds. The wait is bounded,
/// never a blocking lock, because a booking also holds slot rows another may
/// wait on; whatever is still locked after it is passed over.
const LOCK_TRIES: u32 = 12;

pub(super) fn lock_bounded(tx: &mut dyn Tx, key: &str) -> EngineResult<bool> {
    for attempt in 0..LOCK_TRIES {
        if tx.try_lock(key)? {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(5)));
    }
    Ok(false)
}

/// The collateral rule as one booking applies it: each trader is locked and
/// counted once, the first time one of its cabinets is tried.
pub(super) struct Gate {
    settlement: Currency,
    /// Trader to what it may still take on; `None`: locked elsewhere or
    /// not countable, passed over.
    free: HashMap<String, Option<i64>>,
    rates: HashMap<Currency, Option<String>>,
}

impl Gate {
    pub(super) fn new(settlement: Currency) -> Gate {
        Gate {
            settlement,
            free: HashMap::new(),
            rates: HashMap::new(),
        }
    }

    /// Whether `amount_minor` more on `cabinet` fits its trader's deposit.
    pub(super) fn allow(
        &mut self,
        tx: &mut dyn Tx,
        cabinet: &Cabinet,
        amount_minor: i64,
        now_secs: i64,
    ) -> EngineResult<bool> {
        let free = match self.free.get(&cabinet.trader_id) {
            Some(free) => *free,
            None => {
                // Counted once no other booking can change it.
                let free = if lock_bounded(tx, &lock_key(&cabinet.trader_id))? {
                    match exposure(
                        tx,
                        &cabinet.trader_id,
                        cabinet.test_mode,
                        self.settlement,
                        now_secs,
                    )? {
                        (e, None) => Some(e.free_minor()),
                        (_, Some(_)) => None,
                    }
                } else {
                    None
                };
                self.free.insert(cabinet.trader_id.clone(), free);
                free
            }
        };
        let Some(free) = free else {
            return Ok(false);
        };
        let rate = current_rate(tx, &mut self.rates, cabinet.currency)?;
        Ok(to_settlement_minor(
            amount_minor,
            cabinet.currency,
            rate.as_deref(),
            self.settlement,
        )
        .is_some_and(|more| more <= free))
    }
}

impl Engine {
    /// A trader's deposit, what it holds and owes, in the settlement currency.
    pub async fn trader_collateral(&self, trader_id: String) -> EngineResult<TraderCollateral> {
        let settlement = self.config.settlement_currency;
        let required = self.config.trader_collateral_required;
        let now = self.now_secs();
        self.read(move |tx| {
            let trader = tx.trader(&trader_id)?.ok_or(EngineError::NotFound)?;
            let (exposure, uncounted) =
                exposure(tx, &trader.id, trader.test_mode, settlement, now)?;
            Ok(TraderCollateral {
                currency: settlement,
                required,
                exposure,
                uncounted,
            })
        })
        .await
    }

    /// The operator credits (a positive amount) or debits (negative) a
    /// trader's deposit, against the world: the trader sent collateral in,
    /// or is given some back. A debit may not take the deposit below what
    /// the trader holds and owes; refused, it changes nothing.
    pub async fn change_deposit(
        &self,
        trader_id: String,
        amount_minor: i64,
        reason: String,
    ) -> EngineResult<TraderCollateral> {
        if amount_minor == 0 || amount_minor.abs() > MINOR_MAX {
            return Err(EngineError::invalid(
                "amount",
                "must be non-zero and within limits",
            ));
        }
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.len() > 255 || reason.chars().any(char::is_control) {
            return Err(EngineError::invalid(
                "reason",
                "must be 1 to 255 characters",
            ));
        }
        let settlement = self.config.settlement_currency;
        let required = self.config.trader_collateral_required;
        let now = self.now_secs();
        let changed = self
            .write(move |tx| {
                let trader = tx.trader(&trader_id)?.ok_or(EngineError::NotFound)?;
                // The bookings' lock: none of them counts the trader meanwhile.
                tx.lock_account(&lock_key(&trader.id))?;
                let (before, uncounted) =
                    exposure(tx, &trader.id, trader.test_mode, settlement, now)?;
                if let Some(currency) = uncounted.filter(|_| amount_minor < 0) {
                    return Err(EngineError::Conflict(format!(
                        "no rate is set for {}: what the trader holds in it cannot be counted",
                        currency.code()
                    )));
                }
                if before.deposit_minor.saturating_add(amount_minor) > MINOR_MAX {
                    return Err(EngineError::invalid(
                        "amount",
                        "the deposit would pass the largest amount Kassa keeps",
                    ));
                }
                if amount_minor < 0 && !before.allows(-amount_minor) {
                    let most = format_fixed(before.free_minor().max(0), settlement.exponent());
                    return Err(EngineError::invalid(
                        "amount",
                        format!(
                            "the deposit would not cover what the trader holds and owes; at most {most} {} can be debited",
                            settlement.code()
                        ),
                    ));
                }
                post(
                    tx,
                    trader.test_mode,
                    TxnKind::TraderDeposit,
                    settlement,
                    &format!("deposit:{}:{reason}", trader.id),
                    now,
                    ledger::trader_deposit(&trader.id, amount_minor),
                )?;
                Ok(TraderCollateral {
                    currency: settlement,
                    required,
                    exposure: Exposure {
                        deposit_minor: before.deposit_minor + amount_minor,
                        ..before
                    },
                    uncounted,
                })
            })
            .await?;
        // A booking refused for want of collateral may fit now.
        self.held_hints.clear_full();
        Ok(changed)
    }
}
