//! The ledger, reserves, and the locks and savepoints that guard them.

use super::*;
use crate::LedgerTx;

impl LedgerTx for SqliteTx<'_> {
    fn lock_account(&mut self, _key: &str) -> StoreResult<()> {
        // One writer thread, one write transaction at a time: nothing to lock.
        Ok(())
    }

    fn try_lock(&mut self, _key: &str) -> StoreResult<bool> {
        Ok(true)
    }

    fn apart(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> StoreResult<bool> {
        run(self.conn, "SAVEPOINT item").map_err(backend)?;
        let keep = work(self);
        if keep {
            run(self.conn, "RELEASE item").map_err(backend)?;
        } else {
            run(self.conn, "ROLLBACK TO item")
                .and_then(|_| run(self.conn, "RELEASE item"))
                .map_err(backend)?;
        }
        Ok(keep)
    }

    fn insert_transaction(&mut self, t: &Transaction) -> StoreResult<()> {
        self.exec(
            "INSERT INTO ledger_transactions (id, kind, currency, reference, at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.id, t.kind.as_str(), t.currency.code(), t.reference, t.at_secs, to_doc(t)?],
        )?;
        for p in &t.postings {
            self.exec(
                "INSERT INTO ledger_postings (txn_id, account, currency, amount_minor, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.id, t.account_key(&p.account), t.currency.code(), p.amount_minor, t.at_secs],
            )?;
        }
        Ok(())
    }

    fn balance(
        &mut self,
        account: &str,
        currency: &str,
        before_secs: Option<i64>,
    ) -> StoreResult<i64> {
        self.conn
            .prepare_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_postings
                 WHERE account = ?1 AND currency = ?2 AND at < ?3",
            )
            .map_err(backend)?
            .query_row(
                params![account, currency, before_secs.unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn balances(&mut self, account_prefix: &str) -> StoreResult<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, currency, SUM(amount_minor) FROM ledger_postings
                 WHERE account >= ?1 AND account < ?1 || x'ff' GROUP BY account, currency ORDER BY account, currency",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([account_prefix], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn transactions_touching(
        &mut self,
        account_prefix: &str,
        from_secs: i64,
        to_secs: i64,
    ) -> StoreResult<Vec<Transaction>> {
        self.docs(
            "SELECT doc FROM ledger_transactions WHERE id IN (
                SELECT txn_id FROM ledger_postings WHERE account >= ?1 AND account < ?1 || x'ff' AND at >= ?2 AND at < ?3
             ) ORDER BY at, rowid",
            params![account_prefix, from_secs, to_secs],
        )
    }

    fn insert_reserve(
        &mut self,
        id: &str,
        merchant_id: &str,
        release_at_secs: i64,
        doc: &Value,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO reserves (id, merchant_id, release_at, released, doc) VALUES (?1, ?2, ?3, 0, ?4)",
            params![id, merchant_id, release_at_secs, to_doc(doc)?],
        )
        .map(drop)
    }

    fn due_reserves(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<(String, Value)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, doc FROM reserves WHERE released = 0 AND release_at <= ?1 ORDER BY release_at LIMIT ?2")
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now_secs, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, doc) = row.map_err(backend)?;
            out.push((id, serde_json::from_str(&doc).map_err(json_err)?));
        }
        Ok(out)
    }

    fn mark_reserve_released(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE reserves SET released = 1 WHERE id = ?1 AND released = 0",
            [id],
        )?;
        expect_one(n, "release reserve")
    }
}
