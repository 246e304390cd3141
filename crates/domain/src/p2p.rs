//! The P2P side: traders, their cabinets (requisites that receive pay-ins),
//! amount slots that keep an amount unique per cabinet, deals, and the bank
//! notifications that settle them.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trader {
    pub id: String,
    pub name: String,
    /// SHA-256 of the trader API token.
    pub token_sha256: String,
    pub active: bool,
    pub created_at_secs: i64,
    /// A sandbox trader: its cabinets take test-mode deals only, and never
    /// live ones or live payouts. Fixed when the trader is made.
    #[serde(default)]
    pub test_mode: bool,
}

/// A requisite of a trader that receives transfers: a card, an SBP phone, an
/// account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cabinet {
    pub id: String,
    pub trader_id: String,
    /// `card`, `sbp`, `account`, ...
    pub method: String,
    pub currency: Currency,
    pub bank_name: String,
    /// The card number, phone or account number the customer transfers to.
    pub requisite: String,
    pub holder: String,
    pub min_amount_minor: i64,
    pub max_amount_minor: i64,
    /// Turnover allowed per UTC day (completed and open deals); 0: no limit.
    pub daily_limit_minor: i64,
    /// Amounts in use at once (live holds and open deals); 0: no limit.
    pub max_open_deals: u32,
    pub active: bool,
    pub created_at_secs: i64,
    /// Its trader's mode, copied when the cabinet is added (it never changes).
    #[serde(default)]
    pub test_mode: bool,
    /// Why an inactive cabinet is off; `None` while it is on.
    #[serde(default)]
    pub disabled_reason: Option<DisabledReason>,
    /// When it was last switched on: its health is judged from then on, so a
    /// cabinet switched back on is off again only after a new silent period
    /// or N new expired deals.
    #[serde(default)]
    pub enabled_at_secs: Option<i64>,
}

/// Why a cabinet is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// Its trader switched it off.
    Trader,
    /// The operator switched it off.
    Operator,
    /// Every device forwarding for it was silent longer than allowed.
    DeviceSilent,
    /// Its last deals all expired unpaid.
    DealsExpired,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Trader => "trader",
            DisabledReason::Operator => "operator",
            DisabledReason::DeviceSilent => "device_silent",
            DisabledReason::DealsExpired => "deals_expired",
        }
    }

    /// Switched off by the health sweep rather than by a person.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            DisabledReason::DeviceSilent | DisabledReason::DealsExpired
        )
    }
}

impl Cabinet {
    /// The requisite as logs may show it: a card number as first 6 and last 4.
    pub fn masked_requisite(&self) -> String {
        mask_card(&self.requisite)
    }
}

/// What people write between the digits of a card or phone number.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '(' | ')' | '.')
}

/// A requisite as it is stored: a number written with separators as its
/// digits (`4111 1111-1111 1111` is `4111111111111111`), a leading `+` kept
/// (`+7 (996) 777-99-77` is `+79967779977`); any other text (an IBAN, a
/// wallet) trimmed.
pub fn normalize_requisite(text: &str) -> String {
    let compact: String = text.chars().filter(|c| !is_separator(*c)).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        compact
    } else {
        text.trim().to_string()
    }
}

/// A card number, whatever separators it is written with, as its first 6 and
/// last 4 digits: `2200 1234-5678 9012` is `220012******9012`. Anything else
/// (fewer than 12 digits, a phone with `+`, text) is kept as is.
pub fn mask_card(text: &str) -> String {
    let digits = normalize_requisite(text);
    if digits.len() < 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let n = digits.len();
    format!("{}{}{}", &digits[..6], "*".repeat(n - 10), &digits[n - 4..])
}

/// An amount held on a cabinet: by a `book_cabinet` hold until it expires, or
/// by an open deal until the deal ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub cabinet_id: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub method: String,
    pub merchant_id: String,
    /// The `book_cabinet` request that made it, if one did.
    pub request_id: Option<String>,
    pub fingerprint: String,
    pub created_at_secs: i64,
    /// When a hold lapses; `None` once a deal owns the amount.
    pub expires_at_secs: Option<i64>,
    pub deal_id: Option<String>,
}

