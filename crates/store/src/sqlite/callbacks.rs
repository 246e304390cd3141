//! Callbacks owed to merchants and their delivery attempts.

use super::*;
use crate::CallbackTx;

impl CallbackTx for SqliteTx<'_> {
    fn insert_callback(&mut self, c: &Callback) -> StoreResult<()> {
        self.exec(
            "INSERT INTO callbacks (id, invoice_id, state, next_attempt_at, lease_until, created_seq, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM callbacks), ?6)",
            params![
                c.id,
                c.invoice_id,
                c.state.as_str(),
                c.next_attempt_at_secs,
                c.lease_until_secs,
                to_doc(c)?
            ],
        )
        .map(drop)
    }

    fn update_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE callbacks SET state = ?2, next_attempt_at = ?3, lease_until = ?4, doc = ?5 WHERE id = ?1",
            params![
                c.id,
                c.state.as_str(),
                c.next_attempt_at_secs,
                c.lease_until_secs,
                to_doc(c)?
            ],
        )?;
        expect_one(n, "update callback")
    }

    fn callback(&mut self, id: &str) -> StoreResult<Option<Callback>> {
        self.doc("SELECT doc FROM callbacks WHERE id = ?1", [id])
    }

    fn callbacks_for_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE invoice_id = ?1 ORDER BY created_seq",
            [invoice_id],
        )
    }

    fn due_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        // The head of each invoice's line only: one behind an earlier pending
        // callback of its invoice waits for that one (callbacks_line).
        self.docs(
            "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= ?1 AND c.lease_until <= ?1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn callback_counts(&mut self, now_secs: i64) -> StoreResult<CallbackCounts> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
                        AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                                        AND e.state = 'pending' AND e.created_seq < c.created_seq)
                        THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'pending' AND lease_until > ?1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)
             FROM callbacks c",
            )
            .map_err(backend)?;
        stmt.query_row(params![now_secs], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok(CallbackCounts {
                owed: n(0)?,
                due: n(1)?,
                leased: n(2)?,
                failed: n(3)?,
            })
        })
        .map_err(backend)
    }

    fn waiting_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE state = 'pending' AND next_attempt_at > ?1
             ORDER BY next_attempt_at LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn insert_callback_attempt(&mut self, a: &CallbackAttempt) -> StoreResult<()> {
        self.exec(
            "INSERT INTO callback_attempts (callback_id, invoice_id, doc) VALUES (?1, ?2, ?3)",
            params![a.callback_id, a.invoice_id, to_doc(a)?],
        )
        .map(drop)
    }

    fn callback_attempts(&mut self, invoice_id: &str) -> StoreResult<Vec<CallbackAttempt>> {
        self.docs(
            "SELECT doc FROM callback_attempts WHERE invoice_id = ?1 ORDER BY seq",
            [invoice_id],
        )
    }
}
