//! Invoices.

use super::*;
use crate::InvoiceTx;

impl InvoiceTx for SqliteTx<'_> {
    fn insert_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        self.exec(
            "INSERT INTO invoices (id, merchant_id, test_mode, reference_id, status, is_open, expires_at, test_pending, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                i.id,
                i.merchant_id,
                i.test_mode,
                i.reference_id,
                i.status.as_str(),
                i.status.is_open(),
                sweep_at(i),
                i.test_outcome.is_some(),
                to_doc(i)?
            ],
        )
        .map(drop)
    }

    fn update_invoice(&mut self, i: &Invoice) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE invoices SET status = ?2, is_open = ?3, expires_at = ?4, test_pending = ?5, doc = ?6 WHERE id = ?1",
            params![
                i.id,
                i.status.as_str(),
                i.status.is_open(),
                sweep_at(i),
                i.test_outcome.is_some(),
                to_doc(i)?
            ],
        )?;
        expect_one(n, "update invoice")
    }

    fn invoice(&mut self, id: &str) -> StoreResult<Option<Invoice>> {
        self.doc("SELECT doc FROM invoices WHERE id = ?1", [id])
    }

    fn invoice_by_reference(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        reference_id: &str,
    ) -> StoreResult<Option<Invoice>> {
        self.doc(
            "SELECT doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND reference_id = ?3",
            params![merchant_id, test_mode, reference_id],
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
        let seq_of = |id: &str| -> StoreResult<Option<i64>> {
            self.conn
                .prepare_cached("SELECT seq FROM invoices WHERE id = ?1 AND merchant_id = ?2 AND test_mode = ?3")
                .map_err(backend)?
                .query_row(params![id, merchant_id, test_mode], |r| r.get(0))
                .optional()
                .map_err(backend)
        };
        let mut rows: Vec<(i64, String)> = Vec::new();
        let mut collect = |sql: &str, bound: i64| -> StoreResult<()> {
            let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
            let it = stmt
                .query_map(params![merchant_id, test_mode, bound, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(backend)?;
            for row in it {
                rows.push(row.map_err(backend)?);
            }
            Ok(())
        };
        let newest_first = "SELECT seq, doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
        let bound = match cursor {
            Cursor::First => {
                collect(newest_first, i64::MAX)?;
                i64::MAX
            }
            Cursor::After(id) => {
                let seq = seq_of(id)?.unwrap_or(i64::MIN);
                collect(newest_first, seq)?;
                seq
            }
            Cursor::Before(id) => {
                let seq = seq_of(id)?.unwrap_or(i64::MAX);
                collect(
                    "SELECT seq, doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq > ?3 ORDER BY seq ASC LIMIT ?4",
                    seq,
                )?;
                rows.reverse();
                seq
            }
        };
        let newest = rows.first().map_or(bound, |r| r.0);
        let oldest = rows.last().map_or(bound, |r| r.0);
        let has_newer = match (cursor, rows.is_empty()) {
            (Cursor::First, true) => false,
            _ => self.exists(
                "SELECT 1 FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq > ?3",
                params![merchant_id, test_mode, newest.max(oldest)],
            )?,
        };
        let has_older = self.exists(
            "SELECT 1 FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2 AND seq < ?3",
            params![merchant_id, test_mode, oldest.min(newest)],
        )?;
        let items = rows
            .into_iter()
            .map(|(_, doc)| serde_json::from_str(&doc).map_err(json_err))
            .collect::<StoreResult<Vec<Invoice>>>()?;
        Ok(Page {
            items,
            has_newer,
            has_older,
        })
    }

    fn count_invoices(&mut self, merchant_id: &str) -> StoreResult<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM invoices WHERE merchant_id = ?1",
                [merchant_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
    }

    fn invoices_due_to_expire(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Invoice>> {
        self.docs(
            "SELECT doc FROM invoices WHERE is_open = 1 AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn invoices_with_test_outcome(&mut self, limit: usize) -> StoreResult<Vec<Invoice>> {
        self.docs(
            "SELECT doc FROM invoices WHERE test_pending = 1 ORDER BY seq LIMIT ?1",
            params![limit as i64],
        )
    }
}
