//! Deals: a hold turned into a payment, moved on with its invoice, and what
//! settles one (a trader's confirmation, a bank notification, a dispute
//! decided, the deadline).

use crate::telemetry::{self, Change};
use kassa_domain::ids::new_id;
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::{
    Actor, BankNotification, Cabinet, Deal, DealStatus, Hold, Invoice, InvoiceStatus, Resolution,
    Trader,
};
use kassa_store::Tx;

use super::holds::{take_amount, HoldSpec, Pool};
use super::{
    BookAnswer, DealTarget, NewNotification, NotificationOutcome, ID_MAX, LIST_MAX, TEXT_MAX,
};
use crate::invoices::{change_status, change_status_paid};
use crate::sweep::each_apart;
use crate::{Engine, EngineError, EngineResult};

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
        received_amount_minor: None,
        customer_reason: None,
        customer_reason_text: None,
        evidence: Vec::new(),
    };
    hold.expires_at_secs = None;
    hold.deal_id = Some(deal.id.clone());
    tx.update_hold(&hold)?;
    tx.insert_deal(&deal)?;
    telemetry::note(Change::Deal(deal.status, deal.test_mode));
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
    telemetry::note(Change::Deal(next, deal.test_mode));
    if was_open {
        tx.release_hold(&deal.hold_id)?;
    }
    let mut invoice = tx.invoice(&deal.invoice_id)?.ok_or(EngineError::NotFound)?;
    let (status, resolution) = match next {
        DealStatus::TransferWaiting => unreachable!("no deal returns to waiting"),
        // Less than the deal's amount arrived: the invoice is paid in part.
        DealStatus::Completed
            if deal
                .received_amount_minor
                .is_some_and(|r| r < invoice.amount_minor) =>
        {
            (InvoiceStatus::PartiallyProcessed, Resolution::Ok)
        }
        DealStatus::Completed => (InvoiceStatus::Processed, Resolution::Ok),
        DealStatus::Canceled => (InvoiceStatus::Expired, Resolution::Expired),
        DealStatus::Disputed => (InvoiceStatus::Processing, Resolution::Ok),
    };
    if invoice.status == InvoiceStatus::Expired && status == InvoiceStatus::Processing {
        // A dispute after the deadline reopens the P2P invoice until it is resolved.
        invoice.reopen_for_dispute(now_secs);
        tx.update_invoice(&invoice)?;
        telemetry::note(Change::Invoice(invoice.status, invoice.test_mode));
        crate::callbacks::owe(tx, &invoice, now_secs)?;
    } else if invoice.status != status && invoice.can_become(status) {
        match deal
            .received_amount_minor
            .filter(|_| next == DealStatus::Completed)
        {
            Some(paid) => change_status_paid(tx, &mut invoice, status, paid, now_secs)?,
            None => change_status(tx, &mut invoice, status, resolution, now_secs)?,
        }
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

/// Keeps a bank notification of money on `cabinet` and completes the open
/// deal of that (cabinet, amount), if there is one of the cabinet's mode.
/// Every way money is reported (a structured notification, a bank message)
/// settles through here, in the write that keeps the report.
pub(crate) fn settle_notification(
    tx: &mut dyn Tx,
    cabinet: &Cabinet,
    mut notification: BankNotification,
    now_secs: i64,
) -> EngineResult<BankNotification> {
    // A deal of the other mode is never settled by this cabinet's money
    // (test and live never meet); the notification waits for review. The
    // invoice's mode is asked, not the deal's: a deal made before deals had
    // a mode has none of its own.
    let mut open = tx.open_deal_at(&cabinet.id, notification.amount_minor)?;
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
            now_secs,
        )?;
        notification.deal_id = Some(deal.id);
    }
    tx.insert_notification(&notification)?;
    Ok(notification)
}

/// Completes a deal within the actor's reach whose money arrived, in the
/// write `tx`; a completed one is answered as it is.
pub(crate) fn confirm_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    deal_id: &str,
    now_secs: i64,
) -> EngineResult<Deal> {
    let mut deal = tx
        .deal(deal_id)?
        .filter(|d| actor.reaches(&d.trader_id))
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
    let by = actor.settled_by().to_string();
    change_deal(tx, &mut deal, DealStatus::Completed, Some(by), now_secs)?;
    Ok(deal)
}

/// Resolves a disputed deal within the actor's reach, in the write `tx`.
pub(crate) fn resolve_in(
    tx: &mut dyn Tx,
    actor: &Actor,
    deal_id: &str,
    complete: bool,
    now_secs: i64,
) -> EngineResult<Deal> {
    let mut deal = tx
        .deal(deal_id)?
        .filter(|d| actor.reaches(&d.trader_id))
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
    change_deal(
        tx,
        &mut deal,
        next,
        Some(actor.settled_by().to_string()),
        now_secs,
    )?;
    Ok(deal)
}

impl Engine {
    /// The trader of a deal (or the operator) confirms that its money
    /// arrived.
    pub async fn confirm_deal(
        &self,
        actor: impl Into<Actor>,
        deal_id: String,
    ) -> EngineResult<Deal> {
        let now = self.now_secs();
        let actor = actor.into();
        let deal = self
            .write(move |tx| confirm_in(tx, &actor, &deal_id, now))
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// Resolves a dispute: the money arrived (`complete`) or it did not.
    pub async fn resolve_dispute(
        &self,
        actor: impl Into<Actor>,
        deal_id: String,
        complete: bool,
    ) -> EngineResult<Deal> {
        let now = self.now_secs();
        let actor = actor.into();
        let deal = self
            .write(move |tx| resolve_in(tx, &actor, &deal_id, complete, now))
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
                let notification = BankNotification {
                    id: new_id("bnt"),
                    trader_id: trader_id.clone(),
                    external_id: new.external_id,
                    cabinet_id: cabinet.id.clone(),
                    amount_minor,
                    text: new.text,
                    received_at_secs: new.received_at_secs,
                    created_at_secs: now,
                    deal_id: None,
                    matched_by: None,
                };
                let notification = settle_notification(tx, &cabinet, notification, now)?;
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

    /// The bank notifications within the actor's reach, newest first.
    pub async fn notifications(
        &self,
        actor: impl Into<Actor>,
        unmatched_only: bool,
    ) -> EngineResult<Vec<BankNotification>> {
        let actor = actor.into();
        self.read(move |tx| Ok(tx.notifications(actor.trader_id(), unmatched_only, LIST_MAX)?))
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
