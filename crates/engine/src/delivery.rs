//! The callback pipeline: due callbacks are claimed as room frees up and
//! delivered by a bounded pool of requests in flight, with no pass that
//! waits for its slowest receiver. Each receiving host has a limit of its
//! own and a circuit that opens when it keeps failing, so a slow or dead
//! endpoint costs its own merchant's callbacks, never the others'. A host
//! that is backed up (this node holds more than a second of its work) has
//! its further callbacks held back instead of queued, so that it cannot take
//! the claim room from the others. An invoice's callbacks go out one after
//! another, in the order they were owed, across retries and nodes: the
//! claim takes a callback only when no earlier one of its invoice is pending
//! (waiting for a retry or held by a node). One failed for good no longer
//! holds the later ones back.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use kassa_domain::Callback;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::callbacks::Delivery;
use crate::{Engine, EngineResult};

mod backlog;
mod host;
pub use backlog::{CallbackBacklog, WaitingHost};
use host::{Host, HostView};

/// How long a claimed callback belongs to the node that claimed it beyond
/// the time its wait and its attempt may take: then another node (when this
/// one died mid-delivery) may claim it.
const LEASE_MARGIN_SECS: i64 = 5;
/// Callbacks claimed in one go at most.
const CLAIM_MAX: usize = 256;
/// Consecutive failures of a host that open its circuit.
const CIRCUIT_FAILURES: u32 = 5;
/// How long an open circuit stays open: doubled each time a probe fails.
const CIRCUIT_OPEN_SECS: i64 = 10;
const CIRCUIT_OPEN_MAX_SECS: i64 = 600;

#[derive(Default)]
struct State {
    hosts: HashMap<String, Host>,
    /// Invoices with a runner, and the callbacks waiting behind it. The
    /// claim hands out one callback of an invoice at a time, so a line holds
    /// more only in the rare case of one claimed again here; it still goes
    /// out after the one under way.
    lines: HashMap<String, VecDeque<Callback>>,
    /// Callbacks claimed and not finished, on every host.
    queued: usize,
    /// Their ids: a claim that finds one of them again (its lease ran out
    /// while it waited or was in flight here) leaves it to the one under way.
    held: HashSet<String>,
    /// Hosts with callbacks held back, and until when.
    held_back: HashMap<String, i64>,
}

/// What the circuit of a host says about a delivery now.
enum Gate {
    Go,
    /// Put off until then.
    Wait(i64),
}

/// Backlog figures of this node's pipeline.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PipelineStats {
    pub queued: usize,
    pub in_flight: usize,
    /// Hosts whose circuit is open (or probing), with until when.
    pub open_circuits: Vec<(String, i64)>,
}

pub struct Pipeline {
    state: Mutex<State>,
    /// Requests in flight on this node.
    slots: Arc<Semaphore>,
    max_in_flight: usize,
    per_host: usize,
    /// Pinged when a callback finishes: room to claim more.
    finished: Notify,
    /// The node is stopping: no attempt begins; what waits keeps its lease
    /// for another node, or this one restarted.
    stopping: std::sync::atomic::AtomicBool,
}

/// The host part of a callback URL, as the limits group receivers.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or_default()
}

