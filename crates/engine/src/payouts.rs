//! Payouts: the merchant's money sent out. Creating one holds its amount and
//! fee from the available balance (or fails, changing nothing); a trader
//! whose cabinet serves its method and currency takes it, pays, and marks it
//! done with a receipt, or declines it to the next trader; in test mode the
//! test executor settles it as the request asked. An unfinished payout fails
//! at its deadline and its hold goes back.

use crate::telemetry::{self, Change};
use kassa_domain::fee::FeeRule;
use kassa_domain::ids::new_id;
use kassa_domain::ledger::{self, Account, TxnKind};
use kassa_domain::payout::{self, Payout, PayoutSource, PayoutStatus};
use kassa_domain::{Callback, CallbackFace, CallbackState, Currency, Merchant, Trader};
use kassa_store::{StoreError, Tx};
use serde_json::{Map, Value};

use crate::ledger::post;
use crate::sweep::each_apart;
use crate::{Engine, EngineError, EngineResult};

/// Payouts handled in one worker pass, and listed at most.
const PASS_MAX: usize = 256;
pub const LIST_MAX: usize = 500;

/// A payout request, as a face parsed it.
#[derive(Clone, Debug)]
pub struct NewPayout {
    pub request_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub additional_fields: Map<String, Value>,
    pub source: PayoutSource,
    /// Where its callbacks go: the Merchant API's `notificationUrl`; for H2H,
    /// the site's callback URL.
    pub callback_url: Option<String>,
    pub merchant_api: Option<Value>,
}

pub struct CreatedPayout {
    pub payout: Payout,
    pub created: bool,
}

fn fee_key(currency: Currency) -> String {
    format!("payout_fee:{}", currency.code())
}

/// A payout fee as the operator may set it: in a currency payouts are made
/// in, the rate 0 to 100%, no part negative, the smallest fee not above the
/// largest.
pub(crate) fn check_payout_fee(currency: Currency, rule: &FeeRule) -> EngineResult<()> {
    if !payout::CURRENCIES.contains(&currency.code()) {
        return Err(EngineError::invalid(
            "currency",
            format!("payouts are made in {}", payout::CURRENCIES.join(", ")),
        ));
    }
    if !rule.is_valid() {
        return Err(EngineError::invalid(
            "fee",
            "The rate is 0 to 100% and no part is negative.",
        ));
    }
    if rule.max_minor > 0 && rule.min_minor > rule.max_minor {
        return Err(EngineError::invalid("min", "must not be more than max"));
    }
    Ok(())
}

pub(crate) fn put_payout_fee_in(
    tx: &mut dyn Tx,
    currency: Currency,
    rule: FeeRule,
) -> EngineResult<()> {
    Ok(tx.put_setting(
        &fee_key(currency),
        &serde_json::to_value(rule).expect("serializes"),
    )?)
}

/// A currency's payout fee as set now (zero unless set).
pub(crate) fn payout_fee_in(tx: &mut dyn Tx, currency: Currency) -> EngineResult<FeeRule> {
    Ok(match tx.setting(&fee_key(currency))? {
        Some(v) => serde_json::from_value(v).map_err(|e| StoreError::Backend(e.to_string()))?,
        None => FeeRule::default(),
    })
}

