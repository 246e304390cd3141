//! The H2H API's answers as types, each signed like a request: its
//! `signature` covers every other field. The payout's answer is also the
//! body of its callbacks.

use kassa_domain::payout::{Payout, PayoutStatus};
use kassa_engine::ledger::Balance;
use kassa_engine::p2p::BookAnswer;
use serde::Serialize;
use utoipa::ToSchema;

use super::signature::{sign, utc_text};

/// An answer whose last field is its signature.
pub trait Signed: Serialize {
    fn signature_mut(&mut self) -> &mut String;

    /// The answer with its `signature` set.
    fn signed(mut self, secret: &str) -> Self
    where
        Self: Sized,
    {
        let value = serde_json::to_value(&self).expect("an answer serializes");
        let fields = value.as_object().expect("an answer is an object");
        *self.signature_mut() = sign(secret, fields);
        self
    }
}

/// `POST /api/book_cabinet`: the amount held, and until when.
#[derive(Serialize, ToSchema)]
pub struct BookCabinetAnswer {
    /// The amount held, in minor units: the one asked for or an
    /// alternative. Create the invoice with this one.
    pub amount: i64,
    /// When the hold lapses (UTC, to the second).
    #[schema(format = DateTime, example = "2025-05-20T06:54:16Z")]
    pub expires_at: String,
    /// The H2H signature of the other fields, made as a request's.
    pub signature: String,
}

impl BookCabinetAnswer {
    pub fn new(secret: &str, answer: &BookAnswer) -> Self {
        BookCabinetAnswer {
            amount: answer.amount_minor,
            expires_at: utc_text(answer.expires_at_secs),
            signature: String::new(),
        }
        .signed(secret)
    }
}

impl Signed for BookCabinetAnswer {
    fn signature_mut(&mut self) -> &mut String {
        &mut self.signature
    }
}

/// A payout as `POST /api/payout` answers and its callbacks announce it.
#[derive(Serialize, ToSchema)]
pub struct PayoutAnswer {
    pub request_id: String,
    /// `false` only once the payout failed.
    pub success: bool,
    /// `0` pending, `1` in progress, `2` success, `3` failed.
    #[schema(minimum = 0, maximum = 3)]
    pub status: i64,
    /// The amount paid out, in minor units.
    pub amount: i64,
    pub site_login: String,
    pub site_id: i64,
    pub currency: String,
    /// The payout's id in Kassa, `po_...`.
    pub invoice_id: String,
    /// The H2H signature of the other fields, made as a request's.
    pub signature: String,
}

impl PayoutAnswer {
    /// The payout's fields, not yet signed.
    pub fn unsigned(payout: &Payout, site_id: i64, site_login: &str) -> Self {
        PayoutAnswer {
            request_id: payout.request_id.clone(),
            success: payout.status != PayoutStatus::Failed,
            status: payout.status.code(),
            amount: payout.amount_minor,
            site_login: site_login.to_string(),
            site_id,
            currency: payout.currency.code().to_string(),
            invoice_id: payout.id.clone(),
            signature: String::new(),
        }
    }
}

impl Signed for PayoutAnswer {
    fn signature_mut(&mut self) -> &mut String {
        &mut self.signature
    }
}

/// `POST /api/balance`: the merchant's balances in the secret's mode.
#[derive(Serialize, ToSchema)]
pub struct BalanceAnswer {
    pub merchant_id: String,
    pub site_id: i64,
    pub site_login: String,
    /// One entry per currency, sorted by currency (just the one asked for,
    /// with `currency`). Signed as compact JSON with sorted keys.
    pub balances: Vec<BalanceEntry>,
    /// The H2H signature of the other fields, made as a request's.
    pub signature: String,
}

impl Signed for BalanceAnswer {
    fn signature_mut(&mut self) -> &mut String {
        &mut self.signature
    }
}

/// One currency's balance, in minor units.
#[derive(Serialize, ToSchema)]
pub struct BalanceEntry {
    pub currency: String,
    /// What payouts can spend now.
    pub available: i64,
    /// Held for payouts under way (amounts and fees).
    pub pending_payouts: i64,
    /// The rolling reserve held back from pay-ins.
    pub reserve: i64,
}

impl From<&Balance> for BalanceEntry {
    fn from(b: &Balance) -> Self {
        BalanceEntry {
            currency: b.currency.code().to_string(),
            available: b.available_minor,
            pending_payouts: b.pending_payouts_minor,
            reserve: b.reserve_minor,
        }
    }
}
