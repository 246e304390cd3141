//! Invoices, payouts and balances as the Merchant API shows them, in
//! answers and in callbacks.

use chrono::{DateTime, Utc};
use kassa_domain::money::format_fixed;
use kassa_domain::payout::{Payout, PayoutStatus};
use kassa_domain::refund::Refund;
use kassa_domain::{Callback, CallbackAttempt, Deal, DealStatus, Invoice, InvoiceStatus, Merchant};
use kassa_engine::evidence::EvidenceLinks;
use kassa_engine::ledger::Balance;
use kassa_engine::Rendered;
use serde::Deserialize as _;
use serde_json::Value;

use super::auth::signature;
use super::payout::out_option_of_method;
use super::response::{
    BalanceDto, DealDto, DisputeReasonDataDto, InvoiceDto, PaymentDto, RefundDto, RequisitesDto,
    RequisitesOut, SumDto,
};

/// `storeId` and `storeName` of an InvoiceDTO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    pub id: i64,
    pub name: String,
}

impl StoreInfo {
    pub fn of(merchant: &Merchant) -> StoreInfo {
        StoreInfo {
            id: merchant.site_id,
            name: merchant.name.clone(),
        }
    }
}

/// The store of a callback, as the engine recorded it in the snapshot.
fn store_of_callback(callback: &Callback) -> Option<StoreInfo> {
    let s = callback.snapshot.get("store")?;
    Some(StoreInfo {
        id: s.get("id")?.as_i64()?,
        name: s.get("name")?.as_str()?.to_string(),
    })
}

/// `2024-11-04T13:55:45+00:00`.
pub fn iso(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// The `paymentOption` of a deal's method: `SBP`, `CARD`, ...
fn option_of_method(method: &str) -> String {
    method.to_ascii_uppercase()
}

/// The InvoiceDTO `status`, from the invoice and its deal:
/// `new`, `completed`, `disputed`, `canceled`, `expired`.
pub fn invoice_status(invoice: &Invoice, deal: Option<&Deal>) -> &'static str {
    if let Some(deal) = deal {
        match deal.status {
            DealStatus::Completed => return "completed",
            DealStatus::Disputed => return "disputed",
            DealStatus::Canceled => return "canceled",
            // An open deal follows its invoice, which is open too.
            DealStatus::TransferWaiting => {}
        }
    }
    match invoice.status {
        InvoiceStatus::Created | InvoiceStatus::ProcessPending | InvoiceStatus::Processing => "new",
        InvoiceStatus::Processed
        | InvoiceStatus::PartiallyProcessed
        | InvoiceStatus::Refunding
        | InvoiceStatus::Refunded
        | InvoiceStatus::PartiallyRefunded
        | InvoiceStatus::RefundFailed
        | InvoiceStatus::Verified => "completed",
        InvoiceStatus::Expired => "expired",
        InvoiceStatus::ProcessFailed | InvoiceStatus::VerifyFailed | InvoiceStatus::Terminated => {
            "canceled"
        }
    }
}

/// `disputeAttachment`: a link to the newest receipt the customer sent
/// (callbacks, kept for long, carry none: a link expires).
fn dispute_attachment(
    base_url: &str,
    deal: &Deal,
    links: Option<&EvidenceLinks>,
) -> Option<String> {
    let (links, newest) = links.zip(deal.evidence.last())?;
    Some(format!("{base_url}{}", links.link(&newest.id)))
}

