//! Refunds of a pay-in: what may be refunded, the refund's own life, the fee
//! the platform gives back, and the invoice's status the refunds add up to.

use serde::{Deserialize, Serialize};

use crate::invoice::{Invoice, InvoiceStatus, PaymentFlow, Source};
use crate::money::Currency;

/// A refund's status, in the Checkout API's words for an invoice's refund
/// states: `refunding` until the money has gone back, then `refunded`, or
/// `refund_failed` (the money is the merchant's again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Refunding,
    Refunded,
    RefundFailed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Refunding,
        RefundStatus::Refunded,
        RefundStatus::RefundFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Refunding => "refunding",
            RefundStatus::Refunded => "refunded",
            RefundStatus::RefundFailed => "refund_failed",
        }
    }

    pub fn parse(text: &str) -> Option<RefundStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        self != RefundStatus::Refunding
    }

    /// A refund settles once: `refunding` to an outcome.
    pub fn can_become(self, next: RefundStatus) -> bool {
        self == RefundStatus::Refunding && next.is_final()
    }
}

/// Whether the platform gives its fee back with a refund, per service (a
/// catalog setting). `Kept` by default, as Stripe keeps its fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundFee {
    #[default]
    Kept,
    /// The fee's share of the refunded amount goes back to the merchant.
    Returned,
}

impl RefundFee {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundFee::Kept => "kept",
            RefundFee::Returned => "returned",
        }
    }

    pub fn parse(text: &str) -> Option<RefundFee> {
        [RefundFee::Kept, RefundFee::Returned]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// A refund of (part of) a processed invoice. Amounts are minor units of the
/// invoice's currency; times are unix seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub invoice_id: String,
    pub merchant_id: String,
    pub test_mode: bool,
    /// The merchant's key of the refund, unique per merchant and mode.
    pub reference_id: String,
    pub currency: Currency,
    pub amount_minor: i64,
    /// The platform's fee given back with it (zero when the fee is kept).
    pub fee_returned_minor: i64,
    pub status: RefundStatus,
    pub created_at_secs: i64,
    pub updated_at_secs: i64,
    /// The outcome the test provider applies, and when.
    pub test_outcome: Option<RefundStatus>,
    pub test_settle_at_secs: Option<i64>,
    /// Keyed hash of the request, to tell a repeat from a conflicting reuse
    /// of `reference_id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    /// The payout that carries a refund of a P2P pay-in to the customer's
    /// requisites; its outcome settles the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
}

impl Refund {
    /// When the test provider settles it: only while it is under way.
    pub fn test_due_secs(&self) -> Option<i64> {
        match (self.status.is_final(), self.test_outcome) {
            (false, Some(_)) => self.test_settle_at_secs,
            _ => None,
        }
    }
}

/// Why a refund is refused; each changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundRefusal {
    /// The invoice took no money (yet): only a processed charge is refunded.
    NotRefundable,
    /// More than what is left of the processed amount; carries what is left.
    OverRefundable(i64),
    NotPositive,
}

/// What is left to refund of an invoice: its processed amount less every
/// refund that has not failed (pending ones included, as Stripe counts them).
pub fn refundable_minor(invoice: &Invoice) -> i64 {
    invoice.processed_amount_minor.unwrap_or(0) - invoice.refunded_amount_minor.unwrap_or(0)
}

/// Whether an invoice took money that can be refunded.
pub fn takes_refunds(invoice: &Invoice) -> bool {
    invoice.payment_flow == PaymentFlow::Charge
        && invoice.processed_amount_minor.is_some_and(|p| p > 0)
        && matches!(
            invoice.status,
            InvoiceStatus::Processed
                | InvoiceStatus::PartiallyProcessed
                | InvoiceStatus::Refunding
                | InvoiceStatus::Refunded
                | InvoiceStatus::PartiallyRefunded
                | InvoiceStatus::RefundFailed
        )
}

