//! Identifiers: a type prefix and 16 random base62 characters
//! (`cpi_QGcJxoBxnYStkuvN`), about 95 bits, unguessable.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random base62 text of `len` characters from the OS-seeded thread RNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new id such as `cpi_QGcJxoBxnYStkuvN`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(16))
}

pub mod prefix {
    pub const INVOICE: &str = "cpi";
    pub const MERCHANT: &str = "mer";
    pub const CUSTOMER: &str = "cus";
    pub const CALLBACK: &str = "cb";
    pub const MERCHANT_SERVICE: &str = "comcps";
}

/// The id's part after its prefix (the Checkout API's `serial_number`).
pub fn serial(id: &str) -> &str {
    id.split_once('_').map_or(id, |(_, s)| s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let id = super::new_id("cpi");
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("cpi_"));
        assert_eq!(super::serial(&id).len(), 16);
        assert_ne!(id, super::new_id("cpi"));
    }
}
