//! `frontdesk serve`: build the app (refusing to start on any key or data problem), then serve
//! until SIGTERM/SIGINT.

use super::Failure;
use crate::app::{App, StartupError};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::shutdown::Shutdown;
use std::sync::Arc;

pub async fn run(config: Config) -> Result<(), Failure> {
    let shutdown = Shutdown::from_signals()?;
    let app = App::build(config, Arc::new(SystemClock))
        .await
        .map_err(|e| match e {
            StartupError::Key(_)
            | StartupError::Bind(_)
            | StartupError::Locked(_)
            | StartupError::Db(crate::db::DbError::TooNew { .. }) => Failure::config(e),
            other => Failure::from(other),
        })?;
    app.run_until(shutdown).await?;
    Ok(())
}
