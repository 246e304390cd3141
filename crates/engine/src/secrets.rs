//! Secrets: generated once, shown once, kept hashed or sealed.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Seals secrets that must be used later (callback signing keys) with the
/// operator's master key: XChaCha20-Poly1305, random nonce, base64.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(Key::from_slice(master_key)),
        }
    }

    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// `None` when the text was sealed under another master key or is damaged.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

pub type HmacSha256 = Hmac<Sha256>;

/// Keys the fingerprints of requests kept for idempotency. A request may
/// carry a card number, and card numbers are few enough to try them all: an
/// unkeyed hash stored in the database would give the number back to whoever
/// holds a copy of it. The key is derived from the master key, so a copy of
/// the database without the key tells nothing.
#[derive(Clone)]
pub struct FingerprintKey {
    key: [u8; 32],
}

impl FingerprintKey {
    pub fn new(master_key: &[u8; 32]) -> Self {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(master_key).expect("any key length");
        mac.update(b"kassa request fingerprint v1");
        FingerprintKey {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// An HMAC-SHA256 under this key, to feed the request into.
    pub fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(&self.key).expect("any key length")
    }
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Compares in time that does not depend on where the inputs differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// 32 random bytes as URL-safe base64, 43 characters.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A callback signing secret in the Standard Webhooks form: `whsec_` and the
/// base64 of 32 random bytes. The legacy `X-Signature` uses the whole string.
pub fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The HMAC key of a Standard Webhooks secret.
pub fn webhook_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal("whsec_abc");
        assert_ne!(sealed, sealer.seal("whsec_abc"), "nonces differ");
        assert_eq!(sealer.open(&sealed).as_deref(), Some("whsec_abc"));
        assert_eq!(Sealer::new(&[8u8; 32]).open(&sealed), None);
        assert_eq!(sealer.open("garbage"), None);
    }

    #[test]
    fn compare() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert_eq!(webhook_key(&new_webhook_secret()).len(), 32);
    }

    #[test]
    fn fingerprint_keys_differ_by_master_key() {
        let tag = |k: &FingerprintKey| k.mac().finalize().into_bytes();
        let a = FingerprintKey::new(&[7u8; 32]);
        assert_eq!(tag(&a), tag(&FingerprintKey::new(&[7u8; 32])));
        assert_ne!(tag(&a), tag(&FingerprintKey::new(&[8u8; 32])));
    }
}