/// Owes the callback of a payout's current status.
pub(crate) fn owe_payout(tx: &mut dyn Tx, payout: &Payout, now_secs: i64) -> EngineResult<()> {
    let Some(url) = &payout.callback_url else {
        return Ok(());
    };
    let face = match payout.source {
        PayoutSource::H2h => CallbackFace::H2hPayout,
        PayoutSource::MerchantApi => CallbackFace::MerchantApiPayout,
        // A refund's payout is announced by its refund's callbacks.
        PayoutSource::Refund => return Ok(()),
    };
    let store = tx.merchant(&payout.merchant_id)?.map(
        |m| serde_json::json!({ "id": m.site_id, "name": m.name, "site_login": m.site_login }),
    );
    // The fingerprint stays with the payout: a callback has no use for it.
    let shown = Payout {
        fingerprint: String::new(),
        ..payout.clone()
    };
    let callback = Callback {
        id: new_id(kassa_domain::ids::prefix::CALLBACK),
        invoice_id: payout.id.clone(),
        merchant_id: payout.merchant_id.clone(),
        test_mode: payout.test_mode,
        face,
        url: url.clone(),
        transaction_status: payout.status.as_str().to_string(),
        snapshot: serde_json::json!({ "payout": shown, "store": store }),
        state: CallbackState::Pending,
        attempts: 0,
        created_at_secs: now_secs,
        next_attempt_at_secs: now_secs,
        lease_until_secs: 0,
    };
    tx.insert_callback(&callback)?;
    Ok(())
}

/// Where a paid payout's money goes: to the trader who paid it from its own
/// funds (the platform owes it that), or out to the world in test mode.
pub(crate) fn paid_to(p: &Payout) -> Account {
    match (&p.trader_id, p.test_mode) {
        (Some(t), false) => Account::TraderSettlement(t.clone()),
        _ => Account::World,
    }
}

/// Moves a payout on, books what it means, and owes its callback. A
/// refund's payout books nothing of its own: its outcome settles the refund,
/// whose money path is the refunds' (`refunds.rs`).
pub(crate) fn change_payout(
    tx: &mut dyn Tx,
    p: &mut Payout,
    next: PayoutStatus,
    reason: Option<&str>,
    now_secs: i64,
) -> EngineResult<()> {
    assert!(
        p.status.can_become(next),
        "payout {}: {:?} -> {:?}",
        p.id,
        p.status,
        next
    );
    p.status = next;
    p.updated_at_secs = now_secs;
    if let Some(r) = reason {
        p.reason = Some(r.to_string());
    }
    let total = p.amount_minor + p.fee_minor;
    match next {
        _ if p.source == PayoutSource::Refund && next.is_final() => {
            crate::refunds::payout_ended(tx, p, now_secs)?;
        }
        PayoutStatus::Success => {
            let postings =
                ledger::payout_done(&p.merchant_id, paid_to(p), p.amount_minor, p.fee_minor);
            post(
                tx,
                p.test_mode,
                TxnKind::PayoutDone,
                p.currency,
                &p.id,
                now_secs,
                postings,
            )?;
        }
        PayoutStatus::Failed => {
            let postings = ledger::payout_release(&p.merchant_id, total);
            post(
                tx,
                p.test_mode,
                TxnKind::PayoutRelease,
                p.currency,
                &p.id,
                now_secs,
                postings,
            )?;
        }
        PayoutStatus::Pending | PayoutStatus::InProgress => {}
    }
    if next.is_final() {
        p.test_outcome = None;
    }
    tx.update_payout(p)?;
    telemetry::note(Change::Payout(next, p.test_mode));
    owe_payout(tx, p, now_secs)
}

impl Engine {
    /// The operator's payout fee for a currency (zero unless set).
    pub async fn set_payout_fee(&self, currency: Currency, rule: FeeRule) -> EngineResult<()> {
        check_payout_fee(currency, &rule)?;
        self.write(move |tx| put_payout_fee_in(tx, currency, rule))
            .await
    }

    /// The payout fee of each currency payouts are made in (zero unless set).
    pub async fn payout_fees(&self) -> EngineResult<Vec<(Currency, FeeRule)>> {
        self.read(|tx| {
            let mut out = Vec::new();
            for c in payout::CURRENCIES
                .iter()
                .filter_map(|c| Currency::from_code(c))
            {
                out.push((c, payout_fee_in(tx, c)?));
            }
            Ok(out)
        })
        .await
    }

