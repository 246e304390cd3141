//! What the operator sees of the callback backlog: the store's counts over
//! every node, the hosts whose callbacks wait for a retry, and this node's
//! pipeline.

use std::collections::HashMap;

use super::{host_of, PipelineStats};
use crate::{Engine, EngineResult};

/// Waiting callbacks looked at, and hosts shown, by [`Engine::callback_backlog`].
const WAITING_SCANNED: usize = 10_000;
const HOSTS_SHOWN: usize = 20;

/// A receiving host with callbacks waiting for a later attempt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WaitingHost {
    pub host: String,
    pub waiting: u64,
    pub next_attempt_at_secs: i64,
}

/// The callback backlog: [`kassa_store::CallbackCounts`] over every node,
/// the hosts that fail (their callbacks wait for a retry), and this node's
/// pipeline.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallbackBacklog {
    pub counts: kassa_store::CallbackCounts,
    pub waiting_hosts: Vec<WaitingHost>,
    pub node: PipelineStats,
}

impl Engine {
    pub fn pipeline_stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// The backlog as the operator sees it: the database's counts (every
    /// node's), the hosts with the most callbacks waiting for a later
    /// attempt, and this node's pipeline.
    pub async fn callback_backlog(&self) -> EngineResult<CallbackBacklog> {
        let now = self.now_secs();
        let (counts, waiting) = self
            .read(move |tx| {
                Ok((
                    tx.callback_counts(now)?,
                    tx.waiting_callbacks(now, WAITING_SCANNED)?,
                ))
            })
            .await?;
        let mut hosts: HashMap<String, WaitingHost> = HashMap::new();
        for cb in &waiting {
            let host = hosts.entry(host_of(&cb.url)).or_insert(WaitingHost {
                host: host_of(&cb.url),
                waiting: 0,
                next_attempt_at_secs: cb.next_attempt_at_secs,
            });
            host.waiting += 1;
            host.next_attempt_at_secs = host.next_attempt_at_secs.min(cb.next_attempt_at_secs);
        }
        let mut waiting_hosts: Vec<WaitingHost> = hosts.into_values().collect();
        waiting_hosts.sort_by(|a, b| b.waiting.cmp(&a.waiting).then(a.host.cmp(&b.host)));
        waiting_hosts.truncate(HOSTS_SHOWN);
        Ok(CallbackBacklog {
            counts,
            waiting_hosts,
            node: self.pipeline.stats(),
        })
    }
}
