//! Fees and reserves of a service, in minor units.

use serde::{Deserialize, Serialize};

/// `fee = amount * rate + fix`, clamped to `[min, max]` (a `max` of 0 means no
/// cap), rounded up to a whole minor unit so the gateway never undercharges.
/// `rate_ppm` is the percentage in millionths of the amount (2.5% = 25_000).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeRule {
    pub rate_ppm: i64,
    pub fix_minor: i64,
    pub min_minor: i64,
    pub max_minor: i64,
}

impl FeeRule {
    /// A rate between 0 and 100% and no negative part.
    pub fn is_valid(&self) -> bool {
        (0..=1_000_000).contains(&self.rate_ppm)
            && self.fix_minor >= 0
            && self.min_minor >= 0
            && self.max_minor >= 0
    }

    /// The rule's fee before anything caps it by the amount.
    fn uncapped(&self, amount_minor: i64) -> i128 {
        assert!(amount_minor >= 0);
        assert!(self.is_valid(), "{self:?}");
        let proportional = (amount_minor as i128 * self.rate_ppm as i128 + 999_999) / 1_000_000;
        let mut fee = (proportional + self.fix_minor as i128).max(self.min_minor as i128);
        if self.max_minor > 0 {
            fee = fee.min(self.max_minor as i128);
        }
        fee
    }

    /// The fee taken out of an amount (pay-ins): never more than the amount.
    pub fn fee_minor(&self, amount_minor: i64) -> i64 {
        let fee = self.uncapped(amount_minor).min(amount_minor as i128) as i64;
        assert!((0..=amount_minor).contains(&fee));
        fee
    }

    /// The fee charged on top of an amount (payouts): not capped by it.
    pub fn fee_on_top_minor(&self, amount_minor: i64) -> i64 {
        self.uncapped(amount_minor)
            .min(crate::money::MINOR_MAX as i128) as i64
    }
}

/// The share of a deposit held back for `lifetime_secs` before it is released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveRule {
    pub rate_ppm: i64,
    pub lifetime_secs: i64,
}

/// A rate in millionths written as a percentage number: 25_000 -> "2.5".
pub fn format_rate_percent(rate_ppm: i64) -> String {
    crate::money::format_short(rate_ppm, 4)
}

/// A percentage written as decimal text ("2.5") to millionths of the amount.
pub fn parse_rate_percent(text: &str) -> Option<i64> {
    crate::money::parse_minor(text, 4)
        .ok()
        .filter(|r| (0..=1_000_000).contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fee_examples() {
        let rule = FeeRule {
            rate_ppm: 25_000,
            fix_minor: 30,
            min_minor: 0,
            max_minor: 0,
        };
        assert_eq!(rule.fee_minor(10_000), 280);
        assert_eq!(rule.fee_minor(1), 1); // capped at the amount
        assert_eq!(rule.fee_minor(101), 33); // 2.525 rounds up to 3, plus 30
        let capped = FeeRule {
            max_minor: 100,
            ..rule
        };
        assert_eq!(capped.fee_minor(1_000_000), 100);
        let floored = FeeRule {
            min_minor: 500,
            ..rule
        };
        assert_eq!(floored.fee_minor(10_000), 500);
        assert_eq!(FeeRule::default().fee_minor(12_345), 0);
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate_percent("2.5"), Some(25_000));
        assert_eq!(format_rate_percent(25_000), "2.5");
        assert_eq!(parse_rate_percent("100.1"), None);
    }

    proptest! {
        #[test]
        fn fee_never_exceeds_amount(amount in 0i64..=crate::money::MINOR_MAX, rate in 0i64..=1_000_000, fix in 0i64..1_000_000) {
            let fee = FeeRule { rate_ppm: rate, fix_minor: fix, min_minor: 0, max_minor: 0 }.fee_minor(amount);
            prop_assert!(fee >= 0 && fee <= amount);
        }
    }
}
