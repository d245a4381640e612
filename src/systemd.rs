//! systemd integration (`Type=notify`): readiness, stopping, and the watchdog. Every call is
//! a no-op when not started by systemd (no `NOTIFY_SOCKET`).

use sd_notify::NotifyState;
use std::time::Duration;

pub fn notify_ready() {
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// Asks for `more` from now to finish starting (systemd's start timeout only ever grows).
pub fn extend_start(more: Duration) {
    let usec = u32::try_from(more.as_micros()).unwrap_or(u32::MAX);
    let _ = sd_notify::notify(&[NotifyState::ExtendTimeoutUsec(usec)]);
}

/// What `systemctl status` shows under the unit while the service is not ready yet.
pub fn notify_status(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Status(status)]);
}

pub fn notify_stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

pub fn notify_watchdog() {
    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
}

/// The watchdog interval systemd expects pings within, if it set one for us.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}
