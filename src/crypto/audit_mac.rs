//! MACs of the audit chain. Each entry's MAC covers its fields and the previous entry's MAC;
//! the head MAC covers the last sequence number and MAC, so cutting the tail is detected too.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const MAC_LEN: usize = 32;

/// The MACed fields of one audit entry.
#[derive(Debug, Clone, Copy)]
pub struct AuditFields<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: Option<&'a str>,
    pub detail: &'a str,
}

pub struct AuditMac {
    key: [u8; 32],
}

impl std::fmt::Debug for AuditMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditMac([redacted])")
    }
}

impl Drop for AuditMac {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl AuditMac {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    fn entry_state(&self, prev_mac: &[u8], e: &AuditFields<'_>) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(b"frontdesk-audit-entry-v1");
        mac.update(&e.seq.to_be_bytes());
        for field in [
            e.id,
            e.at,
            e.actor,
            e.action,
            e.subject.unwrap_or("\u{0}none"),
            e.detail,
        ] {
            // Length-prefixed, so moving bytes between fields changes the MAC.
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac.update(prev_mac);
        mac
    }

    pub fn entry(&self, prev_mac: &[u8], e: &AuditFields<'_>) -> [u8; MAC_LEN] {
        self.entry_state(prev_mac, e).finalize().into_bytes().into()
    }

    /// Constant-time check of an entry's stored MAC.
    pub fn verify_entry(&self, prev_mac: &[u8], e: &AuditFields<'_>, mac: &[u8]) -> bool {
        self.entry_state(prev_mac, e).verify_slice(mac).is_ok()
    }

    fn head_state(&self, seq: i64, last_mac: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac();
        mac.update(b"frontdesk-audit-head-v1");
        mac.update(&seq.to_be_bytes());
        mac.update(last_mac);
        mac
    }

    pub fn head(&self, seq: i64, last_mac: &[u8]) -> [u8; MAC_LEN] {
        self.head_state(seq, last_mac)
            .finalize()
            .into_bytes()
            .into()
    }

    pub fn verify_head(&self, seq: i64, last_mac: &[u8], mac: &[u8]) -> bool {
        self.head_state(seq, last_mac).verify_slice(mac).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(seq: i64, action: &str) -> AuditFields<'_> {
        AuditFields {
            seq,
            id: "id",
            at: "2026-01-01T00:00:00.000000Z",
            actor: "system",
            action,
            subject: None,
            detail: "{}",
        }
    }

    #[test]
    fn mac_depends_on_every_field_and_the_previous_mac() {
        let m = AuditMac::new([3; 32]);
        let base = m.entry(&[0; 32], &fields(1, "startup"));
        assert!(m.verify_entry(&[0; 32], &fields(1, "startup"), &base));
        assert!(!m.verify_entry(&[1; 32], &fields(1, "startup"), &base));
        assert!(!m.verify_entry(&[0; 32], &fields(2, "startup"), &base));
        assert!(!m.verify_entry(&[0; 32], &fields(1, "startuq"), &base));
        let other_key = AuditMac::new([4; 32]);
        assert!(!other_key.verify_entry(&[0; 32], &fields(1, "startup"), &base));
    }

    #[test]
    fn bytes_cannot_move_between_fields() {
        let m = AuditMac::new([3; 32]);
        let a = AuditFields {
            actor: "ab",
            action: "c",
            ..fields(1, "")
        };
        let b = AuditFields {
            actor: "a",
            action: "bc",
            ..fields(1, "")
        };
        assert_ne!(m.entry(&[0; 32], &a), m.entry(&[0; 32], &b));
    }
}
