//! The tables of Kassa's pages (web users and sessions) and the portal's
//! invoice search.

use kassa_domain::ledger::Transaction;
use kassa_domain::payout::Payout;
use kassa_domain::{Invoice, WebRealm, WebSession, WebUser};

use super::{col, expect_one, to_doc, PgTx};
use crate::{InvoiceSearch, StoreResult, WebTx};

pub(super) fn search_invoices(
    tx: &mut PgTx,
    merchant_id: &str,
    test_mode: bool,
    s: &InvoiceSearch,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Invoice>> {
    let (limit, offset) = (limit as i64, offset as i64);
    tx.docs(
        "SELECT doc FROM invoices WHERE merchant_id = $1 AND test_mode = $2
           AND ($3::text IS NULL OR id = $3 OR reference_id = $3)
           AND ($4::text IS NULL OR status = $4)
           AND ($5::bigint IS NULL OR (doc::jsonb->>'created_at_secs')::bigint >= $5)
           AND ($6::bigint IS NULL OR (doc::jsonb->>'created_at_secs')::bigint < $6)
           AND ($7::text IS NULL OR doc::jsonb->>'currency' = $7)
           AND ($8::bigint IS NULL OR (doc::jsonb->>'amount_minor')::bigint = $8)
         ORDER BY seq DESC LIMIT $9 OFFSET $10",
        &[
            &merchant_id,
            &test_mode,
            &s.id_or_reference,
            &s.status,
            &s.from_secs,
            &s.to_secs,
            &s.currency,
            &s.amount_minor,
            &limit,
            &offset,
        ],
    )
}

pub(super) fn payouts_of_merchant(
    tx: &mut PgTx,
    merchant_id: &str,
    test_mode: bool,
    status: Option<&str>,
    offset: usize,
    limit: usize,
) -> StoreResult<Vec<Payout>> {
    let (limit, offset) = (limit as i64, offset as i64);
    tx.docs(
        "SELECT doc FROM payouts WHERE merchant_id = $1 AND test_mode = $2 AND ($3::text IS NULL OR status = $3)
         ORDER BY seq DESC LIMIT $4 OFFSET $5",
        &[&merchant_id, &test_mode, &status, &limit, &offset],
    )
}

pub(super) fn transactions_of(tx: &mut PgTx, reference: &str) -> StoreResult<Vec<Transaction>> {
    tx.docs(
        "SELECT doc FROM ledger_transactions WHERE reference = $1 ORDER BY at, seq",
        &[&reference],
    )
}

pub(super) fn insert_user(tx: &mut PgTx, u: &WebUser) -> StoreResult<()> {
    let doc = to_doc(u)?;
    tx.insert(
        "web user",
        "INSERT INTO web_users (id, realm, subject_id, email, doc) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
        &[&u.id, &u.realm.as_str(), &u.subject_id, &u.email, &doc],
    )
}

pub(super) fn update_user(tx: &mut PgTx, u: &WebUser) -> StoreResult<()> {
    let doc = to_doc(u)?;
    let n = tx.exec(
        "UPDATE web_users SET email = $2, doc = $3 WHERE id = $1",
        &[&u.id, &u.email, &doc],
    )?;
    expect_one(n, "update web user")
}

pub(super) fn user(tx: &mut PgTx, id: &str) -> StoreResult<Option<WebUser>> {
    let sql = tx.claim(
        "SELECT doc FROM web_users WHERE id = $1",
        "SELECT doc FROM web_users WHERE id = $1 FOR UPDATE",
    );
    tx.doc(sql, &[&id])
}

pub(super) fn user_by_email(
    tx: &mut PgTx,
    realm: WebRealm,
    email: &str,
) -> StoreResult<Option<WebUser>> {
    // Locked inside a write: the count of failures is decided on the row
    // as it is now, so five failures lock it whichever nodes saw them.
    let sql = tx.claim(
        "SELECT doc FROM web_users WHERE realm = $1 AND email = $2",
        "SELECT doc FROM web_users WHERE realm = $1 AND email = $2 FOR UPDATE",
    );
    tx.doc(sql, &[&realm.as_str(), &email])
}

pub(super) fn users_of(
    tx: &mut PgTx,
    realm: WebRealm,
    subject_id: &str,
) -> StoreResult<Vec<WebUser>> {
    tx.docs(
        "SELECT doc FROM web_users WHERE realm = $1 AND subject_id = $2 ORDER BY email",
        &[&realm.as_str(), &subject_id],
    )
}

pub(super) fn insert_session(tx: &mut PgTx, s: &WebSession) -> StoreResult<()> {
    tx.insert(
        "web session",
        "INSERT INTO web_sessions (token_hash, user_id, created_at, last_seen) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[&s.token_hash, &s.user_id, &s.created_at_secs, &s.last_seen_secs],
    )
}

pub(super) fn session(tx: &mut PgTx, token_hash: &str) -> StoreResult<Option<WebSession>> {
    let Some(row) = tx.query_opt(
        "SELECT token_hash, user_id, created_at, last_seen FROM web_sessions WHERE token_hash = $1",
        &[&token_hash],
    )?
    else {
        return Ok(None);
    };
    Ok(Some(WebSession {
        token_hash: col(&row, 0)?,
        user_id: col(&row, 1)?,
        created_at_secs: col(&row, 2)?,
        last_seen_secs: col(&row, 3)?,
    }))
}

pub(super) fn touch_session(tx: &mut PgTx, token_hash: &str, now_secs: i64) -> StoreResult<()> {
    tx.exec(
        "UPDATE web_sessions SET last_seen = GREATEST(last_seen, $2) WHERE token_hash = $1",
        &[&token_hash, &now_secs],
    )
    .map(drop)
}

pub(super) fn delete_session(tx: &mut PgTx, token_hash: &str) -> StoreResult<()> {
    tx.exec(
        "DELETE FROM web_sessions WHERE token_hash = $1",
        &[&token_hash],
    )
    .map(drop)
}

pub(super) fn delete_sessions_of(tx: &mut PgTx, user_id: &str) -> StoreResult<()> {
    tx.exec("DELETE FROM web_sessions WHERE user_id = $1", &[&user_id])
        .map(drop)
}

impl WebTx for PgTx<'_> {
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
