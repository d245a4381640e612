//! One batch: read the oldest pending entries, plan them (each row once, parents first), read
//! and encode the rows' current state, upsert table by table, then settle in one write what the
//! central side confirmed. A table whose upsert is refused is split in halves until the refused
//! rows are alone; those are quarantined with the reason and the rest go through. A transient
//! failure stops the batch: what was confirmed is settled, the rest is sent again later.

use super::{Step, SyncWorker, monitor::now_ms};
use crate::clients::sync_target::SyncError;
use crate::db::{DbError, sync};
use crate::domain::sync_table::SyncedTable;
use crate::domain::time;
use crate::resilience::{Admission, BreakerState};
use crate::services::sync::{encode_row, json_array, plan};
use std::collections::VecDeque;

/// A row ready to send, with the outbox entries it settles.
struct Encoded {
    seqs: Vec<i64>,
    json: String,
}

struct Prepared {
    groups: Vec<(&'static SyncedTable, Vec<Encoded>)>,
    /// Entries with nothing to send (the row is gone): settled as synced.
    nothing_to_send: Vec<i64>,
    /// Entries refused before sending (unknown table, a row that cannot be encoded).
    refused: Vec<(i64, String)>,
    read: usize,
    last_seq: i64,
}

/// What sending one table's rows achieved.
#[derive(Default)]
struct Sent {
    synced: Vec<i64>,
    quarantined: Vec<(i64, String)>,
    /// Rows (not entries) that went through, and that were refused.
    rows_synced: usize,
    rows_quarantined: usize,
    failure: Option<SyncError>,
}

impl SyncWorker {
    pub async fn run_once(&mut self) -> Step {
        if let BreakerState::Open { until } = self.d.breaker.state()
            && self.d.clock.now() < until
        {
            return Step::BreakerOpen(until);
        }
        let prepared = match self.prepare().await {
            Ok(Some(p)) => p,
            Ok(None) => return Step::Idle,
            Err(e) => return self.db_trouble(&e),
        };
        let mut synced = prepared.nothing_to_send;
        let mut rows_quarantined = prepared.refused.len();
        let mut quarantined = prepared.refused;
        let mut rows_synced = 0;
        let mut failure = None;
        if !prepared.groups.is_empty() {
            if let Admission::Wait(until) = self.d.breaker.admit() {
                return Step::BreakerOpen(until);
            }
            for (table, rows) in &prepared.groups {
                let sent = self.send_table(table, rows).await;
                synced.extend(sent.synced);
                quarantined.extend(sent.quarantined);
                rows_synced += sent.rows_synced;
                rows_quarantined += sent.rows_quarantined;
                if sent.failure.is_some() {
                    failure = sent.failure;
                    break;
                }
            }
            // The breaker hears the remote outcome now, whatever happens locally next: an
            // admitted probe that is never reported would leave it half-open for good.
            match failure {
                None => self.d.breaker.success(),
                Some(_) => self.d.breaker.failure(),
            }
        }
        let (ok, bad) = (synced.clone(), quarantined.clone());
        let settle = self
            .d
            .db
            .write(move |c| sync::settle(c, &ok, &bad, now_ms()))
            .await;
        if let Err(e) = settle {
            // Confirmed rows stay pending and are sent again: upserts make that harmless.
            return self.db_trouble(&e);
        }
        self.after_seq = match failure
            .as_ref()
            .and_then(|_| first_unsettled(&prepared.groups, &synced, &quarantined))
        {
            // Everything from the first row left unsent is read again next time.
            Some(first) => self.after_seq.max(first - 1),
            None => prepared.last_seq,
        };
        let now = time::to_db(self.d.clock.now());
        // One line per batch, however many poison rows it held: `frontdesk sync status` lists
        // each of them with its reason.
        if let Some((_, reason)) = quarantined.first() {
            tracing::warn!(
                rows = rows_quarantined,
                first_reason = %reason,
                "sync quarantined rows the central database refused; see `frontdesk sync status`"
            );
        }
        self.d.monitor.update(|s| {
            s.synced_total += rows_synced as u64;
            s.quarantined_total += rows_quarantined as u64;
        });
        match failure {
            None => {
                self.failures = 0;
                self.log.success();
                self.d.monitor.update(|s| {
                    s.last_success_at = Some(now);
                    s.last_error = None;
                });
                Step::Synced {
                    rows: rows_synced,
                    quarantined: rows_quarantined,
                    more: prepared.read >= self.d.config.batch_size,
                }
            }
            Some(e) => {
                self.failures += 1;
                let message = match &e {
                    SyncError::Misconfigured(m) => format!("central database set up wrong: {m}"),
                    other => other.to_string(),
                };
                self.log.failure(&message);
                self.d.monitor.update(|s| {
                    s.failures_total += 1;
                    s.last_error = Some(message);
                    s.last_error_at = Some(now);
                });
                Step::Backoff(match e {
                    SyncError::Retryable {
                        retry_after: Some(wait),
                        ..
                    } => wait,
                    _ => self.backoff.delay(self.failures),
                })
            }
        }
    }

