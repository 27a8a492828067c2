//! Graceful shutdown: ECS sends SIGTERM, waits `stopTimeout`, then SIGKILLs. The
//! services must notice SIGTERM at once and wind down within that window.

use tokio::sync::watch;

/// A cloneable handle that resolves when shutdown was requested (signal or
/// programmatic trigger, e.g. from tests).
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A handle that only triggers programmatically.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            rx,
            tx: std::sync::Arc::new(tx),
        }
    }

    /// A handle that also triggers on SIGTERM or SIGINT. A second signal exits
    /// at once (status 130), for an operator who does not want to wait. Must be
    /// called inside a tokio runtime.
    pub fn on_signals() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let this = Self::new();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let trigger = this.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutdown requested");
            trigger.trigger();
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::warn!("second signal: exiting without finishing in-flight work");
            std::process::exit(130);
        });
        Ok(this)
    }

    /// Requests shutdown.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// True once shutdown was requested.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when shutdown is requested (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // Err means every sender is gone, which cannot happen while `self` holds one.
        let _ = rx.wait_for(|v| *v).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_waiters() {
        let s = Shutdown::new();
        assert!(!s.is_triggered());
        let w = s.clone();
        let h = tokio::spawn(async move { w.wait().await });
        s.trigger();
        h.await.unwrap();
        assert!(s.is_triggered());
        s.wait().await;
    }
}
