//! The hosted page's form token: what a page Kassa rendered carries in its
//! forms, so that a post made up elsewhere (another site's form) is refused.
//! An HMAC of the invoice id under a key of its own derived from the master
//! key: every node computes the same token, nothing is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Engine;

/// Separates this key from every other use of the master key.
const PURPOSE: &[u8] = b"kassa hosted page form token v1";

pub(crate) fn hmac(key: &[u8], text: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(text);
    mac.finalize().into_bytes().into()
}

impl Engine {
    /// The token of the forms on `invoice_id`'s page.
    pub fn page_token(&self, invoice_id: &str) -> String {
        let key = hmac(&self.config.master_key, PURPOSE);
        URL_SAFE_NO_PAD.encode(hmac(&key, invoice_id.as_bytes()))
    }

    /// Whether `token` is the page token of `invoice_id` (compared in
    /// constant time).
    pub fn check_page_token(&self, invoice_id: &str, token: &str) -> bool {
        crate::secrets::constant_time_eq(&self.page_token(invoice_id), token)
    }
}
