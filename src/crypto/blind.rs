//! Keyed blind index: lets the database find a contact by phone number without storing the
//! number in clear. HMAC-SHA256 under a key derived from `PHI_MASTER_KEY`; the same input
//! always gives the same index, and without the key the index reveals nothing.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub struct BlindIndex {
    key: [u8; 32],
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex([redacted])")
    }
}

impl Drop for BlindIndex {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl BlindIndex {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The index of `value` within `domain` (such as "phone"), as lowercase hex.
    pub fn index(&self, domain: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The index of a phone number given as its digits (E.164 without the plus).
    pub fn phone(&self, digits: &str) -> String {
        self.index("phone", digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_phone_same_index_other_key_other_index() {
        let a = BlindIndex::new([1; 32]);
        let b = BlindIndex::new([2; 32]);
        assert_eq!(a.phone("79990001122"), a.phone("79990001122"));
        assert_ne!(a.phone("79990001122"), a.phone("79990001123"));
        assert_ne!(a.phone("79990001122"), b.phone("79990001122"));
        assert!(!a.phone("79990001122").contains("7999"));
    }

    #[test]
    fn domains_separate_indexes() {
        let a = BlindIndex::new([1; 32]);
        assert_ne!(a.index("phone", "x"), a.index("jid", "x"));
    }
}
