//! Invoices.

use super::*;
use crate::InvoiceTx;

impl InvoiceTx for PgTx<'_> {
    fn insert_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let doc = to_doc(i)?;
        self.insert(
            "invoice",
            "INSERT INTO invoices (id, merchant_id, test_mode, reference_id, status, is_open, expires_at, test_pending, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &[
                &i.id,
                &i.merchant_id,
                &i.test_mode,
                &i.reference_id,
                &i.status.as_str(),
                &i.status.is_open(),
                &sweep_at(i),
                &i.test_outcome.is_some(),
                &doc,
            ],
        )
    }

    fn update_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let doc = to_doc(i)?;
        let n = self.exec(
            "UPDATE invoices SET status = $2, is_open = $3, expires_at = $4, test_pending = $5, doc = $6 WHERE id = $1",
            &[
                &i.id,
                &i.status.as_str(),
                &i.status.is_open(),
                &sweep_at(i),
                &i.test_outcome.is_some(),
                &doc,
            ],
        )?;
        expect_one(n, "update invoice")
    }

    fn invoice(&mut self, id: &str) -> StoreResult<Option<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE id = $1",
            locking!("SELECT doc FROM invoices WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn invoice_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Invoice>> {
        self.doc(
            "SELECT doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND reference_id = $3",
            &[&merchant_id, &test_mode, &reference_id],
        )
    }

    fn invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        cursor: &Cursor,
        limit: usize,
    ) -> StoreResult<Page<Invoice>> {
        assert!(limit > 0);
        let limit = limit as i64;
        let seq_of = |tx: &mut Self, id: &str| -> StoreResult<Option<i64>> {
            tx.query_opt(
                "SELECT seq FROM invoices WHERE id = $1 AND merchant_id = $2 AND test_mode = $3",
                &[&id, &merchant_id, &test_mode],
            )?
            .map(|row| col(&row, 0))
            .transpose()
        };
        let newest_first = "SELECT seq, doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";
        let (sql, bound, reverse) = match cursor {
            Cursor::First => (newest_first, i64::MAX, false),
            Cursor::After(id) => (
                newest_first,
                seq_of(self, id)?.unwrap_or(i64::MIN),
                false,
            ),
            Cursor::Before(id) => (
                "SELECT seq, doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq > $3 ORDER BY seq ASC LIMIT $4",
                seq_of(self, id)?.unwrap_or(i64::MAX),
                true,
            ),
        };
        let mut rows = self
            .query(sql, &[&merchant_id, &test_mode, &bound, &limit])?
            .iter()
            .map(|row| Ok((col::<i64>(row, 0)?, col::<String>(row, 1)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        if reverse {
            rows.reverse();
        }
        let newest = rows.first().map_or(bound, |r| r.0);
        let oldest = rows.last().map_or(bound, |r| r.0);
        let has_newer = match (cursor, rows.is_empty()) {
            (Cursor::First, true) => false,
            _ => self.exists(
                "SELECT 1 FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq > $3 LIMIT 1",
                &[&merchant_id, &test_mode, &newest.max(oldest)],
            )?,
        };
        let has_older = self.exists(
            "SELECT 1 FROM invoices WHERE merchant_id = $1 AND test_mode = $2 AND seq < $3 LIMIT 1",
            &[&merchant_id, &test_mode, &oldest.min(newest)],
        )?;
        let items = rows
            .into_iter()
            .map(|(_, doc)| parse(&doc))
            .collect::<StoreResult<Vec<Invoice>>>()?;
        Ok(Page {
            items,
            has_newer,
            has_older,
        })
    }

    fn count_invoices(&mut self, merchant_id: &str) -> StoreResult<u64> {
        let n: i64 = self.scalar(
            "SELECT COUNT(*) FROM invoices WHERE merchant_id = $1",
            &[&merchant_id],
        )?;
        Ok(n as u64)
    }

    fn invoices_due_to_expire(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE is_open AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
            claiming!("SELECT doc FROM invoices WHERE is_open AND expires_at <= $1 ORDER BY expires_at LIMIT $2"),
        );
        self.docs(sql, &[&now_secs, &(limit as i64)])
    }

    fn invoices_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Invoice>> {
        let sql = self.claim(
            "SELECT doc FROM invoices WHERE test_pending ORDER BY seq LIMIT $1",
            claiming!("SELECT doc FROM invoices WHERE test_pending ORDER BY seq LIMIT $1"),
        );
        self.docs(sql, &[&(limit as i64)])
    }
}
