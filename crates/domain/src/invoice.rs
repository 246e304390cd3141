//! The pay-in invoice: its statuses, resolutions and the transitions allowed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::money::Currency;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Created,
    ProcessPending,
    Processing,
    Processed,
    PartiallyProcessed,
    ProcessFailed,
    Expired,
    Terminated,
    Refunding,
    Refunded,
    PartiallyRefunded,
    RefundFailed,
    /// A `verify` invoice's instrument checked out; no money moved.
    Verified,
    VerifyFailed,
}

impl InvoiceStatus {
    pub const ALL: [InvoiceStatus; 14] = [
        InvoiceStatus::Created,
        InvoiceStatus::ProcessPending,
        InvoiceStatus::Processing,
        InvoiceStatus::Processed,
        InvoiceStatus::PartiallyProcessed,
        InvoiceStatus::ProcessFailed,
        InvoiceStatus::Expired,
        InvoiceStatus::Terminated,
        InvoiceStatus::Refunding,
        InvoiceStatus::Refunded,
        InvoiceStatus::PartiallyRefunded,
        InvoiceStatus::RefundFailed,
        InvoiceStatus::Verified,
        InvoiceStatus::VerifyFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Created => "created",
            InvoiceStatus::ProcessPending => "process_pending",
            InvoiceStatus::Processing => "processing",
            InvoiceStatus::Processed => "processed",
            InvoiceStatus::PartiallyProcessed => "partially_processed",
            InvoiceStatus::ProcessFailed => "process_failed",
            InvoiceStatus::Expired => "expired",
            InvoiceStatus::Terminated => "terminated",
            InvoiceStatus::Refunding => "refunding",
            InvoiceStatus::Refunded => "refunded",
            InvoiceStatus::PartiallyRefunded => "partially_refunded",
            InvoiceStatus::RefundFailed => "refund_failed",
            InvoiceStatus::Verified => "verified",
            InvoiceStatus::VerifyFailed => "verify_failed",
        }
    }

    pub fn parse(text: &str) -> Option<InvoiceStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still waiting for the payment: the customer can pay, the invoice can expire.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Created | InvoiceStatus::ProcessPending | InvoiceStatus::Processing
        )
    }

    /// The payment outcome is known and no longer changes. Refund states follow
    /// a successful payment and belong to the refund's own life.
    pub fn is_final(self) -> bool {
        !self.is_open()
    }

    /// Money was taken: the books hold a pay-in.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Processed | InvoiceStatus::PartiallyProcessed
        )
    }

    /// What the customer tried worked: paid, or (for `verify`) checked.
    /// Where the customer is sent next, not whether money moved.
    pub fn ended_well(self) -> bool {
        self.is_success() || self == InvoiceStatus::Verified
    }

    /// Whether an invoice of `flow` can end in this status: a charge is
    /// processed or fails, a verification is verified or fails to be; both
    /// can expire or be terminated.
    pub fn fits(self, flow: PaymentFlow) -> bool {
        use InvoiceStatus::*;
        match self {
            Processed | PartiallyProcessed | ProcessFailed => flow == PaymentFlow::Charge,
            Verified | VerifyFailed => flow == PaymentFlow::Verify,
            _ => true,
        }
    }

    /// The payment is settled and a refund may follow (see `refund.rs`).
    pub fn is_refund_state(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Refunding
                | InvoiceStatus::Refunded
                | InvoiceStatus::PartiallyRefunded
                | InvoiceStatus::RefundFailed
        )
    }

    /// The transitions of a pay-in. Open states move forward; outcomes are
    /// final for the payment. Refunds move a paid invoice through the refund
    /// states, by `Invoice::apply_refunds`, not by `transition`.
    pub fn can_become(self, next: InvoiceStatus) -> bool {
        use InvoiceStatus::*;
        matches!(
            (self, next),
            (Created, ProcessPending)
                | (Created | ProcessPending, Processing)
                | (
                    Created | ProcessPending | Processing,
                    Processed
                        | PartiallyProcessed
                        | ProcessFailed
                        | Verified
                        | VerifyFailed
                        | Expired
                        | Terminated,
                )
        )
    }
}