/// Whether the customer paid by a bank transfer to a trader's requisites (a
/// P2P deal): no provider can send that money back, so a trader pays the
/// refund out to requisites the merchant gives, as a payout.
pub fn paid_by_p2p(invoice: &Invoice) -> bool {
    invoice.deal_id.is_some() || invoice.source == Source::MerchantApi
}

/// The amount a refund request takes: the one asked for, or all that is
/// left. Checked against the invoice as it is now.
pub fn refund_amount(invoice: &Invoice, asked_minor: Option<i64>) -> Result<i64, RefundRefusal> {
    if !takes_refunds(invoice) {
        return Err(RefundRefusal::NotRefundable);
    }
    let left = refundable_minor(invoice);
    let amount = asked_minor.unwrap_or(left);
    if amount <= 0 {
        return Err(if left == 0 {
            RefundRefusal::OverRefundable(0)
        } else {
            RefundRefusal::NotPositive
        });
    }
    if amount > left {
        return Err(RefundRefusal::OverRefundable(left));
    }
    Ok(amount)
}

/// The fee given back with a refund of `amount_minor`: the fee's share of
/// every live refund together (rounded down), less what the live refunds
/// before it gave back, so that what is given back never passes the fee.
pub fn fee_returned(
    invoice: &Invoice,
    rule: RefundFee,
    amount_minor: i64,
    returned_before_minor: i64,
) -> i64 {
    if rule == RefundFee::Kept {
        return 0;
    }
    let processed = invoice.processed_amount_minor.unwrap_or(0).max(1) as i128;
    let fee = invoice.processed_fee_minor.unwrap_or(0) as i128;
    let refunded = (invoice.refunded_amount_minor.unwrap_or(0) + amount_minor) as i128;
    let share = (fee * refunded / processed) as i64;
    (share - returned_before_minor).clamp(0, amount_minor)
}

