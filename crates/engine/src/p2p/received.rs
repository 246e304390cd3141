//! A deal settled for what actually arrived: the customer sent less or more
//! than the deal's exact amount, a person (the deal's trader or the
//! operator) saw the money and says how much. The invoice is then paid that
//! amount (`partially_processed` when less, `processed` when as much or
//! more) and the books post it, so they say what arrived.

use kassa_domain::money::{format_fixed, parse_minor};
use kassa_domain::{Actor, Deal, DealStatus};

use super::deals::change_deal;
use crate::{Engine, EngineError, EngineResult};

const FIELD: &str = "amount_received";

impl Engine {
    /// Completes a waiting or disputed deal for `amount_received` (a decimal
    /// text in the invoice's currency). A repeat with the same amount answers
    /// the deal as it is; another amount for a completed deal is a conflict.
    pub async fn settle_deal_received(
        &self,
        actor: impl Into<Actor>,
        deal_id: String,
        amount_received: String,
    ) -> EngineResult<Deal> {
        let now = self.now_secs();
        let actor = actor.into();
        let by = actor.settled_by().to_string();
        let deal = self
            .write(move |tx| {
                let mut deal = tx
                    .deal(&deal_id)?
                    .filter(|d| actor.reaches(&d.trader_id))
                    .ok_or(EngineError::NotFound)?;
                let invoice = tx.invoice(&deal.invoice_id)?.ok_or(EngineError::NotFound)?;
                let exponent = invoice.currency.exponent();
                let most = tx
                    .service(&invoice.service)?
                    .map_or(invoice.amount_minor, |s| {
                        s.amount_max_minor.max(invoice.amount_minor)
                    });
                let received = match parse_minor(amount_received.trim(), exponent) {
                    Ok(r) if r > 0 && r <= most => r,
                    Ok(_) => {
                        return Err(EngineError::invalid(
                            FIELD,
                            format!(
                                "This value should be above 0 and at most {}.",
                                format_fixed(most, exponent)
                            ),
                        ))
                    }
                    Err(e) => return Err(EngineError::invalid(FIELD, e.to_string())),
                };
                // As much as the deal asked for is a plain completion.
                let recorded = (received != deal.amount_minor).then_some(received);
                if deal.status == DealStatus::Completed {
                    return if deal.received_amount_minor == recorded {
                        Ok(deal)
                    } else {
                        Err(EngineError::Conflict(
                            "the deal is completed for another amount".into(),
                        ))
                    };
                }
                if !deal.status.can_become(DealStatus::Completed) {
                    return Err(EngineError::Conflict(format!(
                        "the deal is {}",
                        deal.status.as_str()
                    )));
                }
                deal.received_amount_minor = recorded;
                change_deal(tx, &mut deal, DealStatus::Completed, Some(by), now)?;
                Ok(deal)
            })
            .await?;
        self.wake_workers();
        Ok(deal)
    }
}
