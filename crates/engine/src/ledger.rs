//! The books: every movement of money posted as a balanced transaction in the
//! same store transaction as the change that caused it.

use kassa_domain::ids::new_id;
use kassa_domain::ledger::{self, book_key, Account, Posting, Transaction, TxnKind};
use kassa_domain::{Currency, Invoice};
use kassa_store::Tx;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::sweep::each_apart;
use crate::{Engine, EngineError, EngineResult};

/// Reserves released in one pass of the worker.
const PASS_MAX: usize = 256;

/// Posts a balanced transaction; fails with `InsufficientFunds` (and the
/// caller's job rolls back) when an account that may never go negative would.
pub(crate) fn post(
    tx: &mut dyn Tx,
    test_mode: bool,
    kind: TxnKind,
    currency: Currency,
    reference: &str,
    now_secs: i64,
    postings: Vec<Posting>,
) -> EngineResult<Transaction> {
    let txn = Transaction::new(
        new_id("txn"),
        test_mode,
        kind,
        currency,
        reference.to_string(),
        now_secs,
        postings,
    );
    // Accounts that must not go negative are locked (in a fixed order, so
    // that two transactions never wait on each other) before they are
    // posted to and checked: the check then holds across nodes.
    let mut guarded: Vec<String> = txn
        .postings
        .iter()
        .filter(|p| p.amount_minor < 0 && p.account.never_negative())
        .map(|p| format!("{}:{}", txn.account_key(&p.account), currency.code()))
        .collect();
    guarded.sort();
    guarded.dedup();
    for key in &guarded {
        tx.lock_account(key)?;
    }
    tx.insert_transaction(&txn)?;
    for p in txn
        .postings
        .iter()
        .filter(|p| p.amount_minor < 0 && p.account.never_negative())
    {
        let balance = tx.balance(&txn.account_key(&p.account), currency.code(), None)?;
        if balance < 0 {
            return Err(EngineError::InsufficientFunds);
        }
    }
    Ok(txn)
}

/// A reserve held back from a pay-in, released at `release_at_secs`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Reserve {
    merchant_id: String,
    test_mode: bool,
    currency: Currency,
    amount_minor: i64,
    invoice_id: String,
    release_at_secs: i64,
}

/// Books a successful pay-in: in from the world (or the trader whose cabinet
/// received it), the fee to revenue, the deposit to the merchant less the
/// reserve share, which is held until the service's reserve lifetime ends.
pub(crate) fn post_pay_in(tx: &mut dyn Tx, invoice: &Invoice, now_secs: i64) -> EngineResult<()> {
    let amount = invoice
        .processed_amount_minor
        .expect("a paid invoice has its processed amount");
    let fee = invoice.processed_fee_minor.unwrap_or(0);
    let rule = tx
        .service(&invoice.service)?
        .map(|s| s.reserve)
        .unwrap_or_default();
    let reserve = ledger::reserve_share(amount - fee, rule.rate_ppm);
    let source = match &invoice.deal_id {
        Some(id) => match tx.deal(id)? {
            Some(deal) => Account::TraderSettlement(deal.trader_id),
            None => Account::World,
        },
        None => Account::World,
    };
    let postings = ledger::pay_in(&invoice.merchant_id, source, amount, fee, reserve);
    post(
        tx,
        invoice.test_mode,
        TxnKind::PayIn,
        invoice.currency,
        &invoice.id,
        now_secs,
        postings,
    )?;
    if reserve > 0 {
        let r = Reserve {
            merchant_id: invoice.merchant_id.clone(),
            test_mode: invoice.test_mode,
            currency: invoice.currency,
            amount_minor: reserve,
            invoice_id: invoice.id.clone(),
            release_at_secs: now_secs + rule.lifetime_secs,
        };
        let doc = serde_json::to_value(&r).expect("serializes");
        tx.insert_reserve(&new_id("rsv"), &r.merchant_id, r.release_at_secs, &doc)?;
    }
    Ok(())
}

/// A merchant's money in one currency and mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub currency: Currency,
    pub test_mode: bool,
    pub available_minor: i64,
    pub pending_payouts_minor: i64,
    /// Refunds asked for and not yet settled.
    pub pending_refunds_minor: i64,
    pub reserve_minor: i64,
}

/// Sums of every account, per mode and currency: the books balance when each
/// is zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerTotals {
    pub per_currency: Vec<(bool, String, i64)>,
    /// Accounts that may never be negative and are.
    pub negative: Vec<(String, String, i64)>,
}

/// A hand adjustment: a non-zero amount within limits and a reason.
pub(crate) fn check_adjustment(amount_minor: i64, reason: &str) -> EngineResult<()> {
    if amount_minor == 0 || amount_minor.abs() > kassa_domain::money::MINOR_MAX {
        return Err(EngineError::invalid(
            "amount",
            "must be non-zero and within limits",
        ));
    }
    if reason.trim().is_empty() || reason.len() > 255 {
        return Err(EngineError::invalid(
            "reason",
            "must be 1 to 255 characters",
        ));
    }
    Ok(())
}

/// Posts a checked adjustment to a merchant's available balance; a debit
/// the balance cannot cover is refused by [`post`] and changes nothing.
pub(crate) fn adjust_in(
    tx: &mut dyn Tx,
    merchant_id: &str,
    test_mode: bool,
    currency: Currency,
    amount_minor: i64,
    reason: &str,
    now_secs: i64,
) -> EngineResult<()> {
    tx.merchant(merchant_id)?.ok_or(EngineError::NotFound)?;
    let reference = format!("adjustment:{}", reason.trim());
    let postings = ledger::adjustment(merchant_id, amount_minor);
    post(
        tx,
        test_mode,
        TxnKind::Adjustment,
        currency,
        &reference,
        now_secs,
        postings,
    )?;
    Ok(())
}

