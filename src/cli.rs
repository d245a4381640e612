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
    /// Messages the front desk sends later: visit reminders, check-ins, nudges.
    Followups {
        #[command(subcommand)]
        command: FollowupsCommand,
    },
    /// The LLM model registry.
    Llm {
        #[command(subcommand)]
        command: LlmCommand,
    },
    /// Write a consistent copy of the database to FILE (safe while the server runs).
    Backup {
        #[arg(value_name = "FILE")]
        to: PathBuf,
    },
    /// Put a backup in place of the database (stop the server first). The backup is
    /// checked first (keys, audit chain); the database it replaces is kept beside it.
    Restore {
        #[arg(value_name = "FILE")]
        from: PathBuf,
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
pub enum FollowupsCommand {
    /// Show scheduled follow-ups, due times in clinic time, phone numbers masked.
    List {
        /// Also show the latest sent, cancelled, expired and failed ones.
        #[arg(long)]
        all: bool,
    },
    /// Schedule a follow-up in a chat (the patient must have written to the clinic before).
    Add(FollowupAddArgs),
    /// Cancel a scheduled follow-up.
    Cancel {
        /// The id `followups list` shows.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct FollowupAddArgs {
    /// The patient's phone number, e.g. "+7 999 000-11-22".
    #[arg(long, value_name = "PHONE")]
    pub chat: String,
    /// Send after this long: 30m, 2h, 1d, 1h30m.
    #[arg(
        long = "in",
        value_name = "SPAN",
        required_unless_present = "at",
        conflicts_with = "at"
    )]
    pub after: Option<String>,
    /// Send at this time: RFC 3339, or clinic time as "2026-11-26 10:00".
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// What it is: reminder, check_in, nudge, … (its default template is followup_<kind>).
    #[arg(long, default_value = "reminder")]
    pub kind: String,
    /// The exact words to send (stored encrypted).
    #[arg(long, conflicts_with = "template")]
    pub text: Option<String>,
    /// A language-pack template key, sent in the chat's language.
    #[arg(long)]
    pub template: Option<String>,
    /// A value for the template's {NAME}; times ("2026-11-26 10:00", clinic time) also give
    /// {NAME_date} and {NAME_time}. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// List the models with their capabilities and measured figures.
    Models,
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
