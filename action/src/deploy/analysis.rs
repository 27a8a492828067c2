//! The analysis of a progressive rollout, as pure decisions: the queries a
//! round runs (each check for the new version and for the baseline, the
//! versions it replaces, at the same time), the verdict on each check, and
//! whether the rollout goes on.
//!
//! It fails closed: a check with no data for the new version is a failed
//! check, said as such; a baseline with no data leaves only the absolute
//! threshold (there is nothing to compare with).

use serde::{Deserialize, Serialize};

use crate::manifest::{AnalysisCheck, AnalysisSettings};

/// The label a service's metrics carry with the version it runs.
pub const VERSION_LABEL: &str = "version";

/// The version a service reports for an image reference: the tag, or for
/// an image pinned by digest only `sha256:` and the digest's first 12 hex
/// digits. The task definitions derive `SERVICE_VERSION` by the same rule
/// (`imageVersion` in task-definitions/lib/base.libsonnet); both must agree,
/// or the analysis finds no data and fails closed.
pub fn version_of(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    if let Some((_, tag)) = last.rsplit_once(':') {
        return tag.to_string();
    }
    match digest {
        Some(d) => match d.split_once(':') {
            Some((algorithm, hex)) => {
                format!("{algorithm}:{}", hex.chars().take(12).collect::<String>())
            }
            None => d.chars().take(12).collect(),
        },
        None => "latest".to_string(),
    }
}

/// The environment variable through which a task definition tells the
/// service the version it runs (the services label their metrics with it).
pub const VERSION_VARIABLE: &str = "SERVICE_VERSION";

/// The version a rendered task definition runs: its containers'
/// `SERVICE_VERSION` when one sets it (rendered before the image was pinned
/// to its digest, it keeps the release tag), else [`version_of`] its image.
pub fn version_in(task_definition: &serde_json::Value, image: &str) -> String {
    task_definition["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["environment"].as_array().into_iter().flatten())
        .find(|v| v["name"] == VERSION_VARIABLE)
        .and_then(|v| v["value"].as_str())
        .map_or_else(|| version_of(image), str::to_string)
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

/// One check's figures and verdict in one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// The new version's value (`None`: no data).
    pub canary: Option<f64>,
    /// The baseline's value at the same time (`None`: no data).
    pub baseline: Option<f64>,
    /// The absolute threshold.
    pub max: Option<f64>,
    /// The threshold relative to the baseline.
    pub max_vs_baseline: Option<f64>,
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
    } else if v.abs() >= 1000.0 || v.abs() < 0.001 {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Judges one check from the two values Prometheus returned. NaN (0/0: no
/// traffic) counts as no data.
pub fn judge(check: &AnalysisCheck, canary: Option<f64>, baseline: Option<f64>) -> CheckResult {
    let canary = canary.filter(|v| v.is_finite());
    let baseline = baseline.filter(|v| v.is_finite());
    let failure = match canary {
        None => Some(format!(
            "no data for the new version: `{}` returned nothing (no traffic reached it, or its metrics lack the `{VERSION_LABEL}` label); failing closed",
            check.name
        )),
        Some(v) => {
            let absolute = check
                .max
                .filter(|max| v > *max)
                .map(|max| format!("{} = {} is above {}", check.name, figure(v), figure(max)));
            let relative = match (check.max_vs_baseline, baseline) {
                (Some(k), Some(b)) if b > 0.0 && v > b * k => Some(format!(
                    "{} = {} is above {}× the baseline's {}",
                    check.name,
                    figure(v),
                    figure(k),
                    figure(b)
                )),
                // A baseline of 0 allows nothing worse than 0 times k; only
                // the absolute threshold can judge then.
                _ => None,
            };
            absolute.or(relative)
        }
    };
    CheckResult {
        name: check.name.clone(),
        canary,
        baseline,
        max: check.max,
        max_vs_baseline: check.max_vs_baseline,
        failure,
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
            max_vs_baseline: k,
        }
    }

    #[test]
    fn the_version_is_the_tag_or_a_short_digest() {
        assert_eq!(version_of("r.example/p/api:api-abc1234-1"), "api-abc1234-1");
        assert_eq!(version_of("127.0.0.1:5001/p/api:v2"), "v2");
        assert_eq!(
            version_of("127.0.0.1:5001/p/api@sha256:0123456789abcdef00"),
            "sha256:0123456789ab"
        );
        assert_eq!(version_of("r/p/api:v3@sha256:0123456789abcdef00"), "v3");
        assert_eq!(version_of("127.0.0.1:5001/p/api"), "latest");
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
                let env = r.task_definition["containerDefinitions"][0]["environment"]
                    .as_array()
                    .unwrap();
                let set = env
                    .iter()
                    .find(|v| v["name"] == "SERVICE_VERSION")
                    .and_then(|v| v["value"].as_str())
                    .unwrap();
                assert_eq!(set, version_of(image), "{service}: {image}");
                // Pinned to a digest after rendering, it keeps what it rendered.
                let pinned = "r/p/x@sha256:ffffffffffffffffffff";
                assert_eq!(version_in(&r.task_definition, pinned), version_of(image));
                assert_eq!(
                    version_in(&serde_json::json!({}), pinned),
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

    #[test]
    fn checks_fail_above_the_objective_or_the_baseline_and_without_data() {
        let c = check(Some(0.01), Some(2.0));
        assert!(judge(&c, Some(0.004), Some(0.003)).passed());
        let abs = judge(&c, Some(0.2), Some(0.19));
        assert_eq!(
            abs.failure.as_deref(),
            Some("error-ratio = 0.2 is above 0.01")
        );
        let rel = judge(&c, Some(0.008), Some(0.002));
        assert_eq!(
            rel.failure.as_deref(),
            Some("error-ratio = 0.008 is above 2× the baseline's 0.002")
        );
        // No baseline traffic: the objective alone judges.
        assert!(judge(&c, Some(0.005), None).passed());
        assert!(judge(&c, Some(0.005), Some(0.0)).passed());
        for none in [None, Some(f64::NAN), Some(f64::INFINITY)] {
            let r = judge(&c, none, Some(0.001));
            assert!(
                r.failure
                    .as_deref()
                    .unwrap()
                    .contains("no data for the new version"),
                "{r:?}"
            );
        }
    }

    #[test]
    fn failed_rounds_abort_past_the_limit() {
        let settings = AnalysisSettings {
            prometheus: "http://p".into(),
            interval_secs: 30,
            failure_limit: 1,
            checks: vec![check(Some(0.01), None)],
        };
        let bad = [judge(&settings.checks[0], Some(0.5), None)];
        let good = [judge(&settings.checks[0], Some(0.0), None)];
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
    }
}
