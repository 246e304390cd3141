//! The double-entry ledger: every movement of money is a transaction whose
//! postings sum to zero, in minor units of one currency. Balances are sums of
//! postings, never edited.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// An account of the books. Signs: money a merchant or trader is owed, or the
/// platform has earned, is positive; money that entered from outside makes
/// `World` negative (and leaving makes it less so).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Account {
    /// What the merchant can pay out now.
    MerchantAvailable(String),
    /// Held for payouts under way.
    MerchantPendingPayouts(String),
    /// Refunds on their way back to customers.
    MerchantPendingRefunds(String),
    /// The rolling reserve, released after the service's reserve lifetime.
    MerchantReserve(String),
    /// The platform's fees.
    PlatformRevenue,
    /// Between the platform and a trader: negative when the trader holds
    /// pay-ins received on its cabinets, positive when the platform owes the
    /// trader for payouts it made.
    TraderSettlement(String),
    /// The trader's collateral with the platform, in the settlement
    /// currency: it bounds what the trader may hold at once.
    TraderDeposit(String),
    /// Outside the system: customers, banks, providers.
    World,
}

impl Account {
    /// The account's key in the store: `merchant:<id>:available`, ...
    pub fn key(&self) -> String {
        match self {
            Account::MerchantAvailable(id) => format!("merchant:{id}:available"),
            Account::MerchantPendingPayouts(id) => format!("merchant:{id}:pending_payouts"),
            Account::MerchantReserve(id) => format!("merchant:{id}:reserve"),
            Account::MerchantPendingRefunds(id) => format!("merchant:{id}:pending_refunds"),
            Account::PlatformRevenue => "platform:revenue".into(),
            Account::TraderSettlement(id) => format!("trader:{id}:settlement"),
            Account::TraderDeposit(id) => format!("trader:{id}:deposit"),
            Account::World => "world".into(),
        }
    }

    pub fn parse(key: &str) -> Option<Account> {
        let parts: Vec<&str> = key.split(':').collect();
        match parts.as_slice() {
            ["merchant", id, "available"] => Some(Account::MerchantAvailable(id.to_string())),
            ["merchant", id, "pending_payouts"] => {
                Some(Account::MerchantPendingPayouts(id.to_string()))
            }
            ["merchant", id, "reserve"] => Some(Account::MerchantReserve(id.to_string())),
            ["merchant", id, "pending_refunds"] => {
                Some(Account::MerchantPendingRefunds(id.to_string()))
            }
            ["platform", "revenue"] => Some(Account::PlatformRevenue),
            ["trader", id, "settlement"] => Some(Account::TraderSettlement(id.to_string())),
            ["trader", id, "deposit"] => Some(Account::TraderDeposit(id.to_string())),
            ["world"] => Some(Account::World),
            _ => None,
        }
    }

    /// Accounts that may never go below zero.
    pub fn never_negative(&self) -> bool {
        matches!(
            self,
            Account::MerchantAvailable(_)
                | Account::MerchantPendingPayouts(_)
                | Account::MerchantReserve(_)
                | Account::MerchantPendingRefunds(_)
                | Account::TraderDeposit(_)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    pub amount_minor: i64,
}

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnKind {
    /// A pay-in succeeded: the amount in, the fee to revenue, the rest to the
    /// merchant, the reserve share held back.
    PayIn,
    /// A reserve's lifetime ended: back to available.
    ReserveRelease,
    /// A payout was created: amount and fee held from available.
    PayoutHold,
    /// A payout succeeded: out to the world (or the trader who paid it), the
    /// fee to revenue.
    PayoutDone,
    /// A payout failed or expired: the hold goes back.
    PayoutRelease,
    /// The operator credited or debited a merchant by hand (a top-up, a
    /// correction), against the world.
    Adjustment,
    /// A refund was asked for: its amount taken from available (less the fee
    /// given back, which comes from revenue) and held until it settles.
    RefundHold,
    /// A refund went back to the customer.
    RefundDone,
    /// A refund failed: the hold goes back where it came from.
    RefundRelease,
    /// The operator credited or debited a trader's deposit, against the world.
    TraderDeposit,
}

impl TxnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxnKind::PayIn => "pay_in",
            TxnKind::ReserveRelease => "reserve_release",
            TxnKind::PayoutHold => "payout_hold",
            TxnKind::PayoutDone => "payout_done",
            TxnKind::PayoutRelease => "payout_release",
            TxnKind::Adjustment => "adjustment",
            TxnKind::RefundHold => "refund_hold",
            TxnKind::RefundDone => "refund_done",
            TxnKind::RefundRelease => "refund_release",
            TxnKind::TraderDeposit => "trader_deposit",
        }
    }
}

