//! The operator console's rules: who may change things (an operator user
//! whose role is admin, as its row says inside the write), the audit entry
//! every change writes in its own transaction, the hand matching of a bank
//! notification to a deal, and the listings over every trader.

use kassa_domain::ids::new_id;
use kassa_domain::payout::Payout;
use kassa_domain::{Actor, AuditEntry, BankNotification, Cabinet, Deal, DealStatus, Merchant};
use kassa_store::Tx;

use crate::merchants::{change_in, MerchantChange};
use crate::p2p::deals::{change_deal, confirm_in, resolve_in};
use crate::p2p::traders::switch_cabinet;
use crate::p2p::{day_start, LIST_MAX};
use crate::{Engine, EngineError, EngineResult};

/// How many audit entries a page shows.
pub const AUDIT_MAX: usize = 500;

/// A cabinet with what the console shows beside it.
#[derive(Clone, Debug)]
pub struct CabinetOverview {
    pub cabinet: Cabinet,
    pub open_deals: u32,
    /// Deals made since midnight UTC, cancelled ones aside, in minor units.
    pub turnover_today_minor: i64,
}

/// What one change records: the action, its target and a short note.
pub(crate) struct Change {
    pub action: &'static str,
    pub target: String,
    pub detail: String,
}

/// The operator user `user_id` as its row is now, refused unless it may
/// change things; checked in the write, so a role taken away counts at once.
fn authorize(tx: &mut dyn Tx, user_id: &str) -> EngineResult<kassa_domain::WebUser> {
    tx.web_user(user_id)?
        .filter(|u| u.may_change())
        .ok_or_else(|| EngineError::Forbidden("this user may only read".into()))
}

fn record(
    tx: &mut dyn Tx,
    user: &kassa_domain::WebUser,
    change: Change,
    now_secs: i64,
) -> EngineResult<()> {
    tx.insert_audit(&AuditEntry {
        id: new_id("aud"),
        at_secs: now_secs,
        user_id: user.id.clone(),
        email: user.email.clone(),
        action: change.action.to_string(),
        target: change.target,
        detail: change.detail,
    })?;
    Ok(())
}

