//! Payouts: money a merchant sends out through a trader (or, in test mode,
//! the test executor), with the fields each method needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::money::Currency;

/// The currencies and methods the H2H payout API accepts.
pub const CURRENCIES: [&str; 8] = ["USD", "EUR", "RUB", "UAH", "USDT", "IDR", "AZN", "VND"];
pub const METHODS: [&str; 9] = [
    "card",
    "sbp",
    "WalletM10",
    "localbanks",
    "binance",
    "cash",
    "MTS",
    "sbp_qr",
    "Emanat",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Waiting for a trader to take it.
    Pending,
    /// A trader took it and is paying.
    InProgress,
    /// Paid.
    Success,
    /// Not paid: declined by every trader in time, failed, or past its deadline.
    Failed,
}

impl PayoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::InProgress => "in_progress",
            PayoutStatus::Success => "success",
            PayoutStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<PayoutStatus> {
        use PayoutStatus::*;
        [Pending, InProgress, Success, Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// The H2H face's numeric code.
    pub fn code(self) -> i64 {
        match self {
            PayoutStatus::Pending => 0,
            PayoutStatus::InProgress => 1,
            PayoutStatus::Success => 2,
            PayoutStatus::Failed => 3,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, PayoutStatus::Success | PayoutStatus::Failed)
    }

    pub fn can_become(self, next: PayoutStatus) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, next),
            (Pending, InProgress | Success | Failed) | (InProgress, Pending | Success | Failed)
        )
    }
}

/// Where a payout came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutSource {
    H2h,
    MerchantApi,
    /// A refund of a P2P pay-in, paid to the customer's requisites; its
    /// `request_id` is the refund's id, and its outcome settles the refund.
    Refund,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payout {
    pub id: String,
    pub merchant_id: String,
    pub test_mode: bool,
    pub request_id: String,
    pub source: PayoutSource,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub currency: Currency,
    pub method: String,
    /// `additional_fields` sealed with the master key (they hold card numbers).
    pub fields_sealed: String,
    /// The same fields with card numbers masked, safe to show and log.
    pub fields_masked: Value,
    pub status: PayoutStatus,
    /// Why it failed: `declined`, `deadline`, `test`, ...
    pub reason: Option<String>,
    pub trader_id: Option<String>,
    /// Traders who declined it: it is not offered to them again.
    pub declined_by: Vec<String>,
    pub receipt: Option<String>,
    pub created_at_secs: i64,
    pub updated_at_secs: i64,
    pub deadline_secs: i64,
    /// The outcome a test payout asked for, applied by the test executor.
    pub test_outcome: Option<PayoutStatus>,
    /// Keyed hash of the request, to tell a repeat from a conflicting reuse
    /// of `request_id`. Empty (and left out) in callback snapshots.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    /// Merchant API fields (`notificationUrl`, ...), when it came from there.
    #[serde(default)]
    pub merchant_api: Option<Value>,
    pub callback_url: Option<String>,
}

/// The Luhn check of a card number's digits.
pub fn luhn(digits: &str) -> bool {
    if digits.len() < 12 || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `(field, required)` per method, as the payout specification's table says.
pub fn fields_of(method: &str) -> &'static [(&'static str, bool)] {
    match method {
        "card" => &[
            ("card_number", true),
            ("bank_name", false),
            ("card_holder", false),
            ("bank_option", false),
            ("expiry_date", false),
        ],
        "localbanks" => &[
            ("account_number", true),
            ("bank_name", false),
            ("account_holder", false),
        ],
        "sbp" => &[
            ("phone_number", true),
            ("phone_holder", true),
            ("bank_name", false),
        ],
        "MTS" => &[("phone_number", true)],
        "WalletM10" | "Emanat" => &[("phone_number", true)],
        "cash" => &[
            ("address", true),
            ("username", true),
            ("messenger", true),
            ("verification_code", true),
            ("asap", false),
            ("time", false),
        ],
        _ => &[],
    }
}

/// The fields that hold a card, phone or account number.
const NUMBER_FIELDS: [&str; 3] = ["card_number", "phone_number", "account_number"];

/// Writes the numbers among `additional_fields` the one way they are stored
/// (see [`crate::p2p::normalize_requisite`]): `4111 1111-1111 1111` as its
/// digits, so that a repeat written otherwise is the same request and every
/// copy of the number is masked alike.
pub fn normalize_fields(fields: &mut Map<String, Value>) {
    for name in NUMBER_FIELDS {
        if let Some(Value::String(text)) = fields.get_mut(name) {
            *text = crate::p2p::normalize_requisite(text);
        }
    }
}