impl Hold {
    pub fn is_live(&self, now_secs: i64) -> bool {
        self.deal_id.is_some() || self.expires_at_secs.is_some_and(|at| at > now_secs)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    /// The customer has to transfer the exact amount to the requisites.
    TransferWaiting,
    /// The money arrived (the trader confirmed it, or the bank reported it).
    Completed,
    /// The deadline passed without the money; the amount is free again.
    Canceled,
    /// The customer says they paid, but the deal had ended; the trader or the
    /// operator decides.
    Disputed,
}

impl DealStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DealStatus::TransferWaiting => "transfer_waiting",
            DealStatus::Completed => "completed",
            DealStatus::Canceled => "canceled",
            DealStatus::Disputed => "disputed",
        }
    }

    pub fn is_open(self) -> bool {
        self == DealStatus::TransferWaiting
    }

    pub fn can_become(self, next: DealStatus) -> bool {
        use DealStatus::*;
        matches!(
            (self, next),
            (TransferWaiting, Completed | Canceled | Disputed)
                | (Canceled, Disputed)
                | (Disputed, Completed | Canceled)
        )
    }
}

/// A P2P deal: the customer transfers `amount_minor` to the cabinet's
/// requisites before `deadline_secs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub id: String,
    pub invoice_id: String,
    pub cabinet_id: String,
    pub trader_id: String,
    pub hold_id: String,
    pub status: DealStatus,
    pub method: String,
    pub bank_name: String,
    pub requisite: String,
    pub holder: String,
    pub amount_minor: i64,
    /// Invoice currency per settlement currency unit, fixed when the deal is made.
    pub rate: Option<String>,
    pub created_at_secs: i64,
    pub deadline_secs: i64,
    pub ended_at_secs: Option<i64>,
    /// The customer pressed "I have paid".
    pub customer_says_paid_at_secs: Option<i64>,
    pub dispute_reason: Option<String>,
    /// What settled it: `trader`, `bank_notification:<id>`, `operator`.
    pub settled_by: Option<String>,
    /// Its invoice's mode; only a cabinet of the same mode carries it.
    #[serde(default)]
    pub test_mode: bool,
    /// What actually arrived, when a person settled it for an amount other
    /// than `amount_minor` (its invoice is then paid that amount).
    #[serde(default)]
    pub received_amount_minor: Option<i64>,
    /// The reason the customer chose with their receipts (one of
    /// [`crate::evidence::REASONS`]) and their own words beside it.
    #[serde(default)]
    pub customer_reason: Option<String>,
    #[serde(default)]
    pub customer_reason_text: Option<String>,
    /// The receipts the customer uploaded, oldest first.
    #[serde(default)]
    pub evidence: Vec<crate::evidence::Evidence>,
}

impl Deal {
    /// The SBP payment link of an SBP deal (what its QR code encodes): the
    /// bank's link for a transfer to the phone number. `None` for other methods.
    pub fn qr_code_link(&self) -> Option<String> {
        if self.method != "sbp" {
            return None;
        }
        let digits: String = self
            .requisite
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect();
        Some(format!(
            "https://www.sberbank.com/sms/pbpn?requisiteNumber={digits}"
        ))
    }
}

/// A bank notification a trader posted: money arrived on a cabinet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankNotification {
    pub id: String,
    pub trader_id: String,
    /// The notification's own id at the trader's side (repeats change nothing).
    pub external_id: String,
    pub cabinet_id: String,
    pub amount_minor: i64,
    pub text: Option<String>,
    pub received_at_secs: Option<i64>,
    pub created_at_secs: i64,
    /// The deal it completed; `None`: kept for review.
    pub deal_id: Option<String>,
    /// The operator user who matched it to its deal by hand; `None`: matched
    /// by its amount, or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<String>,
}

