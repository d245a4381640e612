//! The async runtime every subcommand runs on.
//!
//! One async worker thread per core but one: the remaining core is the SQLite writer's, a
//! thread of its own that is busy for every message (running the turn's SQL and committing).
//! With as many async workers as cores, a burst of webhooks makes three busy threads on two
//! cores: measured with `frontdesk bench` on a 2-core VM, the kernel then often left two of
//! them queued on one core while the other sat idle until its next balancing tick (4 ms at
//! HZ=250), and the messages of that moment waited with them. In seven back-to-back pairs of
//! runs, one worker gave the lower webhook → commit p99 in five (median 7.0 → 5.4 ms) and the
//! higher throughput in six; the VM's run-to-run spread is wider than that difference.
//!
//! `TOKIO_WORKER_THREADS` (tokio's own variable) still sets the count when given.

use tokio::runtime::{Builder, Runtime};

/// Async worker threads for a machine with `cores` cores.
pub fn async_workers(cores: usize) -> usize {
    cores.saturating_sub(1).max(1)
}

pub fn build() -> std::io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    builder.enable_all();
    // An explicit count would override the variable, so it is only set without one.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads(async_workers(cores));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::async_workers;

    #[test]
    fn leaves_one_core_to_the_database_writer_and_keeps_at_least_one_worker() {
        assert_eq!(async_workers(1), 1);
        assert_eq!(async_workers(2), 1);
        assert_eq!(async_workers(8), 7);
        assert_eq!(async_workers(0), 1);
    }
}
