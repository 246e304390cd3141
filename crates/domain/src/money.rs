//! Money: an integer of minor units and a currency whose exponent comes from
//! one table. Decimal text is parsed exactly; excess precision is an error.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A currency Kassa knows, with the number of decimal places of its minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// The currency table. ISO 4217 exponents; USDT as stablecoins settle (6);
/// XTS, ISO's code reserved for testing, with 2.
const CURRENCIES: &[(&str, u8)] = &[
    ("AZN", 2),
    ("BRL", 2),
    ("BYN", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("IDR", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KGS", 2),
    ("KRW", 0),
    ("KZT", 2),
    ("PLN", 2),
    ("RUB", 2),
    ("TRY", 2),
    ("UAH", 2),
    ("USD", 2),
    ("USDT", 6),
    ("UZS", 2),
    ("VND", 0),
    ("XTS", 2),
];

/// The largest amount Kassa accepts in minor units: keeps every product of an
/// amount and a rate inside i128 and every sum of amounts inside i64.
pub const MINOR_MAX: i64 = 1_000_000_000_000_000; // 10^15

impl Currency {
    /// Looks a code up in the table; codes are upper case, as ISO writes them.
    pub fn from_code(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Currency { code, exponent })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    pub fn exponent(self) -> u8 {
        self.exponent
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES
            .iter()
            .map(|&(code, exponent)| Currency { code, exponent })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency {code}")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("This value is not a valid amount.")]
    Invalid,
    #[error("This value has more decimal places than the currency allows ({0}).")]
    TooPrecise(u8),
    #[error("This value is too large.")]
    TooLarge,
}

/// Parses decimal text (`100`, `100.5`, `100.55`, `1e2` is refused) into minor
/// units of a currency with `exponent` decimals. A sign is accepted so that the
/// caller can say "should be greater than 0" rather than "invalid".
pub fn parse_minor(text: &str, exponent: u8) -> Result<i64, AmountError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(AmountError::Invalid);
    }
    if digits.contains('.') && fraction.is_empty() {
        return Err(AmountError::Invalid);
    }
    // Trailing zeros carry no precision: "100.500" is 100.50.
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > exponent as usize {
        return Err(AmountError::TooPrecise(exponent));
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 18 {
        return Err(AmountError::TooLarge);
    }
    let mut minor: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse::<i128>().map_err(|_| AmountError::Invalid)?
    };
    for i in 0..exponent as usize {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| (b - b'0') as i128);
        minor = minor * 10 + digit;
    }
    if minor > MINOR_MAX as i128 {
        return Err(AmountError::TooLarge);
    }
    let minor = minor as i64;
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units as a decimal with every place of the currency: `100.00`.
pub fn format_fixed(minor: i64, exponent: u8) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(exponent as u32);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

/// Formats minor units as the shortest exact decimal: `100`, `100.5`, `123.45`.
/// This is how the Checkout API writes amounts as JSON numbers.
pub fn format_short(minor: i64, exponent: u8) -> String {
    let fixed = format_fixed(minor, exponent);
    if exponent == 0 {
        return fixed;
    }
    fixed
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(parse_minor("100.55", 2), Ok(10055));
        assert_eq!(parse_minor("100", 2), Ok(10000));
        assert_eq!(parse_minor("0.01", 2), Ok(1));
        assert_eq!(parse_minor("100.500", 2), Ok(10050));
        assert_eq!(parse_minor("-1", 2), Ok(-100));
        assert_eq!(parse_minor("7", 0), Ok(7));
        assert_eq!(parse_minor("0.000001", 6), Ok(1));
    }

    #[test]
    fn refuses_excess_precision_and_junk() {
        assert_eq!(parse_minor("100.555", 2), Err(AmountError::TooPrecise(2)));
        assert_eq!(parse_minor("1.5", 0), Err(AmountError::TooPrecise(0)));
        for bad in [
            "", ".", "1.", ".5", "1e2", "1,5", "+1", " 1", "0x10", "1.2.3", "--1",
        ] {
            assert_eq!(parse_minor(bad, 2), Err(AmountError::Invalid), "{bad:?}");
        }
        assert_eq!(
            parse_minor("99999999999999999999", 2),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn formats() {
        assert_eq!(format_fixed(10055, 2), "100.55");
        assert_eq!(format_fixed(5, 2), "0.05");
        assert_eq!(format_fixed(-5, 2), "-0.05");
        assert_eq!(format_fixed(7, 0), "7");
        assert_eq!(format_short(10000, 2), "100");
        assert_eq!(format_short(10050, 2), "100.5");
        assert_eq!(format_short(1, 2), "0.01");
        assert_eq!(format_short(0, 2), "0");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in -MINOR_MAX..=MINOR_MAX, exp in 0u8..=6) {
            prop_assert_eq!(parse_minor(&format_fixed(minor, exp), exp), Ok(minor));
            prop_assert_eq!(parse_minor(&format_short(minor, exp), exp), Ok(minor));
        }
    }
}
