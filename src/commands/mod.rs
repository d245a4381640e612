//! One file per subcommand. Each returns `Ok` or a [`Failure`] carrying the exit code.

mod audit;
mod backup;
mod bench;
mod bench_sync;
mod demo;
mod followups;
pub mod init;
mod keys;
mod llm;
mod migrate;
pub mod prices;
mod restore;
mod sandbox;
mod serve;
mod sync;
#[cfg(test)]
mod tests;

use crate::cli::{
    AuditCommand, Command, FollowupsCommand, KeysCommand, LlmCommand, PricesCommand, SyncCommand,
};
use crate::config::Config;

/// sysexits' EX_CONFIG: the configuration or the keys need fixing; retrying will not help.
pub const EX_CONFIG: u8 = 78;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Self {
            code,
            error: error.into(),
        }
    }

    pub fn config(error: impl Into<anyhow::Error>) -> Self {
        Self::new(EX_CONFIG, error)
    }

    /// The error and its causes on one line, each said once: many errors here carry their
    /// cause's text already (`"sync: {0}"`), which `{:#}` would print a second time.
    pub fn message(&self) -> String {
        let mut text = String::new();
        for cause in self.error.chain() {
            let part = cause.to_string();
            if text.contains(&part) {
                continue;
            }
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        text
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Self::new(1, error)
    }
}

/// Opens the database for an admin command (see [`migration_lock`]).
pub(crate) fn open_db(config: &Config) -> Result<crate::db::Db, Failure> {
    let _migrating = migration_lock(config)?;
    crate::db::Db::open_existing(&config.db_path()).map_err(Failure::config)
}

/// Admin commands run beside the server: reads and ordinary writes are safe there (SQLite's
/// own locking orders them), a schema change is not. A newer binary's command would migrate
/// the database under an older server still running, whose next writes would then fail. So a
/// command that finds migrations pending first takes the data dir, as `serve` does, and holds
/// it while the database is opened (and migrated); with the server running it refuses and
/// says so, leaving the database as it was. Without pending migrations nothing is locked.
pub(crate) fn migration_lock(
    config: &Config,
) -> Result<Option<crate::data_lock::DataDirLock>, Failure> {
    let path = config.db_path();
    let version = crate::db::Db::schema_version(&path).map_err(Failure::config)?;
    let latest = crate::db::migrate::latest();
    if !path.exists() || version >= latest {
        return Ok(None);
    }
    use crate::data_lock::{DataDirLock, LockError, Use};
    match DataDirLock::acquire(&config.data_dir, Use::Upgrade) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Busy { holder, .. }) if holder.using == Use::Serve => {
            Err(Failure::config(anyhow::anyhow!(
                "{} is at schema version {version} and this frontdesk would upgrade it to \
                 {latest}, but the running service ({holder}) is an older version; nothing \
                 was changed. Install this binary as the service's and restart the service \
                 (sudo systemctl restart frontdesk), which upgrades the database as it \
                 starts, then run this again",
                path.display()
            )))
        }
        Err(e) => Err(Failure::config(e)),
    }
}

pub use bench::{BenchArgs, QUESTIONS as BENCH_QUESTIONS};
pub use bench_sync::BenchSyncArgs;

pub async fn run(command: Command, config: Config) -> Result<(), Failure> {
    match command {
        Command::Init => init::run(config).await,
        Command::Serve { .. } => serve::run(config).await,
        Command::Migrate => migrate::run(config).await,
        Command::Keys {
            command: KeysCommand::Check,
        } => keys::check(config).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => audit::verify(config).await,
        Command::Prices {
            command: PricesCommand::Import { file },
        } => prices::import(config, &file).await,
        Command::Prices {
            command: PricesCommand::List,
        } => prices::list(config).await,
        Command::Followups { command } => match command {
            FollowupsCommand::List { all } => followups::list(config, all).await,
            FollowupsCommand::Add(args) => followups::add(config, args).await,
            FollowupsCommand::Cancel { id } => followups::cancel(config, &id).await,
        },
        Command::Llm {
            command: LlmCommand::Models,
        } => llm::models(config).await,
        Command::Backup { to } => backup::run(config, &to).await,
        Command::Restore { from } => restore::run(config, &from).await,
        Command::Demo => demo::run().await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchSync(args) => bench_sync::run(args).await,
        Command::Sync { command } => match command {
            SyncCommand::Status { json } => sync::status(config, json).await,
            SyncCommand::Schema { apply } => sync::schema(config, apply).await,
            SyncCommand::Requeue => sync::requeue(config).await,
        },
    }
}
