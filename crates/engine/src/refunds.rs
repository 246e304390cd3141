//! Refunds of pay-ins. A refund is decided inside one write against the
//! invoice's row as it is now (the row is locked), so refunds of one invoice
//! that together pass it have one winner. Its amount is taken from the
//! merchant's available balance at once and held until it settles; the
//! invoice's status and `refunded_amount` follow, and every change owes the
//! invoice's callback in the same commit. A refund of a P2P pay-in is paid
//! by a trader, as a payout (`payee.rs`).

mod payee;

pub(crate) use payee::payout_ended;
pub use payee::{RefundPayee, FIELDS_FIELD, METHOD_FIELD};

use kassa_domain::ids::{new_id, prefix};
use kassa_domain::ledger::{self, Account, TxnKind};
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::refund::{self, Refund, RefundFee, RefundRefusal, RefundStatus};
use kassa_domain::{Callback, CallbackFace, CallbackState, Invoice, Merchant, Source};
use kassa_store::{StoreError, Tx};
use serde_json::{json, Map, Value};

use crate::ledger::post;
use crate::sweep::each_apart;
use crate::telemetry::{self, Change};
use crate::{Engine, EngineError, EngineResult};

/// Refunds the test provider settles in one pass.
const PASS_MAX: usize = 256;
/// A test refund asked to stay `refunding` succeeds this long after.
pub const TEST_REFUNDING_SECS: i64 = 60;
const REFERENCE_ID_MAX: usize = 255;

/// A refund request, as a face parsed it: types are right, meaning unchecked.
#[derive(Clone, Debug, Default)]
pub struct NewRefund {
    pub invoice_id: String,
    pub reference_id: Option<String>,
    /// The amount's decimal text, exactly as sent; none: all that is left.
    pub amount: Option<String>,
    /// In test mode, `status` chooses the outcome.
    pub service_fields: Option<Map<String, Value>>,
    /// The customer's requisites, for a refund of a P2P pay-in (required
    /// there, unused otherwise).
    pub payee: Option<RefundPayee>,
    pub test_mode: bool,
}

/// The outcome of a refund request: the refund, its invoice as it is after
/// it, and whether this call made it.
pub struct CreatedRefund {
    pub refund: Refund,
    pub invoice: Invoice,
    pub created: bool,
}

/// The outcome a test refund's `service_fields.status` asks for, and when.
fn test_outcome(
    fields: Option<&Map<String, Value>>,
    now_secs: i64,
) -> Result<(RefundStatus, i64), String> {
    let asked = fields.and_then(|f| f.get("status"));
    match asked {
        None | Some(Value::Null) => Ok((RefundStatus::Refunded, now_secs)),
        Some(Value::String(text)) => match RefundStatus::parse(text) {
            Some(RefundStatus::Refunding) => {
                Ok((RefundStatus::Refunded, now_secs + TEST_REFUNDING_SECS))
            }
            Some(outcome) => Ok((outcome, now_secs)),
            None => Err(OUTCOMES.into()),
        },
        Some(_) => Err(OUTCOMES.into()),
    }
}

const OUTCOMES: &str = "This value should be one of: refunded, refund_failed, refunding.";

fn refusal(r: RefundRefusal, invoice: &Invoice) -> EngineError {
    match r {
        RefundRefusal::NotRefundable => EngineError::invalid(
            "invoice",
            "This invoice has no processed payment to refund.",
        ),
        RefundRefusal::OverRefundable(left) => EngineError::invalid(
            "amount",
            format!(
                "This value should be less than or equal to {} (what is left to refund).",
                kassa_domain::money::format_short(left, invoice.currency.exponent())
            ),
        ),
        RefundRefusal::NotPositive => {
            EngineError::invalid("amount", "This value should be greater than 0.")
        }
    }
}

fn reference_conflict() -> EngineError {
    EngineError::Conflict("A refund with this reference_id exists with a different request.".into())
}

/// The invoice by id, locked for this write, when it is the merchant's and
/// of the key's mode.
fn own_invoice(
    tx: &mut dyn Tx,
    merchant_id: &str,
    test_mode: bool,
    id: &str,
) -> EngineResult<Invoice> {
    tx.invoice(id)?
        .filter(|i| i.merchant_id == merchant_id && i.test_mode == test_mode)
        .ok_or(EngineError::NotFound)
}

