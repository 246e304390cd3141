//! Holds: the (cabinet, amount) slots that keep an amount unique per
//! cabinet, taken by the store's atomic upsert, with this process's hints of
//! what is held and the cabinets' soft limits.

use std::collections::{HashMap, HashSet};

use kassa_domain::ids::new_id;
use kassa_domain::{Cabinet, Hold};
use kassa_store::Tx;

use super::collateral::{lock_bounded, Gate};
use super::{amount_rule, day_start, DealTarget};
use crate::{EngineError, EngineResult};

/// How many refused takes of one amount before asking the store which
/// cabinets hold it (cheaper than probing a crowded amount cabinet by cabinet).
const PROBES_BEFORE_LOOKUP: usize = 8;

/// This process's memory of (cabinet, amount) slots it saw held, and until
/// when: a hint that spares the store takes bound to fail. The store's
/// upsert stays the judge. A hint skips a slot for at most a hold's lifetime
/// (a hold this process took) or one second (a take the store refused); a
/// hold turned into a deal here is forgotten, so a deal that ends early frees
/// its amount at once. (A hold another process turns into a deal that ends
/// within the hold's lifetime can be skipped here until the hold would have
/// lapsed.)
#[derive(Default)]
pub(crate) struct HeldHints {
    inner: std::sync::Mutex<Hints>,
}

#[derive(Default)]
struct Hints {
    /// amount -> cabinet -> held until.
    held: HashMap<i64, HashMap<String, i64>>,
    held_len: usize,
    /// (candidate filter, amount) -> every candidate held until at least.
    full: HashMap<(String, i64), i64>,
}

/// Hints kept at most; past it, lapsed ones are dropped.
const HINTS_MAX: usize = 200_000;

impl HeldHints {
    fn lock(&self) -> std::sync::MutexGuard<'_, Hints> {
        self.inner.lock().expect("hints lock")
    }

    /// Until when the slot is known held, if it is at `now_secs`.
    fn held_until(&self, cabinet_id: &str, amount_minor: i64, now_secs: i64) -> Option<i64> {
        let hints = self.lock();
        let until = *hints.held.get(&amount_minor)?.get(cabinet_id)?;
        (until > now_secs).then_some(until)
    }

    fn note(&self, cabinet_id: &str, amount_minor: i64, until_secs: i64, now_secs: i64) {
        let mut hints = self.lock();
        if hints.held_len >= HINTS_MAX {
            for slots in hints.held.values_mut() {
                slots.retain(|_, until| *until > now_secs);
            }
            hints.held.retain(|_, slots| !slots.is_empty());
            hints.held_len = hints.held.values().map(HashMap::len).sum();
            hints.full.retain(|_, until| *until > now_secs);
            if hints.held_len >= HINTS_MAX {
                *hints = Hints::default();
            }
        }
        let slots = hints.held.entry(amount_minor).or_default();
        if slots.insert(cabinet_id.to_string(), until_secs).is_none() {
            hints.held_len += 1;
        }
    }

    /// The slot may be free before its hint says (a hold became a deal).
    pub(super) fn forget(&self, cabinet_id: &str, amount_minor: i64) {
        let mut hints = self.lock();
        if let Some(slots) = hints.held.get_mut(&amount_minor) {
            if slots.remove(cabinet_id).is_some() {
                hints.held_len -= 1;
            }
        }
        hints.full.retain(|(_, amount), _| *amount != amount_minor);
    }

    fn full(&self, filter: &str, amount_minor: i64, now_secs: i64) -> bool {
        let hints = self.lock();
        hints
            .full
            .get(&(filter.to_string(), amount_minor))
            .is_some_and(|until| *until > now_secs)
    }

    fn mark_full(&self, filter: &str, amount_minor: i64, until_secs: i64) {
        self.lock()
            .full
            .insert((filter.to_string(), amount_minor), until_secs);
    }

    /// The candidates changed: what was full may not be.
    pub(crate) fn clear_full(&self) {
        self.lock().full.clear();
    }
}

/// Active cabinets of active traders for a method and currency, as cached.
pub(crate) type Cabinets = std::sync::Arc<Vec<Cabinet>>;

/// Where holds are taken from: the candidate cabinets, this process's
/// hints of what is held among them, and the settlement currency when the
/// collateral rule is on.
pub(crate) struct Pool<'a> {
    pub cabinets: &'a [Cabinet],
    pub hints: &'a HeldHints,
    pub collateral: Option<kassa_domain::Currency>,
}

/// A new hold: what for, where, until when.
pub(crate) struct HoldSpec<'a> {
    pub merchant_id: &'a str,
    pub target: &'a DealTarget,
    pub amount_minor: i64,
    pub request_id: Option<&'a str>,
    pub fingerprint: &'a str,
    pub expires_at_secs: i64,
}