impl Pipeline {
    pub(crate) fn new(max_in_flight: usize, per_host: usize) -> Pipeline {
        assert!(max_in_flight > 0 && per_host > 0);
        Pipeline {
            state: Mutex::default(),
            slots: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            per_host: per_host.min(max_in_flight),
            finished: Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many more callbacks may be claimed now: the pool's size again
    /// beyond those in flight, so that a freed slot finds work waiting.
    fn room(&self) -> usize {
        (2 * self.max_in_flight).saturating_sub(self.lock().queued)
    }

    pub fn stats(&self) -> PipelineStats {
        let state = self.lock();
        let mut open_circuits: Vec<(String, i64)> = state
            .hosts
            .iter()
            .filter(|(_, h)| h.open_until_secs > 0)
            .map(|(name, h)| (name.clone(), h.open_until_secs))
            .collect();
        open_circuits.sort();
        PipelineStats {
            queued: state.queued,
            in_flight: self.max_in_flight - self.slots.available_permits(),
            open_circuits,
        }
    }

    fn gate(&self, host: &str, now_secs: i64) -> Gate {
        let mut state = self.lock();
        let Some(h) = state.hosts.get_mut(host) else {
            return Gate::Go;
        };
        if h.open_until_secs == 0 {
            return Gate::Go;
        }
        if now_secs < h.open_until_secs || h.probing {
            return Gate::Wait(h.open_until_secs.max(now_secs + 1));
        }
        h.probing = true;
        Gate::Go
    }

    /// Records a delivery's outcome on its host's circuit.
    fn outcome(&self, host: &str, delivered: bool, now_secs: i64) {
        let mut state = self.lock();
        let Some(h) = state.hosts.get_mut(host) else {
            return;
        };
        let was_probing = std::mem::take(&mut h.probing);
        if delivered {
            h.failures = 0;
            h.open_until_secs = 0;
            h.open_secs = 0;
            return;
        }
        h.failures += 1;
        if was_probing || (h.open_until_secs == 0 && h.failures >= CIRCUIT_FAILURES) {
            h.open_secs = if h.open_secs == 0 {
                CIRCUIT_OPEN_SECS
            } else {
                (h.open_secs * 2).min(CIRCUIT_OPEN_MAX_SECS)
            };
            h.open_until_secs = now_secs + h.open_secs;
            tracing::warn!(
                host,
                open_secs = h.open_secs,
                failures = h.failures,
                "callback circuit open"
            );
        }
    }

    fn host_slots(&self, host: &str) -> Arc<Semaphore> {
        self.lock()
            .hosts
            .get(host)
            .map(|h| h.slots.clone())
            .expect("a queued callback's host is known")
    }

    /// An attempt to `host` begins.
    fn attempt_started(&self, host: &str) -> Instant {
        let started = Instant::now();
        if let Some(h) = self.lock().hosts.get_mut(host) {
            h.starts.push(started);
        }
        started
    }

    fn attempt_ended(&self, host: &str, started: Instant) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(h) = self.lock().hosts.get_mut(host) {
            if let Some(i) = h.starts.iter().position(|s| *s == started) {
                h.starts.swap_remove(i);
            }
            h.attempt_ms = if h.attempt_ms == 0.0 {
                ms
            } else {
                0.8 * h.attempt_ms + 0.2 * ms
            };
        }
    }

    /// A callback is finished; forgets its host when it has none left and a
    /// closed circuit.
    fn finish(&self, id: &str, host: &str) {
        let mut state = self.lock();
        state.queued -= 1;
        state.held.remove(id);
        if let Some(h) = state.hosts.get_mut(host) {
            h.queued -= 1;
            if h.queued == 0 && h.open_until_secs == 0 {
                state.hosts.remove(host);
            }
        }
        drop(state);
        self.finished.notify_one();
    }
}

/// A request's places in the pool and at its host, held until the receiver
/// has answered; letting them go records how long that took.
pub(crate) struct InFlight {
    pipeline: Arc<Pipeline>,
    host: String,
    started: Instant,
    _slots: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

impl InFlight {
    /// The receiver has answered (or the attempt failed): its circuit learns
    /// the outcome before the slots go, so that the callback next in line
    /// for them is gated on it.
    pub(crate) fn answered(self, delivered: bool, now_secs: i64) {
        self.pipeline.outcome(&self.host, delivered, now_secs);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.pipeline.attempt_ended(&self.host, self.started);
    }
}

impl Engine {
    /// Claims due callbacks, as many as the pipeline has room for, and sets
    /// them on their way; those of backed-up hosts are held back instead.
    /// Returns how many were taken (claimed or held back), how many were
    /// asked for, and the runners started (each ends when its invoice's line
    /// is empty).
    async fn claim_callbacks(
        self: &Arc<Self>,
    ) -> EngineResult<(usize, usize, Vec<tokio::task::JoinHandle<()>>)> {
        let pipeline = &self.pipeline;
        let room = pipeline.room().min(CLAIM_MAX);
        if room == 0 {
            return Ok((0, 0, Vec::new()));
        }
        let now = self.now_secs();
        let attempt_secs = self.config.callback_timeout_ms.div_ceil(1000) as i64;
        // Each lease covers the callback's wait: its place in its host's
        // queue, in its invoice's line and in the pool, one attempt each.
        let (mut hosts, mut lines, queued) = {
            let mut state = pipeline.lock();
            state.held_back.retain(|_, until| *until > now);
            let mut hosts: HashMap<String, HostView> = state
                .hosts
                .iter()
                .map(|(k, h)| {
                    let view = HostView {
                        queued: h.queued,
                        pace_ms: h.pace_ms(),
                        held_until_secs: 0,
                    };
                    (k.clone(), view)
                })
                .collect();
            for (k, until) in &state.held_back {
                hosts.entry(k.clone()).or_default().held_until_secs = *until;
            }
            let lines: HashMap<String, usize> = state
                .lines
                .iter()
                .map(|(k, l)| (k.clone(), l.len() + 1))
                .collect();
            (hosts, lines, state.queued)
        };
        let (per_host, max_in_flight) = (pipeline.per_host, pipeline.max_in_flight);
        let (taken, claimed, held_back) = self
            .write(move |tx| {
                let due = tx.due_callbacks(now, room)?;
                let taken = due.len();
                let mut claimed = Vec::with_capacity(taken);
                let mut held_back = HashMap::new();
                for mut cb in due {
                    let name = host_of(&cb.url);
                    let host = hosts.entry(name.clone()).or_default();
                    if let Some(until) = host.hold_back(now, per_host) {
                        // Leased to no runner: any node takes it when the
                        // lease runs out.
                        cb.lease_until_secs = until;
                        tx.update_callback(&cb)?;
                        held_back.insert(name, until);
                        continue;
                    }
                    let line = lines.entry(cb.invoice_id.clone()).or_insert(0);
                    let waits = host.queued / per_host
                        + *line
                        + (queued + claimed.len()) / max_in_flight
                        + 1;
                    host.queued += 1;
                    *line += 1;
                    cb.lease_until_secs = now + waits as i64 * attempt_secs + LEASE_MARGIN_SECS;
                    tx.update_callback(&cb)?;
                    claimed.push(cb);
                }
                Ok((taken, claimed, held_back))
            })
            .await?;
        if !held_back.is_empty() {
            let mut state = pipeline.lock();
            for (host, until) in held_back {
                let held = state.held_back.entry(host).or_insert(until);
                *held = (*held).max(until);
            }
        }
        let runners = claimed
            .into_iter()
            .filter_map(|callback| self.enqueue(callback))
            .collect();
        Ok((taken, room, runners))
    }

