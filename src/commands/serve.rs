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
    config
        .check_services()
        .map_err(|e| Failure::config(anyhow::anyhow!("configuration error: {e}")))?;
    let shutdown = Shutdown::from_signals()?;
    let app = tokio::select! {
        built = App::build(config, Arc::new(SystemClock)) => built.map_err(startup_failure)?,
        // Asked to stop while starting (waiting for a restore to finish, say): nothing has
        // been served yet, and nothing is.
        () = shutdown.graceful.cancelled() => {
            tracing::info!("stopped before the start finished");
            return Ok(());
        }
    };
    app.run_until(shutdown).await?;
    Ok(())
}

/// A start that cannot succeed until someone changes the configuration exits 78, which the
/// unit's RestartPreventExitStatus= keeps systemd from retrying every 5 s forever; other
/// failures (a busy port, a full disk) may pass and are retried. So may a restore or upgrade
/// still running after the server's wait for it: the retry waits again, and the service
/// comes up once the command is done.
fn startup_failure(e: StartupError) -> Failure {
    match e {
        StartupError::Locked(LockError::Busy { ref holder, .. }) if holder.using != Use::Serve => {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_lock::Holder;

    fn busy(using: Use) -> StartupError {
        StartupError::Locked(LockError::Busy {
            dir: "/var/lib/frontdesk".into(),
            holder: Holder {
                pid: Some(4242),
                using,
            },
        })
    }

    #[test]
    fn another_server_is_a_start_not_to_retry_but_a_command_outlasting_the_wait_is() {
        assert_eq!(
            startup_failure(busy(Use::Serve)).code,
            super::super::EX_CONFIG
        );
        for using in [Use::Restore, Use::Upgrade] {
            let code = startup_failure(busy(using)).code;
            assert_ne!(code, super::super::EX_CONFIG, "{using:?}");
            assert_ne!(code, 0, "{using:?}");
        }
    }
}