/// Holds the first free (cabinet, amount): the exact amount on any candidate
/// before an alternative on one; among cabinets, fewest open deals first, in
/// random order otherwise so that load spreads. The slot is taken by the
/// store's atomic upsert, so two processes never hold one amount on a cabinet.
/// With the collateral rule on, a cabinet whose trader's deposit cannot take
/// the amount is passed over; when every one is, there is no cabinet.
pub(crate) fn take_amount(
    tx: &mut dyn Tx,
    spec: &HoldSpec<'_>,
    pool: &Pool<'_>,
    now_secs: i64,
) -> EngineResult<Hold> {
    let Pool {
        cabinets,
        hints,
        collateral,
    } = *pool;
    use rand::seq::SliceRandom;
    let HoldSpec {
        merchant_id,
        target,
        amount_minor,
        request_id,
        fingerprint,
        expires_at_secs,
    } = *spec;
    let amounts = amount_rule(tx, target.currency)?.candidates(amount_minor);
    let in_limits = |c: &Cabinet, a: i64| {
        a >= c.min_amount_minor && (c.max_amount_minor == 0 || a <= c.max_amount_minor)
    };
    let bank = target
        .bank_name
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(str::to_lowercase);
    let mut order: Vec<&Cabinet> = cabinets
        .iter()
        .filter(|c| {
            bank.as_ref()
                .is_none_or(|b| *b == c.bank_name.to_lowercase())
        })
        .filter(|c| amounts.iter().any(|a| in_limits(c, *a)))
        .collect();
    order.shuffle(&mut rand::thread_rng());
    if order.iter().any(|c| c.max_open_deals > 0) || order.len() > 1 {
        let open: HashMap<String, u32> = tx.open_deal_counts()?.into_iter().collect();
        let open_of = |c: &Cabinet| open.get(&c.id).copied().unwrap_or(0);
        order.retain(|c| c.max_open_deals == 0 || open_of(c) < c.max_open_deals);
        if !open.is_empty() {
            order.sort_by_cached_key(|c| open_of(c));
        }
    }
    if order.is_empty() {
        return Err(EngineError::NoCabinet);
    }
    let mut limits = Limits::default();
    let mut gate = collateral.map(Gate::new);
    // Cabinets passed over for their trader's collateral, for some amount.
    let mut uncovered: HashSet<&str> = HashSet::new();
    let filter = format!(
        "{}|{}|{}|{}",
        target.method,
        target.currency,
        bank.as_deref().unwrap_or(""),
        target.test_mode
    );
    for &amount in &amounts {
        if hints.full(&filter, amount, now_secs) {
            continue;
        }
        let mut refused = 0;
        let mut held: Option<HashSet<String>> = None;
        // The earliest time a candidate held now may come free.
        let mut earliest_free = i64::MAX;
        for cabinet in &order {
            if !in_limits(cabinet, amount) {
                continue;
            }
            if held.as_ref().is_some_and(|h| h.contains(&cabinet.id)) {
                earliest_free = earliest_free.min(now_secs + 1);
                continue;
            }
            if let Some(until) = hints.held_until(&cabinet.id, amount, now_secs) {
                earliest_free = earliest_free.min(until);
                continue;
            }
            // Not remembered as held: the deposit, not the slot, is short.
            if let Some(gate) = gate.as_mut() {
                if !gate.allow(tx, cabinet, amount, now_secs)? {
                    uncovered.insert(&cabinet.id);
                    continue;
                }
            }
            if !limits.allow(tx, cabinet, amount, now_secs)? {
                earliest_free = earliest_free.min(now_secs + 1);
                continue;
            }
            let hold = Hold {
                id: new_id("hold"),
                cabinet_id: cabinet.id.clone(),
                amount_minor: amount,
                currency: target.currency,
                method: target.method.clone(),
                merchant_id: merchant_id.to_string(),
                request_id: request_id.map(str::to_string),
                fingerprint: fingerprint.to_string(),
                created_at_secs: now_secs,
                expires_at_secs: Some(expires_at_secs),
                deal_id: None,
            };
            if tx.take_slot(&hold, now_secs)? {
                if request_id.is_some() {
                    hints.note(&cabinet.id, amount, expires_at_secs, now_secs);
                }
                return Ok(hold);
            }
            hints.note(&cabinet.id, amount, now_secs + 1, now_secs);
            earliest_free = earliest_free.min(now_secs + 1);
            refused += 1;
            if refused == PROBES_BEFORE_LOOKUP && held.is_none() {
                held = Some(tx.cabinets_holding(amount, now_secs)?.into_iter().collect());
            }
        }
        if earliest_free != i64::MAX {
            hints.mark_full(&filter, amount, earliest_free);
        }
    }
    if uncovered.len() == order.len() {
        return Err(EngineError::NoCabinet);
    }
    Err(EngineError::AmountsTaken)
}

fn lock_cabinet(tx: &mut dyn Tx, cabinet_id: &str) -> EngineResult<bool> {
    lock_bounded(tx, &format!("cabinet:{cabinet_id}"))
}

/// A cabinet's soft limits (amounts in use at once, turnover a day),
/// decided under the cabinet's lock against what it has now, so that two
/// bookings on two nodes cannot both take the last place.
#[derive(Default)]
struct Limits {
    /// Cabinets locked by this transaction, with their turnover today.
    locked: HashMap<String, i64>,
    /// Cabinets at their limit of amounts in use, or locked elsewhere.
    refused: HashSet<String>,
}

impl Limits {
    fn allow(
        &mut self,
        tx: &mut dyn Tx,
        cabinet: &Cabinet,
        amount_minor: i64,
        now_secs: i64,
    ) -> EngineResult<bool> {
        if cabinet.max_open_deals == 0 && cabinet.daily_limit_minor == 0 {
            return Ok(true);
        }
        if self.refused.contains(&cabinet.id) {
            return Ok(false);
        }
        let turnover = match self.locked.get(&cabinet.id) {
            Some(turnover) => *turnover,
            None => {
                // Counted once no other booking can change it.
                if !lock_cabinet(tx, &cabinet.id)?
                    || (cabinet.max_open_deals > 0
                        && tx.slots_in_use(&cabinet.id, now_secs)? >= cabinet.max_open_deals)
                {
                    self.refused.insert(cabinet.id.clone());
                    return Ok(false);
                }
                let turnover = if cabinet.daily_limit_minor > 0 {
                    tx.turnover_since(&cabinet.id, day_start(now_secs))?
                } else {
                    0
                };
                self.locked.insert(cabinet.id.clone(), turnover);
                turnover
            }
        };
        Ok(cabinet.daily_limit_minor == 0 || turnover + amount_minor <= cabinet.daily_limit_minor)
    }
}