impl Engine {
    /// Releases the reserves whose lifetime has ended. Returns how many.
    pub async fn release_due_reserves(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let due = tx.due_reserves(now, PASS_MAX)?;
            each_apart(
                tx,
                "reserves",
                due,
                |(id, _)| id.clone(),
                |tx, (id, doc)| {
                    let r: Reserve = serde_json::from_value(doc)
                        .map_err(|e| kassa_store::StoreError::Backend(e.to_string()))?;
                    tx.mark_reserve_released(&id)?;
                    let postings = ledger::reserve_release(&r.merchant_id, r.amount_minor);
                    post(
                        tx,
                        r.test_mode,
                        TxnKind::ReserveRelease,
                        r.currency,
                        &id,
                        now,
                        postings,
                    )
                    .map(drop)
                },
            )
        })
        .await
    }

    /// The operator credits (or, with a negative amount, debits) a merchant's
    /// available balance by hand: a top-up from outside, or a correction. A
    /// debit that the balance cannot cover changes nothing.
    pub async fn adjust_balance(
        &self,
        merchant_id: String,
        test_mode: bool,
        currency: Currency,
        amount_minor: i64,
        reason: String,
    ) -> EngineResult<()> {
        check_adjustment(amount_minor, &reason)?;
        let now = self.now_secs();
        self.write(move |tx| {
            adjust_in(
                tx,
                &merchant_id,
                test_mode,
                currency,
                amount_minor,
                &reason,
                now,
            )
        })
        .await
    }

    /// A merchant's balances in every currency it has money in.
    pub async fn balances(
        &self,
        merchant_id: String,
        test_mode: bool,
    ) -> EngineResult<Vec<Balance>> {
        self.read(move |tx| {
            let prefix = book_key(test_mode, &Account::MerchantAvailable(merchant_id.clone()));
            let prefix = prefix.trim_end_matches("available").to_string();
            let mut out: Vec<Balance> = Vec::new();
            for (account, currency, sum) in tx.balances(&prefix)? {
                let Some(currency) = Currency::from_code(&currency) else {
                    continue;
                };
                let index = match out.iter().position(|b| b.currency == currency) {
                    Some(i) => i,
                    None => {
                        out.push(Balance {
                            currency,
                            test_mode,
                            available_minor: 0,
                            pending_payouts_minor: 0,
                            pending_refunds_minor: 0,
                            reserve_minor: 0,
                        });
                        out.len() - 1
                    }
                };
                let b = &mut out[index];
                match account.rsplit(':').next() {
                    Some("available") => b.available_minor = sum,
                    Some("pending_payouts") => b.pending_payouts_minor = sum,
                    Some("pending_refunds") => b.pending_refunds_minor = sum,
                    Some("reserve") => b.reserve_minor = sum,
                    _ => {}
                }
            }
            Ok(out)
        })
        .await
    }

    /// The books' totals, for audits and the invariant tests.
    pub async fn ledger_totals(&self) -> EngineResult<LedgerTotals> {
        self.read(|tx| {
            let mut per_currency: Vec<(bool, String, i64)> = Vec::new();
            let mut negative = Vec::new();
            for (account, currency, sum) in tx.balances("")? {
                let test_mode = account.starts_with("test:");
                let key = account.strip_prefix("test:").unwrap_or(&account);
                if Account::parse(key).is_some_and(|a| a.never_negative()) && sum < 0 {
                    negative.push((account.clone(), currency.clone(), sum));
                }
                match per_currency
                    .iter_mut()
                    .find(|(m, c, _)| *m == test_mode && *c == currency)
                {
                    Some(entry) => entry.2 += sum,
                    None => per_currency.push((test_mode, currency, sum)),
                }
            }
            Ok(LedgerTotals {
                per_currency,
                negative,
            })
        })
        .await
    }

    /// Every ledger transaction touching a merchant's accounts in `[from, to)`,
    /// with the opening balances at `from`, for the daily report.
    pub async fn merchant_ledger(
        &self,
        merchant_id: String,
        test_mode: bool,
        from_secs: i64,
        to_secs: i64,
    ) -> EngineResult<(Vec<Transaction>, Vec<(String, String, i64)>)> {
        self.read(move |tx| {
            let prefix = book_key(test_mode, &Account::MerchantAvailable(merchant_id.clone()));
            let prefix = prefix.trim_end_matches("available").to_string();
            let txns = tx.transactions_touching(&prefix, from_secs, to_secs)?;
            let mut opening = Vec::new();
            for (account, currency, _) in tx.balances(&prefix)? {
                let before = tx.balance(&account, &currency, Some(from_secs))?;
                opening.push((account, currency, before));
            }
            Ok((txns, opening))
        })
        .await
    }
}

/// A JSON view of a balance for faces that have no shape of their own.
pub fn balance_json(b: &Balance) -> serde_json::Value {
    let e = b.currency.exponent();
    let f = |m| kassa_domain::money::format_fixed(m, e);
    json!({
        "currency": b.currency.code(),
        "available": f(b.available_minor),
        "pending_payouts": f(b.pending_payouts_minor),
        "pending_refunds": f(b.pending_refunds_minor),
        "reserve": f(b.reserve_minor),
        "test_mode": b.test_mode,
    })
}
