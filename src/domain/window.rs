//! WhatsApp's customer-service window: a business may send free text only within 24 hours of
//! the patient's last message; after that only an approved template. A queued message is not
//! yet delivered, so the front desk stops a margin short of the end.

use chrono::{DateTime, Duration, Utc};

pub const WINDOW: Duration = Duration::hours(24);
/// Room for the sender's retries inside the window.
pub const MARGIN: Duration = Duration::minutes(15);

/// Whether free text queued at `at` still goes out inside the window.
pub fn is_open(last_inbound: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    last_inbound.is_some_and(|last| at + MARGIN < last + WINDOW)
}

/// When free text to a chat stops being deliverable: 24 hours after the patient's last
/// message. Unknown (`None`) means the sender does not hold the message back.
pub fn closes_at(last_inbound: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    last_inbound.map(|last| last + WINDOW)
}

/// The longest delay after a patient's message at which free text can still be queued.
pub fn longest_delay() -> Duration {
    WINDOW - MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_closes_a_margin_before_24_hours() {
        let last = Utc::now();
        assert!(is_open(Some(last), last + Duration::hours(23)));
        assert!(is_open(
            Some(last),
            last + longest_delay() - Duration::seconds(1)
        ));
        assert!(!is_open(Some(last), last + longest_delay()));
        assert!(!is_open(None, last));
    }
}
