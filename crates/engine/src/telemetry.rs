//! The engine's metrics, through the `metrics` facade: the binary installs
//! the recorder (and so the exporter); without one every call is a no-op.
//!
//! A status change is counted only once its write job has committed. A write
//! job runs synchronously on one thread, so the changes it makes are noted in
//! a journal of that thread while it runs and handed back with its result;
//! [`crate::Engine`]'s `write` counts them once the store has answered that
//! the job committed. A savepoint rolled back (a sweep's item that failed)
//! drops the notes made inside it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Mutex;

use kassa_domain::payout::PayoutStatus;
use kassa_domain::{DealStatus, InvoiceStatus};

use crate::{Engine, EngineResult};

/// A state change a write job made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Invoice(InvoiceStatus, bool),
    Deal(DealStatus, bool),
    Payout(PayoutStatus, bool),
}

thread_local! {
    /// The changes of the write job running on this thread, if any.
    static JOURNAL: RefCell<Option<Vec<Change>>> = const { RefCell::new(None) };
}

/// Notes a change of the job running on this thread (none outside a job).
pub(crate) fn note(change: Change) {
    JOURNAL.with(|j| {
        if let Some(changes) = j.borrow_mut().as_mut() {
            changes.push(change);
        }
    });
}

/// How many changes are noted so far: where a savepoint begins.
pub(crate) fn mark() -> usize {
    JOURNAL.with(|j| j.borrow().as_ref().map_or(0, Vec::len))
}

/// Drops the changes noted since `mark`: their savepoint was rolled back.
pub(crate) fn forget_since(mark: usize) {
    JOURNAL.with(|j| {
        if let Some(changes) = j.borrow_mut().as_mut() {
            changes.truncate(mark);
        }
    });
}

/// Runs a write job's work with a journal, returning what it noted.
pub(crate) fn journaled<R>(work: impl FnOnce() -> R) -> (R, Vec<Change>) {
    /// Ends the journal even when the work panics (the store catches it).
    struct Ends;
    impl Drop for Ends {
        fn drop(&mut self) {
            JOURNAL.with(|j| j.borrow_mut().take());
        }
    }
    JOURNAL.with(|j| *j.borrow_mut() = Some(Vec::new()));
    let ends = Ends;
    let result = work();
    let changes = JOURNAL.with(|j| j.borrow_mut().take()).unwrap_or_default();
    drop(ends);
    (result, changes)
}

fn mode(test_mode: bool) -> &'static str {
    if test_mode {
        "test"
    } else {
        "live"
    }
}

/// Counts the changes of a job that committed.
pub(crate) fn committed(changes: &[Change]) {
    for change in changes {
        let (name, status, test_mode) = match *change {
            Change::Invoice(s, t) => ("kassa_invoice_status_changes_total", s.as_str(), t),
            Change::Deal(s, t) => ("kassa_deal_status_changes_total", s.as_str(), t),
            Change::Payout(s, t) => ("kassa_payout_status_changes_total", s.as_str(), t),
        };
        metrics::counter!(name, "status" => status, "mode" => mode(test_mode)).increment(1);
    }
}

/// A callback attempt's outcome.
pub(crate) fn delivery(outcome: &'static str) {
    metrics::counter!("kassa_callback_deliveries_total", "outcome" => outcome).increment(1);
}

/// A store call answered `Unavailable` (its own, or the engine's timeout).
pub(crate) fn unavailable(op: &'static str) {
    metrics::counter!("kassa_store_unavailable_total", "op" => op).increment(1);
}

/// A store call failed otherwise (a statement, a broken document).
pub(crate) fn store_error(op: &'static str) {
    metrics::counter!("kassa_store_errors_total", "op" => op).increment(1);
}

/// Traders whose collateral is reported at most (one label set each).
const COLLATERAL_GAUGES_MAX: usize = 1_000;

/// Label sets of the per-currency gauges set at the last scrape: one gone
/// since is set to zero rather than left at its last value.
static SEEN: Mutex<BTreeSet<(String, bool)>> = Mutex::new(BTreeSet::new());

