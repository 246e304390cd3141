//! The operator console: deals over every trader, a notification matched by
//! hand, payouts waiting for a trader, the audit log.

use kassa_domain::payout::Payout;
use kassa_domain::{AuditEntry, BankNotification, Deal};

use super::{expect_one, to_doc, PgTx};
use crate::{ConsoleTx, StoreResult};

impl ConsoleTx for PgTx<'_> {
    fn deals(
        &mut self,
        status: Option<&str>,
        trader_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE ($1::TEXT IS NULL OR status = $1) AND ($2::TEXT IS NULL OR trader_id = $2)
             ORDER BY created_at DESC, seq DESC LIMIT $3",
            &[&status, &trader_id, &(limit as i64)],
        )
    }

    fn notification(&mut self, id: &str) -> StoreResult<Option<BankNotification>> {
        let sql = self.claim(
            "SELECT doc FROM bank_notifications WHERE id = $1",
            locking!("SELECT doc FROM bank_notifications WHERE id = $1"),
        );
        self.doc(sql, &[&id])
    }

    fn update_notification(&mut self, n: &BankNotification) -> StoreResult<()> {
        let doc = to_doc(n)?;
        let count = self.exec(
            "UPDATE bank_notifications SET matched = $2, doc = $3 WHERE id = $1",
            &[&n.id, &n.deal_id.is_some(), &doc],
        )?;
        expect_one(count, "update bank notification")
    }

    fn waiting_payouts(&mut self, limit: usize) -> StoreResult<Vec<Payout>> {
        self.docs(
            "SELECT doc FROM payouts WHERE status = 'pending' ORDER BY seq LIMIT $1",
            &[&(limit as i64)],
        )
    }

    fn insert_audit(&mut self, e: &AuditEntry) -> StoreResult<()> {
        let doc = to_doc(e)?;
        self.insert(
            "audit entry",
            "INSERT INTO audit_log (id, at, user_id, doc) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&e.id, &e.at_secs, &e.user_id, &doc],
        )
    }

    fn audit_log(&mut self, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        self.docs(
            "SELECT doc FROM audit_log ORDER BY seq DESC LIMIT $1",
            &[&(limit as i64)],
        )
    }
}