impl Engine {
    /// Runs `work` in a write as the operator user `user_id`, refused before
    /// anything is done unless it may change things, and records what
    /// `work` says it did in the audit log of the same transaction.
    pub(crate) async fn audited<T, F>(&self, user_id: &str, work: F) -> EngineResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Tx, i64) -> EngineResult<(T, Change)> + Send + 'static,
    {
        let now = self.now_secs();
        let user_id = user_id.to_string();
        self.write(move |tx| {
            let user = authorize(tx, &user_id)?;
            let (out, change) = work(tx, now)?;
            record(tx, &user, change, now)?;
            Ok(out)
        })
        .await
    }

    /// A merchant's settings changed from the console (each checked first).
    pub async fn console_change_merchant(
        &self,
        user_id: &str,
        merchant_id: String,
        change: MerchantChange,
        detail: String,
    ) -> EngineResult<Merchant> {
        let apply = self.checked_change(change)?;
        let merchant = self
            .audited(user_id, move |tx, _| {
                let m = change_in(tx, &merchant_id, apply)?;
                let change = Change {
                    action: "merchant.settings",
                    target: merchant_id,
                    detail,
                };
                Ok((m, change))
            })
            .await?;
        self.merchant_changed();
        Ok(merchant)
    }

    /// A cabinet switched on or off from the console, as the operator.
    pub async fn console_set_cabinet_active(
        &self,
        user_id: &str,
        cabinet_id: String,
        active: bool,
    ) -> EngineResult<Cabinet> {
        let cabinet = self
            .audited(user_id, move |tx, now| {
                let c = switch_cabinet(tx, &Actor::Operator, &cabinet_id, active, now)?;
                let change = Change {
                    action: if active { "cabinet.on" } else { "cabinet.off" },
                    target: cabinet_id,
                    detail: format!("{} {}", c.bank_name, c.method),
                };
                Ok((c, change))
            })
            .await?;
        self.cabinets_changed();
        Ok(cabinet)
    }

    /// A dispute resolved from the console, as the operator.
    pub async fn console_resolve_dispute(
        &self,
        user_id: &str,
        deal_id: String,
        complete: bool,
    ) -> EngineResult<Deal> {
        let deal = self
            .audited(user_id, move |tx, now| {
                let d = resolve_in(tx, &Actor::Operator, &deal_id, complete, now)?;
                let change = Change {
                    action: "deal.resolve",
                    target: deal_id,
                    detail: d.status.as_str().to_string(),
                };
                Ok((d, change))
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// An open deal completed from the console, as the operator (the money
    /// arrived, seen elsewhere than in a notification). Only an open deal:
    /// a second click is refused rather than recorded twice.
    pub async fn console_confirm_deal(&self, user_id: &str, deal_id: String) -> EngineResult<Deal> {
        let deal = self
            .audited(user_id, move |tx, now| {
                let status = tx.deal(&deal_id)?.ok_or(EngineError::NotFound)?.status;
                if !status.is_open() {
                    return Err(EngineError::Conflict(format!(
                        "the deal is {}, not open",
                        status.as_str()
                    )));
                }
                let d = confirm_in(tx, &Actor::Operator, &deal_id, now)?;
                let change = Change {
                    action: "deal.confirm",
                    target: deal_id,
                    detail: d.status.as_str().to_string(),
                };
                Ok((d, change))
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// Settles an open deal with a bank notification that matched none, by
    /// an operator user's hand: the deal completes, the notification names
    /// it and who matched it. Refused when the notification is matched
    /// already, the deal is not open, they are of different traders or
    /// modes, or the amounts differ and `amount_confirmed` (the operator
    /// saw that the deal's amount was received) is not given.
    pub async fn match_notification(
        &self,
        user_id: &str,
        notification_id: String,
        deal_id: String,
        amount_confirmed: bool,
    ) -> EngineResult<Deal> {
        let by = user_id.to_string();
        let deal = self
            .audited(user_id, move |tx, now| {
                // Deals are taken before what hangs on them, as every write does.
                let mut deal = tx.deal(&deal_id)?.ok_or(EngineError::NotFound)?;
                let mut n = tx
                    .notification(&notification_id)?
                    .ok_or(EngineError::NotFound)?;
                let detail = check_match(tx, &n, &deal, amount_confirmed)?;
                change_deal(
                    tx,
                    &mut deal,
                    DealStatus::Completed,
                    Some(format!("bank_notification:{}", n.id)),
                    now,
                )?;
                n.deal_id = Some(deal.id.clone());
                n.matched_by = Some(by);
                tx.update_notification(&n)?;
                let change = Change {
                    action: "notification.match",
                    target: n.id,
                    detail,
                };
                Ok((deal, change))
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }

    /// Every trader's deals, newest first, narrowed by status and trader.
    pub async fn all_deals(
        &self,
        status: Option<DealStatus>,
        trader_id: Option<String>,
    ) -> EngineResult<Vec<Deal>> {
        self.read(move |tx| {
            Ok(tx.deals(
                status.map(DealStatus::as_str),
                trader_id.as_deref(),
                LIST_MAX,
            )?)
        })
        .await
    }

    /// A bank notification by id.
    pub async fn notification(&self, id: String) -> EngineResult<BankNotification> {
        self.read(move |tx| tx.notification(&id)?.ok_or(EngineError::NotFound))
            .await
    }

    /// Payouts no trader has taken yet, oldest first.
    pub async fn waiting_payouts(&self) -> EngineResult<Vec<Payout>> {
        self.read(move |tx| Ok(tx.waiting_payouts(LIST_MAX)?)).await
    }

    /// A trader's cabinets with their open deals and today's turnover.
    pub async fn cabinet_overview(&self, trader_id: String) -> EngineResult<Vec<CabinetOverview>> {
        let since = day_start(self.now_secs());
        self.read(move |tx| {
            let open = tx.open_deal_counts()?;
            let mut out = Vec::new();
            for cabinet in tx.cabinets_of_trader(&trader_id)? {
                let open_deals = open
                    .iter()
                    .find(|(id, _)| *id == cabinet.id)
                    .map_or(0, |(_, n)| *n);
                let turnover_today_minor = tx.turnover_since(&cabinet.id, since)?;
                out.push(CabinetOverview {
                    cabinet,
                    open_deals,
                    turnover_today_minor,
                });
            }
            Ok(out)
        })
        .await
    }

    /// The console's audit log, newest first.
    pub async fn audit_log(&self) -> EngineResult<Vec<AuditEntry>> {
        self.read(move |tx| Ok(tx.audit_log(AUDIT_MAX)?)).await
    }
}

/// Whether `n` may settle `deal`; the audit note when it may.
fn check_match(
    tx: &mut dyn Tx,
    n: &BankNotification,
    deal: &Deal,
    amount_confirmed: bool,
) -> EngineResult<String> {
    if let Some(other) = &n.deal_id {
        return Err(EngineError::Conflict(format!(
            "the notification settled deal {other} already"
        )));
    }
    if !deal.status.is_open() {
        return Err(EngineError::Conflict(format!(
            "the deal is {}, not open",
            deal.status.as_str()
        )));
    }
    if deal.trader_id != n.trader_id {
        return Err(EngineError::invalid(
            "deal",
            "The deal is another trader's than the notification.",
        ));
    }
    // Test and live never meet: the money's cabinet and the deal's invoice
    // are of one mode.
    let cabinet_test = tx.cabinet(&n.cabinet_id)?.map(|c| c.test_mode);
    let invoice_test = tx.invoice(&deal.invoice_id)?.map(|i| i.test_mode);
    if cabinet_test.is_none() || cabinet_test != invoice_test {
        return Err(EngineError::invalid(
            "deal",
            "The deal and the notification are of different modes.",
        ));
    }
    if deal.amount_minor != n.amount_minor && !amount_confirmed {
        return Err(EngineError::invalid(
            "confirm_amount",
            "The amounts differ; confirm that the deal's amount was received.",
        ));
    }
    Ok(if deal.amount_minor == n.amount_minor {
        format!("deal {}", deal.id)
    } else {
        format!(
            "deal {}, amount confirmed ({} received, {} due, minor units)",
            deal.id, n.amount_minor, deal.amount_minor
        )
    })
}
