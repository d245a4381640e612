//! The command line. Each subcommand lives in `commands/`; this file only declares them.

use crate::config::Overrides;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "frontdesk",
    version,
    about = "WhatsApp front desk for medical and dental clinics"
)]
pub struct Cli {
    /// Config file (TOML). Default: <data dir>/frontdesk.toml if it exists. Env: FRONTDESK_CONFIG
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding frontdesk.db (and by default the keys). Env: FRONTDESK_DATA_DIR
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory holding the key files. Default: <data dir>/keys. Env: FRONTDESK_KEYS_DIR
    #[arg(long, global = true, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data dir, database, keys and a starter config. Keeps anything that exists.
    Init,
    /// Try it: a throwaway clinic with a local gateway; chat as a patient in the terminal.
    Demo,
    /// Measure latency and throughput on a throwaway instance; prints JSON.
    Bench(crate::commands::BenchArgs),
    /// Run the server.
    Serve {
        /// Address to listen on. Env: FRONTDESK_LISTEN (default 127.0.0.1:8080)
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The clinic's price list.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The copy of the data kept in a central Supabase or PostgreSQL.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
    /// Measure draining a sync backlog into PostgreSQL; prints JSON.
    #[command(hide = true)]
    BenchSync(crate::commands::BenchSyncArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Check that every key is present, well-formed, private and matches the database.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// Replace the price list with a CSV file: code,name,price,currency,aliases (aliases
    /// separated by |). All or nothing: a bad row is reported with its line number.
    Import { file: PathBuf },
    /// Print the active price list.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the whole MAC chain; exits non-zero and names the first bad entry.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Backlog per table, oldest pending age, breaker state, last error, quarantined rows.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the central SQL (schemas core and healthcare) to apply before turning sync on.
    Schema {
        /// Apply it to SYNC_POSTGRES_URL instead of printing it.
        #[arg(long)]
        apply: bool,
    },
    /// Queue the quarantined rows again, once what the central side refused is fixed.
    Requeue,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            keys_dir: self.keys_dir.clone(),
            listen: match self.command {
                Command::Serve { listen } => listen,
                _ => None,
            },
            config_may_be_missing: matches!(self.command, Command::Init),
        }
    }
}
