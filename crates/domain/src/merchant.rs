//! Merchants, their site and their credentials for each mode.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// Credentials of one mode (test or live). Secrets are never kept in clear:
/// the private API secret as its SHA-256, the callback secret sealed with the
/// operator's master key (it must be usable to sign).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub public_key: String,
    pub private_key_id: String,
    pub private_secret_sha256: String,
    pub callback_secret_sealed: String,
    /// The Merchant API identity (`X-Identity`) and its HMAC secret, sealed:
    /// verifying an HMAC needs the secret itself.
    #[serde(default)]
    pub merchant_api_key: String,
    #[serde(default)]
    pub merchant_api_secret_sealed: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub site_id: i64,
    pub site_login: String,
    /// Refuse invoice creation through the public API ("Forbid public access").
    pub forbid_public_api: bool,
    /// The account's settlement currency, shown as `currency` on its services.
    pub account_currency: Currency,
    /// Where callbacks go for invoices that name no `callback_url`.
    pub callback_url: Option<String>,
    pub created_at_secs: i64,
    pub test: Credentials,
    pub live: Credentials,
    /// The H2H signing secret (book_cabinet, payouts), sealed.
    #[serde(default)]
    pub h2h_secret_sealed: String,
    /// The H2H test secret, sealed: a request signed with it runs in test
    /// mode. Empty for merchants made before it existed.
    #[serde(default)]
    pub h2h_test_secret_sealed: String,
}

impl Merchant {
    pub fn credentials(&self, test_mode: bool) -> &Credentials {
        if test_mode {
            &self.test
        } else {
            &self.live
        }
    }
}

/// What a credential lookup key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    PublicKey,
    PrivateKeyId,
    MerchantApiKey,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::PublicKey => "public_key",
            CredentialKind::PrivateKeyId => "private_key_id",
            CredentialKind::MerchantApiKey => "merchant_api_key",
        }
    }
}
