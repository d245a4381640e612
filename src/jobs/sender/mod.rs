//! Delivers queued replies to the gateways.
//!
//! Woken by the writer: a turn hands its reply over right after the commit (no polling);
//! at start-up, and every half minute as a safety net, pending outbox rows are (re)loaded,
//! so a restart resumes the queue. One chat is sent strictly in order (its next message waits
//! for the previous one, retries included); different chats go out concurrently. Transient
//! failures retry with capped exponential backoff and jitter; permanent ones are recorded
//! with their reason. Each gateway instance (one clinic's WhatsApp number) has a circuit
//! breaker: while it is open nothing is sent through it. Per instance, not per provider: one
//! Evolution server carries several clinics' numbers, and a number that is logged out or
//! disconnected answers 5xx while the others work; a breaker shared by all of them would hold
//! every clinic's replies back for as long as one phone is offline.

use crate::clients::gateway::{GatewayClient, SendError};
use crate::clock::SharedClock;
use crate::config::SenderConfig;
use crate::crypto::Keys;
use crate::db::{Db, outbox};
use crate::domain::message::Provider;
use crate::domain::quiet_hours::QuietHours;
use crate::domain::time;
use crate::jobs::early_receipts::EarlyReceipts;
use crate::metrics::Metrics;
use crate::resilience::{Backoff, Breaker};
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod gate;
mod queue;

use gate::{Gate, gate};
pub use queue::{OutgoingSend, SenderHandle, channel};

pub use super::recent_sends::RecentSends;

/// How long the sender waits before writing outcomes again after a failed attempt.
const RECORD_RETRY: Duration = Duration::from_secs(1);
const BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(300));

pub struct Sender {
    db: Db,
    keys: Arc<Keys>,
    clock: SharedClock,
    gateway: Arc<GatewayClient>,
    config: SenderConfig,
    /// The follow-ups' quiet hours, for follow-ups reloaded from the outbox.
    followup_quiet: Option<QuietHours>,
    /// By provider and instance, made on first use.
    breakers: HashMap<Provider, HashMap<String, Arc<Breaker>>>,
    /// `frontdesk_sends_total`, by outcome.
    metrics: Arc<Metrics>,
    recent: Arc<RecentSends>,
    early: Arc<EarlyReceipts>,
    rx: mpsc::UnboundedReceiver<OutgoingSend>,
    chats: HashMap<String, VecDeque<OutgoingSend>>,
    /// Outbox ids queued, in flight, or delivered with the outcome not yet committed: a rescan
    /// skips them. (An id leaves only once its outcome is on disk; until then the outbox row
    /// still reads `pending`, and the rescan would send the reply a second time.)
    known: HashSet<String>,
    /// Outbox ids whose outcome is on disk, remembered for a while after they leave `known`.
    /// A turn hands its reply over only after its commit, and in that gap a rescan can find
    /// the row, send it and settle it; the turn's late hand-over must not send it again.
    settled: RecentSends,
    busy: HashSet<String>,
    ready: VecDeque<String>,
    /// Chats waiting for a retry or for the breaker, by when (monotonic time: timers must not
    /// depend on the calendar clock, which tests freeze and NTP may step).
    delayed: BinaryHeap<Reverse<(Instant, String)>>,
    /// Outcomes not yet written. They are written in one job per burst; at most one such job
    /// runs at a time, and the sender waits for it before stopping, so a delivered message is
    /// never left looking pending (which would send it again after a restart).
    outcomes: Vec<outbox::SendOutcome>,
    /// The job writing outcomes: the outbox ids it settled, or the outcomes back to write again.
    persisting: JoinSet<Result<Vec<String>, Vec<outbox::SendOutcome>>>,
}

enum Outcome {
    Sent(Option<String>),
    Failed(SendError),
    /// A follow-up withdrawn while it waited (the patient wrote, staff took over): not sent,
    /// and its row is already settled.
    Withdrawn,
}

