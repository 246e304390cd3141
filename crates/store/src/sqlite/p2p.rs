//! P2P: traders, cabinets, slots and holds, deals, bank notifications, devices, bank messages and their patterns.

use super::*;
use crate::P2pTx;

impl P2pTx for SqliteTx<'_> {
    fn open_p2p(&mut self, now_secs: i64) -> StoreResult<Vec<OpenP2p>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT currency, test_mode, SUM(holds), SUM(deals) FROM (
                    SELECT c.currency AS currency,
                        COALESCE(json_extract(c.doc, '$.test_mode'), 0) AS test_mode,
                        1 AS holds, 0 AS deals
                    FROM slots s JOIN cabinets c ON c.id = s.cabinet_id
                    WHERE s.deal_id IS NULL AND s.expires_at > ?1
                  UNION ALL
                    SELECT c.currency, COALESCE(json_extract(c.doc, '$.test_mode'), 0), 0, 1
                    FROM deals d JOIN cabinets c ON c.id = d.cabinet_id
                    WHERE d.is_open = 1)
                 GROUP BY currency, test_mode ORDER BY currency, test_mode",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now_secs], |r| {
                Ok(OpenP2p {
                    currency: r.get(0)?,
                    test_mode: r.get::<_, i64>(1)? != 0,
                    holds: r.get::<_, i64>(2)?.max(0) as u64,
                    deals: r.get::<_, i64>(3)?.max(0) as u64,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn unmatched_notifications(&mut self) -> StoreResult<Vec<(bool, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(json_extract(t.doc, '$.test_mode'), 0) AS test_mode, COUNT(*)
                 FROM bank_notifications n JOIN traders t ON t.id = n.trader_id
                 WHERE n.matched = 0 GROUP BY test_mode ORDER BY test_mode",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? != 0, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn insert_trader(&mut self, t: &Trader) -> StoreResult<()> {
        self.exec(
            "INSERT INTO traders (id, token_sha256, doc) VALUES (?1, ?2, ?3)",
            params![t.id, t.token_sha256, to_doc(t)?],
        )
        .map(drop)
    }

    fn update_trader(&mut self, t: &Trader) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE traders SET token_sha256 = ?2, doc = ?3 WHERE id = ?1",
            params![t.id, t.token_sha256, to_doc(t)?],
        )?;
        expect_one(n, "update trader")
    }

    fn trader(&mut self, id: &str) -> StoreResult<Option<Trader>> {
        self.doc("SELECT doc FROM traders WHERE id = ?1", [id])
    }

    fn trader_by_token(&mut self, token_sha256: &str) -> StoreResult<Option<Trader>> {
        self.doc(
            "SELECT doc FROM traders WHERE token_sha256 = ?1",
            [token_sha256],
        )
    }

    fn traders(&mut self) -> StoreResult<Vec<Trader>> {
        self.docs("SELECT doc FROM traders ORDER BY rowid", [])
    }

    fn insert_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        self.exec(
            "INSERT INTO cabinets (id, trader_id, method, currency, active, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.trader_id, c.method, c.currency.code(), c.active, to_doc(c)?],
        )
        .map(drop)
    }

    fn update_cabinet(&mut self, c: &Cabinet) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE cabinets SET method = ?2, currency = ?3, active = ?4, doc = ?5 WHERE id = ?1",
            params![c.id, c.method, c.currency.code(), c.active, to_doc(c)?],
        )?;
        expect_one(n, "update cabinet")
    }

    fn cabinet(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        self.doc("SELECT doc FROM cabinets WHERE id = ?1", [id])
    }

    // One writer at a time: the row read in a write is the current one.
    fn cabinet_to_switch(&mut self, id: &str) -> StoreResult<Option<Cabinet>> {
        self.cabinet(id)
    }

    fn all_active_cabinets(&mut self) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE active = 1 ORDER BY rowid",
            [],
        )
    }

    fn cabinets_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE trader_id = ?1 ORDER BY rowid",
            [trader_id],
        )
    }

    fn active_cabinets(&mut self, method: &str, currency: &str) -> StoreResult<Vec<Cabinet>> {
        self.docs(
            "SELECT doc FROM cabinets WHERE method = ?1 AND currency = ?2 AND active = 1 ORDER BY rowid",
            params![method, currency],
        )
    }

    fn open_deal_counts(&mut self) -> StoreResult<Vec<(String, u32)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT cabinet_id, COUNT(*) FROM deals WHERE is_open = 1 GROUP BY cabinet_id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn turnover_since(&mut self, cabinet_id: &str, since_secs: i64) -> StoreResult<i64> {
        self.conn
            .prepare_cached(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM deals WHERE cabinet_id = ?1 AND created_at >= ?2 AND status != ?3",
            )
            .map_err(backend)?
            .query_row(params![cabinet_id, since_secs, DealStatus::Canceled.as_str()], |r| r.get(0))
            .map_err(backend)
    }

    fn take_slot(&mut self, h: &Hold, now_secs: i64) -> StoreResult<bool> {
        assert!(
            h.deal_id.is_none() && h.expires_at_secs.is_some(),
            "a slot is taken by a hold"
        );
        let n = self.exec(
            "INSERT INTO slots (cabinet_id, amount_minor, hold_id, merchant_id, expires_at, deal_id, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)
             ON CONFLICT (cabinet_id, amount_minor) DO UPDATE SET
                hold_id = excluded.hold_id, merchant_id = excluded.merchant_id,
                expires_at = excluded.expires_at, deal_id = NULL, doc = excluded.doc
             WHERE slots.deal_id IS NULL AND slots.expires_at <= ?7",
            params![h.cabinet_id, h.amount_minor, h.id, h.merchant_id, h.expires_at_secs, to_doc(h)?, now_secs],
        )?;
        Ok(n == 1)
    }

    fn slots_in_use(&mut self, cabinet_id: &str, now_secs: i64) -> StoreResult<u32> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM slots WHERE cabinet_id = ?1 AND (deal_id IS NOT NULL OR expires_at > ?2)",
            )
            .and_then(|mut stmt| stmt.query_row(params![cabinet_id, now_secs], |r| r.get(0)))
            .map_err(backend)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn held_of_trader(&mut self, trader_id: &str, now_secs: i64) -> StoreResult<Vec<HeldAmount>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.currency, s.amount_minor, json_extract(d.doc, '$.rate')
                 FROM cabinets c JOIN slots s ON s.cabinet_id = c.id
                 LEFT JOIN deals d ON d.id = s.deal_id
                 WHERE c.trader_id = ?1 AND (s.deal_id IS NOT NULL OR s.expires_at > ?2)",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![trader_id, now_secs], |r| {
                Ok(HeldAmount {
                    currency: r.get(0)?,
                    amount_minor: r.get(1)?,
                    rate: r.get(2)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn cabinets_holding(&mut self, amount_minor: i64, now_secs: i64) -> StoreResult<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT cabinet_id FROM slots WHERE amount_minor = ?1 AND (deal_id IS NOT NULL OR expires_at > ?2)",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![amount_minor, now_secs], |r| r.get::<_, String>(0))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn hold(&mut self, hold_id: &str) -> StoreResult<Option<Hold>> {
        self.doc("SELECT doc FROM slots WHERE hold_id = ?1", [hold_id])
    }

    fn update_hold(&mut self, h: &Hold) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE slots SET expires_at = ?2, deal_id = ?3, doc = ?4 WHERE hold_id = ?1",
            params![h.id, h.expires_at_secs, h.deal_id, to_doc(h)?],
        )?;
        expect_one(n, "update hold")
    }

    fn release_hold(&mut self, hold_id: &str) -> StoreResult<()> {
        self.exec("DELETE FROM slots WHERE hold_id = ?1", [hold_id])
            .map(drop)
    }

    fn live_holds_of_merchant(
        &mut self,
        merchant_id: &str,
        amount_minor: i64,
        now_secs: i64,
    ) -> StoreResult<Vec<Hold>> {
        self.docs(
            "SELECT doc FROM slots WHERE merchant_id = ?1 AND amount_minor = ?2 AND deal_id IS NULL AND expires_at > ?3
             ORDER BY expires_at",
            params![merchant_id, amount_minor, now_secs],
        )
    }

    fn hold_request(&mut self, merchant_id: &str, request_id: &str) -> StoreResult<Option<Value>> {
        self.doc(
            "SELECT doc FROM hold_requests WHERE merchant_id = ?1 AND request_id = ?2",
            params![merchant_id, request_id],
        )
    }

    fn hold_requests(&mut self, merchant_id: &str) -> StoreResult<Vec<Value>> {
        self.docs(
            "SELECT doc FROM hold_requests WHERE merchant_id = ?1",
            [merchant_id],
        )
    }

    fn insert_hold_request(
        &mut self,
        merchant_id: &str,
        request_id: &str,
        answer: &Value,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO hold_requests (merchant_id, request_id, doc) VALUES (?1, ?2, ?3)",
            params![merchant_id, request_id, to_doc(answer)?],
        )
        .map(drop)
    }

    fn insert_deal(&mut self, d: &Deal) -> StoreResult<()> {
        self.exec(
            "INSERT INTO deals (id, invoice_id, cabinet_id, trader_id, amount_minor, status, is_open, deadline, created_at, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                d.id,
                d.invoice_id,
                d.cabinet_id,
                d.trader_id,
                d.amount_minor,
                d.status.as_str(),
                d.status.is_open(),
                d.deadline_secs,
                d.created_at_secs,
                to_doc(d)?
            ],
        )
        .map(drop)
    }

    fn update_deal(&mut self, d: &Deal) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE deals SET status = ?2, is_open = ?3, deadline = ?4, doc = ?5 WHERE id = ?1",
            params![
                d.id,
                d.status.as_str(),
                d.status.is_open(),
                d.deadline_secs,
                to_doc(d)?
            ],
        )?;
        expect_one(n, "update deal")
    }

    fn deal(&mut self, id: &str) -> StoreResult<Option<Deal>> {
        self.doc("SELECT doc FROM deals WHERE id = ?1", [id])
    }

    fn open_deal_at(&mut self, cabinet_id: &str, amount_minor: i64) -> StoreResult<Option<Deal>> {
        self.doc(
            "SELECT doc FROM deals WHERE cabinet_id = ?1 AND amount_minor = ?2 AND is_open = 1",
            params![cabinet_id, amount_minor],
        )
    }

    fn deals_of_trader(
        &mut self,
        trader_id: &str,
        open_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE trader_id = ?1 AND (is_open = 1 OR ?2 = 0) ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, open_only, limit as i64],
        )
    }

    fn recent_deals_of_cabinet(
        &mut self,
        cabinet_id: &str,
        since_secs: i64,
        limit: usize,
    ) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE cabinet_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![cabinet_id, since_secs, limit as i64],
        )
    }

    fn deals_due(&mut self, now_secs: i64, limit: usize) -> StoreResult<Vec<Deal>> {
        self.docs(
            "SELECT doc FROM deals WHERE is_open = 1 AND deadline <= ?1 ORDER BY deadline LIMIT ?2",
            params![now_secs, limit as i64],
        )
    }

    fn insert_notification(&mut self, n: &BankNotification) -> StoreResult<()> {
        self.exec(
            "INSERT INTO bank_notifications (id, trader_id, external_id, matched, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![n.id, n.trader_id, n.external_id, n.deal_id.is_some(), n.created_at_secs, to_doc(n)?],
        )
        .map(drop)
    }

    fn notification_by_external(
        &mut self,
        trader_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<BankNotification>> {
        self.doc(
            "SELECT doc FROM bank_notifications WHERE trader_id = ?1 AND external_id = ?2",
            params![trader_id, external_id],
        )
    }

    fn notifications(
        &mut self,
        trader_id: Option<&str>,
        unmatched_only: bool,
        limit: usize,
    ) -> StoreResult<Vec<BankNotification>> {
        self.docs(
            "SELECT doc FROM bank_notifications WHERE (?1 IS NULL OR trader_id = ?1) AND (matched = 0 OR ?2 = 0)
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, unmatched_only, limit as i64],
        )
    }

    fn insert_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        self.exec(
            "INSERT INTO trader_devices (id, trader_id, token_hash, doc) VALUES (?1, ?2, ?3, ?4)",
            params![d.id, d.trader_id, d.token_hash, to_doc(d)?],
        )
        .map(drop)
    }

    fn update_device(&mut self, d: &TraderDevice) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE trader_devices SET token_hash = ?2, doc = ?3 WHERE id = ?1",
            params![d.id, d.token_hash, to_doc(d)?],
        )?;
        expect_one(n, "update device")
    }

    fn device(&mut self, id: &str) -> StoreResult<Option<TraderDevice>> {
        self.doc("SELECT doc FROM trader_devices WHERE id = ?1", [id])
    }

    fn device_by_token(&mut self, token_hash: &str) -> StoreResult<Option<TraderDevice>> {
        self.doc(
            "SELECT doc FROM trader_devices WHERE token_hash = ?1",
            [token_hash],
        )
    }

    fn devices_of_trader(&mut self, trader_id: &str) -> StoreResult<Vec<TraderDevice>> {
        self.docs(
            "SELECT doc FROM trader_devices WHERE trader_id = ?1 ORDER BY rowid",
            [trader_id],
        )
    }

    fn insert_bank_message(&mut self, m: &BankMessage) -> StoreResult<()> {
        self.exec(
            "INSERT INTO bank_messages (id, trader_id, device_id, dedup_key, kind, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m.id, m.trader_id, m.device_id, m.dedup_key, m.reading.kind.as_str(), m.created_at_secs, to_doc(m)?],
        )
        .map(drop)
    }

    fn bank_message_by_key(
        &mut self,
        device_id: &str,
        dedup_key: &str,
    ) -> StoreResult<Option<BankMessage>> {
        self.doc(
            "SELECT doc FROM bank_messages WHERE device_id = ?1 AND dedup_key = ?2",
            params![device_id, dedup_key],
        )
    }

    fn bank_messages(
        &mut self,
        trader_id: Option<&str>,
        kind: Option<MessageKind>,
        limit: usize,
    ) -> StoreResult<Vec<BankMessage>> {
        self.docs(
            "SELECT doc FROM bank_messages WHERE (?1 IS NULL OR trader_id = ?1) AND (?2 IS NULL OR kind = ?2)
             ORDER BY created_at DESC, rowid DESC LIMIT ?3",
            params![trader_id, kind.map(MessageKind::as_str), limit as i64],
        )
    }

    fn insert_message_pattern(&mut self, p: &MessagePattern) -> StoreResult<()> {
        self.exec(
            "INSERT INTO message_patterns (id, doc) VALUES (?1, ?2)",
            params![p.id, to_doc(p)?],
        )
        .map(drop)
    }

    fn message_patterns(&mut self) -> StoreResult<Vec<MessagePattern>> {
        self.docs("SELECT doc FROM message_patterns ORDER BY rowid", [])
    }

    fn delete_message_pattern(&mut self, id: &str) -> StoreResult<bool> {
        Ok(self.exec("DELETE FROM message_patterns WHERE id = ?1", [id])? > 0)
    }
}
