//! Webhook authentication over the raw request: an HMAC-SHA256 body signature
//! (`X-Hub-Signature-256: sha256=<hex>`), an HS256 JWT (Evolution's `jwt_key` option), or a
//! static shared secret. All comparisons are constant-time.
//!
//! HS256 verification is written here rather than taken from `jsonwebtoken`: its RustCrypto
//! backend pulls a second generation of the RustCrypto crates (p256, p384, rsa 0.9) for what
//! is, for us, one HMAC and one `exp` check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Clock skew allowed between the gateway and us when checking `exp`.
pub const JWT_LEEWAY_SECS: i64 = 60;

fn mac(secret: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// Checks `sha256=<hex>` against the HMAC-SHA256 of the exact body bytes.
pub fn verify_body_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let header = header.trim();
    let Some(hex_sig) = header
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256="))
        .map(|_| &header[7..])
    else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&sig).is_ok()
}

/// Computes the header value a signer would send (tests and the bench use it).
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

pub fn secrets_equal(given: &[u8], expected: &[u8]) -> bool {
    given.ct_eq(expected).into()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("not a JWT")]
    Malformed,
    #[error("algorithm is not HS256")]
    Algorithm,
    #[error("bad signature")]
    Signature,
    #[error("no exp claim")]
    NoExpiry,
    #[error("expired")]
    Expired,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<i64>,
}

/// Verifies an HS256 JWT signed with `secret` and unexpired at `now` (unix seconds).
pub fn verify_hs256(secret: &[u8], token: &str, now: i64) -> Result<(), JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| JwtError::Malformed)
    };
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    // Only HS256: never "none", never an algorithm the token chooses for us.
    if header.alg != "HS256" {
        return Err(JwtError::Algorithm);
    }
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&decode(s)?)
        .map_err(|_| JwtError::Signature)?;
    let claims: Claims = serde_json::from_slice(&decode(p)?).map_err(|_| JwtError::Malformed)?;
    let exp = claims.exp.ok_or(JwtError::NoExpiry)?;
    if now > exp + JWT_LEEWAY_SECS {
        return Err(JwtError::Expired);
    }
    Ok(())
}

/// Makes an HS256 JWT with Evolution's claims (tests, the demo and the bench use it).
pub fn sign_hs256(secret: &[u8], iat: i64, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims =
        serde_json::json!({ "iat": iat, "exp": exp, "app": "evolution", "action": "webhook" });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut m = mac(secret);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{header}.{payload}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_fixture_signature_verifies_over_the_raw_bytes_only() {
        let dir = format!("{}/tests/fixtures/wire", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(format!("{dir}/cloud_api_text_message.raw_body.txt")).unwrap();
        let sig: serde_json::Value = serde_json::from_slice(
            &std::fs::read(format!("{dir}/cloud_api_text_message.signature.json")).unwrap(),
        )
        .unwrap();
        let secret = sig["app_secret"].as_str().unwrap().as_bytes();
        let header = sig["header_value"].as_str().unwrap();
        assert!(verify_body_signature(secret, &body, header));
        assert_eq!(sign_body(secret, &body), header);
        // Re-serialised JSON (unescaped Cyrillic) is different bytes: must not verify.
        let reserialised =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap())
                .unwrap();
        assert!(!verify_body_signature(secret, &reserialised, header));
        assert!(!verify_body_signature(b"wrong", &body, header));
        assert!(!verify_body_signature(secret, &body, "sha1=abc"));
        assert!(!verify_body_signature(secret, &body, "sha256=zz"));
    }

    #[test]
    fn jwts_verify_until_they_expire() {
        let t = sign_hs256(b"secret", 1000, 1600);
        assert_eq!(verify_hs256(b"secret", &t, 1000), Ok(()));
        assert_eq!(verify_hs256(b"secret", &t, 1600 + JWT_LEEWAY_SECS), Ok(()));
        assert_eq!(
            verify_hs256(b"secret", &t, 1601 + JWT_LEEWAY_SECS),
            Err(JwtError::Expired)
        );
        assert_eq!(verify_hs256(b"other", &t, 1000), Err(JwtError::Signature));
    }

    #[test]
    fn jwts_with_alg_none_no_exp_or_garbage_are_refused() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"exp":9999999999}"#)
        );
        assert_eq!(verify_hs256(b"s", &none, 0), Err(JwtError::Algorithm));
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iat":1}"#);
        let mut m = mac(b"s");
        m.update(format!("{header}.{payload}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        assert_eq!(
            verify_hs256(b"s", &format!("{header}.{payload}.{sig}"), 0),
            Err(JwtError::NoExpiry)
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify_hs256(b"s", junk, 0),
                Err(JwtError::Malformed),
                "{junk}"
            );
        }
    }

    #[test]
    fn static_secrets_compare_exactly() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }
}
