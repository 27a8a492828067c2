//! The analysis of a progressive rollout, as pure decisions: the queries a
//! round runs (each check for the new version and for the baseline, the
//! versions it replaces, at the same time), the verdict on each check, and
//! whether the rollout goes on.
//!
//! It fails closed: every check has an absolute threshold that can fail;
//! a reading that is not one valid number (no data, several series, NaN,
//! ±Inf, negative where it cannot be, Prometheus silent) fails the round,
//! on either side; a baseline of 0 is compared through the check's `floor`.

use serde::{Deserialize, Serialize};

#[cfg(test)]
use crate::manifest::Relative;
use crate::manifest::{AnalysisCheck, AnalysisSettings};

/// The label a service's metrics carry with the version it runs.
pub const VERSION_LABEL: &str = "version";

/// The environment variable through which a task definition tells the
/// service the version it runs (the services label their metrics with it).
pub const VERSION_VARIABLE: &str = "SERVICE_VERSION";

/// The version a rendered task definition runs: its containers'
/// `SERVICE_VERSION` when one sets it (rendered before the image was pinned
/// to its digest, it keeps the release tag), else [`crate::image::version`] of its image.
pub fn version_in(task_definition: &crate::taskdef::TaskDefinition, image: &str) -> String {
    task_definition
        .containers()
        .find_map(|c| c.variable(VERSION_VARIABLE))
        .map_or_else(|| crate::image::version(image), str::to_string)
}

/// A label value inside a PromQL string literal: quotes and backslashes
/// escaped, so an image tag cannot end the matcher and add its own.
fn promql_string(value: &str) -> String {
    let printable: String = value
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect();
    format!("\"{}\"", crate::prometheus::escape_label(&printable))
}

/// Which side of the comparison a query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The version being rolled out.
    Canary,
    /// Every other version of the service, at the same time.
    Baseline,
}

/// A check's query for one side: `{service}`, `{window}` and `{version}`
/// (`version="<new>"` for the canary, `version!="<new>"` for the baseline).
pub fn query(
    check: &AnalysisCheck,
    service: &str,
    version: &str,
    window_secs: u64,
    side: Side,
) -> String {
    let op = match side {
        Side::Canary => "=",
        Side::Baseline => "!=",
    };
    check
        .query
        .replace(
            "{version}",
            &format!("{VERSION_LABEL}{op}{}", promql_string(version)),
        )
        // Service names are manifest names: letters, digits and dashes.
        .replace("{service}", service)
        .replace("{window}", &format!("{window_secs}s"))
}

/// What a query answered for one side of a check: the chokepoint between
/// Prometheus's answer and the judge, so every shape is judged in one place.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// One series, this value (NaN and ±Inf included: the judge refuses them).
    Value(f64),
    /// No series.
    NoData,
    /// Several series where one number was wanted.
    Several(usize),
    /// Prometheus did not answer, with why.
    Unanswered(String),
}

/// What a round compares the new version with.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// The old versions serve traffic beside the new one: their reading,
    /// which must be a valid number like the new version's.
    Compared(Reading),
    /// There is no old version to compare with (the new one serves all
    /// traffic, or a re-run re-analyses a version already in place): only
    /// the absolute thresholds judge.
    Gone,
}

/// One check's figures and verdict in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// The new version's value (`None`: no valid number).
    pub canary: Option<f64>,
    /// The baseline's value at the same time (`None`: no valid number, or
    /// no baseline).
    pub baseline: Option<f64>,
    /// The absolute upper threshold.
    pub max: Option<f64>,
    /// The absolute lower threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The ratio to `max(baseline, floor)`.
    pub max_vs_baseline: Option<f64>,
    /// The least baseline the ratio multiplies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
    /// Why it failed; `None` when it passed.
    pub failure: Option<String>,
}

