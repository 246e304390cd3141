//! The tables of Kassa's pages (web users and sessions) and the portal's
//! invoice search.

use kassa_domain::ledger::Transaction;
use kassa_domain::payout::Payout;
use kassa_domain::{Invoice, WebRealm, WebSession, WebUser};
use rusqlite::params;

use super::{expect_one, to_doc, SqliteTx};
use crate::{InvoiceSearch, StoreResult, WebTx};

pub(super) fn search_invoices(
    tx: &SqliteTx,
    merchant_id: &str,
    test_mode: bool,
    s: &InvoiceSearch,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Invoice>> {
    tx.docs(
        "SELECT doc FROM invoices WHERE merchant_id = ?1 AND test_mode = ?2
           AND (?3 IS NULL OR id = ?3 OR reference_id = ?3)
           AND (?4 IS NULL OR status = ?4)
           AND (?5 IS NULL OR json_extract(doc, '$.created_at_secs') >= ?5)
           AND (?6 IS NULL OR json_extract(doc, '$.created_at_secs') < ?6)
           AND (?7 IS NULL OR json_extract(doc, '$.currency') = ?7)
           AND (?8 IS NULL OR json_extract(doc, '$.amount_minor') = ?8)
         ORDER BY seq DESC LIMIT ?9 OFFSET ?10",
        params![
            merchant_id,
            test_mode,
            s.id_or_reference,
            s.status,
            s.from_secs,
            s.to_secs,
            s.currency,
            s.amount_minor,
            limit as i64,
            offset as i64
        ],
    )
}

pub(super) fn payouts_of_merchant(
    tx: &SqliteTx,
    merchant_id: &str,
    test_mode: bool,
    status: Option<&str>,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Payout>> {
    tx.docs(
        "SELECT doc FROM payouts WHERE merchant_id = ?1 AND test_mode = ?2 AND (?3 IS NULL OR status = ?3)
         ORDER BY seq DESC LIMIT ?4 OFFSET ?5",
        params![merchant_id, test_mode, status, limit as i64, offset as i64],
    )
}

pub(super) fn transactions_of(tx: &SqliteTx, reference: &str) -> StoreResult<Vec<Transaction>> {
    tx.docs(
        "SELECT doc FROM ledger_transactions WHERE reference = ?1 ORDER BY at, rowid",
        [reference],
    )
}

pub(super) fn insert_user(tx: &SqliteTx, u: &WebUser) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO web_users (id, realm, subject_id, email, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![u.id, u.realm.as_str(), u.subject_id, u.email, to_doc(u)?],
    )
    .map(drop)
}

pub(super) fn update_user(tx: &SqliteTx, u: &WebUser) -> StoreResult<()> {
    let n = tx.exec(
        "UPDATE web_users SET email = ?2, doc = ?3 WHERE id = ?1",
        params![u.id, u.email, to_doc(u)?],
    )?;
    expect_one(n, "update web user")
}

pub(super) fn user(tx: &SqliteTx, id: &str) -> StoreResult<Option<WebUser>> {
    tx.doc("SELECT doc FROM web_users WHERE id = ?1", [id])
}

pub(super) fn user_by_email(
    tx: &SqliteTx,
    realm: WebRealm,
    email: &str,
) -> StoreResult<Option<WebUser>> {
    tx.doc(
        "SELECT doc FROM web_users WHERE realm = ?1 AND email = ?2",
        [realm.as_str(), email],
    )
}

pub(super) fn users_of(
    tx: &SqliteTx,
    realm: WebRealm,
    subject_id: &str,
) -> StoreResult<Vec<WebUser>> {
    tx.docs(
        "SELECT doc FROM web_users WHERE realm = ?1 AND subject_id = ?2 ORDER BY email",
        [realm.as_str(), subject_id],
    )
}

pub(super) fn insert_session(tx: &SqliteTx, s: &WebSession) -> StoreResult<()> {
    tx.exec(
        "INSERT INTO web_sessions (token_hash, user_id, created_at, last_seen) VALUES (?1, ?2, ?3, ?4)",
        params![s.token_hash, s.user_id, s.created_at_secs, s.last_seen_secs],
    )
    .map(drop)
}

pub(super) fn session(tx: &SqliteTx, token_hash: &str) -> StoreResult<Option<WebSession>> {
    let mut stmt = tx
        .conn
        .prepare_cached(
            "SELECT token_hash, user_id, created_at, last_seen FROM web_sessions WHERE token_hash = ?1",
        )
        .map_err(super::backend)?;
    let mut rows = stmt.query([token_hash]).map_err(super::backend)?;
    let Some(row) = rows.next().map_err(super::backend)? else {
        return Ok(None);
    };
    let get = |e| super::backend(e);
    Ok(Some(WebSession {
        token_hash: row.get(0).map_err(get)?,
        user_id: row.get(1).map_err(get)?,
        created_at_secs: row.get(2).map_err(get)?,
        last_seen_secs: row.get(3).map_err(get)?,
    }))
}

pub(super) fn touch_session(tx: &SqliteTx, token_hash: &str, now_secs: i64) -> StoreResult<()> {
    // Never moves back: two nodes may touch it at once.
    tx.exec(
        "UPDATE web_sessions SET last_seen = MAX(last_seen, ?2) WHERE token_hash = ?1",
        params![token_hash, now_secs],
    )
    .map(drop)
}

pub(super) fn delete_session(tx: &SqliteTx, token_hash: &str) -> StoreResult<()> {
    tx.exec(
        "DELETE FROM web_sessions WHERE token_hash = ?1",
        [token_hash],
    )
    .map(drop)
}

pub(super) fn delete_sessions_of(tx: &SqliteTx, user_id: &str) -> StoreResult<()> {
    tx.exec("DELETE FROM web_sessions WHERE user_id = ?1", [user_id])
        .map(drop)
}

impl WebTx for SqliteTx<'_> {
    fn search_invoices(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        search: &InvoiceSearch,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Invoice>> {
        search_invoices(self, merchant_id, test_mode, search, offset, limit)
    }

    fn payouts_of_merchant(
        &mut self,
        merchant_id: &str,
        test_mode: bool,
        status: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> StoreResult<Vec<Payout>> {
        payouts_of_merchant(self, merchant_id, test_mode, status, offset, limit)
    }

    fn transactions_of(&mut self, reference: &str) -> StoreResult<Vec<Transaction>> {
        transactions_of(self, reference)
    }

    fn insert_web_user(&mut self, user: &WebUser) -> StoreResult<()> {
        insert_user(self, user)
    }

    fn update_web_user(&mut self, user: &WebUser) -> StoreResult<()> {
        update_user(self, user)
    }

    fn web_user(&mut self, id: &str) -> StoreResult<Option<WebUser>> {
        user(self, id)
    }

    fn web_user_by_email(&mut self, realm: WebRealm, email: &str) -> StoreResult<Option<WebUser>> {
        user_by_email(self, realm, email)
    }

    fn web_users_of(&mut self, realm: WebRealm, subject_id: &str) -> StoreResult<Vec<WebUser>> {
        users_of(self, realm, subject_id)
    }

    fn insert_web_session(&mut self, session: &WebSession) -> StoreResult<()> {
        insert_session(self, session)
    }

    fn web_session(&mut self, token_hash: &str) -> StoreResult<Option<WebSession>> {
        session(self, token_hash)
    }

    fn touch_web_session(&mut self, token_hash: &str, now_secs: i64) -> StoreResult<()> {
        touch_session(self, token_hash, now_secs)
    }

    fn delete_web_session(&mut self, token_hash: &str) -> StoreResult<()> {
        delete_session(self, token_hash)
    }

    fn delete_web_sessions_of(&mut self, user_id: &str) -> StoreResult<()> {
        delete_sessions_of(self, user_id)
    }
}
