//! Where the analysis reads its numbers: the [`Metrics`] port (a Prometheus
//! server, or [`Unreadable`] so that every check fails closed) and one
//! [`round`] of checks over it.

use std::future::Future;
use std::pin::Pin;

use super::analysis::{self, Baseline, CheckResult, Reading, Side};
use crate::manifest::AnalysisSettings;

/// Where the analysis reads its numbers: what one query answers, as a
/// [`Reading`] the judge takes whatever its shape.
pub trait Metrics: Send + Sync {
    /// What `query` answers now.
    fn sample<'a>(&'a self, query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>>;
}

/// [`Metrics`] from a Prometheus server (the [`crate::prometheus`]
/// adapter), queried at the time of asking.
impl Metrics for crate::prometheus::Prometheus {
    fn sample<'a>(&'a self, query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>> {
        Box::pin(async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match self.query(query, now).await {
                Err(e) => Reading::Unanswered(e.to_string()),
                Ok(series) => match series.as_slice() {
                    [] => Reading::NoData,
                    [one] => Reading::Value(one.value),
                    many => Reading::Several(many.len()),
                },
            }
        })
    }
}

/// [`Metrics`] that cannot be read (the Prometheus client could not be
/// built): every query fails with why, so every check fails closed.
#[derive(Debug, Clone)]
pub struct Unreadable(pub String);

impl Metrics for Unreadable {
    fn sample<'a>(&'a self, _query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>> {
        Box::pin(async move { Reading::Unanswered(self.0.clone()) })
    }
}

/// One round: every check for the new version, and for the baseline when
/// `compared` (the old versions still serve traffic); [`analysis::judge`]
/// decides on whatever the queries answered.
pub async fn round(
    metrics: &dyn Metrics,
    settings: &AnalysisSettings,
    service: &str,
    version: &str,
    compared: bool,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for check in &settings.checks {
        let ask = |side| analysis::query(check, service, version, settings.interval_secs, side);
        let canary = metrics.sample(&ask(Side::Canary)).await;
        let baseline = if compared {
            Baseline::Compared(metrics.sample(&ask(Side::Baseline)).await)
        } else {
            Baseline::Gone
        };
        results.push(analysis::judge(check, &canary, &baseline));
    }
    results
}
