//! AES-256-GCM sealing of single PHI fields.
//!
//! Layout: `version (1) | key id (4) | nonce (12) | ciphertext + tag`. The AAD is the header
//! plus `table \0 column \0 row id`, so a ciphertext copied to another row, column or table
//! fails to open, and the key id says which key sealed it (for rotation, and for clear errors).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

/// Where a sealed value lives; bound into the ciphertext's authentication.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl<'a> Aad<'a> {
    pub fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed value is too short or has an unknown version")]
    Malformed,
    #[error("sealed value was made with another key (key id {0})")]
    OtherKey(String),
    #[error("sealed value failed authentication (tampered, or moved from another row)")]
    Tampered,
    #[error("sealed value is not UTF-8 text")]
    NotText,
}

pub struct Sealer {
    key_id: [u8; 4],
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key id {})", hex::encode(self.key_id))
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32], key_id: [u8; 4]) -> Self {
        let cipher = Aes256Gcm::new_from_slice(key).unwrap_or_else(|_| unreachable!("32-byte key"));
        Self { key_id, cipher }
    }

    pub fn seal(&self, plaintext: &[u8], aad: Aad<'_>) -> Vec<u8> {
        // A random 96-bit nonce per message from the thread's CSPRNG (ChaCha, seeded and
        // reseeded from the OS): as unpredictable as asking the OS each time, without a
        // system call per sealed field.
        let mut nonce_bytes = [0u8; 12];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce_bytes);
        let mut out = Vec::with_capacity(HEADER + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&nonce_bytes);
        let aad_bytes = aad_bytes(&out[..5], aad);
        let nonce = Nonce::from(nonce_bytes);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad_bytes,
                },
            )
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption cannot fail for in-memory input"));
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: Aad<'_>) -> Result<Vec<u8>, SealError> {
        if sealed.len() < HEADER + 16 || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        if sealed[1..5] != self.key_id {
            return Err(SealError::OtherKey(hex::encode(&sealed[1..5])));
        }
        let nonce_bytes: [u8; 12] = sealed[5..HEADER]
            .try_into()
            .map_err(|_| SealError::Malformed)?;
        let aad_bytes = aad_bytes(&sealed[..5], aad);
        self.cipher
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &sealed[HEADER..],
                    aad: &aad_bytes,
                },
            )
            .map_err(|_| SealError::Tampered)
    }

    pub fn seal_str(&self, plaintext: &str, aad: Aad<'_>) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), aad)
    }

    pub fn open_string(&self, sealed: &[u8], aad: Aad<'_>) -> Result<String, SealError> {
        String::from_utf8(self.open(sealed, aad)?).map_err(|_| SealError::NotText)
    }
}

fn aad_bytes(header: &[u8], aad: Aad<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        header.len() + aad.table.len() + aad.column.len() + aad.row_id.len() + 2,
    );
    out.extend_from_slice(header);
    out.extend_from_slice(aad.table.as_bytes());
    out.push(0);
    out.extend_from_slice(aad.column.as_bytes());
    out.push(0);
    out.extend_from_slice(aad.row_id.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&[7u8; 32], [1, 2, 3, 4])
    }

    const AAD: Aad<'static> = Aad {
        table: "whatsapp_messages",
        column: "body",
        row_id: "0190a0b0-0000-7000-8000-000000000001",
    };

    #[test]
    fn sealed_text_opens_to_the_same_text() {
        let s = sealer();
        let sealed = s.seal_str("Сколько стоит пломба?", AAD);
        assert!(
            !sealed
                .windows(6)
                .any(|w| w == "Сколько".as_bytes().get(..6).unwrap())
        );
        assert_eq!(
            s.open_string(&sealed, AAD).unwrap(),
            "Сколько стоит пломба?"
        );
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let s = sealer();
        assert_ne!(s.seal_str("same", AAD), s.seal_str("same", AAD));
    }

    #[test]
    fn any_flipped_bit_fails_to_open() {
        let s = sealer();
        let sealed = s.seal_str("+7 999 000-11-22", AAD);
        for byte in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[byte] ^= 1 << bit;
                assert!(s.open(&bad, AAD).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_or_column_fails() {
        let s = sealer();
        let sealed = s.seal_str("Анна Петрова", AAD);
        let other_row = Aad {
            row_id: "0190a0b0-0000-7000-8000-000000000002",
            ..AAD
        };
        let other_column = Aad {
            column: "name",
            ..AAD
        };
        let other_table = Aad {
            table: "contacts",
            ..AAD
        };
        assert_eq!(s.open(&sealed, other_row), Err(SealError::Tampered));
        assert_eq!(s.open(&sealed, other_column), Err(SealError::Tampered));
        assert_eq!(s.open(&sealed, other_table), Err(SealError::Tampered));
    }

    #[test]
    fn a_ciphertext_from_another_key_is_named_as_such() {
        let sealed = sealer().seal_str("x", AAD);
        let other = Sealer::new(&[8u8; 32], [9, 9, 9, 9]);
        assert_eq!(
            other.open(&sealed, AAD),
            Err(SealError::OtherKey("01020304".into()))
        );
        // Same key id but a different key (a forged header) still fails authentication.
        let forged = Sealer::new(&[8u8; 32], [1, 2, 3, 4]);
        assert_eq!(forged.open(&sealed, AAD), Err(SealError::Tampered));
    }

    #[test]
    fn truncated_input_is_malformed_not_a_panic() {
        let s = sealer();
        for len in 0..(HEADER + 16) {
            assert_eq!(s.open(&vec![1u8; len], AAD), Err(SealError::Malformed));
        }
    }
}
