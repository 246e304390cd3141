//! The console's changes of money matters, each made by the same rules as
//! the command line's and the admin API's and written to the audit log in
//! its own transaction: merchants created, services and their fees, rates,
//! payout fees, and hand adjustments of a merchant's balance.

use kassa_domain::fee::{format_rate_percent, FeeRule};
use kassa_domain::money::format_fixed;
use kassa_domain::{Currency, RefundFee, Service};

use crate::catalog::{check_service, put_service_in};
use crate::console::Change;
use crate::ledger::{adjust_in, check_adjustment};
use crate::merchants::{insert_merchant_in, IssuedMerchant, NewMerchant};
use crate::p2p::{check_rate, put_rate_in};
use crate::payouts::{check_payout_fee, put_payout_fee_in};
use crate::{Engine, EngineError, EngineResult};

/// A change of a service: each `Some` replaces that setting, amounts in the
/// service currency's minor units, rates in parts per million.
#[derive(Clone, Debug, Default)]
pub struct ServiceChange {
    pub enabled: Option<bool>,
    pub available: Option<bool>,
    pub amount_min_minor: Option<i64>,
    pub amount_max_minor: Option<i64>,
    pub fee_rate_ppm: Option<i64>,
    pub fee_fix_minor: Option<i64>,
    pub fee_min_minor: Option<i64>,
    pub fee_max_minor: Option<i64>,
    pub reserve_rate_ppm: Option<i64>,
    pub reserve_lifetime_secs: Option<i64>,
    pub refund_fee: Option<RefundFee>,
    /// `Some(None)`: a `verify` invoice may be for 0 only.
    pub verification_amount_minor: Option<Option<i64>>,
}

impl ServiceChange {
    /// Applies the change to `s`; what changed, for the audit log.
    fn apply(&self, s: &mut Service) -> String {
        let e = s.currency.exponent();
        let amount = |v: i64| format_fixed(v, e);
        let mut said = Vec::new();
        let mut set =
            |name: &str, field: &mut i64, to: Option<i64>, show: &dyn Fn(i64) -> String| {
                if let Some(v) = to.filter(|v| v != field) {
                    said.push(format!("{name} {} → {}", show(*field), show(v)));
                    *field = v;
                }
            };
        let percent = |v: i64| format!("{}%", format_rate_percent(v));
        let secs = |v: i64| format!("{v}s");
        set(
            "amount_min",
            &mut s.amount_min_minor,
            self.amount_min_minor,
            &amount,
        );
        set(
            "amount_max",
            &mut s.amount_max_minor,
            self.amount_max_minor,
            &amount,
        );
        set("fee_rate", &mut s.fee.rate_ppm, self.fee_rate_ppm, &percent);
        set("fee_fix", &mut s.fee.fix_minor, self.fee_fix_minor, &amount);
        set("fee_min", &mut s.fee.min_minor, self.fee_min_minor, &amount);
        set("fee_max", &mut s.fee.max_minor, self.fee_max_minor, &amount);
        set(
            "reserve_rate",
            &mut s.reserve.rate_ppm,
            self.reserve_rate_ppm,
            &percent,
        );
        set(
            "reserve_lifetime",
            &mut s.reserve.lifetime_secs,
            self.reserve_lifetime_secs,
            &secs,
        );
        for (name, field, to) in [
            ("enabled", &mut s.enabled, self.enabled),
            ("available", &mut s.available, self.available),
        ] {
            if let Some(v) = to.filter(|v| v != field) {
                said.push(format!("{name} {field} → {v}"));
                *field = v;
            }
        }
        if let Some(v) = self.refund_fee.filter(|v| *v != s.refund_fee) {
            said.push(format!(
                "refund_fee {} → {}",
                s.refund_fee.as_str(),
                v.as_str()
            ));
            s.refund_fee = v;
        }
        if let Some(v) = self
            .verification_amount_minor
            .filter(|v| *v != s.verification_amount_minor)
        {
            let show = |v: Option<i64>| v.map_or("none".to_string(), amount);
            said.push(format!(
                "verification_amount {} → {}",
                show(s.verification_amount_minor),
                show(v)
            ));
            s.verification_amount_minor = v;
        }
        if said.is_empty() {
            "no change".into()
        } else {
            said.join(", ")
        }
    }
}