    /// Reads the next run of pending entries and encodes the rows they name, in one go on a
    /// read connection (off the async threads). `None`: nothing is pending.
    async fn prepare(&self) -> Result<Option<Prepared>, DbError> {
        let (after, limit) = (self.after_seq, self.d.config.batch_size);
        let keys = self.d.keys.clone();
        let plaintext = self.plaintext.clone();
        self.d
            .db
            .read(move |c| {
                let pending = sync::list_pending(c, after, limit)?;
                if pending.is_empty() {
                    return Ok(None);
                }
                let plan = plan(&pending);
                let mut out = Prepared {
                    groups: Vec::with_capacity(plan.groups.len()),
                    nothing_to_send: Vec::new(),
                    refused: plan
                        .unknown
                        .iter()
                        .map(|seq| (*seq, "not a synced table".to_owned()))
                        .collect(),
                    read: pending.len(),
                    last_seq: plan.last_seq,
                };
                for group in plan.groups {
                    let mut rows = Vec::with_capacity(group.rows.len());
                    for row in group.rows {
                        match sync::find_row(c, group.table, &row.row_id)? {
                            None => out.nothing_to_send.extend(row.seqs),
                            Some(values) => {
                                match encode_row(group.table, &values, &plaintext, &keys.phi) {
                                    Ok(json) => rows.push(Encoded {
                                        seqs: row.seqs,
                                        json,
                                    }),
                                    Err(e) => out
                                        .refused
                                        .extend(row.seqs.into_iter().map(|s| (s, e.to_string()))),
                                }
                            }
                        }
                    }
                    if !rows.is_empty() {
                        out.groups.push((group.table, rows));
                    }
                }
                Ok(Some(out))
            })
            .await
    }

    /// Upserts one table's rows; refused ones are isolated by halving until alone.
    async fn send_table(&self, table: &'static SyncedTable, rows: &[Encoded]) -> Sent {
        let mut sent = Sent::default();
        let mut work: VecDeque<std::ops::Range<usize>> = VecDeque::new();
        work.push_back(0..rows.len());
        while let Some(range) = work.pop_front() {
            let part = &rows[range.clone()];
            let body = json_array(part.iter().map(|r| r.json.as_str()));
            match self.d.target.upsert(table, &body).await {
                Ok(()) => {
                    sent.rows_synced += part.len();
                    sent.synced
                        .extend(part.iter().flat_map(|r| r.seqs.iter().copied()));
                }
                Err(SyncError::Rejected(reason)) if part.len() == 1 => {
                    sent.rows_quarantined += 1;
                    sent.quarantined.extend(
                        part[0]
                            .seqs
                            .iter()
                            .map(|s| (*s, format!("{}: {reason}", table.name))),
                    );
                }
                Err(SyncError::Rejected(_)) => {
                    let mid = range.start + part.len() / 2;
                    work.push_front(mid..range.end);
                    work.push_front(range.start..mid);
                }
                Err(e) => {
                    sent.failure = Some(e);
                    break;
                }
            }
        }
        sent
    }
}

/// The lowest seq of the batch left unsettled after a failure.
fn first_unsettled(
    groups: &[(&'static SyncedTable, Vec<Encoded>)],
    synced: &[i64],
    quarantined: &[(i64, String)],
) -> Option<i64> {
    let settled: std::collections::HashSet<i64> = synced
        .iter()
        .copied()
        .chain(quarantined.iter().map(|(s, _)| *s))
        .collect();
    groups
        .iter()
        .flat_map(|(_, rows)| rows.iter().flat_map(|r| r.seqs.iter().copied()))
        .filter(|s| !settled.contains(s))
        .min()
}
