//! Refunds of P2P pay-ins. No provider can send a bank transfer to a
//! trader's card back, so the refund becomes a payout of its amount to the
//! customer's requisites, offered to traders like any payout. The refund's
//! hold pays it (the payout holds nothing of its own, and has no fee); the
//! payout's outcome settles the refund in the same write as the payout's
//! change.

use kassa_domain::ids::new_id;
use kassa_domain::payout::{self, Payout, PayoutSource, PayoutStatus};
use kassa_domain::refund::{Refund, RefundStatus};
use kassa_store::Tx;
use serde_json::{Map, Value};

use super::settle;
use crate::payouts::{change_payout, paid_to};
use crate::{Engine, EngineError, EngineResult};

/// Where a refund of a P2P pay-in is paid: a payout method and its fields
/// (the H2H payout API's `additional_fields`: `card_number`, or
/// `phone_number`, `phone_holder` and `bank_name` for `sbp`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RefundPayee {
    pub method: String,
    pub fields: Map<String, Value>,
}

/// The requisites a refund of a P2P pay-in needs, as the engine names them
/// in its errors; each face renames them to its own.
pub const METHOD_FIELD: &str = "payout_method";
pub const FIELDS_FIELD: &str = "payout_fields";

/// The error of a P2P refund asked for with no requisites.
pub(super) fn payee_required() -> EngineError {
    EngineError::invalid(
        METHOD_FIELD,
        "This invoice was paid by a P2P transfer: a trader pays the refund out, so give the \
         customer's requisites (a payout method and its fields) to pay it to.",
    )
}

impl RefundPayee {
    /// Checks the method and its fields as a payout's are checked, numbers
    /// written the one way they are stored.
    pub(super) fn check(&mut self) -> EngineResult<()> {
        payout::normalize_fields(&mut self.fields);
        if !payout::METHODS.contains(&self.method.as_str()) {
            return Err(EngineError::invalid(
                METHOD_FIELD,
                format!(
                    "This value should be one of: {}.",
                    payout::METHODS.join(", ")
                ),
            ));
        }
        let errors: std::collections::BTreeMap<String, String> =
            payout::check_fields(&self.method, &self.fields)
                .into_iter()
                .map(|(field, message)| {
                    let name = field.strip_prefix("additional_fields.").unwrap_or(&field);
                    (format!("{FIELDS_FIELD}.{name}"), message)
                })
                .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(EngineError::Invalid(errors))
        }
    }
}

/// A payout to the payee, its fields sealed before the write: filled in for
/// its refund by [`PayoutDraft::for_refund`].
pub(super) struct PayoutDraft {
    method: String,
    fields_sealed: String,
    fields_masked: Value,
    ttl_secs: i64,
}

impl Engine {
    pub(super) fn payout_draft(&self, payee: &RefundPayee) -> PayoutDraft {
        PayoutDraft {
            method: payee.method.clone(),
            fields_sealed: self
                .sealer
                .seal(&Value::Object(payee.fields.clone()).to_string()),
            fields_masked: payout::masked(&payee.fields),
            ttl_secs: self.config.payout_ttl_secs,
        }
    }
}

impl PayoutDraft {
    /// The payout that pays `refund`: pending, of its amount and mode, with
    /// no fee, named by the refund's id.
    pub(super) fn for_refund(&self, refund: &Refund) -> Payout {
        Payout {
            id: new_id("po"),
            merchant_id: refund.merchant_id.clone(),
            test_mode: refund.test_mode,
            request_id: refund.id.clone(),
            source: PayoutSource::Refund,
            amount_minor: refund.amount_minor,
            fee_minor: 0,
            currency: refund.currency,
            method: self.method.clone(),
            fields_sealed: self.fields_sealed.clone(),
            fields_masked: self.fields_masked.clone(),
            status: PayoutStatus::Pending,
            reason: None,
            trader_id: None,
            declined_by: Vec::new(),
            receipt: None,
            created_at_secs: refund.created_at_secs,
            updated_at_secs: refund.created_at_secs,
            deadline_secs: refund.created_at_secs + self.ttl_secs,
            // A test refund's outcome is the refund's to apply (on its own
            // schedule), through the payout.
            test_outcome: None,
            fingerprint: String::new(),
            merchant_api: None,
            callback_url: None,
        }
    }
}

/// A refund's payout ended: paid, the refund is refunded (the money is the
/// trader's who paid it); failed, the refund failed and its hold goes back
/// to the merchant. In the write of the payout's change.
pub(crate) fn payout_ended(tx: &mut dyn Tx, p: &Payout, now_secs: i64) -> EngineResult<()> {
    let refund = tx.refund(&p.request_id)?.ok_or(EngineError::NotFound)?;
    assert_eq!(
        refund.payout_id.as_deref(),
        Some(p.id.as_str()),
        "payout {} pays refund {}",
        p.id,
        refund.id
    );
    let outcome = match p.status {
        PayoutStatus::Success => RefundStatus::Refunded,
        _ => RefundStatus::RefundFailed,
    };
    settle(
        tx,
        &refund.invoice_id,
        &refund.id,
        outcome,
        paid_to(p),
        now_secs,
    )?;
    Ok(())
}

/// The test provider's outcome of a test refund paid by a payout: the
/// payout is moved to it, which settles the refund.
pub(super) fn apply_test_outcome(
    tx: &mut dyn Tx,
    refund: &Refund,
    payout_id: &str,
    now_secs: i64,
) -> EngineResult<()> {
    let mut p = tx.payout(payout_id)?.ok_or(EngineError::NotFound)?;
    let next = match refund.test_outcome {
        Some(RefundStatus::RefundFailed) => PayoutStatus::Failed,
        _ => PayoutStatus::Success,
    };
    if !p.status.can_become(next) {
        return Ok(());
    }
    let reason = (next == PayoutStatus::Failed).then_some("test");
    change_payout(tx, &mut p, next, reason, now_secs)
}