fn deal_dto<'a>(
    base_url: &str,
    invoice: &Invoice,
    deal: &'a Deal,
    links: Option<&EvidenceLinks>,
) -> DealDto<'a> {
    let exponent = invoice.currency.exponent();
    let payment = (deal.status == DealStatus::Completed).then(|| PaymentDto {
        // What arrived, when the deal was settled for another amount.
        amount: format_fixed(
            deal.received_amount_minor.unwrap_or(deal.amount_minor),
            exponent,
        ),
        currency: invoice.currency.code(),
        paid_at: iso(deal.ended_at_secs.unwrap_or(deal.deadline_secs)),
    });
    DealDto {
        id: &deal.id,
        kind: "in",
        status: deal.status.as_str(),
        payment_method: &deal.bank_name,
        payment_option: option_of_method(&deal.method),
        requisites: RequisitesDto {
            requisites: &deal.requisite,
            holder: &deal.holder,
        },
        canceled_at: iso(deal.deadline_secs),
        dispute_attachment: dispute_attachment(base_url, deal, links),
        // What the customer chose, else why Kassa disputed it.
        dispute_reason: deal
            .customer_reason
            .as_deref()
            .or(deal.dispute_reason.as_deref()),
        dispute_reason_data: deal
            .customer_reason_text
            .iter()
            .map(|text| DisputeReasonDataDto { text })
            .collect(),
        payment,
        rate: deal.rate.as_deref(),
        is_active: deal.status.is_open(),
        qr_code_link: deal.qr_code_link(),
    }
}

/// The InvoiceDTO of a pay-in and its deal.
pub fn invoice_dto<'a>(
    base_url: &str,
    store: Option<&'a StoreInfo>,
    invoice: &'a Invoice,
    deal: Option<&'a Deal>,
    links: Option<&EvidenceLinks>,
) -> InvoiceDto<'a> {
    let exponent = invoice.currency.exponent();
    let fixed = |minor: i64| format_fixed(minor, exponent);
    let fields = invoice.merchant_api.as_ref();
    let status = invoice_status(invoice, deal);
    let completed = status == "completed";
    let received = completed.then(|| {
        fixed(
            invoice
                .processed_amount_minor
                .or(deal.map(|d| d.amount_minor))
                .unwrap_or(invoice.amount_minor),
        )
    });
    let fee = completed.then(|| fixed(invoice.processed_fee_minor.unwrap_or(invoice.fee_minor)));
    let updated_at = deal
        .into_iter()
        .flat_map(|d| [Some(d.created_at_secs), d.ended_at_secs])
        .flatten()
        .fold(invoice.updated_at_secs, i64::max);
    let internal_id = fields.and_then(|f| f.internal_id.as_deref());
    InvoiceDto {
        id: &invoice.id,
        internal_id,
        user_id: fields.and_then(|f| f.user_id.as_deref()),
        kind: "in",
        status,
        payment_method: fields
            .and_then(|f| f.payment_method.as_deref())
            .or(deal.map(|d| d.bank_name.as_str())),
        payment_option: fields.and_then(|f| f.payment_option.as_deref()),
        payment_requisites: None,
        sum: SumDto {
            amount: fixed(invoice.amount_minor),
            currency: invoice.currency.code(),
            subunit: exponent,
        },
        store_id: store.map(|s| s.id),
        store_name: store.map(|s| s.name.as_str()),
        received_sum_from_taker: None,
        received_sum_from_maker: received,
        service_fee_sum: fee,
        payout_sum: None,
        created_at: iso(invoice.created_at_secs),
        expire_at: iso(invoice.expires_at_secs),
        updated_at: iso(updated_at),
        invoice_url: Some(format!("{base_url}/hpp/{}", invoice.id)),
        deals: deal
            .map(|d| deal_dto(base_url, invoice, d, links))
            .into_iter()
            .collect(),
    }
}

/// The InvoiceDTO `status` of a payout: `new` (waiting for a trader, also
/// after one declined it), `in_progress` (a trader took it and is paying),
/// `completed` (paid), `expired` (no trader paid it by its deadline),
/// `canceled` (failed otherwise).
pub fn payout_status(p: &Payout) -> &'static str {
    match p.status {
        PayoutStatus::Pending => "new",
        PayoutStatus::InProgress => "in_progress",
        PayoutStatus::Success => "completed",
        PayoutStatus::Failed if p.reason.as_deref() == Some("deadline") => "expired",
        PayoutStatus::Failed => "canceled",
    }
}

