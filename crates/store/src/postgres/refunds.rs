//! Refunds.

use super::*;
use crate::RefundTx;

impl RefundTx for PgTx<'_> {
    fn insert_refund(&mut self, r: &Refund) -> StoreResult<()> {
        let doc = to_doc(r)?;
        self.insert(
            "refund",
            "INSERT INTO refunds (id, invoice_id, merchant_id, test_mode, reference_id, status, test_due, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &r.id,
                &r.invoice_id,
                &r.merchant_id,
                &r.test_mode,
                &r.reference_id,
                &r.status.as_str(),
                &r.test_due_secs(),
                &doc,
            ],
        )
    }

    fn update_refund(&mut self, r: &Refund) -> StoreResult<()> {
        let doc = to_doc(r)?;
        let n = self.exec(
            "UPDATE refunds SET status = $2, test_due = $3, doc = $4 WHERE id = $1",
            &[&r.id, &r.status.as_str(), &r.test_due_secs(), &doc],
        )?;
        expect_one(n, "update refund")
    }

    fn refund(&mut self, id: &str) -> StoreResult<Option<Refund>> {
        let sql = self.claim(
            "SELECT doc FROM refunds WHERE id = $1",
            locking!("SELECT doc FROM refunds WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn refund_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Refund>> {
        self.doc(
            "SELECT doc FROM refunds WHERE merchant_id = $1 AND test_mode = $2 AND reference_id = $3",
            &[&merchant_id, &test_mode, &reference_id],
        )
    }

    fn refunds_of_invoice(&mut self, invoice_id: &str) -> StoreResult<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE invoice_id = $1 ORDER BY seq",
            &[&invoice_id],
        )
    }

    fn refunds_due_for_test(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Refund>> {
        // Not claimed here: the engine takes each refund's invoice, then the
        // refund, in the order every refund change takes them.
        self.docs(
            "SELECT doc FROM refunds WHERE test_due IS NOT NULL AND test_due <= $1 ORDER BY test_due LIMIT $2",
            &[&now_secs, &(limit as i64)],
        )
    }
}
