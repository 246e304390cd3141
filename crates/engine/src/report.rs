//! The merchant's daily statement: for one UTC day and one mode (test or
//! live books), per currency, the opening balances, every ledger transaction
//! that touched the merchant's accounts with its effect on each, and the
//! closing balances. Written as CSV; the columns are described in
//! `docs/ledger.md`.
//!
//! A pay-in whose fee took the whole amount posts nothing to the merchant's
//! accounts; it is listed all the same (with zero changes and its fee), found
//! through the day's postings to revenue.
//!
//! The statement is read from one snapshot of the store, and it checks
//! itself: the closing balances (opening plus the day's movements) must equal
//! the ledger's balances at the end of the day, or the report is refused.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kassa_domain::ledger::{book_key, Account, Transaction, TxnKind};
use kassa_domain::money::format_fixed;
use kassa_domain::Currency;
use kassa_store::StoreError;
use serde::Serialize;

use crate::{Engine, EngineError, EngineResult};

/// The CSV header line of the daily report.
pub const DAILY_HEADER: &str =
    "time,kind,reference,currency,available,pending_payouts,reserve,pending_refunds,fee,amount,transaction_id";

/// The length of a UTC day, in seconds.
const DAY_SECS: i64 = 86_400;

/// What a line of the report is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Balances at the start of the day (00:00:00 UTC).
    OpeningBalance,
    /// A ledger transaction of the day.
    Transaction(TxnKind),
    /// Balances at the end of the day (00:00:00 UTC of the next day).
    ClosingBalance,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::OpeningBalance => "opening_balance",
            LineKind::Transaction(kind) => kind.as_str(),
            LineKind::ClosingBalance => "closing_balance",
        }
    }
}

/// One line of the report. On a balance line the three amounts are balances;
/// on a transaction line they are the changes the transaction made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportLine {
    pub at_secs: i64,
    pub kind: LineKind,
    /// The invoice, payout or reserve the transaction belongs to.
    pub reference: String,
    pub currency: Currency,
    pub available_minor: i64,
    pub pending_payouts_minor: i64,
    pub reserve_minor: i64,
    pub pending_refunds_minor: i64,
    /// The platform's fee the transaction charged (pay-ins and payouts done).
    pub fee_minor: Option<i64>,
    /// The transaction's gross amount (see [`gross_minor`]).
    pub amount_minor: Option<i64>,
    pub transaction_id: String,
}

/// A merchant's statement of one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    pub merchant_id: String,
    pub test_mode: bool,
    pub date: NaiveDate,
    pub lines: Vec<ReportLine>,
}

/// The balances of a merchant in one currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Balances {
    available: i64,
    pending_payouts: i64,
    reserve: i64,
    pending_refunds: i64,
}

/// `YYYY-MM-DD`, strictly: four-digit year, two-digit month and day, a date
/// that exists.
pub fn parse_report_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7) == (*c == b'-') && (*c == b'-' || c.is_ascii_digit()));
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The start of a UTC day in Unix seconds.
pub fn day_start_secs(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
}

/// ISO 8601 in UTC, to the second: `2024-05-01T12:00:00Z`.
fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A transaction's effect on the merchant's three accounts.
fn deltas(txn: &Transaction, merchant_id: &str) -> Balances {
    let mut d = Balances::default();
    for p in &txn.postings {
        match &p.account {
            Account::MerchantAvailable(m) if m == merchant_id => d.available += p.amount_minor,
            Account::MerchantPendingPayouts(m) if m == merchant_id => {
                d.pending_payouts += p.amount_minor
            }
            Account::MerchantReserve(m) if m == merchant_id => d.reserve += p.amount_minor,
            Account::MerchantPendingRefunds(m) if m == merchant_id => {
                d.pending_refunds += p.amount_minor
            }
            _ => {}
        }
    }
    d
}

/// The gross amount of a transaction: for money that entered or left (a
/// pay-in, a payout done) what crossed the outside account (the world or a
/// trader), so the fee not included for a payout; for moves between the
/// merchant's own accounts (holds, releases) the sum moved.
pub fn gross_minor(txn: &Transaction, merchant_id: &str) -> i64 {
    let outside: Vec<i64> = txn
        .postings
        .iter()
        .filter(|p| matches!(p.account, Account::World | Account::TraderSettlement(_)))
        .map(|p| p.amount_minor.abs())
        .collect();
    if !outside.is_empty() {
        return outside.iter().sum();
    }
    let own = |a: &Account| match a {
        Account::MerchantAvailable(m)
        | Account::MerchantPendingPayouts(m)
        | Account::MerchantReserve(m)
        | Account::MerchantPendingRefunds(m) => m == merchant_id,
        _ => false,
    };
    txn.postings
        .iter()
        .filter(|p| own(&p.account) && p.amount_minor > 0)
        .map(|p| p.amount_minor)
        .sum()
}

