//! The answers of the trader and admin APIs as types, filled from the
//! domain's records. A requisite is shown in full to the trader owning it,
//! masked (a card number as first 6 and last 4) to everyone else.

use std::collections::HashMap;

use chrono::SecondsFormat;
use kassa_domain::bank_message::{BankMessage, TraderDevice};
use kassa_domain::money::format_fixed;
use kassa_domain::p2p::mask_card;
use kassa_domain::payout::Payout;
use kassa_domain::{BankNotification, Cabinet, Currency, Deal, Trader};
use kassa_engine::evidence::EvidenceLinks;
use kassa_engine::Engine;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Result;

/// Who sees a requisite how.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    Owner,
    Operator,
}

fn requisite(text: &str, view: View) -> String {
    match view {
        View::Owner => text.to_string(),
        View::Operator => mask_card(text),
    }
}

/// An RFC 3339 time in UTC, to the second.
pub fn time(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn amount(minor: i64, currency: Option<Currency>) -> Option<String> {
    currency.map(|c| format_fixed(minor, c.exponent()))
}

/// A list's answer: `{"data": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

#[derive(Serialize, ToSchema)]
pub struct TraderView {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub test_mode: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
}

impl From<&Trader> for TraderView {
    fn from(t: &Trader) -> Self {
        TraderView {
            id: t.id.clone(),
            name: t.name.clone(),
            active: t.active,
            test_mode: t.test_mode,
            created_at: time(t.created_at_secs),
        }
    }
}

/// A new trader, with its token: shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewTraderView {
    #[serde(flatten)]
    pub trader: TraderView,
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct CabinetView {
    pub id: String,
    pub trader_id: String,
    pub method: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub bank: String,
    pub requisite: String,
    pub holder: String,
    pub min_amount: String,
    /// `null`: no limit.
    pub max_amount: Option<String>,
    /// `null`: no limit.
    pub daily_limit: Option<String>,
    /// `null`: no limit.
    pub max_open_deals: Option<u32>,
    pub active: bool,
    /// Why it is off: `trader` or `operator` (switched off by them),
    /// `device_silent` (its devices were silent too long) or `deals_expired`
    /// (its last deals all expired unpaid); `null` while it is on.
    #[schema(value_type = Option<String>, pattern = "^(trader|operator|device_silent|deals_expired)$")]
    pub disabled_reason: Option<&'static str>,
    pub test_mode: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
}

impl CabinetView {
    pub fn new(c: &Cabinet, view: View) -> Self {
        let e = c.currency.exponent();
        let limit = |minor: i64| (minor > 0).then(|| format_fixed(minor, e));
        CabinetView {
            id: c.id.clone(),
            trader_id: c.trader_id.clone(),
            method: c.method.clone(),
            currency: c.currency,
            bank: c.bank_name.clone(),
            requisite: requisite(&c.requisite, view),
            holder: c.holder.clone(),
            min_amount: format_fixed(c.min_amount_minor, e),
            max_amount: limit(c.max_amount_minor),
            daily_limit: limit(c.daily_limit_minor),
            max_open_deals: (c.max_open_deals > 0).then_some(c.max_open_deals),
            active: c.active,
            disabled_reason: c.disabled_reason.map(|r| r.as_str()),
            test_mode: c.test_mode,
            created_at: time(c.created_at_secs),
        }
    }
}

/// Each cabinet's currency, to write the amounts of its deals.
pub type Currencies = HashMap<String, Currency>;

pub async fn currencies_of(engine: &Engine, trader_id: &str) -> Result<Currencies> {
    Ok(engine
        .trader_cabinets(trader_id.to_string())
        .await?
        .into_iter()
        .map(|c| (c.id, c.currency))
        .collect())
}

#[derive(Serialize, ToSchema)]
pub struct DealView {
    pub id: String,
    pub invoice_id: String,
    pub trader_id: String,
    pub cabinet_id: String,
    /// `transfer_waiting`, `completed`, `canceled` or `disputed`.
    pub status: &'static str,
    pub amount: Option<String>,
    /// What arrived, when the deal was settled for another amount.
    pub amount_received: Option<String>,
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
    pub method: String,
    pub bank: String,
    pub requisite: String,
    pub holder: String,
    pub rate: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub deadline: Option<String>,
    #[schema(format = DateTime)]
    pub ended_at: Option<String>,
    #[schema(format = DateTime)]
    pub customer_says_paid_at: Option<String>,
    pub dispute_reason: Option<String>,
    /// The reason the customer chose with their receipts
    /// (`paid_but_not_credited`, `paid_wrong_amount`, `other`).
    pub customer_reason: Option<String>,
    /// The customer's own words beside it.
    pub customer_reason_text: Option<String>,
    /// The receipts the customer sent, oldest first.
    pub evidence: Vec<EvidenceView>,
    /// `trader` or `operator`, once settled by hand.
    pub settled_by: Option<String>,
    pub test_mode: bool,
}

/// A receipt the customer sent to a dispute.
#[derive(Serialize, ToSchema)]
pub struct EvidenceView {
    pub id: String,
    /// `image/png`, `image/jpeg` or `application/pdf`, read from the file's bytes.
    pub content_type: String,
    pub size_bytes: i64,
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: Option<String>,
    /// Signed; works for 24 hours from this answer.
    pub url: String,
}

/// Makes the receipts' links of one answer.
pub struct Links<'a> {
    base_url: &'a str,
    links: EvidenceLinks,
}

