//! The bytes of dispute receipts.

use kassa_domain::evidence::Evidence;
use rusqlite::{params, OptionalExtension};

use super::{backend, SqliteTx};
use crate::{EvidenceTx, StoreResult};

impl EvidenceTx for SqliteTx<'_> {
    fn insert_evidence(&mut self, deal_id: &str, e: &Evidence, body: &[u8]) -> StoreResult<()> {
        self.exec(
            "INSERT INTO dispute_evidence (id, deal_id, content_type, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.id, deal_id, e.content_type, e.created_at_secs, body],
        )
        .map(drop)
    }

    fn evidence_file(&mut self, id: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content_type, body FROM dispute_evidence WHERE id = ?1")
            .map_err(backend)?;
        stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)
    }
}