    /// Creates a payout and holds its amount and fee, or answers the payout a
    /// repeat of the same request made.
    pub async fn create_payout(
        &self,
        merchant: &Merchant,
        test_mode: bool,
        mut new: NewPayout,
    ) -> EngineResult<CreatedPayout> {
        payout::normalize_fields(&mut new.additional_fields);
        let mut errors = std::collections::BTreeMap::new();
        if new.request_id.is_empty()
            || new.request_id.len() > 255
            || new.request_id.chars().any(char::is_control)
        {
            errors.insert(
                "request_id".to_string(),
                "must be 1 to 255 characters".to_string(),
            );
        }
        let currency =
            Currency::from_code(&new.currency).filter(|c| payout::CURRENCIES.contains(&c.code()));
        if currency.is_none() {
            errors.insert(
                "currency".into(),
                format!("must be one of {}", payout::CURRENCIES.join(", ")),
            );
        }
        if !payout::METHODS.contains(&new.method.as_str()) {
            errors.insert(
                "method".into(),
                format!("must be one of {}", payout::METHODS.join(", ")),
            );
        } else {
            errors.extend(payout::check_fields(&new.method, &new.additional_fields));
        }
        if new.amount_minor <= 0 || new.amount_minor > kassa_domain::money::MINOR_MAX {
            errors.insert(
                "amount".into(),
                "must be a positive integer of minor units".into(),
            );
        }
        let test_outcome = match new
            .additional_fields
            .get("test_status")
            .and_then(Value::as_str)
        {
            _ if !test_mode => None,
            None | Some("success") => Some(PayoutStatus::Success),
            Some("failed") => Some(PayoutStatus::Failed),
            Some(_) => {
                errors.insert(
                    "additional_fields.test_status".into(),
                    "must be success or failed".into(),
                );
                None
            }
        };
        if let Some(url) = &new.callback_url {
            if let Err(m) = self.check_callback_url(url) {
                errors.insert("callback_url".into(), m);
            }
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let currency = currency.expect("checked");
        let now = self.now_secs();
        let fingerprint = {
            let view = serde_json::json!({
                "amount": new.amount_minor, "currency": currency.code(), "method": new.method,
                "fields": Value::Object(new.additional_fields.clone()), "source": new.source,
            });
            crate::invoices::fingerprint_of(&self.fingerprint_key, &view)
        };
        let fields_sealed = self
            .sealer
            .seal(&Value::Object(new.additional_fields.clone()).to_string());
        let mut payout = Payout {
            id: new_id("po"),
            merchant_id: merchant.id.clone(),
            test_mode,
            request_id: new.request_id,
            source: new.source,
            amount_minor: new.amount_minor,
            fee_minor: 0,
            currency,
            method: new.method,
            fields_sealed,
            fields_masked: payout::masked(&new.additional_fields),
            status: PayoutStatus::Pending,
            reason: None,
            trader_id: None,
            declined_by: Vec::new(),
            receipt: None,
            created_at_secs: now,
            updated_at_secs: now,
            deadline_secs: now + self.config.payout_ttl_secs,
            test_outcome,
            fingerprint,
            merchant_api: new.merchant_api,
            callback_url: new.callback_url,
        };
        let created = self
            .write(move |tx| {
                let rule = payout_fee_in(tx, currency)?;
                payout.fee_minor = rule.fee_on_top_minor(payout.amount_minor);
                match tx.insert_payout(&payout) {
                    Ok(()) => telemetry::note(Change::Payout(payout.status, payout.test_mode)),
                    Err(StoreError::Duplicate(_)) => {
                        let existing = tx
                            .payout_by_request(&payout.merchant_id, test_mode, &payout.request_id)?
                            .ok_or_else(|| EngineError::Conflict("request_id is taken".into()))?;
                        return if existing.fingerprint == payout.fingerprint {
                            Ok(CreatedPayout {
                                payout: existing,
                                created: false,
                            })
                        } else {
                            Err(EngineError::Conflict(
                                "request_id was used with another request".into(),
                            ))
                        };
                    }
                    Err(e) => return Err(e.into()),
                }
                let postings = ledger::payout_hold(
                    &payout.merchant_id,
                    payout.amount_minor + payout.fee_minor,
                );
                post(
                    tx,
                    test_mode,
                    TxnKind::PayoutHold,
                    currency,
                    &payout.id,
                    now,
                    postings,
                )?;
                owe_payout(tx, &payout, now)?;
                Ok(CreatedPayout {
                    payout,
                    created: true,
                })
            })
            .await?;
        if created.created {
            self.wake_workers();
        }
        Ok(created)
    }

    pub async fn payout(
        &self,
        merchant_id: String,
        test_mode: bool,
        id: String,
    ) -> EngineResult<Payout> {
        self.read(move |tx| {
            tx.payout(&id)?
                .filter(|p| p.merchant_id == merchant_id && p.test_mode == test_mode)
                .ok_or(EngineError::NotFound)
        })
        .await
    }

    pub async fn payout_by_request(
        &self,
        merchant_id: String,
        test_mode: bool,
        request_id: String,
    ) -> EngineResult<Payout> {
        self.read(move |tx| {
            tx.payout_by_request(&merchant_id, test_mode, &request_id)?
                .ok_or(EngineError::NotFound)
        })
        .await
    }

    /// A payout's `additional_fields` in clear, for the trader paying it.
    pub fn payout_fields(&self, payout: &Payout) -> Option<Map<String, Value>> {
        let text = self.sealer.open(&payout.fields_sealed)?;
        match serde_json::from_str(&text).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Payouts a trader may take: pending, live, of a method and currency one
    /// of its active live cabinets serves, not declined by it. A test trader
    /// is offered none: a live payee's card is never shown in the sandbox.
    pub async fn offered_payouts(&self, trader: &Trader) -> EngineResult<Vec<Payout>> {
        let trader_id = trader.id.clone();
        self.read(move |tx| {
            let mut kinds: Vec<(String, String)> = tx
                .cabinets_of_trader(&trader_id)?
                .into_iter()
                .filter(|c| c.active && !c.test_mode)
                .map(|c| (c.method, c.currency.code().to_string()))
                .collect();
            kinds.sort();
            kinds.dedup();
            let mut out = Vec::new();
            for (method, currency) in kinds {
                // Cabinet methods are lower case (`mts`); payout methods as
                // the spec spells them (`MTS`, `WalletM10`).
                let method = payout_method(&method);
                for p in tx.offered_payouts(method, &currency, LIST_MAX)? {
                    if !p.declined_by.contains(&trader_id) && out.len() < LIST_MAX {
                        out.push(p);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn trader_payouts(&self, trader_id: String) -> EngineResult<Vec<Payout>> {
        self.read(move |tx| Ok(tx.payouts_of_trader(&trader_id, LIST_MAX)?))
            .await
    }

    /// A trader takes a pending payout it is offered.
    pub async fn take_payout(&self, trader_id: String, payout_id: String) -> EngineResult<Payout> {
        let now = self.now_secs();
        let payout = self
            .write(move |tx| {
                let mut p = tx.payout(&payout_id)?.ok_or(EngineError::NotFound)?;
                let serves = tx.cabinets_of_trader(&trader_id)?.iter().any(|c| {
                    c.active
                        && !c.test_mode
                        && c.method.eq_ignore_ascii_case(&p.method)
                        && c.currency == p.currency
                });
                if !serves || p.test_mode || p.declined_by.contains(&trader_id) {
                    return Err(EngineError::NotFound);
                }
                if p.status != PayoutStatus::Pending {
                    return Err(EngineError::Conflict(format!(
                        "the payout is {}",
                        p.status.as_str()
                    )));
                }
                if p.deadline_secs <= now {
                    return Err(EngineError::Conflict(
                        "the payout is past its deadline".into(),
                    ));
                }
                p.trader_id = Some(trader_id);
                change_payout(tx, &mut p, PayoutStatus::InProgress, None, now)?;
                Ok(p)
            })
            .await?;
        self.wake_workers();
        Ok(payout)
    }

    /// The trader who took a payout reports it paid, with its receipt reference.
    pub async fn complete_payout(
        &self,
        trader_id: String,
        payout_id: String,
        receipt: String,
    ) -> EngineResult<Payout> {
        if receipt.trim().is_empty() || receipt.len() > 255 {
            return Err(EngineError::invalid(
                "receipt",
                "must be 1 to 255 characters",
            ));
        }
        let now = self.now_secs();
        let payout = self
            .write(move |tx| {
                let mut p = tx
                    .payout(&payout_id)?
                    .filter(|p| p.trader_id.as_deref() == Some(trader_id.as_str()))
                    .ok_or(EngineError::NotFound)?;
                if p.status == PayoutStatus::Success
                    && p.receipt.as_deref() == Some(receipt.as_str())
                {
                    return Ok(p);
                }
                if p.status != PayoutStatus::InProgress {
                    return Err(EngineError::Conflict(format!(
                        "the payout is {}",
                        p.status.as_str()
                    )));
                }
                p.receipt = Some(receipt);
                change_payout(tx, &mut p, PayoutStatus::Success, None, now)?;
                Ok(p)
            })
            .await?;
        self.wake_workers();
        Ok(payout)
    }

    /// A trader declines a payout: it goes back to the others.
    pub async fn decline_payout(
        &self,
        trader_id: String,
        payout_id: String,
    ) -> EngineResult<Payout> {
        let now = self.now_secs();
        let payout = self
            .write(move |tx| {
                let mut p = tx.payout(&payout_id)?.ok_or(EngineError::NotFound)?;
                let own = p.trader_id.as_deref() == Some(trader_id.as_str());
                match p.status {
                    PayoutStatus::InProgress if own => {
                        p.trader_id = None;
                        p.declined_by.push(trader_id);
                        change_payout(tx, &mut p, PayoutStatus::Pending, None, now)?;
                    }
                    PayoutStatus::Pending
                        if !p.declined_by.contains(&trader_id)
                            && !p.test_mode
                            && tx.cabinets_of_trader(&trader_id)?.iter().any(|c| {
                                c.active
                                    && !c.test_mode
                                    && c.method.eq_ignore_ascii_case(&p.method)
                                    && c.currency == p.currency
                            }) =>
                    {
                        p.declined_by.push(trader_id);
                        tx.update_payout(&p)?;
                    }
                    _ => return Err(EngineError::NotFound),
                }
                Ok(p)
            })
            .await?;
        self.wake_workers();
        Ok(payout)
    }

    /// Fails unfinished payouts past their deadline; their holds go back.
    pub async fn expire_due_payouts(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let due = tx.payouts_due(now, PASS_MAX)?;
            each_apart(
                tx,
                "payout deadlines",
                due,
                |p| p.id.clone(),
                |tx, mut p| change_payout(tx, &mut p, PayoutStatus::Failed, Some("deadline"), now),
            )
        })
        .await
    }

    /// The test executor: settles test payouts as their request asked.
    pub async fn apply_payout_test_outcomes(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let pending = tx.payouts_with_test_outcome(PASS_MAX)?;
            each_apart(
                tx,
                "test payouts",
                pending,
                |p| p.id.clone(),
                |tx, mut p| match p.test_outcome.take() {
                    Some(outcome) if p.status.can_become(outcome) => {
                        let reason = (outcome == PayoutStatus::Failed).then_some("test");
                        change_payout(tx, &mut p, outcome, reason, now)
                    }
                    _ => Ok(tx.update_payout(&p)?),
                },
            )
        })
        .await
    }
}

/// The payout method a cabinet's method serves: the spec's spelling of the
/// same name, case ignored (`mts` serves `MTS`).
fn payout_method(cabinet_method: &str) -> &str {
    payout::METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(cabinet_method))
        .copied()
        .unwrap_or(cabinet_method)
}