    /// Puts a claimed callback in its invoice's line, starting a runner for
    /// the line when it has none.
    fn enqueue(self: &Arc<Self>, callback: Callback) -> Option<tokio::task::JoinHandle<()>> {
        let pipeline = &self.pipeline;
        let host = host_of(&callback.url);
        let invoice_id = callback.invoice_id.clone();
        let mut state = pipeline.lock();
        if !state.held.insert(callback.id.clone()) {
            return None;
        }
        state.queued += 1;
        state
            .hosts
            .entry(host)
            .or_insert_with(|| Host::new(pipeline.per_host))
            .queued += 1;
        if let Some(line) = state.lines.get_mut(&invoice_id) {
            line.push_back(callback);
            return None;
        }
        state
            .lines
            .insert(invoice_id.clone(), VecDeque::from([callback]));
        drop(state);
        let engine = self.clone();
        Some(tokio::spawn(
            async move { engine.run_line(invoice_id).await },
        ))
    }

    /// Delivers an invoice's claimed callbacks one after another, oldest
    /// first, until its line is empty.
    async fn run_line(self: Arc<Self>, invoice_id: String) {
        loop {
            let next = {
                let mut state = self.pipeline.lock();
                let line = state.lines.get_mut(&invoice_id).expect("a runner's line");
                match line.pop_front() {
                    Some(cb) => cb,
                    None => {
                        state.lines.remove(&invoice_id);
                        return;
                    }
                }
            };
            let host = host_of(&next.url);
            let id = next.id.clone();
            let ended = !self
                .pipeline
                .stopping
                .load(std::sync::atomic::Ordering::Relaxed)
                && self.deliver_in_pipeline(next, &host).await;
            self.pipeline.finish(&id, &host);
            if ended {
                // The next callback of its invoice may be claimable now.
                self.wake_callbacks.notify_one();
            }
        }
    }

