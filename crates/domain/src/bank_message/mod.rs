//! Bank SMS and push messages as a trader's phone forwards them: which of
//! them say money arrived, how much, and on which card or account.
//!
//! A message is read against a table of patterns, operator-added ones
//! first, then the built-in table ([`builtin`]); the first pattern whose
//! sender filter and text match decides. A pattern is a regex with the
//! named groups `amount` (required for credits and debits), `digits` (the
//! last digits of the card or account the money is on) and optionally
//! `currency` (the ruble when absent). No I/O here: the engine loads the
//! operator's patterns and calls [`Patterns::classify`].

mod builtin;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::money::{parse_minor, Currency};

pub use builtin::builtin_patterns;

/// What a message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Money arrived: the only kind that may settle a deal.
    Credit,
    /// Money left (a purchase, an outgoing transfer, a withdrawal).
    Debit,
    /// A balance and nothing else.
    Balance,
    /// No pattern recognised it.
    Unknown,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Credit => "credit",
            MessageKind::Debit => "debit",
            MessageKind::Balance => "balance",
            MessageKind::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<MessageKind> {
        Some(match text {
            "credit" => MessageKind::Credit,
            "debit" => MessageKind::Debit,
            "balance" => MessageKind::Balance,
            "unknown" => MessageKind::Unknown,
            _ => return None,
        })
    }
}

/// One row of the pattern table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePattern {
    /// `builtin:<name>` for the shipped ones, `mpt_...` for the operator's.
    pub id: String,
    /// What a match means; `unknown` is not a pattern's kind.
    pub kind: MessageKind,
    /// A regex the sender must match (whole or in part), if any.
    pub sender: Option<String>,
    /// The regex for the text.
    pub regex: String,
    /// Who added it, when (operator patterns only).
    #[serde(default)]
    pub created_at_secs: i64,
}

/// A pattern that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("regex: {0}")]
    Regex(String),
    #[error("sender: {0}")]
    Sender(String),
    #[error("regex: a {0} pattern needs the named group `amount`")]
    NoAmount(&'static str),
    #[error("regex: a credit pattern needs the named group `digits`")]
    NoDigits,
    #[error("kind: a pattern is credit, debit or balance")]
    UnknownKind,
}

/// Longest regex text accepted, and the compiled size allowed: an operator's
/// pattern runs on every message.
pub const PATTERN_MAX_BYTES: usize = 2048;
const COMPILED_MAX_BYTES: usize = 1 << 20;

fn compile(text: &str) -> Result<Regex, String> {
    if text.is_empty() || text.len() > PATTERN_MAX_BYTES {
        return Err(format!("must be 1 to {PATTERN_MAX_BYTES} bytes"));
    }
    RegexBuilder::new(text)
        .case_insensitive(true)
        .size_limit(COMPILED_MAX_BYTES)
        .build()
        .map_err(|e| e.to_string())
}

struct Compiled {
    pattern: MessagePattern,
    text: Regex,
    sender: Option<Regex>,
}

impl Compiled {
    fn new(pattern: MessagePattern) -> Result<Compiled, PatternError> {
        let text = compile(&pattern.regex).map_err(PatternError::Regex)?;
        let sender = match &pattern.sender {
            Some(s) => Some(compile(s).map_err(PatternError::Sender)?),
            None => None,
        };
        let has = |group: &str| text.capture_names().flatten().any(|n| n == group);
        match pattern.kind {
            MessageKind::Unknown => return Err(PatternError::UnknownKind),
            MessageKind::Credit if !has("amount") => return Err(PatternError::NoAmount("credit")),
            MessageKind::Debit if !has("amount") => return Err(PatternError::NoAmount("debit")),
            MessageKind::Credit if !has("digits") => return Err(PatternError::NoDigits),
            _ => {}
        }
        Ok(Compiled {
            pattern,
            text,
            sender,
        })
    }
}

/// Checks a pattern as the operator would add it.
pub fn check_pattern(pattern: &MessagePattern) -> Result<(), PatternError> {
    Compiled::new(pattern.clone()).map(drop)
}

/// What a message was read as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub kind: MessageKind,
    /// The credited or debited amount (for a balance, the balance), if read.
    pub amount_minor: Option<i64>,
    pub currency: Option<Currency>,
    /// The last digits of the card or account named, digits only.
    pub digits: Option<String>,
    /// The pattern that decided, if any.
    pub pattern_id: Option<String>,
}

impl Reading {
    fn unknown() -> Reading {
        Reading {
            kind: MessageKind::Unknown,
            amount_minor: None,
            currency: None,
            digits: None,
            pattern_id: None,
        }
    }
}

/// The pattern table, compiled.
pub struct Patterns {
    table: Vec<Compiled>,
}

impl Patterns {
    /// The operator's patterns (first, in the order given) and the built-in
    /// ones. A stored pattern that no longer compiles is skipped, never a
    /// reason to refuse a message.
    pub fn new(operator: Vec<MessagePattern>) -> Patterns {
        let table = operator
            .into_iter()
            .chain(builtin_patterns())
            .filter_map(|p| Compiled::new(p).ok())
            .collect();
        Patterns { table }
    }

