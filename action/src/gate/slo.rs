//! The gate's optional SLO check: the error budget burn of the source
//! environment since its deployment, from Prometheus.
//!
//! The built-in query reads the per-SLO recorded series of
//! monitoring/prometheus/rules/slo.rules.yml (`slo:sli_events_bad:rate5m`,
//! `slo:sli_events_total:rate5m`, `slo:objective:ratio`): the error ratio
//! over the window, traffic-weighted like the rules' own longer windows,
//! divided by the error budget. A burn rate of 1 spends exactly the budget
//! over the SLO window. Prometheus unreachable or answering nonsense means
//! refused: the gate fails closed.

use serde::Serialize;

use crate::manifest::GateSettings;
use crate::prometheus::Sample;

/// The shortest window queried: the recorded rates are 5-minute rates.
pub const MIN_WINDOW_SECS: u64 = 300;

/// One SLO's burn rate since the deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Burn {
    /// The `slo` label.
    pub slo: String,
    /// The burn rate (NaN when there was no traffic).
    pub rate: f64,
}

/// The SLO check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloVerdict {
    /// The window queried, e.g. `3600s`.
    pub window: String,
    /// The threshold.
    pub max_burn_rate: f64,
    /// Every SLO's burn.
    pub burns: Vec<Burn>,
    /// Why the promotion is refused; `None` when allowed.
    pub refusal: Option<String>,
}

/// The window since `deployed_at` (epoch seconds) at `now`, at least 5 minutes.
pub fn window(deployed_at: u64, now: u64) -> String {
    format!("{}s", now.saturating_sub(deployed_at).max(MIN_WINDOW_SECS))
}

/// The PromQL that gives one burn rate per SLO over `window`.
pub fn query(settings: &GateSettings, window: &str) -> String {
    if let Some(q) = &settings.query {
        return q.replace("{window}", window);
    }
    let matcher = if settings.slos.is_empty() {
        "slo=~\".+\"".to_string()
    } else {
        // Names are letters, digits and `-_:.` (the manifest checks): only
        // the dot is special, escaped for the regex inside a PromQL string.
        let names: Vec<String> = settings
            .slos
            .iter()
            .map(|s| s.replace('.', "\\\\."))
            .collect();
        format!("slo=~\"{}\"", names.join("|"))
    };
    format!(
        "(sum by (slo) (sum_over_time(slo:sli_events_bad:rate5m{{{matcher}}}[{window}])) \
         / sum by (slo) (sum_over_time(slo:sli_events_total:rate5m{{{matcher}}}[{window}]))) \
         / on (slo) (1 - max by (slo) (slo:objective:ratio{{{matcher}}}))"
    )
}

/// Judges the burns read: every configured SLO must have a number at or
/// under the threshold.
pub fn judge(settings: &GateSettings, window: &str, burns: Vec<Burn>) -> SloVerdict {
    let mut problems = Vec::new();
    for slo in &settings.slos {
        if !burns.iter().any(|b| &b.slo == slo) {
            problems.push(format!("no data for SLO `{slo}` over the last {window}"));
        }
    }
    if burns.is_empty() && settings.slos.is_empty() {
        problems.push(format!("the query returned no SLO over the last {window}"));
    }
    for b in &burns {
        if b.rate.is_nan() {
            problems.push(format!(
                "SLO `{}` had no traffic over the last {window}",
                b.slo
            ));
        } else if b.rate > settings.max_burn_rate {
            problems.push(format!(
                "SLO `{}` burned its error budget at {:.2}× over the last {window} (allowed: {}×)",
                b.slo, b.rate, settings.max_burn_rate
            ));
        }
    }
    SloVerdict {
        window: window.to_string(),
        max_burn_rate: settings.max_burn_rate,
        burns,
        refusal: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// One burn per series of the query's answer, named by its `slo` label.
pub fn burns(samples: Vec<Sample>) -> Vec<Burn> {
    samples
        .into_iter()
        .map(|s| Burn {
            slo: s
                .labels
                .get("slo")
                .cloned()
                .unwrap_or_else(|| "(no slo label)".into()),
            rate: s.value,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn settings(slos: &[&str]) -> GateSettings {
        GateSettings {
            prometheus: "http://prom".into(),
            max_burn_rate: 2.0,
            slos: slos.iter().map(|s| s.to_string()).collect(),
            query: None,
        }
    }

    #[test]
    fn the_window_is_at_least_five_minutes() {
        assert_eq!(window(1000, 1060), "300s");
        assert_eq!(window(1000, 4600), "3600s");
    }

    #[test]
    fn burns_over_the_threshold_missing_or_silent_are_refused() {
        let s = settings(&["api-availability", "api-latency"]);
        let ok = judge(
            &s,
            "3600s",
            vec![
                Burn {
                    slo: "api-availability".into(),
                    rate: 0.4,
                },
                Burn {
                    slo: "api-latency".into(),
                    rate: 2.0,
                },
            ],
        );
        assert_eq!(ok.refusal, None);
        let bad = judge(
            &s,
            "3600s",
            vec![
                Burn {
                    slo: "api-availability".into(),
                    rate: 7.25,
                },
                Burn {
                    slo: "other".into(),
                    rate: f64::NAN,
                },
            ],
        );
        let why = bad.refusal.unwrap();
        assert!(why.contains("`api-availability` burned its error budget at 7.25× over the last 3600s (allowed: 2×)"), "{why}");
        assert!(why.contains("no data for SLO `api-latency`"), "{why}");
        assert!(why.contains("`other` had no traffic"), "{why}");
        assert!(judge(&settings(&[]), "300s", vec![]).refusal.is_some());
    }

    #[test]
    fn the_query_names_the_slos_and_the_window() {
        let q = query(&settings(&["api-availability"]), "600s");
        assert!(
            q.contains("slo:sli_events_bad:rate5m{slo=~\"api-availability\"}[600s]"),
            "{q}"
        );
        assert!(q.contains("slo:objective:ratio"), "{q}");
        let custom = GateSettings {
            query: Some("my_burn[{window}]".into()),
            ..settings(&[])
        };
        assert_eq!(query(&custom, "600s"), "my_burn[600s]");
    }
}