impl Engine {
    /// Sets the gauges read from the database and this node: the callback
    /// backlog, open holds and deals, unmatched bank notifications, traders'
    /// collateral, the store's queue and pool. Called when metrics are scraped.
    pub async fn refresh_gauges(&self) -> EngineResult<()> {
        use metrics::gauge;
        if self.config.trader_collateral_required {
            self.refresh_collateral_gauges().await?;
        }
        let stats = self.store.stats();
        gauge!("kassa_store_write_queue_jobs").set(stats.write_queue as f64);
        gauge!("kassa_store_connections", "state" => "open").set(stats.connections_open as f64);
        gauge!("kassa_store_connections", "state" => "idle").set(stats.connections_idle as f64);
        gauge!("kassa_store_connections_max").set(stats.connections_max as f64);
        gauge!("kassa_store_connection_waiters").set(stats.connection_waiters as f64);

        let backlog = self.callback_backlog().await?;
        let c = backlog.counts;
        gauge!("kassa_callbacks_owed").set(c.owed as f64);
        gauge!("kassa_callbacks_due").set(c.due as f64);
        gauge!("kassa_callbacks_leased").set(c.leased as f64);
        gauge!("kassa_callbacks_failed").set(c.failed as f64);
        gauge!("kassa_callback_failing_hosts").set(backlog.waiting_hosts.len() as f64);
        gauge!("kassa_callbacks_queued_on_node").set(backlog.node.queued as f64);
        gauge!("kassa_callbacks_in_flight_on_node").set(backlog.node.in_flight as f64);
        gauge!("kassa_callback_open_circuits").set(backlog.node.open_circuits.len() as f64);

        let now = self.now_secs();
        let (open, unmatched) = self
            .read(move |tx| Ok((tx.open_p2p(now)?, tx.unmatched_notifications()?)))
            .await?;
        let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        let mut now_seen = BTreeSet::new();
        for o in &open {
            let labels = [
                ("currency", o.currency.clone()),
                ("mode", mode(o.test_mode).to_string()),
            ];
            gauge!("kassa_p2p_open_holds", &labels).set(o.holds as f64);
            gauge!("kassa_p2p_open_deals", &labels).set(o.deals as f64);
            now_seen.insert((o.currency.clone(), o.test_mode));
        }
        for (currency, test_mode) in seen.difference(&now_seen) {
            let labels = [
                ("currency", currency.clone()),
                ("mode", mode(*test_mode).to_string()),
            ];
            gauge!("kassa_p2p_open_holds", &labels).set(0.0);
            gauge!("kassa_p2p_open_deals", &labels).set(0.0);
        }
        *seen = now_seen;
        for test_mode in [false, true] {
            let count = unmatched
                .iter()
                .find(|(t, _)| *t == test_mode)
                .map_or(0, |(_, n)| *n);
            gauge!("kassa_p2p_unmatched_notifications", "mode" => mode(test_mode))
                .set(count as f64);
        }
        Ok(())
    }

    /// Each active trader's deposit and what it holds and owes, in units of
    /// the settlement currency (traders are never deleted, so no label set
    /// goes stale; one switched off keeps its last values).
    async fn refresh_collateral_gauges(&self) -> EngineResult<()> {
        use metrics::gauge;
        let settlement = self.config.settlement_currency;
        let now = self.now_secs();
        let standing = self
            .read(move |tx| {
                let mut out = Vec::new();
                for t in tx.traders()?.into_iter().filter(|t| t.active) {
                    if out.len() == COLLATERAL_GAUGES_MAX {
                        break;
                    }
                    let (e, _) = crate::p2p::exposure(tx, &t.id, t.test_mode, settlement, now)?;
                    out.push((t.id, t.test_mode, e));
                }
                Ok(out)
            })
            .await?;
        let unit = 10f64.powi(settlement.exponent() as i32);
        for (trader, test_mode, e) in standing {
            let labels = [("trader", trader), ("mode", mode(test_mode).to_string())];
            gauge!("kassa_trader_collateral_deposit", &labels).set(e.deposit_minor as f64 / unit);
            gauge!("kassa_trader_collateral_held", &labels).set(e.held_minor as f64 / unit);
            gauge!("kassa_trader_collateral_owed", &labels).set(e.owed_minor as f64 / unit);
        }
        Ok(())
    }
}

/// Names, units and help text of the engine's metrics, for the exporter.
pub fn describe() {
    use metrics::{describe_counter, Unit};
    describe_counter!(
        "kassa_invoice_status_changes_total",
        Unit::Count,
        "Invoices that entered a status (creation included), by status and mode, counted after commit."
    );
    describe_counter!(
        "kassa_deal_status_changes_total",
        Unit::Count,
        "P2P deals that entered a status (creation included), by status and mode, counted after commit."
    );
    describe_counter!(
        "kassa_payout_status_changes_total",
        Unit::Count,
        "Payouts that entered a status (creation included), by status and mode, counted after commit."
    );
    describe_counter!(
        "kassa_callback_deliveries_total",
        Unit::Count,
        "Callback attempts by outcome: delivered, failed (retried later), given_up (the last attempt failed)."
    );
    describe_counter!(
        "kassa_store_unavailable_total",
        Unit::Count,
        "Store calls answered 503: no connection, no answer within db_timeout_ms, the database down."
    );
    describe_counter!(
        "kassa_store_errors_total",
        Unit::Count,
        "Store calls that failed for another reason (a statement, a document that cannot be read)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_returns_its_changes_and_a_rolled_back_savepoint_drops_its_own() {
        let ((), changes) = journaled(|| {
            note(Change::Invoice(InvoiceStatus::ProcessPending, true));
            let at = mark();
            note(Change::Invoice(InvoiceStatus::Processed, true));
            forget_since(at);
            note(Change::Payout(PayoutStatus::Success, false));
        });
        assert_eq!(
            changes,
            vec![
                Change::Invoice(InvoiceStatus::ProcessPending, true),
                Change::Payout(PayoutStatus::Success, false),
            ]
        );
        // Outside a job nothing is kept.
        note(Change::Deal(DealStatus::Completed, false));
        assert_eq!(mark(), 0);
    }
}
