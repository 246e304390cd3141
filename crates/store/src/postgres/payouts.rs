//! Payouts.

use super::*;
use crate::PayoutTx;

impl PayoutTx for PgTx<'_> {
    fn insert_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let doc = to_doc(p)?;
        self.insert(
            "payout",
            "INSERT INTO payouts (id, merchant_id, test_mode, request_id, status, method, currency, trader_id, deadline, test_pending, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            &[
                &p.id,
                &p.merchant_id,
                &p.test_mode,
                &p.request_id,
                &p.status.as_str(),
                &p.method,
                &p.currency.code(),
                &p.trader_id,
                &p.deadline_secs,
                &p.test_outcome.is_some(),
                &doc,
            ],
        )
    }

    fn update_payout(&mut self, p: &Payout) -> StoreResult<()> {
        let doc = to_doc(p)?;
        let n = self.exec(
            "UPDATE payouts SET status = $2, trader_id = $3, deadline = $4, test_pending = $5, doc = $6 WHERE id = $1",
            &[
                &p.id,
                &p.status.as_str(),
                &p.trader_id,
                &p.deadline_secs,
                &p.test_outcome.is_some(),
                &doc,
            ],
        )?;
        expect_one(n, "update payout")
    }

    fn payout(&mut self, id: &str) -> StoreResult<Option<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE id = $1",
            locking!("SELECT doc FROM payouts WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn payout_by_request(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        request_id: &str,
    ) -> StoreResult<Option<Payout>> {
        self.doc(
            "SELECT doc FROM payouts WHERE merchant_id = $1 AND test_mode = $2 AND request_id = $3",
            &[&merchant_id, &test_mode, &request_id],
        )
    }

    fn offered_payouts(
        &mut self,
        method: &str,
        currency: &str,
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE status = 'pending' AND method = $1 AND currency = $2 AND NOT test_mode
             ORDER BY seq LIMIT $3",
            &[&method, &currency, &(limit as i64)],
        )
    }

    fn payouts_of_trader(&mut self, trader_id: &str, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE trader_id = $1 ORDER BY seq DESC LIMIT $2",
            &[&trader_id, &(limit as i64)],
        )
    }

    fn payouts_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE status IN ('pending', 'in_progress') AND deadline <= $1 ORDER BY deadline LIMIT $2",
            claiming!("SELECT doc FROM payouts WHERE status IN ('pending', 'in_progress') AND deadline <= $1 ORDER BY deadline LIMIT $2"),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn payouts_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Payout>> {
        let sql = self.claim(
            "SELECT doc FROM payouts WHERE test_pending ORDER BY seq LIMIT $1",
            claiming!("SELECT doc FROM payouts WHERE test_pending ORDER BY seq LIMIT $1"),
        );
        self.docs(sql, &[&(limit as i64)])
    }
}