/// Why an invoice is in its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Ok,
    Expired,
    Declined,
    InsufficientFunds,
    Terminated,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Ok => "ok",
            Resolution::Expired => "expired",
            Resolution::Declined => "declined",
            Resolution::InsufficientFunds => "insufficient_funds",
            Resolution::Terminated => "terminated",
        }
    }
}

/// `charge` takes the money; `verify` only checks the payment instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentFlow {
    Charge,
    Verify,
}

impl PaymentFlow {
    pub fn parse(text: &str) -> Option<PaymentFlow> {
        match text {
            "charge" => Some(PaymentFlow::Charge),
            "verify" => Some(PaymentFlow::Verify),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentFlow::Charge => "charge",
            PaymentFlow::Verify => "verify",
        }
    }
}

/// Which API created the invoice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    PublicApi,
    PrivateApi,
    HtmlForm,
    MerchantApi,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnUrls {
    pub success: Option<String>,
    pub fail: Option<String>,
    pub pending: String,
}

/// The customer as the merchant sent it; `id` is Kassa's (`cus_...`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub reference_id: String,
    /// Every attribute as the merchant sent it (name, email, address, ...).
    pub data: Value,
}

/// A pay-in invoice. Amounts are minor units of `currency`; times are unix seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub merchant_id: String,
    pub test_mode: bool,
    pub reference_id: String,
    pub service: String,
    pub service_method: String,
    pub service_flow: String,
    pub currency: Currency,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub deposit_minor: i64,
    pub processed_amount_minor: Option<i64>,
    pub processed_fee_minor: Option<i64>,
    pub processed_deposit_minor: Option<i64>,
    pub refunded_amount_minor: Option<i64>,
    pub status: InvoiceStatus,
    pub resolution: Resolution,
    pub payment_flow: PaymentFlow,
    pub description: Option<String>,
    pub metadata: Option<Value>,
    pub service_fields: Option<Value>,
    pub customer: Option<Customer>,
    pub return_url: Option<String>,
    pub return_urls: Option<ReturnUrls>,
    pub callback_url: Option<String>,
    pub gateway_options: Option<Value>,
    pub source: Source,
    pub created_at_secs: i64,
    pub updated_at_secs: i64,
    pub processed_at_secs: Option<i64>,
    pub expires_at_secs: i64,
    /// The outcome a `test` service was asked for; applied after creation, as a
    /// provider's report would be, then cleared.
    pub test_outcome: Option<InvoiceStatus>,
    /// Keyed hash of the create request, to tell a repeat from a conflicting
    /// reuse of `reference_id`. Empty (and left out) in callback snapshots.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    /// What the Merchant API keeps of its request.
    #[serde(default)]
    pub merchant_api: Option<MerchantApiFields>,
    /// The P2P deal that carries the payment, if any.
    #[serde(default)]
    pub deal_id: Option<String>,
}

/// The Merchant API's own fields of an invoice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantApiFields {
    /// The merchant's `internalId`, when it sent one (`reference_id` is then
    /// the same; without one, Kassa makes a reference up).
    #[serde(default)]
    pub internal_id: Option<String>,
    pub user_id: Option<String>,
    pub notification_token: String,
    /// Bank code (`sberbank`).
    pub payment_method: Option<String>,
    /// `SBP`, `CARD`, ...
    pub payment_option: Option<String>,
    /// The amount the merchant asked for, before an alternative was booked.
    pub requested_amount_minor: i64,
}

impl Invoice {
    /// Moves the invoice to `next`, filling the processed amounts on success.
    /// Panics on a transition the state machine forbids: callers check first.
    /// The status can follow this invoice's, for its flow.
    pub fn can_become(&self, next: InvoiceStatus) -> bool {
        self.status.can_become(next) && next.fits(self.payment_flow)
    }

