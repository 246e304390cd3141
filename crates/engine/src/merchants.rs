//! Merchants and their credentials: created by the operator, used to
//! authenticate each face.

use kassa_domain::ids::{new_id, prefix, random_base62};
use kassa_domain::merchant::{normalize_url_host, CredentialKind};
use kassa_domain::{Credentials, Currency, Merchant};
use serde::Serialize;

use crate::secrets::{constant_time_eq, new_webhook_secret, sha256_hex};
use crate::{Engine, EngineError, EngineResult};

/// How long a credential lookup is reused: a merchant changed or a key
/// revoked from another process takes effect within this time.
pub const CREDENTIALS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Secrets of one mode as issued: shown once, never stored in clear.
#[derive(Clone, Debug, Serialize)]
pub struct IssuedCredentials {
    pub public_key: String,
    pub private_key_id: String,
    pub private_key_secret: String,
    pub callback_secret: String,
    /// Merchant API: `X-Identity` and the HMAC secret of `X-Signature`.
    pub merchant_api_key: String,
    pub merchant_api_secret: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct IssuedMerchant {
    pub merchant_id: String,
    pub name: String,
    pub site_id: i64,
    pub site_login: String,
    pub test: IssuedCredentials,
    pub live: IssuedCredentials,
    /// H2H API (`book_cabinet`, payouts): the key of the body's `signature`.
    pub h2h_secret: String,
    /// A body signed with this one instead runs in test mode (test cabinets,
    /// test books, the test executor).
    pub h2h_test_secret: String,
}

#[derive(Clone, Debug, Default)]
pub struct NewMerchant {
    pub name: String,
    pub site_login: Option<String>,
    pub callback_url: Option<String>,
    pub forbid_public_api: bool,
    pub account_currency: Option<Currency>,
}

/// A change of a merchant's settings: each `Some` replaces that setting
/// (`Some(None)` clears a URL).
#[derive(Clone, Debug, Default)]
pub struct MerchantChange {
    pub forbid_public_api: Option<bool>,
    pub callback_url: Option<Option<String>>,
    pub return_url: Option<Option<String>>,
    /// Hosts the public API and the HTML form may name in their own URLs.
    pub url_hosts: Option<Vec<String>>,
    /// Origins that may frame the hosted page, comma-separated ("" for none).
    pub frame_ancestors: Option<String>,
    pub callback_statuses: Option<kassa_domain::CallbackStatuses>,
    /// The merchant's own retry delays (`Some(None)`: the operator's).
    pub callback_retry_secs: Option<Option<Vec<i64>>>,
    /// The merchant's own attempts per callback (`Some(None)`: the operator's).
    pub callback_max_attempts: Option<Option<u32>>,
}

/// A merchant's settings and public keys, with no secret: what the operator's
/// `merchant list --json` and the admin API show.
#[derive(Clone, Debug, Serialize)]
pub struct MerchantSummary {
    pub merchant_id: String,
    pub name: String,
    pub site_id: i64,
    pub site_login: String,
    pub account_currency: Currency,
    pub forbid_public_api: bool,
    pub callback_url: Option<String>,
    pub return_url: Option<String>,
    pub url_hosts: Vec<String>,
    pub frame_ancestors: Vec<String>,
    pub callback_statuses: kassa_domain::CallbackStatuses,
    /// `null`: the operator's schedule.
    pub callback_retry_secs: Option<Vec<i64>>,
    /// `null`: the operator's.
    pub callback_max_attempts: Option<u32>,
    pub test_public_key: String,
    pub live_public_key: String,
}

impl From<&Merchant> for MerchantSummary {
    fn from(m: &Merchant) -> Self {
        MerchantSummary {
            merchant_id: m.id.clone(),
            name: m.name.clone(),
            site_id: m.site_id,
            site_login: m.site_login.clone(),
            account_currency: m.account_currency,
            forbid_public_api: m.forbid_public_api,
            callback_url: m.callback_url.clone(),
            return_url: m.return_url.clone(),
            url_hosts: m.url_hosts.clone(),
            frame_ancestors: m.frame_ancestors.clone(),
            callback_statuses: m.callback_statuses,
            callback_retry_secs: m.callback_retry_secs.clone(),
            callback_max_attempts: m.callback_max_attempts,
            test_public_key: m.test.public_key.clone(),
            live_public_key: m.live.public_key.clone(),
        }
    }
}

fn login_from(name: &str) -> String {
    let mut login: String = name
        .chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_lowercase())
            } else if c == ' ' || c == '-' || c == '_' {
                Some('_')
            } else {
                None
            }
        })
        .collect();
    if login.is_empty() {
        login = "site".into();
    }
    login.truncate(32);
    format!("{login}_{}", random_base62(4).to_lowercase())
}

