//! Gateway payloads in, one inbound model out. Parsing only: no storage, no sends.
//! A body that can never be valid is a [`ParseError`] (the webhook answers 400); an event we
//! do not act on is `InboundEvent::Ignored` (answered 200, so the gateway does not retry).

pub mod cloud;
pub mod evolution;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("body is not valid JSON")]
    NotJson,
    #[error("{0}")]
    Invalid(&'static str),
}

/// A unix timestamp as gateways send it: a number, a numeric string, or protobuf's
/// `{low, high}` Long (Evolution v1).
pub(crate) fn unix_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let secs = match v? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        Value::Object(o) => o.get("low")?.as_i64()?,
        _ => return None,
    };
    // Milliseconds sneak in from some gateway builds; WhatsApp itself uses seconds.
    let secs = if secs > 100_000_000_000 {
        secs / 1000
    } else {
        secs
    };
    Utc.timestamp_opt(secs, 0).single()
}

/// A non-empty, trimmed string field.
pub(crate) fn text_field(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
pub(crate) mod fixtures {
    pub fn wire(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/wire/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}
