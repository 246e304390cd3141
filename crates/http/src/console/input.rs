//! The console's form fields read as the engine takes them: amounts in a
//! currency's units parsed from their text (more decimals than the currency
//! has is refused, never rounded), percentages, currencies. A field that
//! cannot be read is answered with a 422 page naming it, before anything
//! is changed.

use kassa_domain::fee::parse_rate_percent;
use kassa_domain::money::{parse_minor, AmountError};
use kassa_domain::Currency;
use kassa_engine::EngineError;

use super::ConsoleUser;
use crate::web::WebError;

fn invalid(user: &ConsoleUser, field: &str, message: String) -> WebError {
    user.error(&EngineError::invalid(field, message))
}

/// An amount in `currency`'s units; an empty field is 0. A sign is read, so
/// that the engine's rule can say why a negative one is refused.
pub fn amount(
    user: &ConsoleUser,
    field: &str,
    text: &str,
    currency: Currency,
) -> Result<i64, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    parse_minor(text, currency.exponent()).map_err(|e| {
        let why = match e {
            AmountError::TooPrecise(p) => {
                format!("{text} has more than {p} decimal places for {currency}.")
            }
            e => format!("{text}: {e}"),
        };
        invalid(user, field, why)
    })
}

/// A percentage (`1.5`) in parts per million; an empty field is 0.
pub fn percent(user: &ConsoleUser, field: &str, text: &str) -> Result<i64, WebError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    parse_rate_percent(text).ok_or_else(|| {
        invalid(
            user,
            field,
            format!("{text}: a percentage from 0 to 100 with at most 4 decimals."),
        )
    })
}

/// A currency of the table, by its code.
pub fn currency(user: &ConsoleUser, text: &str) -> Result<Currency, WebError> {
    let code = text.trim().to_ascii_uppercase();
    Currency::from_code(&code)
        .ok_or_else(|| invalid(user, "currency", format!("unknown currency {text:?}.")))
}
