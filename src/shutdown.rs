//! Signals. The first SIGTERM or SIGINT starts a graceful shutdown; a second one skips the
//! remaining waits (in-flight requests, outbox flushes) and stops at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct Shutdown {
    /// Stop accepting, finish in-flight work, flush, checkpoint.
    pub graceful: CancellationToken,
    /// Give up waiting.
    pub immediate: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a task that turns process signals into the two tokens.
    pub fn from_signals() -> std::io::Result<Self> {
        let shutdown = Self::new();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let s = shutdown.clone();
        tokio::spawn(async move {
            for token in [&s.graceful, &s.immediate] {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                token.cancel();
                if !s.immediate.is_cancelled() {
                    tracing::info!("shutting down; send the signal again to stop without waiting");
                }
            }
        });
        Ok(shutdown)
    }

    pub fn trigger(&self) {
        self.graceful.cancel();
    }
}
