//! Cancellation: GitHub cancels a job with SIGINT, then SIGTERM about 7.5 s
//! later, then SIGKILL 2.5 s after that. [`listen`] turns the first of
//! SIGINT/SIGTERM into a process-wide request that the rollout loops see
//! ([`requested`], [`is_requested`]): they stop the in-flight deployment
//! with a rollback and return at once, so the GitHub record and the summary
//! are written before the kill. One flag for the process, because a signal
//! is one for the process.

use std::sync::OnceLock;

use tokio::sync::watch;

fn channel() -> &'static watch::Sender<Option<&'static str>> {
    static CHANNEL: OnceLock<watch::Sender<Option<&'static str>>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::channel(None).0)
}

/// Asks every rollout loop to stop, naming why (`SIGTERM`); the first
/// request wins.
pub fn request(why: &'static str) {
    channel().send_if_modified(|now| {
        if now.is_some() {
            return false;
        }
        *now = Some(why);
        true
    });
}

/// The cancellation asked for, if one was (the signal's name).
pub fn is_requested() -> Option<&'static str> {
    *channel().borrow()
}

/// Resolves once a cancellation is asked for, with its name.
pub async fn requested() -> &'static str {
    let mut rx = channel().subscribe();
    loop {
        if let Some(why) = *rx.borrow_and_update() {
            return why;
        }
        if rx.changed().await.is_err() {
            // The sender is static: it is never dropped.
            std::future::pending::<()>().await;
        }
    }
}

/// Listens for SIGINT and SIGTERM (Ferry is PID 1 in its container, where
/// a signal without a handler is ignored): the first one becomes a
/// [`request`], said as a warning in the log. Later ones change nothing:
/// the stop is already under way.
pub fn listen() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            tracing::warn!(
                "cannot listen for SIGINT/SIGTERM: a cancelled job will not stop its rollout"
            );
            return;
        };
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                };
                if is_requested().is_none() {
                    tracing::warn!(
                        "{name} received: the job is being cancelled; stopping the rollouts in flight with a rollback"
                    );
                }
                request(name);
            }
        });
    }
}