impl CheckResult {
    /// True when the check passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// A number fit for a message: 4 significant digits.
pub fn figure(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if !v.is_finite() {
        format!("{v}")
    } else if v.abs() >= 1000.0 || v.abs() < 0.001 {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The valid number of one side's reading, or why there is none (which
/// fails the round: fail closed).
fn valid(check: &AnalysisCheck, side: &str, reading: &Reading) -> Result<f64, String> {
    let name = &check.name;
    match reading {
        Reading::Value(v) if v.is_nan() => Err(format!(
            "`{name}` is NaN for {side} (0/0: no traffic in the window?); failing closed"
        )),
        Reading::Value(v) if v.is_infinite() => Err(format!(
            "`{name}` is {v} for {side} (a division by 0?); failing closed"
        )),
        Reading::Value(v) if *v < 0.0 && !check.allow_negative => Err(format!(
            "`{name}` is {} for {side}, and it cannot be negative (a broken query? `allow-negative: true` if it can); failing closed",
            figure(*v)
        )),
        Reading::Value(v) => Ok(*v),
        Reading::NoData if side == NEW => Err(format!(
            "no data for the new version: `{name}` returned nothing (no traffic reached it, or its metrics lack the `{VERSION_LABEL}` label); failing closed"
        )),
        Reading::NoData => Err(format!(
            "no data for {side}: `{name}` returned nothing while the old version serves traffic (its metrics lack the `{VERSION_LABEL}` label?); failing closed"
        )),
        Reading::Several(n) => Err(format!(
            "`{name}` returned {n} series for {side} where one number was wanted (aggregate it, e.g. sum(…) or max(…)); failing closed"
        )),
        Reading::Unanswered(why) => Err(format!(
            "`{name}`: Prometheus did not answer for {side} ({why}); failing closed"
        )),
    }
}

const NEW: &str = "the new version";
const OLD: &str = "the baseline";

/// Judges one check in one round. The new version fails when its reading
/// is not a valid number (no data, several series, NaN, ±Inf, negative
/// where the check says it cannot be, Prometheus silent), above `max`,
/// below `min`, or (when the check compares) above `max(baseline, floor) ×
/// max-vs-baseline`. A compared baseline whose reading is not a valid
/// number fails the round as well. Every failure found is said.
pub fn judge(check: &AnalysisCheck, canary: &Reading, baseline: &Baseline) -> CheckResult {
    let mut failures = Vec::new();
    let name = &check.name;
    let new = valid(check, NEW, canary);
    let old = match baseline {
        Baseline::Compared(reading) => Some(valid(check, OLD, reading)),
        Baseline::Gone => None,
    };
    if let Err(why) = &new {
        failures.push(why.clone());
    }
    if let Ok(v) = new {
        if let Some(max) = check.max.filter(|max| v > *max) {
            failures.push(format!("{name} = {} is above {}", figure(v), figure(max)));
        }
        if let Some(min) = check.min.filter(|min| v < *min) {
            failures.push(format!("{name} = {} is below {}", figure(v), figure(min)));
        }
    }
    if let Some(Err(why)) = &old {
        failures.push(why.clone());
    }
    if let (Ok(v), Some(Ok(b)), Some(rel)) = (&new, &old, check.relative) {
        let limit = b.max(rel.floor) * rel.ratio;
        if *v > limit {
            failures.push(format!(
                "{name} = {} is above {}× max(baseline {}, floor {}) = {}",
                figure(*v),
                figure(rel.ratio),
                figure(*b),
                figure(rel.floor),
                figure(limit)
            ));
        }
    }
    CheckResult {
        name: name.clone(),
        canary: new.ok(),
        baseline: old.and_then(Result::ok),
        max: check.max,
        min: check.min,
        max_vs_baseline: check.relative.map(|r| r.ratio),
        floor: check.relative.map(|r| r.floor),
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
    }
}

/// What the analysis says after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check passed: let ECS continue.
    Healthy,
    /// A check failed, within the failures allowed.
    Tolerated,
    /// Too many failed rounds: stop the rollout and roll back.
    Abort,
}

/// The running count of an analysis: rounds and failed rounds so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Rounds run.
    pub rounds: u32,
    /// Rounds with a failed check.
    pub failed: u32,
}

impl Tally {
    /// Counts a round and says what it means under `settings`.
    pub fn record(&mut self, settings: &AnalysisSettings, results: &[CheckResult]) -> Verdict {
        self.rounds += 1;
        if results.iter().all(CheckResult::passed) {
            return Verdict::Healthy;
        }
        self.failed += 1;
        if self.failed > settings.failure_limit {
            Verdict::Abort
        } else {
            Verdict::Tolerated
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(max: Option<f64>, k: Option<f64>) -> AnalysisCheck {
        AnalysisCheck {
            name: "error-ratio".into(),
            query: r#"sum(rate(http_requests_total{job="{service}",{version},status=~"5.."}[{window}]))"#.into(),
            max,
            min: None,
            relative: k.map(|ratio| Relative { ratio, floor: 0.001 }),
            allow_negative: false,
        }
    }

    fn value(v: f64) -> Reading {
        Reading::Value(v)
    }

    /// The analysis asks Prometheus for the version the task definition
    /// told the service it runs: Ferry's rule and the Jsonnet's must agree.
    #[test]
    fn the_version_agrees_with_the_task_definitions_service_version() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let manifest = crate::manifest::Manifest::load(
            &root.join(".github/ferry.yml"),
            std::path::Path::new(".github/ferry.yml"),
        )
        .unwrap();
        for image in [
            "127.0.0.1:5001/email-platform/sampleapi:sampleapi-abc1234-20261204000000",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "r.example/p/sampleapi:v3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            for service in ["sampleapi", "sampleworker"] {
                let opts = crate::render::Options {
                    image: Some(image.to_string()),
                    ..crate::render::Options::default()
                };
                let r =
                    crate::render::render_one(&root, &manifest, service, "prod", &opts).unwrap();
                let set = r
                    .task_definition
                    .containers()
                    .next()
                    .and_then(|c| c.variable("SERVICE_VERSION"))
                    .unwrap();
                assert_eq!(set, crate::image::version(image), "{service}: {image}");
                // Pinned to a digest after rendering, it keeps what it rendered.
                let pinned = "r/p/x@sha256:ffffffffffffffffffff";
                assert_eq!(
                    version_in(&r.task_definition, pinned),
                    crate::image::version(image)
                );
                assert_eq!(
                    version_in(&crate::taskdef::TaskDefinition::default(), pinned),
                    "sha256:ffffffffffff"
                );
            }
        }
    }