impl Sender {
    #[allow(clippy::too_many_arguments)] // the sender's wiring, called once by the app
    pub fn new(
        db: Db,
        keys: Arc<Keys>,
        clock: SharedClock,
        gateway: Arc<GatewayClient>,
        config: SenderConfig,
        followup_quiet: Option<QuietHours>,
        handle: &SenderHandle,
        rx: mpsc::UnboundedReceiver<OutgoingSend>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            db,
            keys,
            clock,
            gateway,
            config,
            followup_quiet,
            breakers: HashMap::new(),
            metrics,
            recent: handle.recent.clone(),
            early: handle.early.clone(),
            rx,
            chats: HashMap::new(),
            known: HashSet::new(),
            settled: RecentSends::default(),
            busy: HashSet::new(),
            ready: VecDeque::new(),
            delayed: BinaryHeap::new(),
            outcomes: Vec::new(),
            persisting: JoinSet::new(),
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut inflight: JoinSet<(OutgoingSend, Outcome)> = JoinSet::new();
        let mut rescan = tokio::time::interval(self.config.rescan_every);
        loop {
            self.dispatch(&mut inflight);
            self.flush_outcomes();
            let wake = self.next_wake();
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(send) = self.rx.recv() => {
                    self.queue(send);
                    while let Ok(send) = self.rx.try_recv() {
                        self.queue(send);
                    }
                }
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    if let Ok((send, outcome)) = done {
                        self.finish(send, outcome);
                    }
                    while let Some(Ok((send, outcome))) = inflight.try_join_next() {
                        self.finish(send, outcome);
                    }
                }
                Some(done) = self.persisting.join_next(), if !self.persisting.is_empty() => {
                    self.recorded(done);
                }
                _ = rescan.tick() => self.load_pending().await,
                _ = tokio::time::sleep(wake) => self.promote_due(),
            }
        }
        // Let sends already on the wire finish (the HTTP timeouts bound this); the rest stay
        // pending in the outbox for the next start.
        while let Some(done) = inflight.join_next().await {
            if let Ok((send, outcome)) = done {
                self.finish(send, outcome);
            }
        }
        while let Some(done) = self.persisting.join_next().await {
            self.recorded(done);
        }
        self.flush_outcomes();
        while self.persisting.join_next().await.is_some() {}
    }

    /// Writes the outcomes gathered so far in one job, unless one is already being written
    /// (those gathered meanwhile go in the next one). The job is deferred: it joins the next
    /// turn's commit (or commits within `db::MAX_DEFER`) instead of costing a commit per
    /// delivery. Until it commits, a crash would send that reply again after the restart, as
    /// it would with any delivery whose outcome is not yet on disk.
    fn flush_outcomes(&mut self) {
        if self.outcomes.is_empty() || !self.persisting.is_empty() {
            return;
        }
        let outcomes = Arc::new(std::mem::take(&mut self.outcomes));
        let (db, early) = (self.db.clone(), self.early.clone());
        self.persisting.spawn(async move {
            let writing = outcomes.clone();
            match db
                .write_deferred(move |c| {
                    outbox::record_outcomes(c, &writing)?;
                    early.apply(c, &writing)
                })
                .await
            {
                Ok(()) => Ok(outcomes.iter().filter_map(settled_id).collect()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot record send outcomes; will retry");
                    tokio::time::sleep(RECORD_RETRY).await;
                    Err(Arc::unwrap_or_clone(outcomes))
                }
            }
        });
    }

    /// A write of outcomes ended: the sends it settled may be listed by a rescan again (their
    /// rows are no longer pending); outcomes that could not be written go first in the next.
    fn recorded(&mut self, done: Result<Result<Vec<String>, Vec<outbox::SendOutcome>>, JoinError>) {
        match done {
            Ok(Ok(settled)) => {
                for id in settled {
                    self.known.remove(&id);
                    self.settled.remember(&id);
                }
            }
            Ok(Err(mut again)) => {
                again.append(&mut self.outcomes);
                self.outcomes = again;
            }
            // Not written: the rows stay pending and their ids known, so nothing is sent
            // twice before the next start (which sends them again, as after any crash).
            Err(e) => tracing::error!(error = %e, "the job recording send outcomes failed"),
        }
    }

    /// Loads pending outbox rows not already queued (start-up and the periodic safety net).
    pub async fn load_pending(&mut self) {
        let rows = match self.db.read(outbox::list_pending).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the send outbox");
                return;
            }
        };
        for row in rows {
            if self.known.contains(&row.outbox_id) {
                continue;
            }
            match OutgoingSend::open(&row, &self.keys, self.followup_quiet) {
                Some(send) => self.queue(send),
                None => {
                    tracing::error!(outbox_id = %row.outbox_id, "pending send cannot be decrypted; left pending")
                }
            }
        }
    }

    fn queue(&mut self, send: OutgoingSend) {
        if self.settled.contains(&send.outbox_id) || !self.known.insert(send.outbox_id.clone()) {
            return;
        }
        let session = send.session_id.clone();
        let not_before = send.not_before;
        let queue = self.chats.entry(session.clone()).or_default();
        queue.push_back(send);
        if queue.len() == 1 && !self.busy.contains(&session) {
            self.schedule(session, not_before);
        }
    }

    /// Monotonic instant corresponding to a calendar time (now, if it has passed).
    fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        Instant::now() + (at - self.clock.now()).to_std().unwrap_or_default()
    }

    fn schedule(&mut self, session: String, at: Option<DateTime<Utc>>) {
        match at.map(|at| self.instant_at(at)) {
            Some(at) if at > Instant::now() => self.delayed.push(Reverse((at, session))),
            _ => self.ready.push_back(session),
        }
    }

    fn promote_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.delayed.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, session))) = self.delayed.pop() {
                self.ready.push_back(session);
            }
        }
    }

    fn next_wake(&self) -> Duration {
        let Some(Reverse((at, _))) = self.delayed.peek() else {
            return Duration::from_secs(3600);
        };
        at.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    /// The circuit breaker of one gateway instance.
    fn breaker(&mut self, provider: Provider, instance: &str) -> Arc<Breaker> {
        let instances = self.breakers.entry(provider).or_default();
        if let Some(breaker) = instances.get(instance) {
            return breaker.clone();
        }
        let breaker = Arc::new(Breaker::new(
            format!("{} gateway, instance {instance}", provider.as_str()),
            5,
            Duration::from_secs(30),
            self.clock.clone(),
        ));
        instances.insert(instance.to_owned(), breaker.clone());
        breaker
    }

    fn dispatch(&mut self, inflight: &mut JoinSet<(OutgoingSend, Outcome)>) {
        self.promote_due();
        while inflight.len() < self.config.concurrency {
            let Some(session) = self.ready.pop_front() else {
                return;
            };
            if self.busy.contains(&session) {
                continue;
            }
            let Some(send) = self.chats.get(&session).and_then(|q| q.front()).cloned() else {
                continue;
            };
            let breaker = self.breaker(send.provider, &send.instance);
            let admission = match gate(&send, &breaker, self.clock.now()) {
                Gate::WindowClosed => {
                    self.busy.insert(session);
                    let closed = SendError::Permanent(outbox::WINDOW_CLOSED.into());
                    inflight.spawn(async move { (send, Outcome::Failed(closed)) });
                    continue;
                }
                Gate::Wait(until) => {
                    let at = self
                        .instant_at(until)
                        .max(Instant::now() + Duration::from_millis(50));
                    self.delayed.push(Reverse((at, session)));
                    continue;
                }
                Gate::Call(admission) => admission,
            };
            self.busy.insert(session);
            if send.template.is_none() {
                self.recent.remember_text(&send.to, &send.text);
            }
            let (gateway, db) = (self.gateway.clone(), self.db.clone());
            inflight.spawn(async move {
                // A probe that ends up making no call goes back unused.
                let _probe = breaker.hold(admission);
                // Nobody asked for a follow-up: it may have been withdrawn while it waited.
                if send.not_after.is_some() {
                    let id = send.outbox_id.clone();
                    if let Ok(false) = db.read(move |c| outbox::is_pending(c, &id)).await {
                        return (send, Outcome::Withdrawn);
                    }
                }
                let result = match &send.template {
                    Some(t) => {
                        gateway
                            .send_template(send.provider, &send.instance, &send.to, t)
                            .await
                    }
                    None => {
                        gateway
                            .send_text(send.provider, &send.instance, &send.to, &send.text)
                            .await
                    }
                };
                match result {
                    Ok(_) | Err(SendError::Permanent(_)) => breaker.success(),
                    Err(SendError::Transient(_)) => breaker.failure(),
                    // No call was made: `_probe` hands a probe back.
                    Err(SendError::NotConfigured(_)) => {}
                }
                let outcome = match result {
                    Ok(sent) => Outcome::Sent(sent.provider_message_id),
                    Err(e) => Outcome::Failed(e),
                };
                (send, outcome)
            });
        }
    }

    fn finish(&mut self, mut send: OutgoingSend, outcome: Outcome) {
        let session = send.session_id.clone();
        self.busy.remove(&session);
        let now = self.clock.now();
        let at = time::to_db(now);
        let attempts = send.attempts + 1;
        let counted = match &outcome {
            Outcome::Sent(_) => "sent",
            Outcome::Withdrawn => "withdrawn",
            Outcome::Failed(SendError::Transient(_)) if attempts < self.config.max_attempts => {
                "retry"
            }
            Outcome::Failed(_) => "failed",
        };
        self.metrics.sends.inc(&[counted]);
        let done = match outcome {
            Outcome::Withdrawn => {
                // Nothing to record: the withdrawal settled the row.
                self.known.remove(&send.outbox_id);
                true
            }
            Outcome::Sent(provider_id) => {
                if let Some(id) = &provider_id {
                    self.recent.remember(id);
                }
                self.outcomes.push(outbox::SendOutcome::Sent {
                    outbox_id: send.outbox_id.clone(),
                    message_id: send.message_id.clone(),
                    session_id: send.session_id.clone(),
                    provider: send.provider.as_str(),
                    instance: send.instance.clone(),
                    provider_message_id: provider_id,
                    at,
                });
                true
            }
            Outcome::Failed(SendError::Transient(reason))
                if attempts < self.config.max_attempts =>
            {
                let delay = BACKOFF.delay(attempts);
                let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
                tracing::warn!(attempt = attempts, error = %reason, "send failed; will retry");
                self.outcomes.push(outbox::SendOutcome::Retry {
                    outbox_id: send.outbox_id.clone(),
                    attempts,
                    next_at: time::to_db(next),
                    error: reason,
                    at,
                });
                send.attempts = attempts;
                send.not_before = Some(next);
                if let Some(head) = self.chats.get_mut(&session).and_then(|q| q.front_mut()) {
                    *head = send;
                }
                self.delayed
                    .push(Reverse((Instant::now() + delay, session)));
                return;
            }
            Outcome::Failed(e) => {
                let reason = match e {
                    SendError::Transient(r) => format!("gave up after {attempts} attempts: {r}"),
                    other => other.to_string(),
                };
                tracing::warn!(error = %reason, "send failed permanently");
                self.outcomes.push(outbox::SendOutcome::Failed {
                    outbox_id: send.outbox_id.clone(),
                    message_id: send.message_id.clone(),
                    attempts,
                    error: reason,
                    at,
                });
                true
            }
        };
        if done {
            // `send.outbox_id` stays known until its outcome is committed (`recorded`).
            if let Some(queue) = self.chats.get_mut(&session) {
                queue.pop_front();
                match queue.front() {
                    Some(next) => {
                        let not_before = next.not_before;
                        self.schedule(session, not_before);
                    }
                    None => {
                        self.chats.remove(&session);
                    }
                }
            }
        }
    }
}

/// The outbox id an outcome takes out of the queue for good (a retry keeps it queued).
fn settled_id(outcome: &outbox::SendOutcome) -> Option<String> {
    match outcome {
        outbox::SendOutcome::Sent { outbox_id, .. }
        | outbox::SendOutcome::Failed { outbox_id, .. } => Some(outbox_id.clone()),
        outbox::SendOutcome::Retry { .. } => None,
    }
}