impl Invoice {
    /// Sets `refunded_amount` and the refund status from the invoice's
    /// refunds: `refunding` while one is under way; else `refunded` when
    /// nothing is left, `partially_refunded` when some is; `refund_failed`
    /// when every refund failed. Returns whether the status changed.
    pub fn apply_refunds(&mut self, refunds: &[Refund], now_secs: i64) -> bool {
        assert!(takes_refunds(self), "invoice {}: no refunds", self.id);
        let live: i64 = refunds
            .iter()
            .filter(|r| r.status != RefundStatus::RefundFailed)
            .map(|r| r.amount_minor)
            .sum();
        let processed = self.processed_amount_minor.unwrap_or(0);
        assert!(live <= processed, "invoice {}: refunds pass it", self.id);
        let next = if refunds.iter().any(|r| r.status == RefundStatus::Refunding) {
            InvoiceStatus::Refunding
        } else if live == processed {
            InvoiceStatus::Refunded
        } else if live > 0 {
            InvoiceStatus::PartiallyRefunded
        } else if refunds.is_empty() {
            self.status
        } else {
            InvoiceStatus::RefundFailed
        };
        self.refunded_amount_minor = Some(live);
        self.updated_at_secs = now_secs;
        let changed = next != self.status;
        self.status = next;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::Resolution;

    fn invoice(processed: i64, fee: i64) -> Invoice {
        Invoice {
            id: "cpi_1".into(),
            merchant_id: "mer_1".into(),
            test_mode: true,
            reference_id: "r".into(),
            service: "s".into(),
            service_method: "test".into(),
            service_flow: "test".into(),
            currency: Currency::from_code("USD").unwrap(),
            amount_minor: processed,
            fee_minor: fee,
            deposit_minor: processed - fee,
            processed_amount_minor: Some(processed),
            processed_fee_minor: Some(fee),
            processed_deposit_minor: Some(processed - fee),
            refunded_amount_minor: None,
            status: InvoiceStatus::Processed,
            resolution: Resolution::Ok,
            payment_flow: PaymentFlow::Charge,
            description: None,
            metadata: None,
            service_fields: None,
            customer: None,
            return_url: None,
            return_urls: None,
            callback_url: None,
            gateway_options: None,
            source: Source::PrivateApi,
            created_at_secs: 0,
            updated_at_secs: 0,
            processed_at_secs: Some(0),
            expires_at_secs: 0,
            test_outcome: None,
            fingerprint: String::new(),
            merchant_api: None,
            deal_id: None,
        }
    }

    fn refund(amount: i64, status: RefundStatus, fee: i64) -> Refund {
        Refund {
            id: "rfd".into(),
            invoice_id: "cpi_1".into(),
            merchant_id: "mer_1".into(),
            test_mode: true,
            reference_id: "x".into(),
            currency: Currency::from_code("USD").unwrap(),
            amount_minor: amount,
            fee_returned_minor: fee,
            status,
            created_at_secs: 0,
            updated_at_secs: 0,
            test_outcome: None,
            test_settle_at_secs: None,
            fingerprint: String::new(),
            payout_id: None,
        }
    }

    #[test]
    fn amounts_up_to_what_is_left() {
        let mut i = invoice(10_000, 300);
        assert_eq!(refund_amount(&i, None), Ok(10_000));
        assert_eq!(
            refund_amount(&i, Some(10_001)),
            Err(RefundRefusal::OverRefundable(10_000))
        );
        assert_eq!(refund_amount(&i, Some(0)), Err(RefundRefusal::NotPositive));
        i.refunded_amount_minor = Some(10_000);
        assert_eq!(
            refund_amount(&i, None),
            Err(RefundRefusal::OverRefundable(0))
        );
        i.status = InvoiceStatus::ProcessFailed;
        assert_eq!(
            refund_amount(&i, Some(1)),
            Err(RefundRefusal::NotRefundable)
        );
        let mut open = invoice(10_000, 0);
        open.status = InvoiceStatus::ProcessPending;
        open.processed_amount_minor = None;
        assert_eq!(
            refund_amount(&open, Some(1)),
            Err(RefundRefusal::NotRefundable)
        );
    }

    #[test]
    fn statuses_follow_the_refunds() {
        use RefundStatus::*;
        let mut i = invoice(10_000, 0);
        assert!(i.apply_refunds(&[refund(4_000, Refunding, 0)], 1));
        assert_eq!(
            (i.status, i.refunded_amount_minor),
            (InvoiceStatus::Refunding, Some(4_000))
        );
        i.apply_refunds(&[refund(4_000, Refunded, 0)], 2);
        assert_eq!(i.status, InvoiceStatus::PartiallyRefunded);
        i.apply_refunds(&[refund(4_000, Refunded, 0), refund(6_000, Refunded, 0)], 3);
        assert_eq!(i.status, InvoiceStatus::Refunded);
        let mut j = invoice(10_000, 0);
        j.apply_refunds(&[refund(4_000, RefundFailed, 0)], 1);
        assert_eq!(
            (j.status, j.refunded_amount_minor),
            (InvoiceStatus::RefundFailed, Some(0))
        );
        assert_eq!(refund_amount(&j, None), Ok(10_000));
    }

    #[test]
    fn the_fee_given_back_never_passes_the_fee() {
        let mut i = invoice(2, 1);
        assert_eq!(fee_returned(&i, RefundFee::Kept, 2, 0), 0);
        // 1 of 2 refunded: half a unit of fee, rounded down.
        assert_eq!(fee_returned(&i, RefundFee::Returned, 1, 0), 0);
        i.refunded_amount_minor = Some(1);
        assert_eq!(fee_returned(&i, RefundFee::Returned, 1, 0), 1);
        // The first failed, the second (1, fee 1) stands: a third gets none.
        i.refunded_amount_minor = Some(1);
        assert_eq!(fee_returned(&i, RefundFee::Returned, 1, 1), 0);
    }
}