    /// The built-in table alone.
    pub fn builtin() -> Patterns {
        Patterns::new(Vec::new())
    }

    /// Reads a message: the first pattern that matches it and yields what
    /// its kind needs (a credit: an amount and digits; a debit: an amount).
    pub fn classify(&self, sender: &str, text: &str) -> Reading {
        let text = tidy(text);
        for c in &self.table {
            if c.sender
                .as_ref()
                .is_some_and(|s| !s.is_match(sender.trim()))
            {
                continue;
            }
            let Some(caps) = c.text.captures(&text) else {
                continue;
            };
            let currency = match caps.name("currency") {
                Some(m) => match currency_of(m.as_str()) {
                    Some(c) => Some(c),
                    None => continue,
                },
                None => Some(rub()),
            };
            let amount_minor = caps
                .name("amount")
                .and_then(|m| parse_amount(m.as_str(), currency.unwrap_or_else(rub)));
            let digits = caps.name("digits").map(|m| {
                m.as_str()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect::<String>()
            });
            let digits = digits.filter(|d| !d.is_empty());
            let complete = match c.pattern.kind {
                MessageKind::Credit => amount_minor.is_some_and(|a| a > 0) && digits.is_some(),
                MessageKind::Debit => amount_minor.is_some(),
                MessageKind::Balance | MessageKind::Unknown => true,
            };
            if !complete {
                continue;
            }
            return Reading {
                kind: c.pattern.kind,
                amount_minor,
                currency,
                digits,
                pattern_id: Some(c.pattern.id.clone()),
            };
        }
        Reading::unknown()
    }
}

fn rub() -> Currency {
    Currency::from_code("RUB").expect("RUB is in the table")
}

/// Spaces of every width as one plain space, and `ё` kept as written: banks
/// and forwarding apps put non-breaking and narrow spaces between digits.
fn tidy(text: &str) -> String {
    text.chars()
        .map(|c| if is_space(c) { ' ' } else { c })
        .collect()
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{a0}' | '\u{202f}' | '\u{2009}' | '\u{2007}')
}

/// The currency a message names: the ruble's spellings, or an ISO code.
pub fn currency_of(text: &str) -> Option<Currency> {
    let t = text.trim().trim_end_matches('.').to_lowercase();
    match t.as_str() {
        "₽" | "р" | "руб" | "rub" | "rur" | "rubley" | "рублей" => Some(rub()),
        other => Currency::from_code(&other.to_uppercase()),
    }
}

/// An amount as banks write it, in minor units of `currency`: thousands
/// separated by spaces (plain, non-breaking, narrow), commas or dots, and a
/// comma or a dot before at most two decimals (`1 500`, `1 500,50`,
/// `1,500.50`, `1.500,50`, `1500.5`). `None` when it is not one.
pub fn parse_amount(text: &str, currency: Currency) -> Option<i64> {
    // A space groups thousands (as `'`, never a decimal point).
    let compact = tidy(text.trim_start_matches('+'))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("'");
    let compact = compact.as_str();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ',' | '.' | '\'');
    if compact.is_empty() || !compact.chars().all(allowed) {
        return None;
    }
    // The last separator is a decimal point when one or two digits follow it;
    // every other separator groups thousands and must have three after it.
    let (whole, fraction) = match compact.rfind([',', '.']) {
        Some(i) if (2..=3).contains(&(compact.len() - i)) => (&compact[..i], &compact[i + 1..]),
        _ => (compact, ""),
    };
    let groups: Vec<&str> = whole.split([',', '.', '\'']).collect();
    let grouped_right = groups.iter().skip(1).all(|g| g.len() == 3)
        && !groups[0].is_empty()
        && (groups.len() == 1 || groups[0].len() <= 3);
    if !grouped_right {
        return None;
    }
    let digits: String = groups.concat();
    let decimal = if fraction.is_empty() {
        digits
    } else {
        format!("{digits}.{fraction}")
    };
    parse_minor(&decimal, currency.exponent()).ok()
}

/// A message text as it may be kept and shown: a run of 12 to 19 digits (a
/// full card number someone typed into a message) masked to first 6 and
/// last 4, whatever spaces it is written with.
pub fn mask_card_numbers(text: &str) -> String {
    static CARD: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let card = CARD
        .get_or_init(|| Regex::new(r"\d(?:[ \u{a0}\u{202f}-]?\d){11,18}").expect("a valid regex"));
    card.replace_all(text, |caps: &regex::Captures| {
        let digits: String = caps[0].chars().filter(char::is_ascii_digit).collect();
        crate::p2p::mask_card(&digits)
    })
    .into_owned()
}

