//! Merchants, their site and their credentials for each mode.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// Credentials of one mode (test or live). Secrets are never kept in clear:
/// the private API secret as its SHA-256, the callback secret sealed with the
/// operator's master key (it must be usable to sign).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub public_key: String,
    /// The private key issued with the merchant; both empty once revoked.
    pub private_key_id: String,
    pub private_secret_sha256: String,
    /// Private keys made since (portal, CLI); each authenticates the mode
    /// as the first does, until revoked.
    #[serde(default)]
    pub more_private_keys: Vec<PrivateKey>,
    pub callback_secret_sealed: String,
    /// The Merchant API identity (`X-Identity`) and its HMAC secret, sealed:
    /// verifying an HMAC needs the secret itself.
    #[serde(default)]
    pub merchant_api_key: String,
    #[serde(default)]
    pub merchant_api_secret_sealed: String,
}

/// A private API key: its id (HTTP Basic's user) and the SHA-256 of its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateKey {
    pub id: String,
    pub secret_sha256: String,
    /// 0 for the key issued with the merchant (its time is the merchant's).
    #[serde(default)]
    pub created_at_secs: i64,
}

/// At most this many private keys per mode: enough to roll one over.
pub const PRIVATE_KEYS_MAX: usize = 5;

impl Credentials {
    /// Every private key of the mode that still works, oldest first.
    pub fn private_keys(&self) -> Vec<PrivateKey> {
        let first = (!self.private_key_id.is_empty()).then(|| PrivateKey {
            id: self.private_key_id.clone(),
            secret_sha256: self.private_secret_sha256.clone(),
            created_at_secs: 0,
        });
        first
            .into_iter()
            .chain(self.more_private_keys.iter().cloned())
            .collect()
    }

    /// The SHA-256 of the secret of key `id`, if it is one of this mode's.
    pub fn private_secret_of(&self, id: &str) -> Option<&str> {
        if !id.is_empty() && id == self.private_key_id {
            return Some(&self.private_secret_sha256);
        }
        self.more_private_keys
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.secret_sha256.as_str())
    }

    /// Takes key `id` away; whether it was there.
    pub fn revoke_private_key(&mut self, id: &str) -> bool {
        if !id.is_empty() && id == self.private_key_id {
            self.private_key_id.clear();
            self.private_secret_sha256.clear();
            return true;
        }
        let before = self.more_private_keys.len();
        self.more_private_keys.retain(|k| k.id != id);
        self.more_private_keys.len() != before
    }
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
    /// Where customers return for invoices that name no `return_url`.
    #[serde(default)]
    pub return_url: Option<String>,
    /// Hosts under which the public API and the HTML form may name their own
    /// callback and return URLs. Those credentials sit in web pages, so
    /// without this list they could send signed callbacks, or customers,
    /// anywhere.
    #[serde(default)]
    pub url_hosts: Vec<String>,
    pub created_at_secs: i64,
    pub test: Credentials,
    pub live: Credentials,
    /// The H2H signing secret (book_cabinet, payouts), sealed.
    #[serde(default)]
    pub h2h_secret_sealed: String,
    /// Origins that may show the hosted page in a frame (its
    /// `frame-ancestors`); empty: none may. See [`parse_frame_ancestors`].
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    /// The H2H test secret, sealed: a request signed with it runs in test
    /// mode. Empty for merchants made before it existed.
    #[serde(default)]
    pub h2h_test_secret_sealed: String,
    /// Which callbacks are sent: all, or final statuses only.
    #[serde(default)]
    pub callback_statuses: crate::CallbackStatuses,
    /// The merchant's own delays before each callback retry, in seconds (the
    /// last repeats), within the operator's bounds; `None`: the operator's.
    #[serde(default)]
    pub callback_retry_secs: Option<Vec<i64>>,
    /// The merchant's own attempts per callback, at most the operator's;
    /// `None`: the operator's.
    #[serde(default)]
    pub callback_max_attempts: Option<u32>,
}

impl Merchant {
    /// Whether a URL given through a public credential may be used: its host
    /// is on [`Merchant::url_hosts`] (exactly; case is ignored, a subdomain
    /// is another host).
    pub fn allows_public_url(&self, url: &url::Url) -> bool {
        url.host_str().is_some_and(|host| {
            self.url_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(host))
        })
    }

    pub fn credentials(&self, test_mode: bool) -> &Credentials {
        if test_mode {
            &self.test
        } else {
            &self.live
        }
    }

    pub fn credentials_mut(&mut self, test_mode: bool) -> &mut Credentials {
        if test_mode {
            &mut self.test
        } else {
            &mut self.live
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

/// The origins a merchant lets frame its hosted page, from a comma-separated
/// list: each `https://host` or `http://host`, with an optional port, the
/// host's first label possibly `*` (`https://*.shop.example`). Nothing else
/// passes, so a setting can only name origins and never add to the page's
/// policy. An empty text is the empty list.
pub fn parse_frame_ancestors(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|source| {
            let source = source.to_ascii_lowercase();
            frame_ancestor_ok(&source)
                .then_some(source.clone())
                .ok_or_else(|| format!("{source:?} is not an origin like https://shop.example"))
        })
        .collect()
}

fn frame_ancestor_ok(source: &str) -> bool {
    let Some(rest) = source
        .strip_prefix("https://")
        .or_else(|| source.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let host = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok)
}

#[cfg(test)]
mod frame_ancestor_tests {
    use super::parse_frame_ancestors;

    #[test]
    fn only_origins_pass() {
        assert_eq!(
            parse_frame_ancestors(" https://Shop.example, https://*.shop.example:8443 ,").unwrap(),
            vec!["https://shop.example", "https://*.shop.example:8443"]
        );
        assert_eq!(parse_frame_ancestors("").unwrap(), Vec::<String>::new());
        for bad in [
            "shop.example",
            "*",
            "'self'",
            "https://shop.example/path",
            "https://shop.example; script-src *",
            "https://shop example",
            "javascript://x",
            "https://",
            "https://shop.example:",
            "https://a.*.example",
        ] {
            assert!(parse_frame_ancestors(bad).is_err(), "{bad}");
        }
    }
}

/// A host for [`Merchant::url_hosts`] as URLs write it (lower case,
/// punycode, IPv6 in brackets), or `None` when the text is not a bare host
/// (no scheme, port, path or user).
pub fn normalize_url_host(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let url = url::Url::parse(&format!("http://{text}/")).ok()?;
    if url.port().is_some() {
        return None;
    }
    url.host_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_hosts() {
        assert_eq!(
            normalize_url_host("Shop.Example").as_deref(),
            Some("shop.example")
        );
        assert_eq!(normalize_url_host("[::1]").as_deref(), Some("[::1]"));
        for bad in [
            "",
            "https://shop.example",
            "shop.example:8080",
            "shop.example/x",
            "a@b",
            "a b",
        ] {
            assert_eq!(normalize_url_host(bad), None, "{bad}");
        }
    }
}