    /// The test provider's and the hosted page's test buttons' outcome.
    pub fn outcome(&self, succeeded: bool) -> InvoiceStatus {
        match (self.payment_flow, succeeded) {
            (PaymentFlow::Charge, true) => InvoiceStatus::Processed,
            (PaymentFlow::Charge, false) => InvoiceStatus::ProcessFailed,
            (PaymentFlow::Verify, true) => InvoiceStatus::Verified,
            (PaymentFlow::Verify, false) => InvoiceStatus::VerifyFailed,
        }
    }

    pub fn transition(&mut self, next: InvoiceStatus, resolution: Resolution, now_secs: i64) {
        // The test provider's partial payment is half the amount.
        let paid = match next {
            InvoiceStatus::PartiallyProcessed => (self.amount_minor / 2).max(1),
            _ => self.amount_minor,
        };
        self.transition_paid(next, resolution, paid, now_secs);
    }

    /// As [`Invoice::transition`], for a payment of `paid_minor` (what
    /// actually arrived, which may differ from `amount_minor`); the fee is
    /// that share of the invoice's fee.
    pub fn transition_paid(
        &mut self,
        next: InvoiceStatus,
        resolution: Resolution,
        paid_minor: i64,
        now_secs: i64,
    ) {
        assert!(
            self.can_become(next),
            "invoice {}: {:?} -> {:?}",
            self.id,
            self.status,
            next
        );
        // Money moved only on success; a verification or failure pays nothing.
        assert!(
            !next.is_success() || paid_minor > 0,
            "invoice {}: paid {paid_minor}",
            self.id
        );
        self.status = next;
        self.resolution = resolution;
        self.updated_at_secs = now_secs;
        if next.is_success() {
            let processed = paid_minor;
            let fee = (self.fee_minor as i128 * processed as i128
                / self.amount_minor.max(1) as i128) as i64;
            self.processed_amount_minor = Some(processed);
            self.processed_fee_minor = Some(fee);
            self.processed_deposit_minor = Some(processed - fee);
            self.processed_at_secs = Some(now_secs);
        }
        if next.is_final() {
            self.test_outcome = None;
        }
    }
}

impl Invoice {
    /// A P2P invoice whose deal is disputed after its deadline is open again
    /// (`processing`) until the dispute is resolved. Only P2P invoices, and
    /// only from `expired`.
    pub fn reopen_for_dispute(&mut self, now_secs: i64) {
        assert!(
            self.deal_id.is_some() && self.status == InvoiceStatus::Expired,
            "invoice {}: no dispute to reopen",
            self.id
        );
        self.status = InvoiceStatus::Processing;
        self.resolution = Resolution::Ok;
        self.updated_at_secs = now_secs;
    }
}

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::*;
    use super::*;

    #[test]
    fn each_flow_ends_in_its_own_outcomes() {
        for status in InvoiceStatus::ALL {
            let charge = status.fits(PaymentFlow::Charge);
            let verify = status.fits(PaymentFlow::Verify);
            match status {
                Processed | PartiallyProcessed | ProcessFailed => assert!(charge && !verify),
                Verified | VerifyFailed => assert!(verify && !charge),
                _ => assert!(charge && verify, "{status:?}"),
            }
        }
        assert!(Verified.ended_well() && !Verified.is_success());
        assert!(!VerifyFailed.ended_well() && VerifyFailed.is_final());
    }

    #[test]
    fn final_states_are_final() {
        for from in InvoiceStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for to in InvoiceStatus::ALL
                .into_iter()
                .filter(|s| !s.is_refund_state())
            {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
        assert!(ProcessPending.can_become(Processed));
        assert!(Processing.can_become(ProcessFailed));
        assert!(!Processing.can_become(ProcessPending));
    }

    #[test]
    fn status_names_round_trip() {
        for s in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