/// Sets the invoice from its refunds and stores it; owes the callback of
/// `changed`, the refund that just moved: the invoice's for the Checkout
/// API (its status says it), the refund's own for the Merchant API (whose
/// invoice stays `completed`).
fn follow_refunds(
    tx: &mut dyn Tx,
    invoice: &mut Invoice,
    changed: &Refund,
    now_secs: i64,
) -> EngineResult<()> {
    let refunds = tx.refunds_of_invoice(&invoice.id)?;
    let before = invoice.status;
    invoice.apply_refunds(&refunds, now_secs);
    tx.update_invoice(invoice)?;
    if invoice.status != before {
        telemetry::note(Change::Invoice(invoice.status, invoice.test_mode));
    }
    match invoice.source {
        Source::MerchantApi => owe_refund(tx, invoice, changed, now_secs),
        _ => crate::callbacks::owe(tx, invoice, now_secs),
    }
}

/// Owes a Merchant API refund's callback, to its invoice's
/// `notificationUrl`, with the invoice as it is after the refund.
fn owe_refund(
    tx: &mut dyn Tx,
    invoice: &Invoice,
    refund: &Refund,
    now_secs: i64,
) -> EngineResult<()> {
    let Some(url) = &invoice.callback_url else {
        return Ok(());
    };
    let shown = Refund {
        fingerprint: String::new(),
        ..refund.clone()
    };
    let invoice_shown = Invoice {
        fingerprint: String::new(),
        ..invoice.clone()
    };
    let store = tx
        .merchant(&invoice.merchant_id)?
        .map(|m| json!({ "id": m.site_id, "name": m.name }));
    let callback = Callback {
        id: new_id(prefix::CALLBACK),
        // Ordered with the invoice's other callbacks.
        invoice_id: invoice.id.clone(),
        merchant_id: invoice.merchant_id.clone(),
        test_mode: invoice.test_mode,
        face: CallbackFace::MerchantApiRefund,
        url: url.clone(),
        transaction_status: refund.status.as_str().to_string(),
        snapshot: json!({ "refund": shown, "invoice": invoice_shown, "store": store }),
        state: CallbackState::Pending,
        attempts: 0,
        created_at_secs: now_secs,
        next_attempt_at_secs: now_secs,
        lease_until_secs: 0,
    };
    tx.insert_callback(&callback)?;
    Ok(())
}

/// Settles a refund that is under way, in the caller's write: the money goes
/// to the customer through `paid_by` (the world, or the trader who paid it),
/// or back to the merchant when it failed. Takes the invoice before the
/// refund, as creation does.
fn settle(
    tx: &mut dyn Tx,
    invoice_id: &str,
    refund_id: &str,
    outcome: RefundStatus,
    paid_by: Account,
    now_secs: i64,
) -> EngineResult<Option<Refund>> {
    let mut invoice = tx.invoice(invoice_id)?.ok_or(EngineError::NotFound)?;
    let mut r = tx.refund(refund_id)?.ok_or(EngineError::NotFound)?;
    if !r.status.can_become(outcome) {
        return Ok(None);
    }
    r.status = outcome;
    r.updated_at_secs = now_secs;
    r.test_outcome = None;
    r.test_settle_at_secs = None;
    let postings = match outcome {
        RefundStatus::Refunded => ledger::refund_done(&r.merchant_id, paid_by, r.amount_minor),
        _ => ledger::refund_release(&r.merchant_id, r.amount_minor, r.fee_returned_minor),
    };
    let kind = match outcome {
        RefundStatus::Refunded => TxnKind::RefundDone,
        _ => TxnKind::RefundRelease,
    };
    post(tx, r.test_mode, kind, r.currency, &r.id, now_secs, postings)?;
    tx.update_refund(&r)?;
    follow_refunds(tx, &mut invoice, &r, now_secs)?;
    Ok(Some(r))
}