    #[test]
    fn queries_select_the_new_version_or_every_other() {
        let c = check(Some(0.01), None);
        assert_eq!(
            query(&c, "sampleapi", "v2", 60, Side::Canary),
            r#"sum(rate(http_requests_total{job="sampleapi",version="v2",status=~"5.."}[60s]))"#
        );
        assert!(query(&c, "sampleapi", "v2", 60, Side::Baseline).contains(r#"version!="v2""#));
    }

    #[test]
    fn a_hostile_version_cannot_leave_its_matcher() {
        let c = check(Some(0.01), None);
        for v in [r#"v2",job=~".*"#, "v2\\", "v2\"}) or vector(0) #", "v\n2"] {
            let q = query(&c, "sampleapi", v, 60, Side::Canary);
            let inside = q.split_once("version=").unwrap().1;
            // The literal ends at the first unescaped quote, right before `,status`.
            let mut escaped = false;
            let mut end = None;
            for (i, ch) in inside.char_indices().skip(1) {
                match ch {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.unwrap();
            assert!(inside[end + 1..].starts_with(",status"), "{q}");
            assert!(!q.contains('\n'), "{q}");
        }
    }

    /// The canary shapes of the table: a name and the reading.
    fn canaries() -> Vec<(&'static str, Reading)> {
        vec![
            ("0", value(0.0)),
            ("0.001", value(0.001)),
            ("0.003", value(0.003)),
            ("0.01 (= max)", value(0.01)),
            ("0.9", value(0.9)),
            ("NaN", value(f64::NAN)),
            ("+Inf", value(f64::INFINITY)),
            ("-Inf", value(f64::NEG_INFINITY)),
            ("-0.001", value(-0.001)),
            ("no data", Reading::NoData),
            ("3 series", Reading::Several(3)),
            (
                "no answer",
                Reading::Unanswered("connection refused".into()),
            ),
        ]
    }

    /// The baseline shapes of the table.
    fn baselines() -> Vec<(&'static str, Baseline)> {
        let compared = |r: Reading| Baseline::Compared(r);
        vec![
            ("gone", Baseline::Gone),
            ("0", compared(value(0.0))),
            ("0.001", compared(value(0.001))),
            ("0.004", compared(value(0.004))),
            ("NaN", compared(value(f64::NAN))),
            ("+Inf", compared(value(f64::INFINITY))),
            ("-Inf", compared(value(f64::NEG_INFINITY))),
            ("-0.001", compared(value(-0.001))),
            ("no data", compared(Reading::NoData)),
            ("3 series", compared(Reading::Several(3))),
            ("no answer", compared(Reading::Unanswered("timeout".into()))),
        ]
    }

    /// Every canary shape against every baseline shape, for `max: 0.01,
    /// max-vs-baseline: 2, floor: 0.001`: P passes, F fails. Read a row:
    /// the canary; a column: the baseline (`gone`: the new version serves
    /// all traffic, or a re-analysis).
    #[test]
    fn every_canary_and_baseline_shape_has_its_verdict() {
        //                 gone 0   .001 .004 NaN +Inf -Inf neg none 3ser noans
        let expected: [(&str, &str); 12] = [
            ("0", "P P P P F F F F F F F"),
            ("0.001", "P P P P F F F F F F F"),
            ("0.003", "P F F P F F F F F F F"),
            ("0.01 (= max)", "P F F F F F F F F F F"),
            ("0.9", "F F F F F F F F F F F"),
            ("NaN", "F F F F F F F F F F F"),
            ("+Inf", "F F F F F F F F F F F"),
            ("-Inf", "F F F F F F F F F F F"),
            ("-0.001", "F F F F F F F F F F F"),
            ("no data", "F F F F F F F F F F F"),
            ("3 series", "F F F F F F F F F F F"),
            ("no answer", "F F F F F F F F F F F"),
        ];
        let c = check(Some(0.01), Some(2.0));
        let mut table = String::from("| canary \\ baseline |");
        for (b, _) in baselines() {
            table.push_str(&format!(" {b} |"));
        }
        table.push('\n');
        for ((name, canary), (row, verdicts)) in canaries().into_iter().zip(expected) {
            assert_eq!(name, row);
            let verdicts: Vec<&str> = verdicts.split(' ').collect();
            assert_eq!(verdicts.len(), baselines().len(), "{row}");
            table.push_str(&format!("| {name} |"));
            for ((b, baseline), want) in baselines().into_iter().zip(verdicts) {
                let r = judge(&c, &canary, &baseline);
                let got = if r.passed() { "P" } else { "F" };
                assert_eq!(got, want, "canary {name} × baseline {b}: {r:?}");
                if !r.passed() {
                    assert!(!r.failure.as_deref().unwrap().is_empty());
                }
                table.push_str(&format!(" {got} |"));
            }
            table.push('\n');
        }
        // The closing note of issue 26 prints it: `-- --nocapture`.
        println!("{table}");
    }

    #[test]
    fn failures_say_which_side_and_what_to_fix() {
        let c = check(Some(0.01), Some(2.0));
        let failure = |canary: Reading, baseline: Baseline| {
            judge(&c, &canary, &baseline).failure.unwrap_or_default()
        };
        assert_eq!(
            failure(value(0.2), Baseline::Compared(value(0.19))),
            "error-ratio = 0.2 is above 0.01"
        );
        // The zero baseline of a healthy old version: the floor decides.
        assert_eq!(
            failure(value(0.005), Baseline::Compared(value(0.0))),
            "error-ratio = 0.005 is above 2× max(baseline 0, floor 0.001) = 0.002"
        );
        assert_eq!(
            failure(value(0.9), Baseline::Compared(value(0.0))),
            "error-ratio = 0.9 is above 0.01; error-ratio = 0.9 is above 2× max(baseline 0, floor 0.001) = 0.002"
        );
        assert!(
            failure(Reading::NoData, Baseline::Gone).starts_with("no data for the new version")
        );
        assert!(
            failure(value(0.001), Baseline::Compared(Reading::Several(2)))
                .contains("returned 2 series for the baseline where one number was wanted")
        );
        assert!(
            failure(value(0.001), Baseline::Compared(value(f64::NAN)))
                .contains("is NaN for the baseline")
        );
        assert!(
            failure(value(-0.5), Baseline::Gone)
                .contains("is -0.5 for the new version, and it cannot be negative")
        );
        assert!(
            failure(
                value(0.001),
                Baseline::Compared(Reading::Unanswered("timeout".into()))
            )
            .contains("Prometheus did not answer for the baseline (timeout)")
        );
        // The figures reach the report only when they are valid numbers.
        let r = judge(&c, &value(f64::NAN), &Baseline::Compared(value(0.001)));
        assert_eq!((r.canary, r.baseline), (None, Some(0.001)));
    }

    #[test]
    fn a_minimum_and_a_metric_that_may_be_negative() {
        let throughput = AnalysisCheck {
            name: "requests".into(),
            min: Some(1.0),
            max: None,
            relative: None,
            ..check(None, None)
        };
        assert!(judge(&throughput, &value(5.0), &Baseline::Gone).passed());
        assert_eq!(
            judge(&throughput, &value(0.5), &Baseline::Gone)
                .failure
                .as_deref(),
            Some("requests = 0.5 is below 1")
        );
        let delta = AnalysisCheck {
            name: "delta".into(),
            max: Some(1.0),
            allow_negative: true,
            ..check(None, None)
        };
        assert!(judge(&delta, &value(-3.0), &Baseline::Compared(value(-1.0))).passed());
        assert!(!judge(&delta, &value(f64::NEG_INFINITY), &Baseline::Gone).passed());
    }

    #[test]
    fn failed_rounds_abort_past_the_limit() {
        let settings = AnalysisSettings {
            prometheus: "http://p".into(),
            interval_secs: 30,
            failure_limit: 1,
            checks: vec![check(Some(0.01), None)],
        };
        let bad = [judge(&settings.checks[0], &value(0.5), &Baseline::Gone)];
        let good = [judge(&settings.checks[0], &value(0.0), &Baseline::Gone)];
        let mut tally = Tally::default();
        assert_eq!(tally.record(&settings, &good), Verdict::Healthy);
        assert_eq!(tally.record(&settings, &bad), Verdict::Tolerated);
        assert_eq!(tally.record(&settings, &good), Verdict::Healthy);
        assert_eq!(tally.record(&settings, &bad), Verdict::Abort);
        assert_eq!(
            tally,
            Tally {
                rounds: 4,
                failed: 2
            }
        );
    }

    #[test]
    fn figures_read_well() {
        assert_eq!(figure(0.0), "0");
        assert_eq!(figure(0.25), "0.25");
        assert_eq!(figure(0.0123456), "0.0123");
        assert_eq!(figure(2.0), "2");
        assert_eq!(figure(0.0001), "1.000e-4");
        assert_eq!(figure(f64::NAN), "NaN");
        assert_eq!(figure(f64::NEG_INFINITY), "-inf");
    }
}