impl<'a> Links<'a> {
    pub fn of(app: &'a crate::AppState) -> Self {
        Links {
            base_url: &app.base_url,
            links: app.engine.evidence_links(),
        }
    }
}

impl DealView {
    pub fn new(d: &Deal, currencies: &Currencies, view: View, links: &Links) -> Self {
        let currency = currencies.get(&d.cabinet_id).copied();
        DealView {
            id: d.id.clone(),
            invoice_id: d.invoice_id.clone(),
            trader_id: d.trader_id.clone(),
            cabinet_id: d.cabinet_id.clone(),
            status: d.status.as_str(),
            amount: amount(d.amount_minor, currency),
            amount_received: d.received_amount_minor.and_then(|r| amount(r, currency)),
            currency,
            method: d.method.clone(),
            bank: d.bank_name.clone(),
            requisite: requisite(&d.requisite, view),
            holder: d.holder.clone(),
            rate: d.rate.clone(),
            created_at: time(d.created_at_secs),
            deadline: time(d.deadline_secs),
            ended_at: d.ended_at_secs.and_then(time),
            customer_says_paid_at: d.customer_says_paid_at_secs.and_then(time),
            dispute_reason: d.dispute_reason.clone(),
            customer_reason: d.customer_reason.clone(),
            customer_reason_text: d.customer_reason_text.clone(),
            evidence: d
                .evidence
                .iter()
                .map(|e| EvidenceView {
                    id: e.id.clone(),
                    content_type: e.content_type.clone(),
                    size_bytes: e.size_bytes,
                    uploaded_at: time(e.created_at_secs),
                    url: format!("{}{}", links.base_url, links.links.link(&e.id)),
                })
                .collect(),
            settled_by: d.settled_by.clone(),
            test_mode: d.test_mode,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    /// The trader's own id of the notification.
    pub id: String,
    pub kassa_id: String,
    pub trader_id: String,
    pub cabinet: String,
    pub amount: Option<String>,
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
    pub text: Option<String>,
    #[schema(format = DateTime)]
    pub time: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
    pub matched: bool,
    pub deal_id: Option<String>,
}

impl NotificationView {
    pub fn new(n: &BankNotification, currencies: &Currencies) -> Self {
        let currency = currencies.get(&n.cabinet_id).copied();
        NotificationView {
            id: n.external_id.clone(),
            kassa_id: n.id.clone(),
            trader_id: n.trader_id.clone(),
            cabinet: n.cabinet_id.clone(),
            amount: amount(n.amount_minor, currency),
            currency,
            text: n.text.clone(),
            time: n.received_at_secs.and_then(time),
            created_at: time(n.created_at_secs),
            matched: n.deal_id.is_some(),
            deal_id: n.deal_id.clone(),
        }
    }
}

/// A posted notification, with the deal it completed, if any.
#[derive(Serialize, ToSchema)]
pub struct PostedNotification {
    #[serde(flatten)]
    pub notification: NotificationView,
    pub deal: Option<DealView>,
}

#[derive(Serialize, ToSchema)]
pub struct PayoutView {
    pub id: String,
    /// `pending`, `in_progress`, `success` or `failed`.
    pub status: &'static str,
    pub amount: String,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub method: String,
    /// The `bank_name` of its fields, if any.
    pub bank: Value,
    /// In full to the trader paying it, masked otherwise.
    #[schema(value_type = Object)]
    pub additional_fields: Value,
    pub trader_id: Option<String>,
    pub receipt: Option<String>,
    pub reason: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub deadline: Option<String>,
}

impl PayoutView {
    pub fn new(p: &Payout, fields: Value) -> Self {
        PayoutView {
            id: p.id.clone(),
            status: p.status.as_str(),
            amount: format_fixed(p.amount_minor, p.currency.exponent()),
            currency: p.currency,
            method: p.method.clone(),
            bank: fields.get("bank_name").cloned().unwrap_or(Value::Null),
            additional_fields: fields,
            trader_id: p.trader_id.clone(),
            receipt: p.receipt.clone(),
            reason: p.reason.clone(),
            created_at: time(p.created_at_secs),
            updated_at: time(p.updated_at_secs),
            deadline: time(p.deadline_secs),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    pub id: String,
    pub trader_id: String,
    pub name: String,
    /// False once revoked: its token is refused.
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    /// Its last heartbeat or message; `null`: never heard from.
    #[schema(format = DateTime)]
    pub last_seen: Option<String>,
    /// The cabinets it forwards for; empty: all its trader's.
    pub cabinets: Vec<String>,
}

impl From<&TraderDevice> for DeviceView {
    fn from(d: &TraderDevice) -> Self {
        DeviceView {
            id: d.id.clone(),
            trader_id: d.trader_id.clone(),
            name: d.name.clone(),
            active: d.revoked_at_secs.is_none(),
            created_at: time(d.created_at_secs),
            revoked_at: d.revoked_at_secs.and_then(time),
            last_seen: d.last_seen_at_secs.and_then(time),
            cabinets: d.cabinet_ids.clone(),
        }
    }
}

/// A new device, with its token: shown this once.
#[derive(Serialize, ToSchema)]
pub struct NewDeviceView {
    #[serde(flatten)]
    pub device: DeviceView,
    /// The device's bearer token for `POST /trader-api/messages`.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub trader_id: String,
    pub device_id: String,
    pub sender: String,
    /// As received, full card numbers masked.
    pub text: String,
    /// When the phone received it.
    #[schema(value_type = String, format = DateTime)]
    pub time: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Option<String>,
    /// `credit`, `debit`, `balance` or `unknown`.
    pub kind: &'static str,
    /// The amount read (a balance's balance), in `currency`.
    pub amount: Option<String>,
    #[schema(value_type = Option<String>)]
    pub currency: Option<Currency>,
    /// The last digits of the card or account the message names.
    pub digits: Option<String>,
    /// The pattern that read it: `builtin:<name>` or an operator's `mpt_...`.
    pub pattern: Option<String>,
    /// The trader's cabinet a credit's digits named.
    pub cabinet: Option<String>,
    /// The bank notification a credit became (`kassa_id` in the notifications).
    pub notification_id: Option<String>,
    /// True when it completed a deal.
    pub matched: bool,
    pub deal_id: Option<String>,
}

impl From<&BankMessage> for MessageView {
    fn from(m: &BankMessage) -> Self {
        let r = &m.reading;
        MessageView {
            id: m.id.clone(),
            trader_id: m.trader_id.clone(),
            device_id: m.device_id.clone(),
            sender: m.sender.clone(),
            text: m.text.clone(),
            time: time(m.received_at_secs),
            created_at: time(m.created_at_secs),
            kind: r.kind.as_str(),
            amount: r.amount_minor.and_then(|a| amount(a, r.currency)),
            currency: r.currency,
            digits: r.digits.clone(),
            pattern: r.pattern_id.clone(),
            cabinet: m.cabinet_id.clone(),
            notification_id: m.notification_id.clone(),
            matched: m.deal_id.is_some(),
            deal_id: m.deal_id.clone(),
        }
    }
}

/// A posted message, with the deal it completed, if any.
#[derive(Serialize, ToSchema)]
pub struct PostedMessage {
    #[serde(flatten)]
    pub message: MessageView,
    pub deal: Option<DealView>,
}

/// A trader's collateral: amounts are decimal text in the settlement currency.
#[derive(Serialize, ToSchema)]
pub struct CollateralView {
    /// The settlement currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Whether bookings are bounded by it (`trader_collateral_required`).
    pub required: bool,
    pub deposit: String,
    /// Live holds and open deals on the trader's cabinets.
    pub held: String,
    /// Pay-ins the trader received and holds for merchants, less payouts it made.
    pub owed: String,
    /// `deposit - held - owed`: what it may still take on; negative when over.
    pub free: String,
    /// A currency the trader has money in without a rate: not counted, and
    /// while it lasts the trader takes no new deals; `null` when none.
    #[schema(value_type = Option<String>)]
    pub uncounted_currency: Option<Currency>,
}

impl From<&kassa_engine::p2p::TraderCollateral> for CollateralView {
    fn from(c: &kassa_engine::p2p::TraderCollateral) -> Self {
        let f = |m: i64| format_fixed(m, c.currency.exponent());
        CollateralView {
            currency: c.currency,
            required: c.required,
            deposit: f(c.exposure.deposit_minor),
            held: f(c.exposure.held_minor),
            owed: f(c.exposure.owed_minor),
            free: f(c.exposure.free_minor()),
            uncounted_currency: c.uncounted,
        }
    }
}
