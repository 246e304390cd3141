//! The P2P engine: traders and cabinets, `book_cabinet` holds that keep an
//! amount unique per cabinet, deals that turn a hold into a payment, bank
//! notifications and trader confirmations that settle them, disputes, and
//! the deadline that frees the amount.

use std::collections::{HashMap, HashSet};

use kassa_domain::ids::new_id;
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{
    AlternativeRule, BankNotification, Cabinet, Currency, Deal, DealStatus, Hold, Invoice,
    InvoiceStatus, Merchant, Resolution, Trader,
};
use kassa_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::invoices::change_status;
use crate::secrets::{random_token, sha256_hex};
use crate::sweep::each_apart;
use crate::{Engine, EngineError, EngineResult};

/// How long a read of the candidate cabinets is reused.
pub const CABINETS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Bounds on what traders and merchants may send.
const TEXT_MAX: usize = 1024;
const ID_MAX: usize = 255;
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

fn day_start(now_secs: i64) -> i64 {
    now_secs - now_secs.rem_euclid(86_400)
}

fn rule_key(currency: Currency) -> String {
    format!("amount_rule:{}", currency.code())
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
    fn forget(&self, cabinet_id: &str, amount_minor: i64) {
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

/// Where holds are taken from: the candidate cabinets and this process's
/// hints of what is held among them.
pub(crate) struct Pool<'a> {
    pub cabinets: &'a [Cabinet],
    pub hints: &'a HeldHints,
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
pub(crate) fn take_amount(
    tx: &mut dyn Tx,
    spec: &HoldSpec<'_>,
    pool: &Pool<'_>,
    now_secs: i64,
) -> EngineResult<Hold> {
    let Pool { cabinets, hints } = *pool;
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
    Err(EngineError::AmountsTaken)
}

/// How often, and how long at most, a booking waits for a cabinet's lock
/// that another booking holds: that one holds it for milliseconds. The wait
/// is bounded, never a blocking lock, because a booking also holds slot rows
/// another may wait on; a cabinet still locked after it is passed over.
const CABINET_LOCK_TRIES: u32 = 12;

fn lock_cabinet(tx: &mut dyn Tx, cabinet_id: &str) -> EngineResult<bool> {
    let key = format!("cabinet:{cabinet_id}");
    for attempt in 0..CABINET_LOCK_TRIES {
        if tx.try_lock(&key)? {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(5)));
    }
    Ok(false)
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

/// Turns a hold into a deal for `invoice`: the slot stops expiring and is
/// kept until the deal ends.
pub(crate) fn open_deal(
    tx: &mut dyn Tx,
    mut hold: Hold,
    invoice: &Invoice,
    rate: Option<String>,
    deadline_secs: i64,
    now_secs: i64,
) -> EngineResult<Deal> {
    let cabinet = tx
        .cabinet(&hold.cabinet_id)?
        // Test and live never meet: a deal only on a cabinet of its mode.
        .filter(|c| c.test_mode == invoice.test_mode)
        .ok_or(EngineError::NoCabinet)?;
    let deal = Deal {
        id: new_id("deal"),
        invoice_id: invoice.id.clone(),
        cabinet_id: cabinet.id.clone(),
        trader_id: cabinet.trader_id.clone(),
        hold_id: hold.id.clone(),
        status: DealStatus::TransferWaiting,
        method: cabinet.method.clone(),
        bank_name: cabinet.bank_name.clone(),
        requisite: cabinet.requisite.clone(),
        holder: cabinet.holder.clone(),
        amount_minor: hold.amount_minor,
        rate,
        created_at_secs: now_secs,
        deadline_secs,
        ended_at_secs: None,
        customer_says_paid_at_secs: None,
        dispute_reason: None,
        settled_by: None,
        test_mode: invoice.test_mode,
    };
    hold.expires_at_secs = None;
    hold.deal_id = Some(deal.id.clone());
    tx.update_hold(&hold)?;
    tx.insert_deal(&deal)?;
    Ok(deal)
}

/// Moves a deal on, its invoice with it, and frees the amount when the deal
/// no longer needs it; callbacks are owed by the invoice's change.
pub(crate) fn change_deal(
    tx: &mut dyn Tx,
    deal: &mut Deal,
    next: DealStatus,
    settled_by: Option<String>,
    now_secs: i64,
) -> EngineResult<()> {
    assert!(
        deal.status.can_become(next),
        "deal {}: {:?} -> {:?}",
        deal.id,
        deal.status,
        next
    );
    let was_open = deal.status.is_open();
    deal.status = next;
    if next != DealStatus::Disputed {
        deal.ended_at_secs = Some(now_secs);
    }
    if settled_by.is_some() {
        deal.settled_by = settled_by;
    }
    tx.update_deal(deal)?;
    if was_open {
        tx.release_hold(&deal.hold_id)?;
    }
    let mut invoice = tx.invoice(&deal.invoice_id)?.ok_or(EngineError::NotFound)?;
    let (status, resolution) = match next {
        DealStatus::TransferWaiting => unreachable!("no deal returns to waiting"),
        DealStatus::Completed => (InvoiceStatus::Processed, Resolution::Ok),
        DealStatus::Canceled => (InvoiceStatus::Expired, Resolution::Expired),
        DealStatus::Disputed => (InvoiceStatus::Processing, Resolution::Ok),
    };
    if invoice.status == InvoiceStatus::Expired && status == InvoiceStatus::Processing {
        // A dispute after the deadline reopens the P2P invoice until it is resolved.
        invoice.reopen_for_dispute(now_secs);
        tx.update_invoice(&invoice)?;
        crate::callbacks::owe(tx, &invoice, now_secs)?;
    } else if invoice.status != status && invoice.status.can_become(status) {
        change_status(tx, &mut invoice, status, resolution, now_secs)?;
    }
    Ok(())
}

/// Gives `invoice` (already inserted, in `tx`) a deal: the merchant's live
/// hold of the amount when there is one, else a hold booked now. The
/// invoice takes the deal's amount.
pub(crate) fn attach_deal_with(
    tx: &mut dyn Tx,
    config: &crate::EngineConfig,
    invoice: &mut Invoice,
    target: &DealTarget,
    pool: &Pool<'_>,
    rate: Option<String>,
    now_secs: i64,
) -> EngineResult<Deal> {
    let cabinets = pool.cabinets;
    let deadline = now_secs + config.deal_ttl_secs;
    // The first of the merchant's live holds of the amount that fits the
    // target, bank included (not merely the first hold of the amount).
    let mut held = None;
    for h in tx.live_holds_of_merchant(&invoice.merchant_id, invoice.amount_minor, now_secs)? {
        // A hold on a cabinet switched off since is not used for a deal.
        if h.currency != target.currency
            || h.method != target.method
            || !cabinets.iter().any(|c| c.id == h.cabinet_id)
        {
            continue;
        }
        let bank_ok = match &target.bank_name {
            Some(b) => tx
                .cabinet(&h.cabinet_id)?
                .is_some_and(|c| c.bank_name.eq_ignore_ascii_case(b)),
            None => true,
        };
        if bank_ok {
            held = Some(h);
            break;
        }
    }
    let hold = match held {
        Some(h) => h,
        None => {
            let spec = HoldSpec {
                merchant_id: &invoice.merchant_id,
                target,
                amount_minor: invoice.amount_minor,
                request_id: None,
                fingerprint: &invoice.fingerprint,
                expires_at_secs: deadline,
            };
            take_amount(tx, &spec, pool, now_secs)?
        }
    };
    pool.hints.forget(&hold.cabinet_id, hold.amount_minor);
    let deal = open_deal(tx, hold, invoice, rate, deadline, now_secs)?;
    invoice.deal_id = Some(deal.id.clone());
    if invoice.amount_minor != deal.amount_minor {
        invoice.amount_minor = deal.amount_minor;
    }
    Ok(deal)
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

    /// A live trader and its API token (shown once).
    pub async fn create_trader(&self, name: String) -> EngineResult<(Trader, String)> {
        self.create_trader_in(name, false).await
    }

    /// A trader of a mode: a test trader's cabinets are the sandbox, taking
    /// test-mode deals only.
    pub async fn create_trader_in(
        &self,
        name: String,
        test_mode: bool,
    ) -> EngineResult<(Trader, String)> {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(EngineError::invalid(
                "name",
                "This value should be 1 to 200 characters long.",
            ));
        }
        let token = format!("trt_{}", random_token());
        let trader = Trader {
            id: new_id("trd"),
            name,
            token_sha256: sha256_hex(&token),
            active: true,
            created_at_secs: self.now_secs(),
            test_mode,
        };
        let saved = trader.clone();
        self.write(move |tx| Ok(tx.insert_trader(&saved)?)).await?;
        Ok((trader, token))
    }

    /// Switches a trader on or off: an inactive trader's token is refused and
    /// its cabinets take no new deals.
    pub async fn set_trader_active(&self, trader_id: String, active: bool) -> EngineResult<Trader> {
        self.write(move |tx| {
            let mut trader = tx.trader(&trader_id)?.ok_or(EngineError::NotFound)?;
            trader.active = active;
            tx.update_trader(&trader)?;
            Ok(trader)
        })
        .await
        .inspect(|_| {
            self.cabinet_cache.clear();
            self.held_hints.clear_full();
        })
    }

    pub async fn traders(&self) -> EngineResult<Vec<Trader>> {
        self.read(|tx| Ok(tx.traders()?)).await
    }

    pub async fn authenticate_trader(&self, token: String) -> EngineResult<Trader> {
        if token.is_empty() || token.len() > 128 {
            return Err(EngineError::Unauthorized);
        }
        let hash = sha256_hex(&token);
        self.read(move |tx| {
            tx.trader_by_token(&hash)?
                .filter(|t| t.active)
                .ok_or(EngineError::Unauthorized)
        })
        .await
    }

    pub async fn add_cabinet(&self, new: NewCabinet) -> EngineResult<Cabinet> {
        let mut errors = std::collections::BTreeMap::new();
        let method_ok = !new.method.is_empty()
            && new.method.len() <= 32
            && new
                .method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !method_ok {
            errors.insert("method".into(), "Use 1 to 32 of a-z, 0-9 and _.".into());
        }
        for (field, text) in [
            ("requisite", &new.requisite),
            ("holder", &new.holder),
            ("bank_name", &new.bank_name),
        ] {
            if text.trim().is_empty() || text.len() > 128 {
                errors.insert(
                    field.into(),
                    "This value should be 1 to 128 characters long.".into(),
                );
            }
        }
        if new.min_amount_minor < 1
            || (new.max_amount_minor != 0 && new.max_amount_minor < new.min_amount_minor)
        {
            errors.insert(
                "min_amount".into(),
                "Limits must satisfy 0 < min <= max (max 0: none).".into(),
            );
        }
        if new.daily_limit_minor < 0 {
            errors.insert(
                "daily_limit".into(),
                "This value should not be negative.".into(),
            );
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let cabinet = Cabinet {
            id: new_id("cab"),
            trader_id: new.trader_id,
            method: new.method,
            currency: new.currency,
            bank_name: new.bank_name.trim().to_string(),
            // A card as its digits (a phone as + and digits), so that a card
            // is masked wherever it is shown, however it was typed.
            requisite: kassa_domain::p2p::normalize_requisite(&new.requisite),
            holder: new.holder.trim().to_string(),
            min_amount_minor: new.min_amount_minor,
            max_amount_minor: new.max_amount_minor,
            daily_limit_minor: new.daily_limit_minor,
            max_open_deals: new.max_open_deals,
            active: new.active,
            created_at_secs: self.now_secs(),
            test_mode: false,
        };
        self.write(move |tx| {
            let mut cabinet = cabinet;
            cabinet.test_mode = tx
                .trader(&cabinet.trader_id)?
                .ok_or_else(|| EngineError::invalid("trader", "No such trader."))?
                .test_mode;
            tx.insert_cabinet(&cabinet)?;
            Ok(cabinet)
        })
        .await
        .inspect(|_| {
            self.cabinet_cache.clear();
            self.held_hints.clear_full();
        })
    }

    pub async fn trader_cabinets(&self, trader_id: String) -> EngineResult<Vec<Cabinet>> {
        self.read(move |tx| Ok(tx.cabinets_of_trader(&trader_id)?))
            .await
    }

    /// Switches a cabinet on or off; `trader_id` scopes it to a trader's own.
    pub async fn set_cabinet_active(
        &self,
        trader_id: Option<String>,
        cabinet_id: String,
        active: bool,
    ) -> EngineResult<Cabinet> {
        self.write(move |tx| {
            let mut cabinet = tx
                .cabinet(&cabinet_id)?
                .filter(|c| trader_id.as_ref().is_none_or(|t| *t == c.trader_id))
                .ok_or(EngineError::NotFound)?;
            cabinet.active = active;
            tx.update_cabinet(&cabinet)?;
            Ok(cabinet)
        })
        .await
        .inspect(|_| {
            self.cabinet_cache.clear();
            self.held_hints.clear_full();
        })
    }

    pub async fn trader_deals(
        &self,
        trader_id: String,
        open_only: bool,
    ) -> EngineResult<Vec<Deal>> {
        self.read(move |tx| Ok(tx.deals_of_trader(&trader_id, open_only, LIST_MAX)?))
            .await
    }

    pub async fn deal(&self, id: String) -> EngineResult<Deal> {
        self.read(move |tx| tx.deal(&id)?.ok_or(EngineError::NotFound))
            .await
    }

    /// The operator's rate of a currency against the traders' settlement currency.
    pub async fn set_rate(&self, currency: Currency, rate: String) -> EngineResult<()> {
        match parse_minor(&rate, 8) {
            Ok(v) if v > 0 => {}
            _ => {
                return Err(EngineError::invalid(
                    "rate",
                    "A positive decimal with at most 8 places.",
                ))
            }
        }
        self.write(move |tx| Ok(tx.put_setting(&rate_key(currency), &Value::String(rate))?))
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

    /// The trader (or, with `trader_id` None, the operator) confirms that a
    /// deal's money arrived.
    pub async fn confirm_deal(
        &self,
        trader_id: Option<String>,
        deal_id: String,
    ) -> EngineResult<Deal> {
        let now = self.now_secs();
        let by = trader_id
            .as_ref()
            .map_or("operator".to_string(), |_| "trader".to_string());
        let deal = self
            .write(move |tx| {
                let mut deal = tx
                    .deal(&deal_id)?
                    .filter(|d| trader_id.as_ref().is_none_or(|t| *t == d.trader_id))
                    .ok_or(EngineError::NotFound)?;
                if deal.status == DealStatus::Completed {
                    return Ok(deal);
                }
                if !deal.status.can_become(DealStatus::Completed) {
                    return Err(EngineError::Conflict(format!(
                        "the deal is {}",
                        deal.status.as_str()
                    )));
                }
                change_deal(tx, &mut deal, DealStatus::Completed, Some(by), now)?;
                Ok(deal)
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// Resolves a dispute: the money arrived (`complete`) or it did not.
    pub async fn resolve_dispute(
        &self,
        trader_id: Option<String>,
        deal_id: String,
        complete: bool,
    ) -> EngineResult<Deal> {
        let now = self.now_secs();
        let by = trader_id
            .as_ref()
            .map_or("operator".to_string(), |_| "trader".to_string());
        let deal = self
            .write(move |tx| {
                let mut deal = tx
                    .deal(&deal_id)?
                    .filter(|d| trader_id.as_ref().is_none_or(|t| *t == d.trader_id))
                    .ok_or(EngineError::NotFound)?;
                if deal.status != DealStatus::Disputed {
                    return Err(EngineError::Conflict(format!(
                        "the deal is {}, not disputed",
                        deal.status.as_str()
                    )));
                }
                let next = if complete {
                    DealStatus::Completed
                } else {
                    DealStatus::Canceled
                };
                change_deal(tx, &mut deal, next, Some(by), now)?;
                Ok(deal)
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// The customer says they paid (the hosted page's button). Before the
    /// deadline it is noted (a deal that then runs out goes to dispute
    /// instead of being cancelled); after it, a cancelled deal is disputed.
    pub async fn customer_says_paid(&self, invoice_id: String) -> EngineResult<Deal> {
        let now = self.now_secs();
        // An invoice's deal never changes: it is found on a read, so that the
        // write takes the deal before the invoice, as every write does.
        let deal_id = self
            .read(move |tx| {
                tx.invoice(&invoice_id)?
                    .and_then(|i| i.deal_id)
                    .ok_or(EngineError::NotFound)
            })
            .await?;
        let deal = self
            .write(move |tx| {
                let mut deal = tx.deal(&deal_id)?.ok_or(EngineError::NotFound)?;
                match deal.status {
                    DealStatus::TransferWaiting => {
                        if deal.customer_says_paid_at_secs.is_none() {
                            deal.customer_says_paid_at_secs = Some(now);
                            tx.update_deal(&deal)?;
                        }
                    }
                    // Cancelled by people (a dispute decided): the decision stands.
                    DealStatus::Canceled if deal.settled_by.is_some() => {}
                    DealStatus::Canceled => {
                        deal.customer_says_paid_at_secs = Some(now);
                        deal.dispute_reason = Some("customer_paid_after_deadline".into());
                        change_deal(tx, &mut deal, DealStatus::Disputed, None, now)?;
                    }
                    DealStatus::Completed | DealStatus::Disputed => {}
                }
                Ok(deal)
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// A trader's bank notification: money arrived on a cabinet. It completes
    /// the open deal of that (cabinet, amount), or is kept for review. A
    /// repeated notification id changes nothing.
    pub async fn post_bank_notification(
        &self,
        trader: &Trader,
        new: NewNotification,
    ) -> EngineResult<NotificationOutcome> {
        let mut errors = std::collections::BTreeMap::new();
        if new.external_id.is_empty() || new.external_id.len() > ID_MAX {
            errors.insert("id".to_string(), "must be 1 to 255 characters".to_string());
        }
        if new.text.as_ref().is_some_and(|t| t.len() > TEXT_MAX) {
            errors.insert("text".into(), "must be at most 1024 characters".into());
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let now = self.now_secs();
        let trader_id = trader.id.clone();
        let outcome = self
            .write(move |tx| {
                if let Some(existing) = tx.notification_by_external(&trader_id, &new.external_id)? {
                    return Ok(NotificationOutcome {
                        notification: existing,
                        new: false,
                    });
                }
                let cabinet = tx
                    .cabinet(&new.cabinet_id)?
                    .filter(|c| c.trader_id == trader_id)
                    .ok_or_else(|| {
                        EngineError::invalid("cabinet", "No such cabinet of this trader.")
                    })?;
                let amount_minor = match parse_minor(&new.amount, cabinet.currency.exponent()) {
                    Ok(a) if a > 0 => a,
                    Ok(_) => return Err(EngineError::invalid("amount", "must be greater than 0")),
                    Err(AmountError::TooPrecise(p)) => {
                        return Err(EngineError::invalid(
                            "amount",
                            format!("at most {p} decimal places"),
                        ))
                    }
                    Err(e) => return Err(EngineError::invalid("amount", e.to_string())),
                };
                let mut notification = BankNotification {
                    id: new_id("bnt"),
                    trader_id: trader_id.clone(),
                    external_id: new.external_id,
                    cabinet_id: cabinet.id.clone(),
                    amount_minor,
                    text: new.text,
                    received_at_secs: new.received_at_secs,
                    created_at_secs: now,
                    deal_id: None,
                };
                // A deal of the other mode is never settled by this cabinet's
                // money (test and live never meet); the notification waits for
                // review. The invoice's mode is asked, not the deal's: a deal
                // made before deals had a mode has none of its own.
                let mut open = tx.open_deal_at(&cabinet.id, amount_minor)?;
                if let Some(deal) = &open {
                    let invoice = tx.invoice(&deal.invoice_id)?;
                    if invoice.is_none_or(|i| i.test_mode != cabinet.test_mode) {
                        open = None;
                    }
                }
                if let Some(mut deal) = open {
                    change_deal(
                        tx,
                        &mut deal,
                        DealStatus::Completed,
                        Some(format!("bank_notification:{}", notification.id)),
                        now,
                    )?;
                    notification.deal_id = Some(deal.id);
                }
                tx.insert_notification(&notification)?;
                Ok(NotificationOutcome {
                    notification,
                    new: true,
                })
            })
            .await?;
        if outcome.new {
            self.wake_workers();
        }
        Ok(outcome)
    }

    /// Every `book_cabinet` answer given to a merchant (for audits and the
    /// benchmark's double-hold check).
    pub async fn book_answers(&self, merchant_id: String) -> EngineResult<Vec<BookAnswer>> {
        self.read(move |tx| {
            tx.hold_requests(&merchant_id)?
                .into_iter()
                .map(|v| {
                    serde_json::from_value(v)
                        .map_err(|e| kassa_store::StoreError::Backend(e.to_string()).into())
                })
                .collect()
        })
        .await
    }

    pub async fn notifications(
        &self,
        trader_id: Option<String>,
        unmatched_only: bool,
    ) -> EngineResult<Vec<BankNotification>> {
        self.read(move |tx| Ok(tx.notifications(trader_id.as_deref(), unmatched_only, LIST_MAX)?))
            .await
    }

    /// Ends open deals whose deadline passed: cancelled (the amount is free),
    /// or disputed when the customer said they paid.
    pub async fn expire_due_deals(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let due = tx.deals_due(now, 256)?;
            each_apart(
                tx,
                "deal deadlines",
                due,
                |d| d.id.clone(),
                |tx, mut deal| {
                    let next = if deal.customer_says_paid_at_secs.is_some() {
                        deal.dispute_reason = Some("customer_says_paid".into());
                        DealStatus::Disputed
                    } else {
                        DealStatus::Canceled
                    };
                    // Either way the amount is free again: a dispute is settled by
                    // people, not by matching amounts.
                    change_deal(tx, &mut deal, next, None, now)
                },
            )
        })
        .await
    }

    /// An invoice with its deal, for the faces that show both.
    pub async fn invoice_with_deal(
        &self,
        invoice_id: String,
    ) -> EngineResult<(Invoice, Option<Deal>)> {
        self.read(move |tx| {
            let invoice = tx.invoice(&invoice_id)?.ok_or(EngineError::NotFound)?;
            let deal = match &invoice.deal_id {
                Some(id) => tx.deal(id)?,
                None => None,
            };
            Ok((invoice, deal))
        })
        .await
    }
}
