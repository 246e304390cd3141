//! A merchant's private API keys, made and revoked by the merchant's own
//! people (the portal) or the operator (the CLI), so a key can be rolled
//! over without downtime: make a new one, deploy it, revoke the old one.
//! The secret of a new key is shown once; only its SHA-256 is kept.

use kassa_domain::ids::random_base62;
use kassa_domain::merchant::{CredentialKind, PrivateKey, PRIVATE_KEYS_MAX};
use serde::Serialize;

use crate::secrets::sha256_hex;
use crate::{Engine, EngineError, EngineResult};

/// A key as made: its secret is in this value only.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedKey {
    pub private_key_id: String,
    pub private_key_secret: String,
    pub test_mode: bool,
}

impl Engine {
    /// Makes another private key for a merchant's mode.
    pub async fn create_private_key(
        &self,
        merchant_id: String,
        test_mode: bool,
    ) -> EngineResult<IssuedKey> {
        let mode = if test_mode { "test" } else { "live" };
        let issued = IssuedKey {
            private_key_id: format!("key_{mode}_{}", random_base62(16)),
            private_key_secret: format!("sk_{mode}_{}", random_base62(43)),
            test_mode,
        };
        let key = PrivateKey {
            id: issued.private_key_id.clone(),
            secret_sha256: sha256_hex(&issued.private_key_secret),
            created_at_secs: self.now_secs(),
        };
        self.write(move |tx| {
            let mut merchant = tx.merchant(&merchant_id)?.ok_or(EngineError::NotFound)?;
            let creds = merchant.credentials_mut(test_mode);
            // Decided on the record as it is now, so racing requests cannot
            // pass the bound together.
            if creds.private_keys().len() >= PRIVATE_KEYS_MAX {
                return Err(EngineError::Conflict(format!(
                    "A mode has at most {PRIVATE_KEYS_MAX} private keys: revoke one first."
                )));
            }
            creds.more_private_keys.push(key.clone());
            tx.update_merchant(&merchant)?;
            tx.insert_credential(
                CredentialKind::PrivateKeyId,
                &key.id,
                &merchant.id,
                test_mode,
            )?;
            Ok(())
        })
        .await?;
        self.merchant_changed();
        Ok(issued)
    }

    /// Revokes a private key of a merchant's mode. The last one stays, so
    /// that the merchant cannot lock its own integration out by a slip.
    pub async fn revoke_private_key(
        &self,
        merchant_id: String,
        test_mode: bool,
        key_id: String,
    ) -> EngineResult<()> {
        self.write(move |tx| {
            let mut merchant = tx.merchant(&merchant_id)?.ok_or(EngineError::NotFound)?;
            let creds = merchant.credentials_mut(test_mode);
            if creds.private_secret_of(&key_id).is_none() {
                return Err(EngineError::NotFound);
            }
            if creds.private_keys().len() == 1 {
                return Err(EngineError::Conflict(
                    "This is the mode's last private key: make another one first.".into(),
                ));
            }
            assert!(creds.revoke_private_key(&key_id));
            tx.update_merchant(&merchant)?;
            tx.delete_credential(CredentialKind::PrivateKeyId, &key_id)?;
            Ok(())
        })
        .await?;
        // This node stops taking the key at once; others within CREDENTIALS_TTL.
        self.merchant_changed();
        Ok(())
    }
}