/// A phone (or other forwarder) of a trader that posts the bank's messages,
/// by a token of its own the trader can revoke without touching its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraderDevice {
    pub id: String,
    pub trader_id: String,
    pub name: String,
    /// The token's keyed hash (HMAC-SHA256 under a key of the master key).
    pub token_hash: String,
    pub created_at_secs: i64,
    pub revoked_at_secs: Option<i64>,
    /// Its last heartbeat or message.
    #[serde(default)]
    pub last_seen_at_secs: Option<i64>,
    /// The cabinets it forwards for; empty: all its trader's cabinets.
    #[serde(default)]
    pub cabinet_ids: Vec<String>,
}

impl TraderDevice {
    /// Whether it forwards the bank messages of `cabinet_id`.
    pub fn forwards_for(&self, cabinet_id: &str) -> bool {
        self.cabinet_ids.is_empty() || self.cabinet_ids.iter().any(|c| c == cabinet_id)
    }

    /// When it was last heard of: its last heartbeat or message, or when it
    /// was added.
    pub fn heard_at_secs(&self) -> i64 {
        self.last_seen_at_secs.unwrap_or(self.created_at_secs)
    }
}

/// A bank message as a device forwarded it, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankMessage {
    pub id: String,
    pub trader_id: String,
    pub device_id: String,
    pub sender: String,
    /// The text, full card numbers in it masked.
    pub text: String,
    pub received_at_secs: i64,
    pub created_at_secs: i64,
    /// A keyed hash of (sender, text, time): the same message from the same
    /// device is kept once.
    pub dedup_key: String,
    pub reading: Reading,
    /// The trader's cabinet a credit's digits named, if exactly one did.
    pub cabinet_id: Option<String>,
    /// The bank notification a credit became (on `cabinet_id`).
    pub notification_id: Option<String>,
    /// The deal it completed.
    pub deal_id: Option<String>,
}

/// Whether a requisite (a card, phone or account number, digits as stored)
/// ends in the digits a message names. Fewer than 4 digits name nothing.
pub fn requisite_ends_with(requisite: &str, digits: &str) -> bool {
    let own: String = requisite.chars().filter(char::is_ascii_digit).collect();
    digits.len() >= 4 && own.len() > digits.len() && own.ends_with(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requisites_by_last_digits() {
        assert!(requisite_ends_with("2200123456789012", "9012"));
        assert!(requisite_ends_with("+79967779977", "9977"));
        assert!(!requisite_ends_with("2200123456789012", "012"));
        assert!(!requisite_ends_with("2200123456789012", "9013"));
        assert!(!requisite_ends_with("9012", "9012"));
    }

    #[test]
    fn amounts() {
        let rub = rub();
        assert_eq!(parse_amount("1 500", rub), Some(150_000));
        assert_eq!(parse_amount("1\u{a0}500,50", rub), Some(150_050));
        assert_eq!(parse_amount("1\u{202f}500.5", rub), Some(150_050));
        assert_eq!(parse_amount("1,500.50", rub), Some(150_050));
        assert_eq!(parse_amount("1.500,50", rub), Some(150_050));
        assert_eq!(parse_amount("12 345 678", rub), Some(1_234_567_800));
        assert_eq!(parse_amount("1500", rub), Some(150_000));
        assert_eq!(parse_amount("1,000", rub), Some(100_000));
        assert_eq!(parse_amount("+900", rub), Some(90_000));
        assert_eq!(parse_amount("1 50", rub), None);
        assert_eq!(parse_amount("1,5,0", rub), None);
        assert_eq!(parse_amount("abc", rub), None);
        assert_eq!(parse_amount("", rub), None);
    }

    #[test]
    fn currencies() {
        for t in ["₽", "р", "р.", "руб", "руб.", "RUB", "RUR", "rub"] {
            assert_eq!(currency_of(t), Some(rub()), "{t}");
        }
        assert_eq!(currency_of("USD").map(|c| c.code()), Some("USD"));
        assert_eq!(currency_of("ZZZ"), None);
    }

    #[test]
    fn card_numbers_are_masked() {
        assert_eq!(
            mask_card_numbers("на карту 2200 1234 5678 9012, *9012"),
            "на карту 220012******9012, *9012"
        );
        assert_eq!(mask_card_numbers("Баланс 10 000р"), "Баланс 10 000р");
    }

    #[test]
    fn patterns_are_checked() {
        let p = |kind, regex: &str| MessagePattern {
            id: "mpt_x".into(),
            kind,
            sender: None,
            regex: regex.into(),
            created_at_secs: 0,
        };
        assert!(check_pattern(&p(
            MessageKind::Credit,
            r"(?P<amount>\d+) (?P<digits>\d{4})"
        ))
        .is_ok());
        assert_eq!(
            check_pattern(&p(MessageKind::Credit, r"(?P<amount>\d+)")),
            Err(PatternError::NoDigits)
        );
        assert_eq!(
            check_pattern(&p(MessageKind::Debit, r"\d+")),
            Err(PatternError::NoAmount("debit"))
        );
        assert!(matches!(
            check_pattern(&p(MessageKind::Balance, r"(")),
            Err(PatternError::Regex(_))
        ));
        assert_eq!(
            check_pattern(&p(MessageKind::Unknown, r"x")),
            Err(PatternError::UnknownKind)
        );
    }
}