/// A balanced set of postings in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    /// Test-mode money is kept in books of its own (keys prefixed `test:`).
    pub test_mode: bool,
    pub kind: TxnKind,
    pub currency: Currency,
    /// The invoice, payout or reserve it belongs to.
    pub reference: String,
    pub at_secs: i64,
    pub postings: Vec<Posting>,
}

impl Transaction {
    /// Builds a transaction, asserting that it balances; zero postings are dropped.
    pub fn new(
        id: String,
        test_mode: bool,
        kind: TxnKind,
        currency: Currency,
        reference: String,
        at_secs: i64,
        postings: Vec<Posting>,
    ) -> Transaction {
        let postings: Vec<Posting> = postings
            .into_iter()
            .filter(|p| p.amount_minor != 0)
            .collect();
        let sum: i128 = postings.iter().map(|p| p.amount_minor as i128).sum();
        assert_eq!(sum, 0, "{kind:?} {reference}: postings sum to {sum}");
        Transaction {
            id,
            test_mode,
            kind,
            currency,
            reference,
            at_secs,
            postings,
        }
    }

    /// The store key of an account in this transaction's books.
    pub fn account_key(&self, account: &Account) -> String {
        book_key(self.test_mode, account)
    }
}

/// An account's key in the live or the test books.
pub fn book_key(test_mode: bool, account: &Account) -> String {
    if test_mode {
        format!("test:{}", account.key())
    } else {
        account.key()
    }
}

/// The postings of a successful pay-in of `amount` with `fee` and a reserve
/// of `reserve` taken from the deposit. `source` is where the money is now:
/// the world (a provider) or the trader whose cabinet received it.
pub fn pay_in(
    merchant_id: &str,
    source: Account,
    amount: i64,
    fee: i64,
    reserve: i64,
) -> Vec<Posting> {
    assert!(amount >= 0 && (0..=amount).contains(&fee) && (0..=amount - fee).contains(&reserve));
    vec![
        Posting {
            account: source,
            amount_minor: -amount,
        },
        Posting {
            account: Account::PlatformRevenue,
            amount_minor: fee,
        },
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: amount - fee - reserve,
        },
        Posting {
            account: Account::MerchantReserve(merchant_id.into()),
            amount_minor: reserve,
        },
    ]
}

/// The reserve share of a deposit: `deposit * rate`, rounded down (in the
/// merchant's favour).
pub fn reserve_share(deposit_minor: i64, rate_ppm: i64) -> i64 {
    assert!(deposit_minor >= 0 && (0..=1_000_000).contains(&rate_ppm));
    (deposit_minor as i128 * rate_ppm as i128 / 1_000_000) as i64
}

pub fn reserve_release(merchant_id: &str, amount: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::MerchantReserve(merchant_id.into()),
            amount_minor: -amount,
        },
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: amount,
        },
    ]
}

pub fn payout_hold(merchant_id: &str, total: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: -total,
        },
        Posting {
            account: Account::MerchantPendingPayouts(merchant_id.into()),
            amount_minor: total,
        },
    ]
}

/// A payout paid: `amount` leaves through `sink` (the world, or the trader
/// who paid it from its own funds), the fee goes to revenue.
pub fn payout_done(merchant_id: &str, sink: Account, amount: i64, fee: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::MerchantPendingPayouts(merchant_id.into()),
            amount_minor: -(amount + fee),
        },
        Posting {
            account: Account::PlatformRevenue,
            amount_minor: fee,
        },
        Posting {
            account: sink,
            amount_minor: amount,
        },
    ]
}