/// A requisite other than a card number, masked: every character but the
/// last four (and a leading `+`) as `*`.
pub fn mask_tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let keep = chars.len().saturating_sub(4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i >= keep || (i == 0 && *c == '+') {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// The payout's RequisitesDTO, masked: a card number as its first 6 and
/// last 4 digits, a phone or account number as its last 4.
fn payout_requisites(p: &Payout) -> Option<RequisitesOut> {
    let option = out_option_of_method(&p.method)?;
    let text = |name: &str| {
        p.fields_masked
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let requisites = text(option.requisite_field).map(|r| {
        // A card number is masked by the engine already (first 6, last 4);
        // whatever did not look like one is masked here.
        if option.requisite_field == "card_number" && r.contains('*') {
            r
        } else {
            mask_tail(&r)
        }
    });
    let holder = option.holder_field.and_then(text);
    Some(RequisitesOut { requisites, holder })
}

/// The InvoiceDTO of a payout.
pub fn payout_dto<'a>(store: Option<&'a StoreInfo>, p: &'a Payout) -> InvoiceDto<'a> {
    let exponent = p.currency.exponent();
    let fixed = |minor: i64| format_fixed(minor, exponent);
    let field = |name: &str| {
        p.merchant_api
            .as_ref()
            .and_then(|f| f.get(name))
            .and_then(Value::as_str)
    };
    InvoiceDto {
        id: &p.id,
        internal_id: field("internalId"),
        user_id: field("userId"),
        kind: "out",
        status: payout_status(p),
        payment_method: field("paymentMethod"),
        payment_option: field("paymentOption"),
        payment_requisites: payout_requisites(p),
        sum: SumDto {
            amount: fixed(p.amount_minor),
            currency: p.currency.code(),
            subunit: exponent,
        },
        store_id: store.map(|s| s.id),
        store_name: store.map(|s| s.name.as_str()),
        received_sum_from_taker: None,
        received_sum_from_maker: None,
        // Held with the amount from creation, charged on success, given back
        // on failure.
        service_fee_sum: (p.status != PayoutStatus::Failed).then(|| fixed(p.fee_minor)),
        payout_sum: (p.status == PayoutStatus::Success).then(|| fixed(p.amount_minor)),
        created_at: iso(p.created_at_secs),
        expire_at: iso(p.deadline_secs),
        updated_at: iso(p.updated_at_secs),
        invoice_url: None,
        deals: Vec::new(),
    }
}

pub fn balance_dto(b: &Balance) -> BalanceDto {
    let e = b.currency.exponent();
    BalanceDto {
        currency: b.currency.code(),
        subunit: e,
        available: format_fixed(b.available_minor, e),
        available_minor: b.available_minor,
        pending_payouts: format_fixed(b.pending_payouts_minor, e),
        pending_payouts_minor: b.pending_payouts_minor,
        pending_refunds: format_fixed(b.pending_refunds_minor, e),
        pending_refunds_minor: b.pending_refunds_minor,
        reserve: format_fixed(b.reserve_minor, e),
        reserve_minor: b.reserve_minor,
    }
}

/// A value that may go in an HTTP header as is.
pub fn header_safe(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Renders a Merchant API callback: the InvoiceDTO as it was at the change,
/// with `X-Notification-Token` (the invoice's `notificationToken`) and
/// `X-Signature` (lowercase hex HMAC-SHA256 of the body under the callback
/// secret). The engine adds the Standard Webhooks headers.
pub fn render_callback(
    base_url: &str,
    callback: &Callback,
    attempts: &[CallbackAttempt],
    secret: &str,
) -> Rendered {
    let _ = attempts;
    let invoice = callback
        .snapshot
        .get("invoice")
        .and_then(|v| Invoice::deserialize(v).ok());
    let deal = callback
        .snapshot
        .get("deal")
        .and_then(|v| Option::<Deal>::deserialize(v).ok())
        .flatten();
    let mut headers = Vec::new();
    let body = match &invoice {
        Some(invoice) => {
            let store = store_of_callback(callback);
            let dto = invoice_dto(base_url, store.as_ref(), invoice, deal.as_ref(), None);
            if let Some(token) = invoice
                .merchant_api
                .as_ref()
                .map(|f| f.notification_token.as_str())
                .filter(|t| header_safe(t))
            {
                headers.push(("X-Notification-Token".to_string(), token.to_string()));
            }
            serde_json::to_vec(&dto).expect("an InvoiceDTO renders")
        }
        None => {
            tracing::error!(callback = %callback.id, "a Merchant API callback without its invoice");
            serde_json::to_vec(&callback.snapshot).expect("JSON")
        }
    };
    headers.push(("X-Signature".to_string(), signature(secret, &body)));
    Rendered { body, headers }
}

/// Renders a Merchant API `type: out` callback: the InvoiceDTO of the payout
/// as it was at the change, with the headers of pay-in callbacks
/// (`X-Notification-Token`, `X-Signature` under the callback secret).
pub fn render_payout_callback(base_url: &str, callback: &Callback, secret: &str) -> Rendered {
    let _ = base_url;
    let payout = callback
        .snapshot
        .get("payout")
        .and_then(|v| Payout::deserialize(v).ok());
    let mut headers = Vec::new();
    let body = match &payout {
        Some(p) => {
            let store = store_of_callback(callback);
            let dto = payout_dto(store.as_ref(), p);
            if let Some(token) = p
                .merchant_api
                .as_ref()
                .and_then(|f| f.get("notificationToken"))
                .and_then(Value::as_str)
                .filter(|t| header_safe(t))
            {
                headers.push(("X-Notification-Token".to_string(), token.to_string()));
            }
            serde_json::to_vec(&dto).expect("an InvoiceDTO renders")
        }
        None => {
            // Never the raw snapshot: it would carry the sealed fields.
            tracing::error!(callback = %callback.id, "a Merchant API payout callback without its payout");
            serde_json::to_vec(&serde_json::json!({ "id": callback.invoice_id })).expect("JSON")
        }
    };
    headers.push(("X-Signature".to_string(), signature(secret, &body)));
    Rendered { body, headers }
}

/// The RefundDTO of a refund of `invoice`.
pub fn refund_dto<'a>(refund: &'a Refund, invoice: &'a Invoice) -> RefundDto<'a> {
    let exponent = refund.currency.exponent();
    RefundDto {
        id: &refund.id,
        internal_id: &refund.reference_id,
        kind: "refund",
        status: refund.status.as_str(),
        invoice_id: &refund.invoice_id,
        invoice_internal_id: invoice
            .merchant_api
            .as_ref()
            .and_then(|f| f.internal_id.as_deref()),
        sum: SumDto {
            amount: format_fixed(refund.amount_minor, exponent),
            currency: refund.currency.code(),
            subunit: exponent,
        },
        invoice_refunded_sum: format_fixed(invoice.refunded_amount_minor.unwrap_or(0), exponent),
        payout_id: refund.payout_id.as_deref(),
        created_at: iso(refund.created_at_secs),
        updated_at: iso(refund.updated_at_secs),
    }
}

/// Renders a Merchant API refund callback: the RefundDTO as it was at the
/// change, with the headers of the invoice's callbacks
/// (`X-Notification-Token` of the invoice, `X-Signature` under the callback
/// secret).
pub fn render_refund_callback(callback: &Callback, secret: &str) -> Rendered {
    let refund = callback
        .snapshot
        .get("refund")
        .and_then(|v| Refund::deserialize(v).ok());
    let invoice = callback
        .snapshot
        .get("invoice")
        .and_then(|v| Invoice::deserialize(v).ok());
    let mut headers = Vec::new();
    let body = match (&refund, &invoice) {
        (Some(refund), Some(invoice)) => {
            if let Some(token) = invoice
                .merchant_api
                .as_ref()
                .map(|f| f.notification_token.as_str())
                .filter(|t| header_safe(t))
            {
                headers.push(("X-Notification-Token".to_string(), token.to_string()));
            }
            serde_json::to_vec(&refund_dto(refund, invoice)).expect("a RefundDTO renders")
        }
        _ => {
            tracing::error!(callback = %callback.id, "a Merchant API refund callback without its refund");
            serde_json::to_vec(&serde_json::json!({ "invoiceId": callback.invoice_id }))
                .expect("JSON")
        }
    };
    headers.push(("X-Signature".to_string(), signature(secret, &body)));
    Rendered { body, headers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_times() {
        assert_eq!(mask_tail("+79991234567"), "+*******4567");
        assert_eq!(mask_tail("40817810"), "****7810");
        assert_eq!(mask_tail("123"), "123");
        assert_eq!(iso(1_730_728_545), "2024-11-04T13:55:45+00:00");
    }
}