/// How alternatives to a taken amount are generated for one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlternativeRule {
    /// Distance between alternatives, in minor units.
    pub step_minor: i64,
    pub direction: Direction,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// `a+s, a+2s, ...`: the customer pays a little more.
    Up,
    /// `a-s, a-2s, ...`
    Down,
    /// `a+s, a-s, a+2s, a-2s, ...`
    Alternate,
}

/// How many alternatives follow the exact amount.
pub const ALTERNATIVES: usize = 6;

impl AlternativeRule {
    /// The default: steps of one whole unit of the currency, upwards.
    pub fn default_for(currency: Currency) -> AlternativeRule {
        AlternativeRule {
            step_minor: 10i64.pow(currency.exponent() as u32),
            direction: Direction::Up,
        }
    }

    /// The exact amount, then [`ALTERNATIVES`] others; none below 1.
    pub fn candidates(&self, amount_minor: i64) -> Vec<i64> {
        assert!(self.step_minor > 0);
        let mut out = vec![amount_minor];
        let mut k = 1;
        while out.len() < 1 + ALTERNATIVES && k <= 4 * ALTERNATIVES as i64 {
            let next: Vec<i64> = match self.direction {
                Direction::Up => vec![amount_minor + k * self.step_minor],
                Direction::Down => vec![amount_minor - k * self.step_minor],
                Direction::Alternate => vec![
                    amount_minor + k * self.step_minor,
                    amount_minor - k * self.step_minor,
                ],
            };
            for a in next {
                if a >= 1 && out.len() < 1 + ALTERNATIVES {
                    out.push(a);
                }
            }
            k += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives() {
        let up = AlternativeRule {
            step_minor: 100,
            direction: Direction::Up,
        };
        assert_eq!(
            up.candidates(900_000),
            [900_000, 900_100, 900_200, 900_300, 900_400, 900_500, 900_600]
        );
        let alt = AlternativeRule {
            step_minor: 10,
            direction: Direction::Alternate,
        };
        assert_eq!(
            alt.candidates(1000),
            [1000, 1010, 990, 1020, 980, 1030, 970]
        );
        let down = AlternativeRule {
            step_minor: 100,
            direction: Direction::Down,
        };
        assert_eq!(down.candidates(250), [250, 150, 50]);
        let rub = Currency::from_code("RUB").unwrap();
        assert_eq!(AlternativeRule::default_for(rub).step_minor, 100);
    }

    #[test]
    fn deal_states() {
        use DealStatus::*;
        assert!(TransferWaiting.can_become(Completed));
        assert!(Canceled.can_become(Disputed));
        assert!(!Completed.can_become(Canceled));
        assert!(!Canceled.can_become(Completed));
        assert!(Disputed.can_become(Completed));
    }

    #[test]
    fn masks_cards_only() {
        assert_eq!(mask_card("2200123456789012"), "220012******9012");
        assert_eq!(mask_card("+79967779977"), "+79967779977");
        assert_eq!(mask_card("4111 1111 1111 1111"), "411111******1111");
        assert_eq!(mask_card("4111-1111-1111-1111"), "411111******1111");
        assert_eq!(mask_card(" 4111\t1111\u{a0}1111.1111 "), "411111******1111");
        assert_eq!(mask_card("+7 (996) 777-99-77"), "+7 (996) 777-99-77");
        assert_eq!(mask_card("UA21 3223"), "UA21 3223");
    }

    #[test]
    fn requisites_are_normalized() {
        assert_eq!(
            normalize_requisite(" 4111 1111-1111 1111 "),
            "4111111111111111"
        );
        assert_eq!(normalize_requisite("+7 (996) 777-99-77"), "+79967779977");
        assert_eq!(normalize_requisite(" UA21 3223 "), "UA21 3223");
        assert_eq!(normalize_requisite("1+2"), "1+2");
    }
}
