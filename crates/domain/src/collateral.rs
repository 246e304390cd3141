//! A trader's collateral (insurance deposit): what the trader holds at once
//! may not exceed its deposit less what it already owes. Amounts are counted
//! in the settlement currency, the one the operator's rates are quoted
//! against.

use crate::money::{parse_minor, Currency, MINOR_MAX};

/// Places a rate may have (`kassa rate set`).
const RATE_PLACES: u8 = 8;

/// `amount_minor` of `from` in minor units of `settlement`, at `rate` (units
/// of `from` per unit of `settlement`), rounded up so that a sum of them
/// never under-counts. The settlement currency itself needs no rate. `None`:
/// no usable rate, so the amount cannot be counted.
pub fn to_settlement_minor(
    amount_minor: i64,
    from: Currency,
    rate: Option<&str>,
    settlement: Currency,
) -> Option<i64> {
    assert!(amount_minor >= 0, "counted amounts are not negative");
    if from == settlement {
        return Some(amount_minor);
    }
    let rate = parse_minor(rate?, RATE_PLACES).ok().filter(|r| *r > 0)?;
    // amount / 10^e_from / (rate / 10^8) * 10^e_settlement
    let numerator = amount_minor as i128
        * 10i128.pow(RATE_PLACES as u32)
        * 10i128.pow(settlement.exponent() as u32);
    let denominator = rate as i128 * 10i128.pow(from.exponent() as u32);
    let minor = (numerator + denominator - 1) / denominator;
    (minor <= MINOR_MAX as i128).then_some(minor as i64)
}

/// Where a trader stands, in minor units of the settlement currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// The deposit's balance.
    pub deposit_minor: i64,
    /// Live holds and open deals on the trader's cabinets.
    pub held_minor: i64,
    /// Pay-ins the trader received and holds for merchants, less payouts it
    /// made for them (its settlement account's debt).
    pub owed_minor: i64,
}

impl Exposure {
    /// What the trader may still take on; negative when it is over.
    pub fn free_minor(&self) -> i64 {
        self.deposit_minor - self.owed_minor - self.held_minor
    }

    /// The rule: one more amount fits when held + owed + it <= deposit.
    pub fn allows(&self, more_minor: i64) -> bool {
        more_minor <= self.free_minor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_rounding_up() {
        let rub = Currency::from_code("RUB").unwrap();
        let usdt = Currency::from_code("USDT").unwrap();
        let usd = Currency::from_code("USD").unwrap();
        // 9 250.00 RUB at 92.5 RUB per USDT is 100 USDT.
        assert_eq!(
            to_settlement_minor(925_000, rub, Some("92.5"), usdt),
            Some(100_000_000)
        );
        // 1.00 RUB at 3 per USD is 0.333.. USD: 0.34, never 0.33.
        assert_eq!(to_settlement_minor(100, rub, Some("3"), usd), Some(34));
        assert_eq!(to_settlement_minor(1, rub, Some("100000"), usd), Some(1));
        assert_eq!(to_settlement_minor(0, rub, Some("3"), usd), Some(0));
        assert_eq!(to_settlement_minor(500, usd, None, usd), Some(500));
        assert_eq!(to_settlement_minor(500, rub, None, usd), None);
        assert_eq!(to_settlement_minor(500, rub, Some("0"), usd), None);
        assert_eq!(
            to_settlement_minor(MINOR_MAX, rub, Some("0.00000001"), usd),
            None
        );
    }

    #[test]
    fn the_rule() {
        let e = Exposure {
            deposit_minor: 1_000,
            held_minor: 300,
            owed_minor: 200,
        };
        assert_eq!(e.free_minor(), 500);
        assert!(e.allows(500));
        assert!(!e.allows(501));
    }
}
