//! The admin API's own answers as types; traders, cabinets, deals and
//! notifications are shown as the trader API shows them, requisites masked.

use kassa_domain::money::format_fixed;
use kassa_domain::{AlternativeRule, Currency, Direction};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RateView {
    #[schema(value_type = String)]
    pub currency: Currency,
    /// `null`: none set.
    pub rate: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AmountRuleView {
    #[schema(value_type = String)]
    pub currency: Currency,
    /// The distance between alternatives, in the currency's units.
    pub step: String,
    /// `up`, `down` or `alternate`.
    pub direction: &'static str,
}

impl AmountRuleView {
    pub fn new(currency: Currency, rule: AlternativeRule) -> Self {
        AmountRuleView {
            currency,
            step: format_fixed(rule.step_minor, currency.exponent()),
            direction: match rule.direction {
                Direction::Up => "up",
                Direction::Down => "down",
                Direction::Alternate => "alternate",
            },
        }
    }
}

/// A merchant's settings and public keys, no secret (the engine's
/// `MerchantSummary`, as `kassa merchant list --json` shows it too).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Merchant {
    merchant_id: String,
    name: String,
    site_id: i64,
    site_login: String,
    account_currency: String,
    forbid_public_api: bool,
    callback_url: Option<String>,
    return_url: Option<String>,
    url_hosts: Vec<String>,
    frame_ancestors: Vec<String>,
    /// `all` or `final`.
    callback_statuses: String,
    /// `null`: the operator's schedule.
    callback_retry_secs: Option<Vec<i64>>,
    /// `null`: the operator's.
    callback_max_attempts: Option<u32>,
    test_public_key: String,
    live_public_key: String,
}

/// The callback backlog over every node, and this node's pipeline (the
/// engine's `CallbackBacklog`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CallbackStats {
    counts: CallbackCounts,
    /// Receiving hosts with callbacks waiting for a later attempt.
    waiting_hosts: Vec<WaitingHost>,
    node: PipelineStats,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct CallbackCounts {
    /// Not yet delivered, not given up.
    owed: u64,
    /// Claimable now.
    due: u64,
    /// Claimed by a node whose lease has not run out.
    leased: u64,
    /// Given up after the last attempt.
    failed: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct WaitingHost {
    host: String,
    waiting: u64,
    next_attempt_at_secs: i64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct PipelineStats {
    queued: u64,
    in_flight: u64,
    /// Hosts whose circuit is open (or probing), each with until when
    /// (seconds since the epoch).
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    open_circuits: Vec<(String, i64)>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kassa_domain::CallbackStatuses;
    use kassa_engine::delivery::{CallbackBacklog, PipelineStats as Node, WaitingHost as Host};
    use kassa_engine::merchants::MerchantSummary;
    use serde::Serialize;
    use utoipa::PartialSchema;

    use super::*;

    fn keys(value: &impl Serialize) -> BTreeSet<String> {
        let value = serde_json::to_value(value).unwrap();
        value.as_object().unwrap().keys().cloned().collect()
    }

    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The schemas written for the engine's answers name the fields those
    /// answers have.
    #[test]
    fn the_engines_answers_are_described_as_they_are() {
        let summary = MerchantSummary {
            merchant_id: "mer_1".into(),
            name: "Shop".into(),
            site_id: 1,
            site_login: "shop".into(),
            account_currency: Currency::from_code("RUB").unwrap(),
            forbid_public_api: false,
            callback_url: None,
            return_url: None,
            url_hosts: vec![],
            frame_ancestors: vec![],
            callback_statuses: CallbackStatuses::All,
            callback_retry_secs: None,
            callback_max_attempts: None,
            test_public_key: "pk".into(),
            live_public_key: "pk".into(),
        };
        assert_eq!(keys(&summary), properties::<Merchant>());
        let host = Host {
            host: "shop.example".into(),
            waiting: 1,
            next_attempt_at_secs: 0,
        };
        let backlog = CallbackBacklog {
            counts: Default::default(),
            waiting_hosts: vec![host.clone()],
            node: Node::default(),
        };
        assert_eq!(keys(&backlog), properties::<CallbackStats>());
        assert_eq!(keys(&backlog.counts), properties::<CallbackCounts>());
        assert_eq!(keys(&host), properties::<WaitingHost>());
        assert_eq!(keys(&backlog.node), properties::<PipelineStats>());
    }
}

/// A trader with its collateral.
#[derive(Serialize, ToSchema)]
pub struct TraderRecordView {
    #[serde(flatten)]
    pub trader: crate::trader::response::TraderView,
    pub collateral: crate::trader::response::CollateralView,
}
