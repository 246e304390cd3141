//! Callbacks owed to merchants: an outbox row per status change, delivered by
//! a worker with retries; every attempt is kept.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Not delivered yet; tried again at `next_attempt_at_secs`.
    Pending,
    /// Answered with HTTP 200.
    Done,
    /// Every allowed attempt failed; only a manual resend tries again.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Done => "done",
            CallbackState::Failed => "failed",
        }
    }
}

/// Which of a merchant's callbacks are sent: every status change, or only
/// the final ones (an invoice processed, failed, expired...; a payout paid
/// or failed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatuses {
    #[default]
    All,
    Final,
}

impl CallbackStatuses {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackStatuses::All => "all",
            CallbackStatuses::Final => "final",
        }
    }

    pub fn parse(text: &str) -> Option<CallbackStatuses> {
        [CallbackStatuses::All, CallbackStatuses::Final]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The face that renders the callback's body and signs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackFace {
    Checkout,
    MerchantApi,
    /// An H2H payout's status, signed the H2H way.
    H2hPayout,
    /// A Merchant API `type: out` invoice.
    MerchantApiPayout,
    /// A refund of a Merchant API invoice: its RefundDTO.
    MerchantApiRefund,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    pub id: String,
    /// The invoice or payout it announces.
    pub invoice_id: String,
    pub merchant_id: String,
    pub test_mode: bool,
    pub face: CallbackFace,
    pub url: String,
    /// The status the callback announces.
    pub transaction_status: String,
    /// The resource as it was at the change, rendered by the face on delivery.
    pub snapshot: Value,
    pub state: CallbackState,
    pub attempts: u32,
    pub created_at_secs: i64,
    pub next_attempt_at_secs: i64,
    /// A worker that claimed the callback owns it until then.
    pub lease_until_secs: i64,
}

/// One delivery attempt, as the Checkout API's `callback_logs` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    pub callback_id: String,
    pub invoice_id: String,
    pub at_secs: i64,
    pub processed_secs: i64,
    /// `done` when answered 200, else `failed`.
    pub status: String,
    pub response_code: Option<u16>,
    pub transaction_status: String,
    pub error: Option<String>,
}

impl Callback {
    /// Whether it announces a final status of its invoice or payout.
    pub fn announces_final(&self) -> bool {
        match self.face {
            CallbackFace::Checkout | CallbackFace::MerchantApi => {
                crate::InvoiceStatus::parse(&self.transaction_status).is_some_and(|s| s.is_final())
            }
            CallbackFace::H2hPayout | CallbackFace::MerchantApiPayout => {
                crate::payout::PayoutStatus::parse(&self.transaction_status)
                    .is_some_and(|s| s.is_final())
            }
            CallbackFace::MerchantApiRefund => {
                crate::refund::RefundStatus::parse(&self.transaction_status)
                    .is_some_and(|s| s.is_final())
            }
        }
    }

    /// Whether a merchant who asked for `statuses` is sent it.
    pub fn is_sent_for(&self, statuses: CallbackStatuses) -> bool {
        statuses == CallbackStatuses::All || self.announces_final()
    }
}