impl Engine {
    /// Refunds (part of) a processed invoice, or answers the refund a repeat
    /// of the same request made. The same `reference_id` with another
    /// request is a conflict; a refund past what is left, or past the
    /// merchant's available balance, changes nothing. A refund of a P2P
    /// pay-in needs the customer's requisites (`payee`) and makes, in the
    /// same write, the payout a trader pays it by.
    pub async fn create_refund(
        &self,
        merchant: &Merchant,
        mut new: NewRefund,
    ) -> EngineResult<CreatedRefund> {
        if let Some(payee) = &mut new.payee {
            payee.check()?;
        }
        if let Some(r) = &new.reference_id {
            if r.is_empty() || r.len() > REFERENCE_ID_MAX || r.chars().any(char::is_control) {
                return Err(EngineError::invalid(
                    "reference_id",
                    "This value should be 1 to 255 characters long.",
                ));
            }
        }
        let now = self.now_secs();
        let fingerprint = crate::invoices::fingerprint_of(
            &self.fingerprint_key,
            &json!({
                "invoice_id": new.invoice_id,
                "amount": new.amount.as_deref().map(crate::invoices::normalized_decimal),
                "service_fields": new.service_fields,
                "payee": new.payee.as_ref().map(|p| json!({ "method": p.method, "fields": p.fields })),
            }),
        );
        let merchant_id = merchant.id.clone();
        let draft = new.payee.as_ref().map(|p| self.payout_draft(p));
        let created = self
            .write(move |tx| {
                let mut invoice = own_invoice(tx, &merchant_id, new.test_mode, &new.invoice_id)?;
                // A repeat is answered before anything is checked: the first
                // may have taken all that was left.
                let repeat =
                    |tx: &mut dyn Tx, reference_id: &str| -> EngineResult<Option<CreatedRefund>> {
                        match tx.refund_by_reference(&merchant_id, new.test_mode, reference_id)? {
                            Some(r) if r.fingerprint == fingerprint => Ok(Some(CreatedRefund {
                                invoice: tx.invoice(&r.invoice_id)?.ok_or(EngineError::NotFound)?,
                                refund: r,
                                created: false,
                            })),
                            Some(_) => Err(reference_conflict()),
                            None => Ok(None),
                        }
                    };
                if let Some(reference_id) = &new.reference_id {
                    if let Some(found) = repeat(tx, reference_id)? {
                        return Ok(found);
                    }
                }
                let asked = match new.amount.as_deref() {
                    None => None,
                    Some(text) => match parse_minor(text, invoice.currency.exponent()) {
                        Ok(minor) => Some(minor),
                        Err(AmountError::TooPrecise(places)) => {
                            return Err(EngineError::invalid(
                                "amount",
                                format!("This value should have at most {places} decimal places."),
                            ))
                        }
                        Err(e) => return Err(EngineError::invalid("amount", e.to_string())),
                    },
                };
                let amount =
                    refund::refund_amount(&invoice, asked).map_err(|r| refusal(r, &invoice))?;
                let draft = match (refund::paid_by_p2p(&invoice), &draft) {
                    (true, None) => return Err(payee::payee_required()),
                    (true, Some(draft)) => Some(draft),
                    (false, _) => None,
                };
                let (outcome, settle_at) = if invoice.test_mode {
                    let (o, at) = test_outcome(new.service_fields.as_ref(), now)
                        .map_err(|m| EngineError::invalid("service_fields.status", m))?;
                    (Some(o), Some(at))
                } else {
                    (None, None)
                };
                let rule = tx
                    .service(&invoice.service)?
                    .map(|s| s.refund_fee)
                    .unwrap_or(RefundFee::Kept);
                let returned_before: i64 = tx
                    .refunds_of_invoice(&invoice.id)?
                    .iter()
                    .filter(|r| r.status != RefundStatus::RefundFailed)
                    .map(|r| r.fee_returned_minor)
                    .sum();
                let fee_returned = refund::fee_returned(&invoice, rule, amount, returned_before);
                let mut r = Refund {
                    id: new_id(prefix::REFUND),
                    invoice_id: invoice.id.clone(),
                    merchant_id: merchant_id.clone(),
                    test_mode: invoice.test_mode,
                    reference_id: new.reference_id.clone().unwrap_or_else(|| new_id("rfdref")),
                    currency: invoice.currency,
                    amount_minor: amount,
                    fee_returned_minor: fee_returned,
                    status: RefundStatus::Refunding,
                    created_at_secs: now,
                    updated_at_secs: now,
                    test_outcome: outcome,
                    test_settle_at_secs: settle_at,
                    fingerprint: fingerprint.clone(),
                    payout_id: None,
                };
                let payout = draft.map(|d| d.for_refund(&r));
                r.payout_id = payout.as_ref().map(|p| p.id.clone());
                // The store's unique key settles concurrent repeats of a key
                // used on two invoices at once.
                match tx.insert_refund(&r) {
                    Ok(()) => {}
                    Err(StoreError::Duplicate(_)) => {
                        return repeat(tx, &r.reference_id)?.ok_or_else(reference_conflict)
                    }
                    Err(e) => return Err(e.into()),
                }
                let postings = ledger::refund_hold(&r.merchant_id, amount, fee_returned);
                post(
                    tx,
                    r.test_mode,
                    TxnKind::RefundHold,
                    r.currency,
                    &r.id,
                    now,
                    postings,
                )?;
                if let Some(p) = &payout {
                    tx.insert_payout(p)?;
                    telemetry::note(Change::Payout(p.status, p.test_mode));
                }
                follow_refunds(tx, &mut invoice, &r, now)?;
                Ok(CreatedRefund {
                    refund: r,
                    invoice,
                    created: true,
                })
            })
            .await?;
        if created.created {
            self.wake_workers();
        }
        Ok(created)
    }

