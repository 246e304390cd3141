//! Merchants, their credentials, the catalog of methods and services, and settings.

use super::*;
use crate::MerchantTx;

impl MerchantTx for SqliteTx<'_> {
    fn insert_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        self.exec(
            "INSERT INTO merchants (id, site_id, site_login, created_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![m.id, m.site_id, m.site_login, m.created_at_secs, to_doc(m)?],
        )?;
        for (test_mode, creds) in [(true, &m.test), (false, &m.live)] {
            for (kind, key) in [
                (CredentialKind::PublicKey, &creds.public_key),
                (CredentialKind::PrivateKeyId, &creds.private_key_id),
                (CredentialKind::MerchantApiKey, &creds.merchant_api_key),
            ] {
                if key.is_empty() {
                    continue;
                }
                self.exec(
                    "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES (?1, ?2, ?3, ?4)",
                    params![key, kind.as_str(), m.id, test_mode],
                )?;
            }
        }
        Ok(())
    }

    fn update_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let n = self.exec(
            "UPDATE merchants SET site_login = ?2, doc = ?3 WHERE id = ?1",
            params![m.id, m.site_login, to_doc(m)?],
        )?;
        expect_one(n, "update merchant")
    }

    fn merchant(&mut self, id: &str) -> StoreResult<Option<Merchant>> {
        self.doc("SELECT doc FROM merchants WHERE id = ?1", [id])
    }

    fn merchants(&mut self) -> StoreResult<Vec<Merchant>> {
        self.docs("SELECT doc FROM merchants ORDER BY site_id", [])
    }

    fn merchant_by_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
    ) -> StoreResult<Option<(Merchant, bool)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT m.doc, c.test_mode FROM credentials c JOIN merchants m ON m.id = c.merchant_id
                 WHERE c.lookup_key = ?1 AND c.kind = ?2",
            )
            .map_err(backend)?;
        let row: Option<(String, bool)> = stmt
            .query_row(params![key, kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(backend)?;
        row.map(|(doc, test)| Ok((serde_json::from_str(&doc).map_err(json_err)?, test)))
            .transpose()
    }

    fn insert_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
        merchant_id: &str,
        test_mode: bool,
    ) -> StoreResult<()> {
        self.exec(
            "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES (?1, ?2, ?3, ?4)",
            params![key, kind.as_str(), merchant_id, test_mode],
        )?;
        Ok(())
    }

    fn delete_credential(&mut self, kind: CredentialKind, key: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM credentials WHERE lookup_key = ?1 AND kind = ?2",
            params![key, kind.as_str()],
        )?;
        Ok(())
    }

    fn next_site_id(&mut self) -> StoreResult<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(site_id), 1000) + 1 FROM merchants",
                [],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn put_method(&mut self, method: &Method) -> StoreResult<()> {
        self.exec(
            "INSERT INTO methods (code, doc) VALUES (?1, ?2) ON CONFLICT (code) DO UPDATE SET doc = excluded.doc",
            params![method.code, to_doc(method)?],
        )
        .map(drop)
    }

    fn methods(&mut self) -> StoreResult<Vec<Method>> {
        self.docs("SELECT doc FROM methods ORDER BY code", [])
    }

    fn put_service(&mut self, s: &Service) -> StoreResult<()> {
        self.exec(
            "INSERT INTO services (code, currency, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (code) DO UPDATE SET currency = excluded.currency, doc = excluded.doc",
            params![s.code, s.currency.code(), to_doc(s)?],
        )
        .map(drop)
    }

    fn service(&mut self, code: &str) -> StoreResult<Option<Service>> {
        self.doc("SELECT doc FROM services WHERE code = ?1", [code])
    }

    fn services(&mut self) -> StoreResult<Vec<Service>> {
        self.docs("SELECT doc FROM services ORDER BY rowid", [])
    }

    fn put_setting(&mut self, key: &str, value: &Value) -> StoreResult<()> {
        self.exec(
            "INSERT INTO settings (key, doc) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
            params![key, to_doc(value)?],
        )
        .map(drop)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<Value>> {
        self.doc("SELECT doc FROM settings WHERE key = ?1", [key])
    }
}