    /// Returns whether the callback left `pending`.
    async fn deliver_in_pipeline(&self, callback: Callback, host: &str) -> bool {
        let pipeline = &self.pipeline;
        let host_slots = pipeline.host_slots(host);
        let at_host = host_slots.acquire_owned().await.expect("never closed");
        // The circuit is asked once the host's slot is held, not before the
        // wait for it: callbacks queued behind a host that has just died are
        // then put off, rather than each spending a timeout on it.
        if let Gate::Wait(until) = pipeline.gate(host, self.now_secs()) {
            drop(at_host);
            self.put_off(callback.id, until).await;
            return false;
        }
        let in_pool = pipeline
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let in_flight = InFlight {
            pipeline: pipeline.clone(),
            host: host.to_string(),
            started: pipeline.attempt_started(host),
            _slots: (at_host, in_pool),
        };
        match self.deliver(callback, in_flight).await {
            Ok(delivery) => {
                // The attempt is recorded (committed) by now.
                crate::telemetry::delivery(match delivery {
                    Delivery::NotSent => "not_sent",
                    Delivery::Delivered => "delivered",
                    Delivery::Failed { for_good: false } => "failed",
                    Delivery::Failed { for_good: true } => "given_up",
                });
                delivery.ended()
            }
            Err(e) => {
                tracing::error!(error = %e, "callback bookkeeping failed");
                false
            }
        }
    }

    /// The host's circuit is open: the callback waits without an attempt,
    /// and its lease goes so that any node may take it then.
    async fn put_off(&self, id: String, until: i64) {
        let result = self
            .write(move |tx| {
                if let Some(mut cb) = tx.callback(&id)? {
                    cb.next_attempt_at_secs = cb.next_attempt_at_secs.max(until);
                    cb.lease_until_secs = 0;
                    tx.update_callback(&cb)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "putting off a callback failed");
        }
    }

    /// One pass, for tests and tools that drive time by hand: claims what is
    /// due and waits until each claimed callback has had its attempt.
    pub async fn deliver_due_callbacks(self: &Arc<Self>) -> EngineResult<usize> {
        let (count, _, runners) = self.claim_callbacks().await?;
        for runner in runners {
            let _ = runner.await;
        }
        // A callback that joined a line another runner serves.
        while self.pipeline.lock().queued > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Ok(count)
    }

    /// The delivery worker: claims whenever there is room and work, until
    /// `stop`; then lets the attempts under way end (each is bounded by
    /// `callback_timeout_ms`) and begins no other, leaving the callbacks it
    /// still holds to their leases.
    pub(crate) async fn run_pipeline(
        self: Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let poll = std::time::Duration::from_millis(self.config.worker_poll_ms);
        let mut runners: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        loop {
            if *stop.borrow() {
                self.pipeline
                    .stopping
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                for runner in runners {
                    let _ = runner.await;
                }
                return;
            }
            runners.retain(|r| !r.is_finished());
            match self.claim_callbacks().await {
                // As many as asked for: more may be due.
                Ok((count, asked, started)) if count > 0 && count == asked => {
                    runners.extend(started);
                    continue;
                }
                Ok((_, _, started)) => runners.extend(started),
                Err(e) => {
                    tracing::error!(worker = "callbacks", error = %e, "claiming callbacks failed")
                }
            }
            tokio::select! {
                _ = self.wake_callbacks.notified() => {}
                _ = self.pipeline.finished.notified(), if self.pipeline.room() == 0 => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_named_with_their_port() {
        assert_eq!(host_of("https://shop.example/cb"), "shop.example:443");
        assert_eq!(host_of("http://127.0.0.1:9000/x"), "127.0.0.1:9000");
        assert_eq!(host_of("not a url"), "");
    }

    #[test]
    fn a_circuit_opens_after_failures_and_half_opens_for_one_probe() {
        let p = Pipeline::new(8, 2);
        p.lock().hosts.insert(
            "h:80".into(),
            Host {
                queued: 1,
                ..Host::new(2)
            },
        );
        for _ in 0..CIRCUIT_FAILURES {
            assert!(matches!(p.gate("h:80", 100), Gate::Go));
            p.outcome("h:80", false, 100);
        }
        assert!(matches!(p.gate("h:80", 105), Gate::Wait(110)));
        // Half-open: one probe goes, the rest wait for it.
        assert!(matches!(p.gate("h:80", 110), Gate::Go));
        assert!(matches!(p.gate("h:80", 110), Gate::Wait(_)));
        // The probe fails: open twice as long.
        p.outcome("h:80", false, 111);
        assert!(matches!(p.gate("h:80", 120), Gate::Wait(131)));
        assert!(matches!(p.gate("h:80", 131), Gate::Go));
        p.outcome("h:80", true, 131);
        assert!(matches!(p.gate("h:80", 131), Gate::Go));
        assert_eq!(p.stats().open_circuits, vec![]);
    }
}
