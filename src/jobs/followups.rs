//! The follow-up scheduler. tokio-cron-scheduler decides when (`followups.schedule`); each tick
//! only wakes this loop, which runs ticks one at a time: `run_once` claims the due follow-ups in
//! one write transaction (see `services::followups::tick`) and, after the commit, hands their
//! messages to the sender. At start-up one tick runs at once, which is how follow-ups missed
//! while the process was down go out (or expire) exactly once. Started only by `app`.

use crate::cache::ClinicDirectory;
use crate::clock::SharedClock;
use crate::config::FollowupsConfig;
use crate::crypto::{Aad, Keys};
use crate::db::{Db, DbError};
use crate::domain::clinic::ClinicFacts;
use crate::domain::window;
use crate::jobs::sender::{OutgoingSend, SenderHandle};
use crate::router::Router;
use crate::services::followups::{Policy, TickDeps, TickReport, tick};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// Ticks run back to back while batches come back full; this bounds one wake-up.
const MAX_BATCHES: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum FollowupJobError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("followups.schedule {0:?} is not a cron line with seconds (\"*/30 * * * * *\")")]
    Schedule(String),
    #[error("the follow-up scheduler could not start: {0}")]
    Scheduler(String),
}

pub struct FollowupDeps {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub router: Arc<Router>,
    pub clinics: Arc<ClinicDirectory>,
    pub sender: SenderHandle,
    pub clock: SharedClock,
    pub config: FollowupsConfig,
}

/// What one `run_once` did, in counts (never message contents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickSummary {
    pub sent: usize,
    pub postponed: usize,
    pub cancelled: usize,
    pub expired: usize,
    pub failed: usize,
}

pub struct FollowupJob {
    deps: FollowupDeps,
    policy: Arc<Policy>,
}

impl FollowupJob {
    /// Checks the cron line now, so a bad one stops start-up with a message naming the key.
    pub fn new(deps: FollowupDeps) -> Result<FollowupJob, FollowupJobError> {
        cron_job(&deps.config.schedule, Arc::new(Notify::new()))?;
        let policy = Arc::new(Policy::from_config(&deps.config));
        Ok(FollowupJob { deps, policy })
    }

    /// One tick at `now`: claims what is due (in batches) and queues the messages.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<TickSummary, DbError> {
        let mut summary = TickSummary::default();
        for _ in 0..MAX_BATCHES {
            let report = self.claim(now).await?;
            summary.sent += report.sends.len();
            summary.postponed += report.postponed;
            summary.cancelled += report.cancelled;
            summary.expired += report.expired;
            summary.failed += report.failed;
            let more = report.batch_full;
            self.enqueue(report);
            if !more {
                break;
            }
        }
        if summary != TickSummary::default() {
            tracing::info!(
                sent = summary.sent,
                postponed = summary.postponed,
                cancelled = summary.cancelled,
                expired = summary.expired,
                failed = summary.failed,
                "follow-ups processed"
            );
        }
        Ok(summary)
    }

    async fn claim(&self, now: DateTime<Utc>) -> Result<TickReport, DbError> {
        let (keys, router, clinics) = (
            self.deps.keys.clone(),
            self.deps.router.clone(),
            self.deps.clinics.clone(),
        );
        let policy = self.policy.clone();
        let limit = self.deps.config.max_per_tick;
        self.deps
            .db
            .write(move |c| {
                let lookup =
                    |id: &str| -> Option<Arc<ClinicFacts>> { clinics.get(id).map(|c| c.facts) };
                let deps = TickDeps {
                    phi: &keys.phi,
                    router: &router,
                    clinics: &lookup,
                    policy: &policy,
                    limit,
                };
                tick(c, &deps, now)
            })
            .await
    }

    /// Hands committed sends to the sender. One whose chat cannot be opened stays pending in
    /// the outbox (the sender's rescan reports it); nothing is lost.
    fn enqueue(&self, report: TickReport) {
        for send in report.sends {
            let aad = Aad::new("conversation_sessions", "chat", &send.session_id);
            let Ok(to) = self.deps.keys.phi.open_string(&send.chat_sealed, aad) else {
                tracing::error!(followup_id = %send.followup_id, "follow-up chat cannot be decrypted; left in the outbox");
                continue;
            };
            self.deps.sender.enqueue(OutgoingSend {
                outbox_id: send.outbox_id,
                message_id: send.message_id,
                session_id: send.session_id,
                provider: send.provider,
                instance: send.instance,
                to,
                text: send.text,
                not_after: window::closes_at(send.last_inbound_at),
                template: send.template,
                attempts: 0,
                not_before: None,
                quiet: send.quiet,
            });
        }
    }

    /// Runs a catch-up tick at once, then one per cron tick, until cancelled.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        if !self.deps.config.enabled {
            tracing::info!("follow-ups are disabled (followups.enabled = false)");
            return;
        }
        let wake = Arc::new(Notify::new());
        let mut scheduler = match start_scheduler(&self.deps.config.schedule, wake.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "follow-ups will not be sent");
                return;
            }
        };
        let mut failures: u64 = 0;
        loop {
            match self.run_once(self.deps.clock.now()).await {
                Ok(_) if failures > 0 => {
                    tracing::info!(failed_ticks = failures, "follow-up ticks recovered");
                    failures = 0;
                }
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failed_ticks = failures, "follow-up tick failed; will retry");
                    }
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = wake.notified() => {}
            }
        }
        if let Err(e) = scheduler.shutdown().await {
            tracing::warn!(error = ?e, "follow-up scheduler did not stop cleanly");
        }
    }
}

fn cron_job(schedule: &str, wake: Arc<Notify>) -> Result<Job, FollowupJobError> {
    Job::new_async(schedule, move |_, _| {
        let wake = wake.clone();
        Box::pin(async move { wake.notify_one() })
    })
    .map_err(|_| FollowupJobError::Schedule(schedule.to_owned()))
}

async fn start_scheduler(
    schedule: &str,
    wake: Arc<Notify>,
) -> Result<JobScheduler, FollowupJobError> {
    let failed =
        |e: tokio_cron_scheduler::JobSchedulerError| FollowupJobError::Scheduler(format!("{e:?}"));
    let scheduler = JobScheduler::new().await.map_err(failed)?;
    scheduler
        .add(cron_job(schedule, wake)?)
        .await
        .map_err(failed)?;
    scheduler.start().await.map_err(failed)?;
    Ok(scheduler)
}