/// Checks `additional_fields` for a method: required fields present, every
/// value a string, card numbers passing Luhn, phone numbers of digits.
/// Errors are keyed `additional_fields.<name>`.
pub fn check_fields(method: &str, fields: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    for (name, value) in fields {
        if !(value.is_string() || name == "asap" && value.is_boolean()) {
            errors.insert(
                format!("additional_fields.{name}"),
                "must be a string".to_string(),
            );
        }
    }
    for (name, required) in fields_of(method) {
        let key = format!("additional_fields.{name}");
        match fields.get(*name).and_then(Value::as_str) {
            None | Some("") if *required && !errors.contains_key(&key) => {
                errors.insert(key, "is required".into());
            }
            Some(text) if text.len() > 256 => {
                errors.insert(key, "is too long".into());
            }
            Some(text) if *name == "card_number" => {
                let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                if !luhn(&digits) {
                    errors.insert(key, "is not a valid card number (Luhn check failed)".into());
                }
            }
            Some(text) if *name == "phone_number" => {
                let digits = text.strip_prefix('+').unwrap_or(text);
                if digits.len() < 7
                    || digits.len() > 15
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    errors.insert(key, "must be 7 to 15 digits".into());
                }
            }
            _ => {}
        }
    }
    errors
}

/// The fields with card and account numbers masked (first 6, last 4).
pub fn masked(fields: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, value) in fields {
        let shown = match (name.as_str(), value.as_str()) {
            ("card_number", Some(text)) => {
                // Whatever spacing the number came with, never keep it whole.
                let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                let masked = crate::p2p::mask_card(&digits);
                let chars: Vec<char> = digits.chars().collect();
                if masked == digits && chars.len() > 4 {
                    let tail: String = chars[chars.len() - 4..].iter().collect();
                    Value::String(format!("{}{tail}", "*".repeat(chars.len() - 4)))
                } else {
                    Value::String(masked)
                }
            }
            _ => value.clone(),
        };
        out.insert(name.clone(), shown);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn luhn_numbers() {
        assert!(luhn("4242424242424242"));
        assert!(!luhn("4242424242424241"));
        assert!(!luhn("42424242"));
        assert!(!luhn("4242a24242424242"));
    }

    #[test]
    fn fields_per_method() {
        let ok = json!({"card_number": "4242 4242 4242 4242"});
        assert!(check_fields("card", ok.as_object().unwrap()).is_empty());
        let bad = json!({"card_number": "4242424242424241"});
        assert!(
            check_fields("card", bad.as_object().unwrap())["additional_fields.card_number"]
                .contains("Luhn")
        );
        let missing = json!({"phone_number": "79999999999"});
        assert_eq!(
            check_fields("sbp", missing.as_object().unwrap())["additional_fields.phone_holder"],
            "is required"
        );
        assert!(check_fields("binance", &Map::new()).is_empty());
        let cash = json!({"address": "a", "username": "u", "messenger": "telegram", "verification_code": "1", "asap": true});
        assert!(check_fields("cash", cash.as_object().unwrap()).is_empty());
        let typed = json!({"card_number": 4242424242424242u64});
        assert_eq!(
            check_fields("card", typed.as_object().unwrap())["additional_fields.card_number"],
            "must be a string"
        );
        assert_eq!(
            masked(ok.as_object().unwrap())["card_number"],
            "424242******4242"
        );
        let tabbed = json!({"card_number": "4242\t4242\u{a0}4242 4242"});
        assert_eq!(
            masked(tabbed.as_object().unwrap())["card_number"],
            "424242******4242"
        );
    }

    #[test]
    fn numbers_are_normalized() {
        let mut fields = json!({"card_number": " 4242-4242 4242 4242", "phone_number": "+7 (996) 777-99-77", "card_holder": " A B "});
        normalize_fields(fields.as_object_mut().unwrap());
        assert_eq!(
            fields,
            json!({"card_number": "4242424242424242", "phone_number": "+79967779977", "card_holder": " A B "})
        );
    }

    #[test]
    fn statuses() {
        assert!(PayoutStatus::Pending.can_become(PayoutStatus::InProgress));
        assert!(PayoutStatus::InProgress.can_become(PayoutStatus::Pending));
        assert!(!PayoutStatus::Success.can_become(PayoutStatus::Failed));
    }
}
