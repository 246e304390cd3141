//! The Merchant API's answers as types: what `render.rs` fills in and the
//! OpenAPI document describes. Borrowed from the invoice where they can be.

use serde::Serialize;
use utoipa::ToSchema;

/// An invoice: a pay-in (`type: in`) or a payout (`type: out`), in the
/// state it is in now (or, in a callback, was in at the change).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceDto<'a> {
    #[schema(example = "cpi_0uQ8x3LcJxoBxnY")]
    pub id: &'a str,
    /// Yours, as sent: a repeat with the same `internalId` answers with the
    /// invoice it made.
    pub internal_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^(in|out)$")]
    pub kind: &'static str,
    /// A pay-in: `new`, `completed`, `disputed`, `canceled`, `expired`; a
    /// payout: `new`, `in_progress`, `completed`, `canceled`, `expired`.
    #[schema(value_type = String, pattern = "^(new|in_progress|completed|disputed|canceled|expired)$")]
    pub status: &'static str,
    /// The bank (`sberbank`, ...).
    pub payment_method: Option<&'a str>,
    /// `SBP`, `CARD`, ...
    pub payment_option: Option<&'a str>,
    /// A payout's requisites, masked; `null` for a pay-in.
    pub payment_requisites: Option<RequisitesOut>,
    pub sum: SumDto,
    pub store_id: Option<i64>,
    pub store_name: Option<&'a str>,
    pub received_sum_from_taker: Option<String>,
    /// What the customer paid, once completed.
    pub received_sum_from_maker: Option<String>,
    pub service_fee_sum: Option<String>,
    /// What a completed payout paid.
    pub payout_sum: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expire_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The hosted page of a pay-in; `null` for a payout (no customer pays it).
    pub invoice_url: Option<String>,
    /// A pay-in's deal, when it has one.
    pub deals: Vec<DealDto<'a>>,
}

/// An amount as a decimal string with every decimal place of its currency.
#[derive(Serialize, ToSchema)]
pub struct SumDto {
    #[schema(example = "1000.00")]
    pub amount: String,
    #[schema(value_type = String, example = "RUB")]
    pub currency: &'static str,
    /// The currency's decimal places.
    pub subunit: u8,
}

/// A payout's RequisitesDTO, masked.
#[derive(Serialize, ToSchema)]
pub struct RequisitesOut {
    pub requisites: Option<String>,
    pub holder: Option<String>,
}

/// A P2P deal: the trader's requisites the customer pays to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DealDto<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^in$")]
    pub kind: &'static str,
    #[schema(value_type = String)]
    pub status: &'static str,
    /// The trader's bank.
    pub payment_method: &'a str,
    pub payment_option: String,
    pub requisites: RequisitesDto<'a>,
    /// When the deal is canceled unless paid.
    #[schema(format = DateTime)]
    pub canceled_at: String,
    /// A link to the newest receipt the customer sent to the dispute,
    /// signed and working for 24 hours from this answer.
    pub dispute_attachment: Option<String>,
    /// The reason the customer chose (`paid_but_not_credited`,
    /// `paid_wrong_amount`, `other`), else why Kassa disputed the deal
    /// (`customer_says_paid`, `customer_paid_after_deadline`).
    pub dispute_reason: Option<&'a str>,
    /// The customer's own words beside the reason, if they wrote any.
    pub dispute_reason_data: Vec<DisputeReasonDataDto<'a>>,
    /// The payment, once the deal is completed.
    pub payment: Option<PaymentDto>,
    pub rate: Option<&'a str>,
    pub is_active: bool,
    pub qr_code_link: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DisputeReasonDataDto<'a> {
    pub text: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct RequisitesDto<'a> {
    pub requisites: &'a str,
    pub holder: &'a str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDto {
    pub amount: String,
    #[schema(value_type = String)]
    pub currency: &'static str,
    #[schema(format = DateTime)]
    pub paid_at: String,
}

/// A page of the listing, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListDto<'a> {
    pub items: Vec<InvoiceDto<'a>>,
    pub paging: PagingDto,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PagingDto {
    pub limit: usize,
    /// The cursor of the next (older) page, when there may be one.
    pub next_after: Option<String>,
    pub has_more: bool,
    /// The path of the next page, ready to sign and request.
    pub next: Option<String>,
}

/// The merchant's balances in the key's mode.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalancesDto {
    pub test_mode: bool,
    pub balances: Vec<BalanceDto>,
}

/// One currency's balance, as a decimal string and in minor units.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceDto {
    #[schema(value_type = String)]
    pub currency: &'static str,
    pub subunit: u8,
    pub available: String,
    pub available_minor: i64,
    pub pending_payouts: String,
    pub pending_payouts_minor: i64,
    /// Held for refunds under way: paid back to customers when they
    /// settle, back to `available` when they fail.
    pub pending_refunds: String,
    pub pending_refunds_minor: i64,
    pub reserve: String,
    pub reserve_minor: i64,
}

/// A refund of a pay-in, in the state it is in now (or, in a callback, was
/// in at the change).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundDto<'a> {
    #[schema(example = "rfd_0uQ8x3LcJxoBxnY")]
    pub id: &'a str,
    /// Yours, as sent.
    pub internal_id: &'a str,
    #[serde(rename = "type")]
    #[schema(value_type = String, pattern = "^refund$")]
    pub kind: &'static str,
    /// `refunding` until the trader who takes its payout pays it, then
    /// `refunded`; `refund_failed` when no trader paid it (the money is
    /// yours again).
    #[schema(value_type = String, pattern = "^(refunding|refunded|refund_failed)$")]
    pub status: &'static str,
    /// The refunded pay-in.
    pub invoice_id: &'a str,
    /// The refunded pay-in's `internalId`.
    pub invoice_internal_id: Option<&'a str>,
    pub sum: SumDto,
    /// What the invoice's refunds that have not failed take back, this one
    /// included.
    pub invoice_refunded_sum: String,
    /// The payout a trader executes to pay the customer back.
    pub payout_id: Option<&'a str>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// An invoice's refunds, oldest first.
#[derive(Serialize, ToSchema)]
pub struct RefundListDto<'a> {
    pub items: Vec<RefundDto<'a>>,
}