/// An operator's adjustment: `amount` (negative to debit) between the world
/// and the merchant's available balance.
pub fn adjustment(merchant_id: &str, amount: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::World,
            amount_minor: -amount,
        },
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: amount,
        },
    ]
}

pub fn payout_release(merchant_id: &str, total: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::MerchantPendingPayouts(merchant_id.into()),
            amount_minor: -total,
        },
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: total,
        },
    ]
}

/// A refund of `amount` asked for: the merchant's available balance pays it,
/// less `fee_returned`, which revenue gives back; the whole is held.
pub fn refund_hold(merchant_id: &str, amount: i64, fee_returned: i64) -> Vec<Posting> {
    assert!(amount > 0 && (0..=amount).contains(&fee_returned));
    vec![
        Posting {
            account: Account::MerchantAvailable(merchant_id.into()),
            amount_minor: -(amount - fee_returned),
        },
        Posting {
            account: Account::PlatformRevenue,
            amount_minor: -fee_returned,
        },
        Posting {
            account: Account::MerchantPendingRefunds(merchant_id.into()),
            amount_minor: amount,
        },
    ]
}

/// The operator's change of a trader's deposit: `amount` (negative to
/// debit) between the world and the deposit.
pub fn trader_deposit(trader_id: &str, amount: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::World,
            amount_minor: -amount,
        },
        Posting {
            account: Account::TraderDeposit(trader_id.into()),
            amount_minor: amount,
        },
    ]
}

/// A refund paid back to the customer through `sink`: the world (a provider
/// or the operator paid it), or the trader who paid it from its own funds
/// (a refund of a P2P pay-in, which the platform then owes the trader).
pub fn refund_done(merchant_id: &str, sink: Account, amount: i64) -> Vec<Posting> {
    vec![
        Posting {
            account: Account::MerchantPendingRefunds(merchant_id.into()),
            amount_minor: -amount,
        },
        Posting {
            account: sink,
            amount_minor: amount,
        },
    ]
}

/// A refund failed: the hold back to available, the fee back to revenue.
pub fn refund_release(merchant_id: &str, amount: i64, fee_returned: i64) -> Vec<Posting> {
    let mut postings = refund_hold(merchant_id, amount, fee_returned);
    for p in &mut postings {
        p.amount_minor = -p.amount_minor;
    }
    postings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for a in [
            Account::MerchantAvailable("mer_1".into()),
            Account::MerchantPendingPayouts("mer_1".into()),
            Account::MerchantReserve("mer_1".into()),
            Account::MerchantPendingRefunds("mer_1".into()),
            Account::PlatformRevenue,
            Account::TraderSettlement("trd_1".into()),
            Account::TraderDeposit("trd_1".into()),
            Account::World,
        ] {
            assert_eq!(Account::parse(&a.key()), Some(a));
        }
    }

    #[test]
    fn builders_balance() {
        let usd = Currency::from_code("USD").unwrap();
        for postings in [
            pay_in("m", Account::World, 10_000, 250, 975),
            reserve_release("m", 975),
            payout_hold("m", 5_100),
            payout_done("m", Account::TraderSettlement("t".into()), 5_000, 100),
            payout_release("m", 5_100),
            refund_hold("m", 5_000, 150),
            refund_done("m", Account::World, 5_000),
            refund_done("m", Account::TraderSettlement("t".into()), 5_000),
            refund_release("m", 5_000, 150),
            trader_deposit("t", -7_000),
        ] {
            Transaction::new(
                "t".into(),
                false,
                TxnKind::PayIn,
                usd,
                "r".into(),
                0,
                postings,
            );
        }
        assert_eq!(reserve_share(9_750, 100_000), 975);
    }

    #[test]
    #[should_panic(expected = "postings sum")]
    fn an_unbalanced_transaction_is_refused() {
        let usd = Currency::from_code("USD").unwrap();
        let postings = vec![Posting {
            account: Account::World,
            amount_minor: -1,
        }];
        Transaction::new(
            "t".into(),
            false,
            TxnKind::PayIn,
            usd,
            "r".into(),
            0,
            postings,
        );
    }
}