/// A fee rule as the audit log shows it.
fn fee_text(rule: &FeeRule, currency: Currency) -> String {
    let e = currency.exponent();
    format!(
        "{}% + {}, min {}, max {}",
        format_rate_percent(rule.rate_ppm),
        format_fixed(rule.fix_minor, e),
        format_fixed(rule.min_minor, e),
        if rule.max_minor > 0 {
            format_fixed(rule.max_minor, e)
        } else {
            "none".into()
        }
    )
}

impl Engine {
    /// A merchant created from the console; its secrets are in the answer
    /// only, as `kassa merchant create` prints them once.
    pub async fn console_create_merchant(
        &self,
        user_id: &str,
        new: NewMerchant,
    ) -> EngineResult<IssuedMerchant> {
        let (merchant, mut issued) = self.new_merchant(new)?;
        let detail = format!("{} ({})", merchant.name, merchant.account_currency.code());
        self.audited(user_id, move |tx, _| {
            insert_merchant_in(tx, merchant, &mut issued)?;
            let change = Change {
                action: "merchant.create",
                target: issued.merchant_id.clone(),
                detail,
            };
            Ok((issued, change))
        })
        .await
    }

    /// A service changed from the console, applied to the service as it is
    /// inside the write and checked as `put_service` checks it.
    pub async fn console_change_service(
        &self,
        user_id: &str,
        code: String,
        change: ServiceChange,
    ) -> EngineResult<Service> {
        let service = self
            .audited(user_id, move |tx, _| {
                let mut s = tx.service(&code)?.ok_or(EngineError::NotFound)?;
                let detail = change.apply(&mut s);
                check_service(&s)?;
                let s = put_service_in(tx, s)?;
                let change = Change {
                    action: "service.set",
                    target: code,
                    detail,
                };
                Ok((s, change))
            })
            .await?;
        self.catalog_changed();
        Ok(service)
    }

    /// A currency's rate set from the console.
    pub async fn console_set_rate(
        &self,
        user_id: &str,
        currency: Currency,
        rate: String,
    ) -> EngineResult<()> {
        check_rate(&rate)?;
        self.audited(user_id, move |tx, _| {
            let change = Change {
                action: "rate.set",
                target: currency.code().to_string(),
                detail: rate.clone(),
            };
            put_rate_in(tx, currency, rate)?;
            Ok(((), change))
        })
        .await
    }

    /// A currency's payout fee set from the console.
    pub async fn console_set_payout_fee(
        &self,
        user_id: &str,
        currency: Currency,
        rule: FeeRule,
    ) -> EngineResult<()> {
        check_payout_fee(currency, &rule)?;
        self.audited(user_id, move |tx, _| {
            put_payout_fee_in(tx, currency, rule)?;
            let change = Change {
                action: "payout_fee.set",
                target: currency.code().to_string(),
                detail: fee_text(&rule, currency),
            };
            Ok(((), change))
        })
        .await
    }

    /// A merchant's available balance credited (or, negative, debited) by
    /// hand from the console, with its reason; a debit the balance cannot
    /// cover changes nothing.
    pub async fn console_adjust_balance(
        &self,
        user_id: &str,
        merchant_id: String,
        test_mode: bool,
        currency: Currency,
        amount_minor: i64,
        reason: String,
    ) -> EngineResult<()> {
        check_adjustment(amount_minor, &reason)?;
        self.audited(user_id, move |tx, now| {
            adjust_in(
                tx,
                &merchant_id,
                test_mode,
                currency,
                amount_minor,
                &reason,
                now,
            )?;
            let change = Change {
                action: "balance.adjust",
                target: merchant_id,
                detail: format!(
                    "{} {} {} {}: {}",
                    if amount_minor > 0 { "credit" } else { "debit" },
                    format_fixed(amount_minor.abs(), currency.exponent()),
                    currency.code(),
                    if test_mode { "test" } else { "live" },
                    reason.trim()
                ),
            };
            Ok(((), change))
        })
        .await
    }
}