/// Stores a new merchant under the next site id; a taken site login is a
/// conflict. The credentials are completed with the site id given.
pub(crate) fn insert_merchant_in(
    tx: &mut dyn kassa_store::Tx,
    mut merchant: Merchant,
    issued: &mut IssuedMerchant,
) -> EngineResult<()> {
    merchant.site_id = tx.next_site_id()?;
    tx.insert_merchant(&merchant).map_err(|e| match e {
        kassa_store::StoreError::Duplicate(_) => {
            EngineError::Conflict("site_login is taken".into())
        }
        e => e.into(),
    })?;
    issued.site_id = merchant.site_id;
    Ok(())
}

impl Engine {
    pub async fn create_merchant(&self, new: NewMerchant) -> EngineResult<IssuedMerchant> {
        let (merchant, mut issued) = self.new_merchant(new)?;
        self.write(move |tx| {
            insert_merchant_in(tx, merchant, &mut issued)?;
            Ok(issued)
        })
        .await
    }

    /// A merchant checked and its credentials made, not stored yet: the
    /// merchant as it is kept (secrets hashed or sealed) and what is shown once.
    pub(crate) fn new_merchant(
        &self,
        new: NewMerchant,
    ) -> EngineResult<(Merchant, IssuedMerchant)> {
        let name = new.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(EngineError::invalid(
                "name",
                "This value should be 1 to 200 characters long.",
            ));
        }
        if let Some(url) = &new.callback_url {
            self.check_callback_url(url)
                .map_err(|m| EngineError::invalid("callback_url", m))?;
        }
        let issue = |mode: &str| IssuedCredentials {
            public_key: format!("pk_{mode}_{}", random_base62(43)),
            private_key_id: format!("key_{mode}_{}", random_base62(16)),
            private_key_secret: format!("sk_{mode}_{}", random_base62(43)),
            callback_secret: new_webhook_secret(),
            merchant_api_key: format!("ma_{mode}_{}", random_base62(24)),
            merchant_api_secret: format!("ms_{mode}_{}", random_base62(43)),
        };
        let h2h_secret = format!("h2h_{}", random_base62(43));
        let h2h_test_secret = format!("h2h_test_{}", random_base62(43));
        let (test, live) = (issue("test"), issue("live"));
        let keep = |i: &IssuedCredentials| Credentials {
            public_key: i.public_key.clone(),
            private_key_id: i.private_key_id.clone(),
            private_secret_sha256: sha256_hex(&i.private_key_secret),
            more_private_keys: Vec::new(),
            callback_secret_sealed: self.sealer.seal(&i.callback_secret),
            merchant_api_key: i.merchant_api_key.clone(),
            merchant_api_secret_sealed: self.sealer.seal(&i.merchant_api_secret),
        };
        let merchant = Merchant {
            id: new_id(prefix::MERCHANT),
            name,
            site_id: 0,
            site_login: new.site_login.unwrap_or_else(|| login_from(&new.name)),
            forbid_public_api: new.forbid_public_api,
            account_currency: new
                .account_currency
                .unwrap_or_else(|| Currency::from_code("USD").expect("USD")),
            callback_url: new.callback_url,
            return_url: None,
            url_hosts: Vec::new(),
            created_at_secs: self.now_secs(),
            test: keep(&test),
            live: keep(&live),
            h2h_secret_sealed: self.sealer.seal(&h2h_secret),
            frame_ancestors: Vec::new(),
            h2h_test_secret_sealed: self.sealer.seal(&h2h_test_secret),
            callback_statuses: Default::default(),
            callback_retry_secs: None,
            callback_max_attempts: None,
        };
        let issued = IssuedMerchant {
            merchant_id: merchant.id.clone(),
            name: merchant.name.clone(),
            site_id: 0,
            site_login: merchant.site_login.clone(),
            test,
            live,
            h2h_secret,
            h2h_test_secret,
        };
        Ok((merchant, issued))
    }

    pub async fn merchants(&self) -> EngineResult<Vec<Merchant>> {
        self.read(|tx| Ok(tx.merchants()?)).await
    }

    pub async fn merchant(&self, id: String) -> EngineResult<Merchant> {
        self.read(move |tx| tx.merchant(&id)?.ok_or(EngineError::NotFound))
            .await
    }

    /// Applies an operator's change of settings, each checked first; nothing
    /// changes when one is wrong.
    pub async fn change_merchant(
        &self,
        id: String,
        change: MerchantChange,
    ) -> EngineResult<Merchant> {
        let apply = self.checked_change(change)?;
        self.update_merchant(id, apply).await
    }

    /// Checks every setting of `change`; what applies it to a merchant.
    pub(crate) fn checked_change(
        &self,
        change: MerchantChange,
    ) -> EngineResult<impl FnOnce(&mut Merchant) + Send + 'static> {
        if let Some(Some(url)) = &change.callback_url {
            self.check_callback_url(url)
                .map_err(|m| EngineError::invalid("callback_url", m))?;
        }
        if let Some(Some(url)) = &change.return_url {
            crate::invoices::check_url(url).map_err(|m| EngineError::invalid("return_url", m))?;
        }
        let url_hosts = match change.url_hosts {
            None => None,
            Some(hosts) => Some(
                hosts
                    .iter()
                    .map(|h| {
                        normalize_url_host(h).ok_or_else(|| {
                            EngineError::invalid(
                                "url_hosts",
                                format!("{h:?} is not a host name (no scheme, port or path)."),
                            )
                        })
                    })
                    .collect::<EngineResult<Vec<_>>>()?,
            ),
        };
        let frame_ancestors = change
            .frame_ancestors
            .as_deref()
            .map(kassa_domain::merchant::parse_frame_ancestors)
            .transpose()
            .map_err(|m| EngineError::invalid("frame_ancestors", m))?;
        if let Some(Some(delays)) = &change.callback_retry_secs {
            self.check_retry_secs(delays)
                .map_err(|m| EngineError::invalid("callback_retry_secs", m))?;
        }
        if let Some(Some(n)) = change.callback_max_attempts {
            self.check_max_attempts(n)
                .map_err(|m| EngineError::invalid("callback_max_attempts", m))?;
        }
        Ok(move |m: &mut Merchant| {
            if let Some(delays) = change.callback_retry_secs {
                m.callback_retry_secs = delays;
            }
            if let Some(n) = change.callback_max_attempts {
                m.callback_max_attempts = n;
            }
            if let Some(origins) = frame_ancestors {
                m.frame_ancestors = origins;
            }
            if let Some(statuses) = change.callback_statuses {
                m.callback_statuses = statuses;
            }
            if let Some(f) = change.forbid_public_api {
                m.forbid_public_api = f;
            }
            if let Some(url) = change.callback_url {
                m.callback_url = url;
            }
            if let Some(url) = change.return_url {
                m.return_url = url;
            }
            if let Some(mut hosts) = url_hosts {
                hosts.sort();
                hosts.dedup();
                m.url_hosts = hosts;
            }
        })
    }

    /// A merchant's own retry delays must lie within the operator's bounds:
    /// refused, never clamped, so the merchant learns what it will get.
    fn check_retry_secs(&self, delays: &[i64]) -> Result<(), String> {
        let (min, max) = (
            self.config.callback_retry_min_secs,
            self.config.callback_retry_max_secs,
        );
        // More delays than retries are never used.
        let most = self.config.callback_max_attempts as usize;
        if delays.is_empty() || delays.len() > most {
            return Err(format!(
                "Give 1 to {most} delays (or clear the setting for the operator's schedule)."
            ));
        }
        match delays.iter().find(|d| !(min..=max).contains(*d)) {
            Some(d) => Err(format!(
                "Each delay must be from {min} to {max} seconds; {d} is not."
            )),
            None => Ok(()),
        }
    }

    fn check_max_attempts(&self, n: u32) -> Result<(), String> {
        let ceiling = self.config.callback_max_attempts;
        if (1..=ceiling).contains(&n) {
            Ok(())
        } else {
            Err(format!("This value should be from 1 to {ceiling}."))
        }
    }

    /// Changes a merchant's settings with `change`, returning the result.
    pub async fn update_merchant(
        &self,
        id: String,
        change: impl FnOnce(&mut Merchant) + Send + 'static,
    ) -> EngineResult<Merchant> {
        self.write(move |tx| change_in(tx, &id, change))
            .await
            .inspect(|_| self.merchant_changed())
    }

    /// What a merchant's change makes stale.
    pub(crate) fn merchant_changed(&self) {
        self.credential_cache.clear();
        self.merchant_cache.clear();
    }

    /// The merchant a signed request names, as [`Engine::merchant`] but
    /// reused for [`CREDENTIALS_TTL`] like every credential lookup.
    pub async fn merchant_to_authenticate(&self, id: String) -> EngineResult<Merchant> {
        if let Some(found) = self.merchant_cache.get(&id) {
            return Ok(found);
        }
        let found = self.merchant(id.clone()).await?;
        self.merchant_cache.put(id, found.clone());
        Ok(found)
    }

    async fn merchant_by_credential(
        &self,
        kind: CredentialKind,
        key: String,
    ) -> EngineResult<(Merchant, bool)> {
        let cache_key = (kind, key);
        if let Some(found) = self.credential_cache.get(&cache_key) {
            return Ok(found);
        }
        let lookup = cache_key.1.clone();
        let found = self
            .read(move |tx| {
                tx.merchant_by_credential(kind, &lookup)?
                    .ok_or(EngineError::Unauthorized)
            })
            .await?;
        self.credential_cache.put(cache_key, found.clone());
        Ok(found)
    }

    /// The merchant and mode of a public key (`pk_test_...`/`pk_live_...`).
    pub async fn authenticate_public(&self, public_key: String) -> EngineResult<(Merchant, bool)> {
        if public_key.is_empty() || public_key.len() > 128 {
            return Err(EngineError::Unauthorized);
        }
        self.merchant_by_credential(CredentialKind::PublicKey, public_key)
            .await
    }

    /// The merchant and mode of a private key id and secret (HTTP Basic).
    pub async fn authenticate_private(
        &self,
        key_id: String,
        secret: String,
    ) -> EngineResult<(Merchant, bool)> {
        if key_id.is_empty() || key_id.len() > 128 || secret.len() > 256 {
            return Err(EngineError::Unauthorized);
        }
        let (merchant, test_mode) = self
            .merchant_by_credential(CredentialKind::PrivateKeyId, key_id.clone())
            .await?;
        // The lookup may be up to CREDENTIALS_TTL old: the key must still be
        // in the merchant's record as read then.
        let Some(expected) = merchant.credentials(test_mode).private_secret_of(&key_id) else {
            return Err(EngineError::Unauthorized);
        };
        if !constant_time_eq(&sha256_hex(&secret), expected) {
            return Err(EngineError::Unauthorized);
        }
        Ok((merchant, test_mode))
    }

    /// The merchant and mode of a Merchant API identity (`X-Identity`).
    pub async fn authenticate_merchant_api(&self, key: String) -> EngineResult<(Merchant, bool)> {
        if key.is_empty() || key.len() > 128 {
            return Err(EngineError::Unauthorized);
        }
        self.merchant_by_credential(CredentialKind::MerchantApiKey, key)
            .await
    }

    /// The Merchant API HMAC secret of a merchant's mode, unsealed.
    pub fn merchant_api_secret(&self, merchant: &Merchant, test_mode: bool) -> Option<String> {
        self.sealer
            .open(&merchant.credentials(test_mode).merchant_api_secret_sealed)
    }

    /// The H2H signing secret of a mode, unsealed; `None` also for a
    /// merchant made before it had one.
    pub fn h2h_secret(&self, merchant: &Merchant, test_mode: bool) -> Option<String> {
        let sealed = if test_mode {
            &merchant.h2h_test_secret_sealed
        } else {
            &merchant.h2h_secret_sealed
        };
        self.sealer.open(sealed)
    }

    /// The callback signing secret of a merchant's mode, unsealed.
    pub fn callback_secret(&self, merchant: &Merchant, test_mode: bool) -> Option<String> {
        self.sealer
            .open(&merchant.credentials(test_mode).callback_secret_sealed)
    }
}

/// Changes a merchant's row with `change`, in the write `tx`.
pub(crate) fn change_in(
    tx: &mut dyn kassa_store::Tx,
    id: &str,
    change: impl FnOnce(&mut Merchant),
) -> EngineResult<Merchant> {
    let mut merchant = tx.merchant(id)?.ok_or(EngineError::NotFound)?;
    change(&mut merchant);
    tx.update_merchant(&merchant)?;
    Ok(merchant)
}
