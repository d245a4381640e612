//! `frontdesk`: parses the command line, loads the configuration, runs one subcommand and
//! turns its outcome into an exit code. Exit 78 (EX_CONFIG) means "fix the configuration or
//! keys"; the systemd unit does not restart on it.

use clap::Parser;
use frontdesk::cli::{Cli, Command};
use frontdesk::commands;
use frontdesk::config::{Config, Env};
use std::process::ExitCode;

// mimalloc instead of glibc's malloc: the request path allocates a great deal (HTTP, JSON)
// and glibc's allocator showed up in profiles; mimalloc cut that cost markedly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    let config = match Config::load(&cli.overrides(), &env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("frontdesk: configuration error: {e}");
            return ExitCode::from(commands::EX_CONFIG);
        }
    };
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    let filter = env
        .get("RUST_LOG")
        .unwrap_or_else(|| format!("{default_level},tower_http=warn,tokio_cron_scheduler=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match frontdesk::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("frontdesk: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("frontdesk: {}", failure.message());
            ExitCode::from(failure.code)
        }
    }
}
