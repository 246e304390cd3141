//! Time is injected: expiry, retries, holds and reserves read a [`Clock`],
//! which the tests move by hand.
//!
//! Nodes that share a PostgreSQL database read the database's clock
//! ([`DatabaseClock`]), so that a node whose own clock is wrong can neither
//! take over a hold early nor cancel a deal before its deadline.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

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

/// Reads the database's time, in microseconds since the Unix epoch.
pub type TimeSample = Box<dyn Fn() -> Result<i64, String> + Send + Sync>;

/// The database's clock, carried between readings on this node's monotonic
/// clock. A reading is taken as the midpoint of its round trip, so a node is
/// off the database by at most half the round trip of its best reading (well
/// under a millisecond next to the database) plus the monotonic clock's drift
/// between readings. The wall clock of the node is never read.
pub struct DatabaseClock {
    sample: TimeSample,
    /// Database time in microseconds at a local instant.
    base: Mutex<(i64, Instant)>,
    /// The latest time handed out: readings never run backwards.
    last_micros: AtomicI64,
}

/// Readings per synchronisation; the one with the shortest round trip wins.
const SAMPLES: usize = 5;
/// How often the reading is renewed.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(10);

impl DatabaseClock {
    /// Takes a first reading (failing if the database cannot give one) and
    /// renews it every [`RESYNC_INTERVAL`] on a thread of its own, for as long
    /// as the clock lives.
    pub fn start(sample: TimeSample) -> Result<Arc<DatabaseClock>, String> {
        let (micros, at, half_rtt) = best_reading(&sample)?;
        let clock = Arc::new(DatabaseClock {
            sample,
            base: Mutex::new((micros, at)),
            last_micros: AtomicI64::new(micros),
        });
        tracing::info!(
            uncertainty_micros = half_rtt,
            "clock: following the database's"
        );
        let weak = Arc::downgrade(&clock);
        std::thread::Builder::new()
            .name("kassa-clock".into())
            .spawn(move || resync_loop(weak))
            .map_err(|e| format!("clock thread: {e}"))?;
        Ok(clock)
    }

    fn resync(&self) -> Result<(), String> {
        let (micros, at, _) = best_reading(&self.sample)?;
        *self.base.lock().unwrap_or_else(|p| p.into_inner()) = (micros, at);
        Ok(())
    }

    pub fn now_micros(&self) -> i64 {
        let (micros, at) = *self.base.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = i64::try_from(at.elapsed().as_micros()).unwrap_or(i64::MAX / 2);
        let now = micros.saturating_add(elapsed);
        // A new reading may sit a little behind the old one's extrapolation.
        let previous = self.last_micros.fetch_max(now, Ordering::SeqCst);
        now.max(previous)
    }
}

impl Clock for DatabaseClock {
    fn now_secs(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }
}

fn best_reading(sample: &TimeSample) -> Result<(i64, Instant, i64), String> {
    let mut best: Option<(i64, Instant, Duration)> = None;
    for _ in 0..SAMPLES {
        let sent = Instant::now();
        let micros = sample()?;
        let round_trip = sent.elapsed();
        let midpoint = sent + round_trip / 2;
        if best.is_none_or(|(_, _, rtt)| round_trip < rtt) {
            best = Some((micros, midpoint, round_trip));
        }
    }
    let (micros, at, rtt) = best.expect("at least one reading");
    Ok((
        micros,
        at,
        i64::try_from(rtt.as_micros() / 2).unwrap_or(i64::MAX),
    ))
}

fn resync_loop(clock: Weak<DatabaseClock>) {
    loop {
        std::thread::sleep(RESYNC_INTERVAL);
        let Some(clock) = clock.upgrade() else { return };
        if let Err(e) = clock.resync() {
            // The last reading carries on; a database that cannot be read
            // cannot be written either.
            tracing::warn!(error = %e, "clock: the database's time could not be read");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn follows_the_source_not_the_wall_clock() {
        // A "database" an hour ahead of this machine.
        let ahead_micros = 3_600_000_000;
        let clock = DatabaseClock::start(Box::new(move || {
            Ok(chrono::Utc::now().timestamp_micros() + ahead_micros)
        }))
        .unwrap();
        let drift = clock.now_secs() - SystemClock.now_secs();
        assert!((3599..=3601).contains(&drift), "{drift}");
    }

    #[test]
    fn never_runs_backwards_and_reports_a_failed_source() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        // Each reading is a second behind the one before.
        let clock = DatabaseClock::start(Box::new(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst) as i64;
            if n >= 2 * SAMPLES as i64 {
                return Err("down".into());
            }
            Ok(1_000_000_000_000 - n * 1_000_000)
        }))
        .unwrap();
        let before = clock.now_micros();
        clock.resync().unwrap();
        assert!(clock.now_micros() >= before);
        assert_eq!(clock.resync(), Err("down".to_string()));
        assert!(clock.now_micros() >= before);
    }
}
