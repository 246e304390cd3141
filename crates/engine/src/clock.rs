//! Time is injected: expiry, retries and reserves read a [`Clock`], which the
//! tests move by hand.

use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync + 'static {
    /// Unix time in seconds.
    fn now_secs(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that stands still until it is moved.
pub struct ManualClock {
    now_secs: AtomicI64,
}

impl ManualClock {
    pub fn new(now_secs: i64) -> Self {
        ManualClock {
            now_secs: AtomicI64::new(now_secs),
        }
    }
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_secs())
    }
    pub fn advance_secs(&self, secs: i64) {
        assert!(secs >= 0, "time does not run backwards");
        self.now_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_secs(&self) -> i64 {
        self.now_secs.load(Ordering::SeqCst)
    }
}
