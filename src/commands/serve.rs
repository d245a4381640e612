//! `frontdesk serve`: build the app (refusing to start on any key or data problem), then serve
//! until SIGTERM/SIGINT.

use super::Failure;
use crate::app::{App, StartupError};
use crate::clients::postgres::PostgresSetupError;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::data_lock::{LockError, Use};
use crate::jobs::followups::FollowupJobError;
use crate::shutdown::Shutdown;
use std::sync::Arc;

pub async fn run(config: Config) -> Result<(), Failure> {
    let shutdown = Shutdown::from_signals()?;
    let app = App::build(config, Arc::new(SystemClock))
        .await
        .map_err(|e| match e {
            // A start that cannot succeed until someone changes the configuration exits 78,
            // which the unit's RestartPreventExitStatus= keeps systemd from retrying every 5 s
            // forever; other failures (a busy port, a full disk) may pass and are retried. So
            // may a restore or upgrade still running after the server's wait for it: the
            // retry waits again, and the service comes up once the command is done.
            StartupError::Locked(LockError::Busy { ref holder, .. })
                if holder.using != Use::Serve =>
            {
                Failure::from(e)
            }
            StartupError::Key(_)
            | StartupError::Bind(_)
            | StartupError::Locked(_)
            | StartupError::Languages(_)
            | StartupError::FollowupRule(_)
            | StartupError::Followups(FollowupJobError::Schedule(_))
            | StartupError::Sync(PostgresSetupError::Url(_) | PostgresSetupError::Tls(_))
            | StartupError::Db(crate::db::DbError::TooNew { .. }) => Failure::config(e),
            other => Failure::from(other),
        })?;
    app.run_until(shutdown).await?;
    Ok(())
}
