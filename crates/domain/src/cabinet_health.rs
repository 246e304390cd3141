//! When a cabinet is switched off on its own: its phone went silent, or its
//! deals stopped being paid. The sweep decides with [`judge`] against the
//! cabinet's current row.

use crate::bank_message::TraderDevice;
use crate::p2p::{Cabinet, Deal, DealStatus, DisabledReason};

/// The operator's limits; 0 switches a rule off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthRules {
    /// Longest all of a cabinet's devices may be silent.
    pub silent_secs: i64,
    /// Its last this many deals all expired unpaid.
    pub expired_deals_max: u32,
}

impl HealthRules {
    pub fn is_off(&self) -> bool {
        self.silent_secs <= 0 && self.expired_deals_max == 0
    }
}

/// Since when a cabinet's health counts: when it was last switched on, or
/// added.
pub fn judged_since(cabinet: &Cabinet) -> i64 {
    cabinet.enabled_at_secs.unwrap_or(cabinet.created_at_secs)
}

/// A deal that ran out without being paid or disputed.
pub fn expired_unpaid(deal: &Deal) -> bool {
    deal.status == DealStatus::Canceled && deal.settled_by.is_none()
}

/// Why an active cabinet is to be switched off now, if it is.
///
/// `devices` are its trader's; those not revoked that forward for it judge
/// its silence (a trader with none is not judged on silence: it confirms
/// its deals by hand). `recent` are its deals made since [`judged_since`],
/// newest first, at least `expired_deals_max` of them if there are.
pub fn judge(
    cabinet: &Cabinet,
    devices: &[TraderDevice],
    recent: &[Deal],
    rules: HealthRules,
    now_secs: i64,
) -> Option<DisabledReason> {
    if !cabinet.active {
        return None;
    }
    let since = judged_since(cabinet);
    if rules.silent_secs > 0 {
        let heard = devices
            .iter()
            .filter(|d| d.revoked_at_secs.is_none() && d.forwards_for(&cabinet.id))
            .map(TraderDevice::heard_at_secs)
            .max();
        if let Some(heard) = heard {
            if now_secs - heard.max(since) > rules.silent_secs {
                return Some(DisabledReason::DeviceSilent);
            }
        }
    }
    let n = rules.expired_deals_max as usize;
    if n > 0 {
        let last: Vec<&Deal> = recent
            .iter()
            .filter(|d| d.created_at_secs >= since)
            .take(n)
            .collect();
        if last.len() == n && last.iter().all(|d| expired_unpaid(d)) {
            return Some(DisabledReason::DealsExpired);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn cabinet() -> Cabinet {
        Cabinet {
            id: "cab_1".into(),
            trader_id: "trd_1".into(),
            method: "card".into(),
            currency: Currency::from_code("RUB").unwrap(),
            bank_name: "sberbank".into(),
            requisite: "2200700123454821".into(),
            holder: "Ivan I.".into(),
            min_amount_minor: 100,
            max_amount_minor: 0,
            daily_limit_minor: 0,
            max_open_deals: 0,
            active: true,
            created_at_secs: 1_000,
            test_mode: false,
            disabled_reason: None,
            enabled_at_secs: None,
        }
    }

    fn device(last_seen: Option<i64>, cabinets: &[&str]) -> TraderDevice {
        TraderDevice {
            id: "dev_1".into(),
            trader_id: "trd_1".into(),
            name: "Pixel".into(),
            token_hash: "h".into(),
            created_at_secs: 1_000,
            revoked_at_secs: None,
            last_seen_at_secs: last_seen,
            cabinet_ids: cabinets.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn deal(created: i64, status: DealStatus) -> Deal {
        Deal {
            received_amount_minor: None,
            customer_reason: None,
            customer_reason_text: None,
            evidence: Vec::new(),
            id: format!("deal_{created}"),
            invoice_id: "inv".into(),
            cabinet_id: "cab_1".into(),
            trader_id: "trd_1".into(),
            hold_id: "hold".into(),
            status,
            method: "card".into(),
            bank_name: "sberbank".into(),
            requisite: "2200700123454821".into(),
            holder: "Ivan I.".into(),
            amount_minor: 100,
            rate: None,
            created_at_secs: created,
            deadline_secs: created + 60,
            ended_at_secs: None,
            customer_says_paid_at_secs: None,
            dispute_reason: None,
            settled_by: None,
            test_mode: false,
        }
    }

    const RULES: HealthRules = HealthRules {
        silent_secs: 600,
        expired_deals_max: 3,
    };

    #[test]
    fn silence_counts_from_the_latest_of_heartbeat_and_switch_on() {
        let c = cabinet();
        let d = [device(Some(2_000), &[])];
        assert_eq!(judge(&c, &d, &[], RULES, 2_600), None);
        assert_eq!(
            judge(&c, &d, &[], RULES, 2_601),
            Some(DisabledReason::DeviceSilent)
        );
        let switched_on = Cabinet {
            enabled_at_secs: Some(3_000),
            ..c.clone()
        };
        assert_eq!(judge(&switched_on, &d, &[], RULES, 3_600), None);
        // No device, or only one tied to another cabinet: not judged on silence.
        assert_eq!(judge(&c, &[], &[], RULES, 99_999), None);
        let elsewhere = [device(Some(2_000), &["cab_2"])];
        assert_eq!(judge(&c, &elsewhere, &[], RULES, 99_999), None);
        let off = HealthRules {
            silent_secs: 0,
            ..RULES
        };
        assert_eq!(judge(&c, &d, &[], off, 99_999), None);
    }

    #[test]
    fn the_last_n_deals_must_all_have_expired_unpaid() {
        let c = cabinet();
        let expired = |t| deal(t, DealStatus::Canceled);
        let three = [expired(1_300), expired(1_200), expired(1_100)];
        assert_eq!(
            judge(&c, &[], &three, RULES, 2_000),
            Some(DisabledReason::DealsExpired)
        );
        assert_eq!(judge(&c, &[], &three[..2], RULES, 2_000), None);
        let paid_last = [deal(1_400, DealStatus::Completed), expired(1_300)];
        assert_eq!(judge(&c, &[], &paid_last, RULES, 2_000), None);
        let mut cancelled_by_people = expired(1_400);
        cancelled_by_people.settled_by = Some("operator".into());
        let mixed = [cancelled_by_people, expired(1_300), expired(1_200)];
        assert_eq!(judge(&c, &[], &mixed, RULES, 2_000), None);
        let switched_on = Cabinet {
            enabled_at_secs: Some(1_250),
            ..c
        };
        assert_eq!(judge(&switched_on, &[], &three, RULES, 2_000), None);
    }
}
