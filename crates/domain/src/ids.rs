//! Identifiers: a type prefix and 16 base62 characters
//! (`cpi_0uQ8x3LcJxoBxnY`): 7 of time (milliseconds since the Unix epoch) then
//! 9 random ones (about 53 bits). Ids sort by creation time, so the store's
//! indexes on them grow at one end instead of being written all over.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random base62 text of `len` characters from the OS-seeded thread RNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Characters of time at the head of an id: 62^7 ms is over a century.
const TIME_CHARS: usize = 7;

/// `n` in base62, `width` characters, most significant first: the order of
/// the text is the order of the numbers.
fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    assert_eq!(n, 0, "value too large for {width} base62 characters");
    String::from_utf8(out).expect("ASCII")
}

/// A new id such as `cpi_0uQ8x3LcJxoBxnY`, made at `now_ms`.
pub fn new_id_at(prefix: &str, now_ms: u64) -> String {
    format!(
        "{prefix}_{}{}",
        base62_fixed(now_ms, TIME_CHARS),
        random_base62(16 - TIME_CHARS)
    )
}

/// A new id made now (wall time: ids only need to sort roughly by creation).
pub fn new_id(prefix: &str) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    new_id_at(prefix, now_ms)
}

pub mod prefix {
    pub const INVOICE: &str = "cpi";
    pub const MERCHANT: &str = "mer";
    pub const CUSTOMER: &str = "cus";
    pub const CALLBACK: &str = "cb";
    pub const REFUND: &str = "rfd";
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

    #[test]
    fn ids_sort_by_time() {
        let a = super::new_id_at("cpi", 1_795_239_527_000);
        let b = super::new_id_at("cpi", 1_795_239_527_001);
        let c = super::new_id_at("cpi", 2_795_239_527_000);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(super::base62_fixed(0, 3), "000");
        assert_eq!(super::base62_fixed(61, 2), "0z");
    }
}
