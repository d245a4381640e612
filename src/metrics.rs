//! Counters and one latency histogram, rendered as Prometheus text on `/metrics`. Label sets
//! are small and fixed (provider, route, outcome); never a phone, name or text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct CounterVec {
    values: Mutex<BTreeMap<Vec<&'static str>, u64>>,
}

impl CounterVec {
    pub fn inc(&self, labels: &[&'static str]) {
        self.add(labels, 1);
    }

    pub fn add(&self, labels: &[&'static str], n: u64) {
        *self
            .values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(labels.to_vec())
            .or_default() += n;
    }

    pub fn get(&self, labels: &[&'static str]) -> u64 {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(labels)
            .copied()
            .unwrap_or(0)
    }

    fn render(&self, out: &mut String, name: &str, help: &str, label_names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (labels, v) in self.values.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let pairs: Vec<String> = label_names
                .iter()
                .zip(labels)
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {v}", pairs.join(","));
        }
    }
}

/// Latency histogram in microseconds.
pub struct Histogram {
    bounds_us: &'static [u64],
    buckets: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

const LATENCY_BOUNDS_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000, 1_000_000,
];

impl Default for Histogram {
    fn default() -> Self {
        Self {
            bounds_us: LATENCY_BOUNDS_US,
            buckets: LATENCY_BOUNDS_US
                .iter()
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn observe_us(&self, us: u64) {
        if let Some(i) = self.bounds_us.iter().position(|b| us <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds_us.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e6
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    /// provider, outcome (accepted, unauthorized, bad_request, unavailable)
    pub webhooks: CounterVec,
    /// provider, kind of event (patient, staff, status, ignored, duplicate)
    pub events: CounterVec,
    /// route of each reply
    pub replies: CounterVec,
    /// outcome of each send attempt (sent, retry, failed)
    pub sends: CounterVec,
    /// webhook received → reply queued (committed)
    pub turn_latency: Histogram,
}

impl Metrics {
    /// Renders the counters; `gauges` are figures computed at scrape time.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        self.webhooks.render(
            &mut out,
            "frontdesk_webhooks_total",
            "Webhook requests by provider and outcome.",
            &["provider", "outcome"],
        );
        self.events.render(
            &mut out,
            "frontdesk_events_total",
            "Gateway events by provider and kind.",
            &["provider", "kind"],
        );
        self.replies.render(
            &mut out,
            "frontdesk_replies_total",
            "Replies queued by route.",
            &["route"],
        );
        self.sends.render(
            &mut out,
            "frontdesk_sends_total",
            "Queued sends by outcome: sent, retry, failed (including those never sent, as past \
             WhatsApp's window), withdrawn.",
            &["outcome"],
        );
        self.turn_latency.render(
            &mut out,
            "frontdesk_turn_seconds",
            "Webhook received to reply queued.",
        );
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.webhooks.inc(&["evolution", "accepted"]);
        m.webhooks.inc(&["evolution", "accepted"]);
        m.turn_latency.observe_us(300);
        let text = m.render(&[("frontdesk_outbox_pending", "Sends waiting.", 3.0)]);
        assert!(
            text.contains(
                "frontdesk_webhooks_total{provider=\"evolution\",outcome=\"accepted\"} 2"
            )
        );
        assert!(text.contains("frontdesk_turn_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("frontdesk_outbox_pending 3"));
    }
}
