//! A receiving host as the pipeline sees it: its share of the pool, its
//! circuit, and how long its attempts take, which says when it is backed up.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

/// A host is backed up when this node holds at least this many rounds of its
/// slots for it...
const BACKED_UP_ROUNDS: usize = 2;
/// ... and they would take longer than this to go out at its pace.
const BACKED_UP_MS: f64 = 1000.0;

/// A receiving host: its share of the pool and the state of its circuit.
pub(super) struct Host {
    pub(super) slots: Arc<Semaphore>,
    /// Callbacks of this host claimed and not finished.
    pub(super) queued: usize,
    pub(super) failures: u32,
    /// While the circuit is open, until when; its callbacks are put off
    /// until then without an attempt.
    pub(super) open_until_secs: i64,
    pub(super) open_secs: i64,
    /// Half-open: one probe is under way; the others are put off.
    pub(super) probing: bool,
    /// How long its attempts have been taking (a moving average; 0 before
    /// the first ends), and when those in flight began.
    pub(super) attempt_ms: f64,
    pub(super) starts: Vec<Instant>,
}

impl Host {
    pub(super) fn new(per_host: usize) -> Host {
        Host {
            slots: Arc::new(Semaphore::new(per_host)),
            queued: 0,
            failures: 0,
            open_until_secs: 0,
            open_secs: 0,
            probing: false,
            attempt_ms: 0.0,
            starts: Vec::new(),
        }
    }

    /// How long an attempt to it takes, as far as is known: no less than
    /// the oldest one in flight has taken so far, so that a host that stops
    /// answering is seen as slow before its first timeout.
    pub(super) fn pace_ms(&self) -> f64 {
        let oldest = self
            .starts
            .iter()
            .min()
            .map_or(0.0, |s| s.elapsed().as_secs_f64() * 1000.0);
        self.attempt_ms.max(oldest)
    }
}

/// A host as a claim sees it.
#[derive(Default)]
pub(super) struct HostView {
    pub(super) queued: usize,
    pub(super) pace_ms: f64,
    pub(super) held_until_secs: i64,
}

impl HostView {
    /// Until when a due callback of this host is held back (leased, not
    /// queued), if it is: while the host is backed up, and while callbacks
    /// held back earlier wait, so that an invoice's callbacks keep their
    /// order.
    pub(super) fn hold_back(&mut self, now_secs: i64, per_host: usize) -> Option<i64> {
        let wait_ms = (self.queued / per_host) as f64 * self.pace_ms;
        let backed_up = self.queued >= BACKED_UP_ROUNDS * per_host && wait_ms > BACKED_UP_MS;
        if !backed_up && self.held_until_secs <= now_secs {
            return None;
        }
        let until = now_secs + ((wait_ms / 1000.0).ceil() as i64).max(1);
        self.held_until_secs = self.held_until_secs.max(until);
        Some(self.held_until_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_held_back_while_it_holds_more_than_a_second_of_work() {
        // Twice its slots queued, at 100 ms an attempt: not backed up.
        let mut fast = HostView {
            queued: 64,
            pace_ms: 100.0,
            held_until_secs: 0,
        };
        assert_eq!(fast.hold_back(100, 32), None);
        // At 600 ms an attempt that is 1.2 s of work: held back 2 s.
        let mut slow = HostView {
            pace_ms: 600.0,
            ..fast
        };
        assert_eq!(slow.hold_back(100, 32), Some(102));
        // Fewer than twice its slots: never, however slow.
        let mut few = HostView {
            queued: 63,
            pace_ms: 10_000.0,
            held_until_secs: 0,
        };
        assert_eq!(few.hold_back(100, 32), None);
        // Once some are held back, the later ones wait at least as long.
        slow.queued = 0;
        assert_eq!(slow.hold_back(101, 32), Some(102));
        assert_eq!(slow.hold_back(102, 32), None);
        fast.queued = 0;
        assert_eq!(fast.hold_back(100, 32), None);
    }
}
