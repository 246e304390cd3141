//! Merchants, their credentials, the catalog of methods and services, and settings.

use super::*;
use crate::MerchantTx;

impl MerchantTx for PgTx<'_> {
    fn insert_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let doc = to_doc(m)?;
        self.insert(
            "merchant",
            "INSERT INTO merchants (id, site_id, site_login, created_at, doc) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&m.id, &m.site_id, &m.site_login, &m.created_at_secs, &doc],
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
                self.insert(
                    "credential",
                    "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[key, &kind.as_str(), &m.id, &test_mode],
                )?;
            }
        }
        Ok(())
    }

    fn update_merchant(&mut self, m: &Merchant) -> StoreResult<()> {
        let doc = to_doc(m)?;
        let n = self.exec(
            "UPDATE merchants SET site_login = $2, doc = $3 WHERE id = $1",
            &[&m.id, &m.site_login, &doc],
        )?;
        expect_one(n, "update merchant")
    }

    fn merchant(&mut self, id: &str) -> StoreResult<Option<Merchant>> {
        self.doc("SELECT doc FROM merchants WHERE id = $1", &[&id])
    }

    fn merchants(&mut self) -> StoreResult<Vec<Merchant>> {
        self.docs("SELECT doc FROM merchants ORDER BY site_id", &[])
    }

    fn merchant_by_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
    ) -> StoreResult<Option<(Merchant, bool)>> {
        let row = self.query_opt(
            "SELECT m.doc, c.test_mode FROM credentials c JOIN merchants m ON m.id = c.merchant_id
             WHERE c.lookup_key = $1 AND c.kind = $2",
            &[&key, &kind.as_str()],
        )?;
        row.map(|row| Ok((parse(&col::<String>(&row, 0)?)?, col(&row, 1)?)))
            .transpose()
    }

    fn insert_credential(
        &mut self,
        kind: CredentialKind,
        key: &str,
        merchant_id: &str,
        test_mode: bool,
    ) -> StoreResult<()> {
        self.insert(
            "credential",
            "INSERT INTO credentials (lookup_key, kind, merchant_id, test_mode) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&key, &kind.as_str(), &merchant_id, &test_mode],
        )
    }

    fn delete_credential(&mut self, kind: CredentialKind, key: &str) -> StoreResult<()> {
        self.exec(
            "DELETE FROM credentials WHERE lookup_key = $1 AND kind = $2",
            &[&key, &kind.as_str()],
        )?;
        Ok(())
    }

    fn next_site_id(&mut self) -> StoreResult<i64> {
        self.scalar(
            "SELECT COALESCE(MAX(site_id), 1000) + 1 FROM merchants",
            &[],
        )
    }

    fn put_method(&mut self, method: &Method) -> StoreResult<()> {
        let doc = to_doc(method)?;
        self.exec(
            "INSERT INTO methods (code, doc) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET doc = excluded.doc",
            &[&method.code, &doc],
        )
        .map(drop)
    }

    fn methods(&mut self) -> StoreResult<Vec<Method>> {
        self.docs("SELECT doc FROM methods ORDER BY code", &[])
    }

    fn put_service(&mut self, s: &Service) -> StoreResult<()> {
        let doc = to_doc(s)?;
        self.exec(
            "INSERT INTO services (code, currency, doc) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO UPDATE SET currency = excluded.currency, doc = excluded.doc",
            &[&s.code, &s.currency.code(), &doc],
        )
        .map(drop)
    }

    fn service(&mut self, code: &str) -> StoreResult<Option<Service>> {
        self.doc("SELECT doc FROM services WHERE code = $1", &[&code])
    }

    fn services(&mut self) -> StoreResult<Vec<Service>> {
        self.docs("SELECT doc FROM services ORDER BY seq", &[])
    }

    fn put_setting(&mut self, key: &str, value: &Value) -> StoreResult<()> {
        let doc = to_doc(value)?;
        self.exec(
            "INSERT INTO settings (key, doc) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
            &[&key, &doc],
        )
        .map(drop)
    }

    fn setting(&mut self, key: &str) -> StoreResult<Option<Value>> {
        self.doc("SELECT doc FROM settings WHERE key = $1", &[&key])
    }
}