/// The fee a transaction charged: its posting to revenue, where fees apply.
fn fee_minor(txn: &Transaction) -> Option<i64> {
    match txn.kind {
        // A refund's hold gives the fee back (negative), its release takes
        // it again.
        TxnKind::PayIn | TxnKind::PayoutDone | TxnKind::RefundHold | TxnKind::RefundRelease => {
            Some(
                txn.postings
                    .iter()
                    .filter(|p| p.account == Account::PlatformRevenue)
                    .map(|p| p.amount_minor)
                    .sum(),
            )
        }
        _ => None,
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl DailyReport {
    /// The report as CSV: the header line, then one line per [`ReportLine`],
    /// each ending with `\n`. Amounts are decimals in the currency's units
    /// with every decimal place (`-12.50`).
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(64 * (self.lines.len() + 1));
        out.push_str(DAILY_HEADER);
        out.push('\n');
        for l in &self.lines {
            let e = l.currency.exponent();
            let money = |m: Option<i64>| m.map(|m| format_fixed(m, e)).unwrap_or_default();
            let fields = [
                iso(l.at_secs),
                l.kind.as_str().to_string(),
                l.reference.clone(),
                l.currency.code().to_string(),
                format_fixed(l.available_minor, e),
                format_fixed(l.pending_payouts_minor, e),
                format_fixed(l.reserve_minor, e),
                format_fixed(l.pending_refunds_minor, e),
                money(l.fee_minor),
                money(l.amount_minor),
                l.transaction_id.clone(),
            ];
            let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }
}

impl Engine {
    /// The merchant's statement of the UTC day `date` in its test or live
    /// books, as CSV (see [`DailyReport::to_csv`]).
    pub async fn daily_report(
        &self,
        merchant_id: String,
        test_mode: bool,
        date: NaiveDate,
    ) -> EngineResult<String> {
        Ok(self
            .daily_report_lines(merchant_id, test_mode, date)
            .await?
            .to_csv())
    }

    /// The statement of the UTC day `date`, line by line: per currency (in
    /// code order) that has a balance at the start of the day or moved
    /// during it, an opening line, the day's transactions in the order they
    /// were booked, and a closing line.
    pub async fn daily_report_lines(
        &self,
        merchant_id: String,
        test_mode: bool,
        date: NaiveDate,
    ) -> EngineResult<DailyReport> {
        let from = day_start_secs(date);
        let to = from + DAY_SECS;
        self.read(move |tx| {
            let prefix = book_key(test_mode, &Account::MerchantAvailable(merchant_id.clone()));
            let prefix = prefix.trim_end_matches("available").to_string();
            let mut txns = tx.transactions_touching(&prefix, from, to)?;
            // A pay-in whose fee took all of it moved none of the merchant's
            // money and posted nothing to its accounts; it is still the
            // merchant's pay-in, and its fee belongs in the statement. Found
            // among the day's postings to revenue, by its invoice.
            let revenue = book_key(test_mode, &Account::PlatformRevenue);
            let mut fee_only = Vec::new();
            for t in tx.transactions_touching(&revenue, from, to)? {
                let any_merchant = t.postings.iter().any(|p| {
                    matches!(
                        p.account,
                        Account::MerchantAvailable(_)
                            | Account::MerchantPendingPayouts(_)
                            | Account::MerchantReserve(_)
                            | Account::MerchantPendingRefunds(_)
                    )
                });
                if t.kind == TxnKind::PayIn
                    && !any_merchant
                    && tx
                        .invoice(&t.reference)?
                        .is_some_and(|i| i.merchant_id == merchant_id)
                {
                    fee_only.push(t);
                }
            }
            if !fee_only.is_empty() {
                txns.extend(fee_only);
                // Stable: the store's order within a second is kept.
                txns.sort_by_key(|t| t.at_secs);
            }
            // Balances at the start and the end of the day, per currency.
            let mut opening: BTreeMap<String, Balances> = BTreeMap::new();
            let mut ending: BTreeMap<String, Balances> = BTreeMap::new();
            for (account, currency, _) in tx.balances(&prefix)? {
                let before = tx.balance(&account, &currency, Some(from))?;
                let after = tx.balance(&account, &currency, Some(to))?;
                for (map, value) in [(&mut opening, before), (&mut ending, after)] {
                    let b = map.entry(currency.clone()).or_default();
                    match account.rsplit(':').next() {
                        Some("available") => b.available = value,
                        Some("pending_payouts") => b.pending_payouts = value,
                        Some("reserve") => b.reserve = value,
                        Some("pending_refunds") => b.pending_refunds = value,
                        _ => {}
                    }
                }
            }
            let mut codes: Vec<String> = opening
                .iter()
                .filter(|(_, b)| **b != Balances::default())
                .map(|(c, _)| c.clone())
                .chain(txns.iter().map(|t| t.currency.code().to_string()))
                .collect();
            codes.sort();
            codes.dedup();
            let mut lines = Vec::new();
            for code in codes {
                let Some(currency) = Currency::from_code(&code) else {
                    continue;
                };
                let open = opening.get(&code).copied().unwrap_or_default();
                let balance_line = |kind, at_secs, b: Balances| ReportLine {
                    at_secs,
                    kind,
                    reference: String::new(),
                    currency,
                    available_minor: b.available,
                    pending_payouts_minor: b.pending_payouts,
                    reserve_minor: b.reserve,
                    pending_refunds_minor: b.pending_refunds,
                    fee_minor: None,
                    amount_minor: None,
                    transaction_id: String::new(),
                };
                lines.push(balance_line(LineKind::OpeningBalance, from, open));
                let mut close = open;
                for t in txns.iter().filter(|t| t.currency == currency) {
                    let d = deltas(t, &merchant_id);
                    close.available += d.available;
                    close.pending_payouts += d.pending_payouts;
                    close.reserve += d.reserve;
                    close.pending_refunds += d.pending_refunds;
                    lines.push(ReportLine {
                        at_secs: t.at_secs,
                        kind: LineKind::Transaction(t.kind),
                        reference: t.reference.clone(),
                        currency,
                        available_minor: d.available,
                        pending_payouts_minor: d.pending_payouts,
                        reserve_minor: d.reserve,
                        pending_refunds_minor: d.pending_refunds,
                        fee_minor: fee_minor(t),
                        amount_minor: Some(gross_minor(t, &merchant_id)),
                        transaction_id: t.id.clone(),
                    });
                }
                let end = ending.get(&code).copied().unwrap_or_default();
                if close != end {
                    tracing::error!(
                        merchant_id, test_mode, %date, currency = code,
                        computed = ?close, ledger = ?end,
                        "daily report: opening plus movements differs from the ledger"
                    );
                    return Err(EngineError::Store(StoreError::Backend(format!(
                        "the ledger of {merchant_id} in {code} on {date} does not add up"
                    ))));
                }
                lines.push(balance_line(LineKind::ClosingBalance, to, close));
            }
            Ok(DailyReport {
                merchant_id,
                test_mode,
                date,
                lines,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_report_date("2024-05-01"),
            NaiveDate::from_ymd_opt(2024, 5, 1)
        );
        for bad in [
            "",
            "2024-5-1",
            "2024-02-30",
            "2024/05/01",
            "20240501",
            "2024-05-01T",
            " 2024-05-01",
            "+202-05-01",
            "2024-13-01",
            "abcd-ef-gh",
        ] {
            assert_eq!(parse_report_date(bad), None, "{bad}");
        }
        assert_eq!(
            day_start_secs(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            86_400
        );
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("inv_1"), "inv_1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn gross_and_fee_per_kind() {
        use kassa_domain::ledger;
        let usd = Currency::from_code("USD").unwrap();
        let txn = |kind, postings| {
            Transaction::new("t".into(), false, kind, usd, "r".into(), 0, postings)
        };
        let pay_in = txn(
            TxnKind::PayIn,
            ledger::pay_in("m", Account::World, 10_000, 250, 975),
        );
        assert_eq!(gross_minor(&pay_in, "m"), 10_000);
        assert_eq!(fee_minor(&pay_in), Some(250));
        let d = deltas(&pay_in, "m");
        assert_eq!((d.available, d.pending_payouts, d.reserve), (8_775, 0, 975));
        let done = txn(
            TxnKind::PayoutDone,
            ledger::payout_done("m", Account::TraderSettlement("t".into()), 5_000, 100),
        );
        assert_eq!(gross_minor(&done, "m"), 5_000);
        assert_eq!(fee_minor(&done), Some(100));
        let hold = txn(TxnKind::PayoutHold, ledger::payout_hold("m", 5_100));
        assert_eq!(gross_minor(&hold, "m"), 5_100);
        assert_eq!(fee_minor(&hold), None);
        let free = txn(
            TxnKind::PayIn,
            ledger::pay_in("m", Account::World, 100, 0, 0),
        );
        assert_eq!(fee_minor(&free), Some(0));
    }
}
