//! Times and money as people read them on the pages.

use kassa_domain::money::format_fixed;
use kassa_domain::Currency;

/// A time as people read it, in UTC.
pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

pub fn money(minor: i64, currency: Currency) -> String {
    format!(
        "{} {}",
        format_fixed(minor, currency.exponent()),
        currency.code()
    )
}
