//! The connection pool: a node's connections to PostgreSQL, each leased to
//! one transaction at a time.

use super::*;

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection and the statements prepared on it.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) statements: HashMap<String, Statement>,
}

pub(super) struct PoolState {
    pub(super) idle: Vec<Conn>,
    /// Connections open, idle or lent.
    pub(super) open: usize,
    /// Callers waiting for one to come back.
    pub(super) waiters: usize,
}

/// A bounded pool: connections are made on demand up to `max`; past that a
/// caller waits for one to come back, for at most `wait`.
pub(super) struct Pool {
    pub(super) config: Config,
    pub(super) max: usize,
    pub(super) wait: Duration,
    pub(super) state: Mutex<PoolState>,
    pub(super) returned: Condvar,
    /// How long callers waited for a connection (those that got one).
    pub(super) waited: metrics::Histogram,
}

impl Pool {
    pub(super) fn connect(&self) -> StoreResult<Conn> {
        let client = self.config.connect(NoTls).map_err(|e| backend(&e))?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    pub(super) fn get(self: &Arc<Self>) -> StoreResult<Lease> {
        let started = Instant::now();
        let lease = self.get_by(started + self.wait)?;
        self.waited.record(started.elapsed());
        Ok(lease)
    }

    pub(super) fn get_by(self: &Arc<Self>, deadline: Instant) -> StoreResult<Lease> {
        let mut state = lock(&self.state);
        loop {
            if let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(self.lease(conn));
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(self.lease(conn)),
                    Err(e) => {
                        lock(&self.state).open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "no database connection came free within {} ms",
                    self.wait.as_millis()
                )));
            }
            state.waiters += 1;
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            state.waiters -= 1;
        }
    }

    /// Closes every idle connection; the next callers connect afresh.
    pub(super) fn discard_idle(&self) {
        let idle = {
            let mut state = lock(&self.state);
            let idle = std::mem::take(&mut state.idle);
            state.open -= idle.len();
            idle
        };
        off_runtime(move || drop(idle));
        self.returned.notify_all();
    }

    pub(super) fn lease(self: &Arc<Self>, conn: Conn) -> Lease {
        Lease {
            pool: self.clone(),
            conn: Some(conn),
            broken: false,
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.state).idle);
        off_runtime(move || drop(idle));
    }
}

/// A lent connection; it goes back to the pool when dropped, unless broken.
pub(super) struct Lease {
    pub(super) pool: Arc<Pool>,
    pub(super) conn: Option<Conn>,
    pub(super) broken: bool,
}

impl Lease {
    pub(super) fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a lease holds its connection")
    }

    /// Runs a transaction-control statement; a failure leaves the connection
    /// in an unknown state, so it is not reused.
    pub(super) fn control(&mut self, sql: &str) -> StoreResult<()> {
        let result = self
            .conn()
            .client
            .batch_execute(sql)
            .map_err(|e| backend(&e));
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut state = lock(&self.pool.state);
            if self.broken || conn.client.is_closed() {
                state.open -= 1;
            } else {
                state.idle.push(conn);
            }
            drop(state);
            self.pool.returned.notify_one();
        }
    }
}
