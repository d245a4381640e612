//! Key material and what is done with it: sealing PHI fields (AES-256-GCM, AAD bound to
//! table, column and row), the keyed blind index for phone lookups, and the audit-log MACs.
//! Nothing in here logs, and no error message contains key material.

pub mod audit_mac;
pub mod blind;
pub mod keys;
pub mod seal;
pub mod webhook;

pub use audit_mac::{AuditFields, AuditMac};
pub use blind::BlindIndex;
pub use keys::{Fingerprints, KeyError, Keys};
pub use seal::{Aad, SealError, Sealer};

/// Fills a buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS RNG failing is a broken machine; nothing sensible can continue without it.
    getrandom::fill(&mut out).unwrap_or_else(|e| panic!("operating system RNG failed: {e}"));
    out
}
