//! Callbacks owed to merchants and their delivery attempts.

use super::*;
use crate::CallbackTx;

impl CallbackTx for PgTx<'_> {
    fn insert_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let doc = to_doc(c)?;
        self.insert(
            "callback",
            "INSERT INTO callbacks (id, invoice_id, state, next_attempt_at, lease_until, doc)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                &c.id,
                &c.invoice_id,
                &c.state.as_str(),
                &c.next_attempt_at_secs,
                &c.lease_until_secs,
                &doc,
            ],
        )
    }

    fn update_callback(&mut self, c: &Callback) -> StoreResult<()> {
        let doc = to_doc(c)?;
        let n = self.exec(
            "UPDATE callbacks SET state = $2, next_attempt_at = $3, lease_until = $4, doc = $5 WHERE id = $1",
            &[
                &c.id,
                &c.state.as_str(),
                &c.next_attempt_at_secs,
                &c.lease_until_secs,
                &doc,
            ],
        )?;
        expect_one(n, "update callback")
    }

    fn callback(&mut self, id: &str) -> StoreResult<Option<Callback>> {
        let sql = self.claim(
            "SELECT doc FROM callbacks WHERE id = $1",
            locking!("SELECT doc FROM callbacks WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn callbacks_for_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE invoice_id = $1 ORDER BY created_seq",
            &[&invoice_id],
        )
    }

    fn due_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        // The head of each invoice's line only: one behind an earlier pending
        // callback of its invoice waits for that one (callbacks_line). The
        // earlier ones are read unlocked, and a row another node holds is
        // still seen as pending: a callback leaves `pending` only for good,
        // so a claim that finds none before it cannot be overtaken.
        let sql = self.claim(
            "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.lease_until <= $1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT $2",
            claiming!(
                "SELECT doc FROM callbacks c WHERE c.state = 'pending' AND c.next_attempt_at <= $1 AND c.lease_until <= $1
               AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                               AND e.state = 'pending' AND e.created_seq < c.created_seq)
             ORDER BY c.next_attempt_at, c.created_seq LIMIT $2"
            ),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn callback_counts(&mut self, now_secs: i64) -> StoreResult<CallbackCounts> {
        let row = self
            .query_opt(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1
                        AND NOT EXISTS (SELECT 1 FROM callbacks e WHERE e.invoice_id = c.invoice_id
                                        AND e.state = 'pending' AND e.created_seq < c.created_seq)
                        THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'pending' AND lease_until > $1 THEN 1 ELSE 0 END), 0)::BIGINT,
                    COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0)::BIGINT
             FROM callbacks c",
                &[&now_secs],
            )?
            .ok_or_else(|| StoreError::Backend("callback counts: no row".into()))?;
        let n = |i: usize| col::<i64>(&row, i).map(|v| v.max(0) as u64);
        Ok(CallbackCounts {
            owed: n(0)?,
            due: n(1)?,
            leased: n(2)?,
            failed: n(3)?,
        })
    }

    fn waiting_callbacks(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Callback>> {
        self.docs(
            "SELECT doc FROM callbacks WHERE state = 'pending' AND next_attempt_at > $1
             ORDER BY next_attempt_at LIMIT $2",
            &[&now_secs, &(limit as i64)],
        )
    }

    fn insert_callback_attempt(&mut self, a: &CallbackAttempt) -> StoreResult<()> {
        let doc = to_doc(a)?;
        self.exec(
            "INSERT INTO callback_attempts (callback_id, invoice_id, doc) VALUES ($1, $2, $3)",
            &[&a.callback_id, &a.invoice_id, &doc],
        )
        .map(drop)
    }

    fn callback_attempts(&mut self, invoice_id: &str) -> StoreResult<Vec<CallbackAttempt>> {
        self.docs(
            "SELECT doc FROM callback_attempts WHERE invoice_id = $1 ORDER BY seq",
            &[&invoice_id],
        )
    }
}
