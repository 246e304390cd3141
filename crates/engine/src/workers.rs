//! The background workers: callback delivery, expiry, and the test provider.
//! Each pass is bounded; passes repeat when woken or every poll interval.

use std::sync::Arc;
use std::time::Duration;

use kassa_domain::{InvoiceStatus, Resolution};
use tokio::sync::watch;

use crate::invoices::change_status;
use crate::sweep::each_apart;
use crate::{Engine, EngineResult};

/// Invoices handled in one pass of the expiry sweeper or the test provider.
const PASS_MAX: usize = 256;

impl Engine {
    /// Expires open invoices whose `expires` has passed. Returns how many.
    pub async fn expire_due_invoices(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let due = tx.invoices_due_to_expire(now, PASS_MAX)?;
            each_apart(
                tx,
                "invoice expiry",
                due,
                |i| i.id.clone(),
                |tx, mut invoice| {
                    change_status(
                        tx,
                        &mut invoice,
                        InvoiceStatus::Expired,
                        Resolution::Expired,
                        now,
                    )
                },
            )
        })
        .await
    }

    /// Plays the provider of the `test` service: applies the outcome the
    /// merchant asked for in `service_fields.status`.
    pub async fn apply_test_outcomes(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let pending = tx.invoices_with_test_outcome(PASS_MAX)?;
            each_apart(
                tx,
                "test provider",
                pending,
                |i| i.id.clone(),
                |tx, mut invoice| {
                    let Some(outcome) = invoice.test_outcome.take() else {
                        return Ok(());
                    };
                    if !invoice.can_become(outcome) {
                        return Ok(tx.update_invoice(&invoice)?);
                    }
                    let resolution = match outcome {
                        InvoiceStatus::ProcessFailed | InvoiceStatus::VerifyFailed => {
                            Resolution::Declined
                        }
                        InvoiceStatus::Terminated => Resolution::Terminated,
                        _ => Resolution::Ok,
                    };
                    change_status(tx, &mut invoice, outcome, resolution, now)
                },
            )
        })
        .await
    }

    /// One pass of every worker, for tests and tools that drive time by hand.
    /// Returns whether any found work.
    pub async fn run_workers_once(self: &Arc<Self>) -> bool {
        let swept = self.sweep_once().await;
        let delivered = self.deliver_once().await;
        swept || delivered
    }

    async fn sweep_once(&self) -> bool {
        let mut busy = false;
        let outcomes = self.apply_test_outcomes().await;
        let invoices = self.expire_due_invoices().await;
        let deals = self.expire_due_deals().await;
        // Deals that just expired may end a cabinet's run: judged at once.
        let deals_ended = matches!(deals, Ok(n) if n > 0);
        for (name, result) in [
            ("test provider", outcomes),
            ("expiry", invoices),
            ("deal deadlines", deals),
            ("cabinet health", self.health_pass(deals_ended).await),
            ("reserves", self.release_due_reserves().await),
            (
                "payout test executor",
                self.apply_payout_test_outcomes().await,
            ),
            ("payout deadlines", self.expire_due_payouts().await),
            (
                "refund test provider",
                self.apply_refund_test_outcomes().await,
            ),
        ] {
            match result {
                Ok(n) => busy |= n > 0,
                Err(e) => tracing::error!(worker = name, error = %e, "worker pass failed"),
            }
        }
        if busy {
            // The sweep owed callbacks.
            self.wake_callbacks.notify_one();
        }
        busy
    }

    async fn deliver_once(self: &Arc<Self>) -> bool {
        match self.deliver_due_callbacks().await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(worker = "callbacks", error = %e, "worker pass failed");
                false
            }
        }
    }

    /// Runs the workers until `stop` turns true: the sweeps and callback
    /// delivery each in a loop of its own.
    pub async fn run_workers(self: Arc<Self>, stop: watch::Receiver<bool>) {
        let sweeps = {
            let engine = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                engine
                    .clone()
                    .worker_loop(stop, &engine.wake_sweeps, || {
                        let engine = engine.clone();
                        async move { engine.sweep_once().await }
                    })
                    .await
            })
        };
        self.run_pipeline(stop).await;
        let _ = sweeps.await;
    }

    async fn worker_loop<F, Fut>(
        self: Arc<Self>,
        mut stop: watch::Receiver<bool>,
        wake: &tokio::sync::Notify,
        pass: F,
    ) where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let poll = Duration::from_millis(self.config.worker_poll_ms);
        loop {
            if *stop.borrow() {
                return;
            }
            if pass().await {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
