//! The ledger, reserves, and the locks and savepoints that guard them.

use super::*;
use crate::LedgerTx;

impl LedgerTx for PgTx<'_> {
    fn lock_account(&mut self, key: &str) -> StoreResult<()> {
        // Held until commit or rollback: a second transaction posting to the
        // same account waits here, then sees the first one's postings.
        self.query_opt(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
        .map(drop)
    }

    fn try_lock(&mut self, key: &str) -> StoreResult<bool> {
        self.scalar(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        )
    }

    fn apart(&mut self, work: &mut dyn FnMut(&mut dyn Tx) -> bool) -> StoreResult<bool> {
        if let Some(first) = &self.failed {
            return Err(StoreError::Backend(format!(
                "the transaction was aborted by an earlier error: {first}"
            )));
        }
        self.control("SAVEPOINT item")?;
        let keep = work(self) && self.failed.is_none();
        if keep {
            self.control("RELEASE SAVEPOINT item")?;
        } else {
            // Rolling back to the savepoint also ends an abort that began in
            // it: the transaction is usable again.
            self.control("ROLLBACK TO SAVEPOINT item")?;
            self.control("RELEASE SAVEPOINT item")?;
            self.failed = None;
        }
        Ok(keep)
    }

    fn insert_transaction(&mut self, t: &Transaction) -> StoreResult<()> {
        let doc = to_doc(t)?;
        self.insert(
            "ledger transaction",
            "INSERT INTO ledger_transactions (id, kind, currency, reference, at, doc) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            &[
                &t.id,
                &t.kind.as_str(),
                &t.currency.code(),
                &t.reference,
                &t.at_secs,
                &doc,
            ],
        )?;
        for p in &t.postings {
            self.exec(
                "INSERT INTO ledger_postings (txn_id, account, currency, amount_minor, at) VALUES ($1, $2, $3, $4, $5)",
                &[
                    &t.id,
                    &t.account_key(&p.account),
                    &t.currency.code(),
                    &p.amount_minor,
                    &t.at_secs,
                ],
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
        self.scalar(
            "SELECT COALESCE(SUM(amount_minor), 0)::BIGINT FROM ledger_postings
             WHERE account = $1 AND currency = $2 AND at < $3",
            &[&account, &currency, &before_secs.unwrap_or(i64::MAX)],
        )
    }

    fn balances(&mut self, account_prefix: &str) -> StoreResult<Vec<(String, String, i64)>> {
        self.query(
            "SELECT account, currency, SUM(amount_minor)::BIGINT FROM ledger_postings
             WHERE account LIKE $1 GROUP BY account, currency ORDER BY account, currency",
            &[&like_prefix(account_prefix)],
        )?
        .iter()
        .map(|row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?)))
        .collect()
    }

    fn transactions_touching(
        &mut self,
        account_prefix: &str,
        from_secs: i64,
        to_secs: i64,
    ) -> StoreResult<Vec<Transaction>> {
        self.docs(
            "SELECT doc FROM ledger_transactions WHERE id IN (
                SELECT txn_id FROM ledger_postings WHERE account LIKE $1 AND at >= $2 AND at < $3
             ) ORDER BY at, seq",
            &[&like_prefix(account_prefix), &from_secs, &to_secs],
        )
    }

    fn insert_reserve(
        &mut self,
        id: &str,
        merchant_id: &str,
        release_at_secs: i64,
        doc: &Value,
    ) -> StoreResult<()> {
        let doc = to_doc(doc)?;
        self.insert(
            "reserve",
            "INSERT INTO reserves (id, merchant_id, release_at, released, doc) VALUES ($1, $2, $3, FALSE, $4)
             ON CONFLICT DO NOTHING",
            &[&id, &merchant_id, &release_at_secs, &doc],
        )
    }

    fn due_reserves(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<(String, Value)>> {
        let sql = self.claim(
            "SELECT id, doc FROM reserves WHERE NOT released AND release_at <= $1 ORDER BY release_at LIMIT $2",
            claiming!("SELECT id, doc FROM reserves WHERE NOT released AND release_at <= $1 ORDER BY release_at LIMIT $2"),
        );
        self.query(sql, &[&now_secs, &(limit as i64)])?
            .iter()
            .map(|row| Ok((col(row, 0)?, parse(&col::<String>(row, 1)?)?)))
            .collect()
    }

    fn mark_reserve_released(&mut self, id: &str) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE reserves SET released = TRUE WHERE id = $1 AND NOT released",
            &[&id],
        )?;
        expect_one(n, "release reserve")
    }
}