    /// A refund of the merchant's mode, by id.
    pub async fn refund(
        &self,
        merchant_id: String,
        test_mode: bool,
        id: String,
    ) -> EngineResult<Refund> {
        self.read(move |tx| {
            tx.refund(&id)?
                .filter(|r| r.merchant_id == merchant_id && r.test_mode == test_mode)
                .ok_or(EngineError::NotFound)
        })
        .await
    }

    /// An invoice's refunds, oldest first.
    pub async fn refunds_of_invoice(
        &self,
        merchant_id: String,
        test_mode: bool,
        invoice_id: String,
    ) -> EngineResult<Vec<Refund>> {
        self.read(move |tx| {
            tx.invoice(&invoice_id)?
                .filter(|i| i.merchant_id == merchant_id && i.test_mode == test_mode)
                .ok_or(EngineError::NotFound)?;
            Ok(tx.refunds_of_invoice(&invoice_id)?)
        })
        .await
    }

    /// Settles a refund under way as the provider (or the operator, for a
    /// live refund paid by hand) reports it. A settled refund is left as it
    /// is; the answer is the refund as it stands. A refund paid by a payout
    /// is settled by the payout's outcome alone.
    pub async fn settle_refund(&self, id: String, succeeded: bool) -> EngineResult<Refund> {
        let now = self.now_secs();
        let outcome = if succeeded {
            RefundStatus::Refunded
        } else {
            RefundStatus::RefundFailed
        };
        let refund = self
            .write(move |tx| {
                let found = tx.refund(&id)?.ok_or(EngineError::NotFound)?;
                if let (Some(payout), false) = (&found.payout_id, found.status.is_final()) {
                    return Err(EngineError::Conflict(format!(
                        "This refund is paid by payout {payout}: its trader's outcome settles it."
                    )));
                }
                match settle(tx, &found.invoice_id, &id, outcome, Account::World, now)? {
                    Some(r) => Ok(r),
                    None => Ok(tx.refund(&id)?.ok_or(EngineError::NotFound)?),
                }
            })
            .await?;
        self.wake_workers();
        Ok(refund)
    }

    /// Plays the provider of test-mode refunds: applies the outcome the
    /// request asked for once it is due.
    pub async fn apply_refund_test_outcomes(&self) -> EngineResult<usize> {
        let now = self.now_secs();
        self.write(move |tx| {
            let due = tx.refunds_due_for_test(now, PASS_MAX)?;
            each_apart(
                tx,
                "test refunds",
                due,
                |r| r.id.clone(),
                |tx, r| match &r.payout_id {
                    Some(payout_id) => payee::apply_test_outcome(tx, &r, payout_id, now),
                    None => {
                        let outcome = r.test_outcome.unwrap_or(RefundStatus::Refunded);
                        settle(tx, &r.invoice_id, &r.id, outcome, Account::World, now).map(drop)
                    }
                },
            )
        })
        .await
    }
}
