//! The bytes of dispute receipts.

use kassa_domain::evidence::Evidence;

use super::{col, PgTx};
use crate::{EvidenceTx, StoreResult};

impl EvidenceTx for PgTx<'_> {
    fn insert_evidence(&mut self, deal_id: &str, e: &Evidence, body: &[u8]) -> StoreResult<()> {
        self.exec(
            "INSERT INTO dispute_evidence (id, deal_id, content_type, created_at, body) VALUES ($1, $2, $3, $4, $5)",
            &[&e.id, &deal_id, &e.content_type, &e.created_at_secs, &body],
        )
        .map(drop)
    }

    fn evidence_file(&mut self, id: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        self.query_opt(
            "SELECT content_type, body FROM dispute_evidence WHERE id = $1",
            &[&id],
        )?
        .map(|row| Ok((col::<String>(&row, 0)?, col::<Vec<u8>>(&row, 1)?)))
        .transpose()
    }
}
