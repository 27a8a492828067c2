//! `ferry gate --env prod`: in front of a promotion, refuse any image that
//! has not been deployed successfully to the environment named by
//! `promote-from` (GitHub Deployments), and optionally any promotion while
//! that environment burns its error budget too fast (Prometheus).
//!
//! The decisions are pure ([`decide`], [`slo::judge`]); this module fetches
//! the records, writes the outputs (`allowed`, `images`) and the summary.

pub mod decide;
pub mod slo;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::Diagnose;
use crate::gha::{Context, Reporter};
use crate::github::deployments::DeploymentState;
use crate::github::{GitHub, GitHubError};
use crate::inputs::ServiceSelection;
use crate::manifest::Manifest;
use crate::markdown;
use crate::project::{Project, ProjectError, StageError};
use crate::prometheus::Prometheus;
pub use decide::{Evidence, Verdict, Want, decide};

/// How many deployments back the source environment is searched.
pub const HISTORY_MAX: usize = 50;
/// Latest states read per service (the candidates of the right image or commit).
const STATES_MAX: usize = 10;

/// `ferry gate`'s inputs (the environment promoted to is the project's).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--images`: the image to promote, by service.
    pub images: BTreeMap<String, String>,
    /// `--services` (without `--images`; default: all).
    pub services: Option<ServiceSelection>,
    /// The commit promoted (default: GITHUB_SHA).
    pub sha: Option<String>,
    /// Evaluation time for the SLO check, epoch seconds (default: now).
    pub now: Option<u64>,
}

/// A gate that could not decide (bad input, GitHub unreadable): it fails.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The manifest, or bad command-line input.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// GitHub could not be read; the gate fails closed.
    #[error("cannot read GitHub Deployments: {0}")]
    GitHub(#[from] GitHubError),
    /// Outputs or the summary could not be written.
    #[error("cannot write the step's outputs: {0}")]
    Io(#[from] std::io::Error),
}

impl Diagnose for GateError {
    fn diagnostics(&self) -> Vec<crate::diagnostic::Diagnostic> {
        match self {
            GateError::Project(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

impl StageError for GateError {}

/// The gate's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The environment promoted to.
    pub env: String,
    /// The environment promoted from, when the target names one.
    pub source: Option<String>,
    /// Per service.
    pub verdicts: Vec<Verdict>,
    /// The SLO check, when configured and reached.
    pub slo: Option<slo::SloVerdict>,
    /// Why the whole promotion is refused, apart from the services.
    pub refusal: Option<String>,
}

impl Outcome {
    /// Whether every check passed.
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
            && self.verdicts.iter().all(Verdict::allowed)
            && self.slo.as_ref().is_none_or(|s| s.refusal.is_none())
    }

    /// Every reason for refusing, one per line, for the error annotation.
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self.refusal.iter().cloned().collect();
        for v in &self.verdicts {
            if let Some(r) = &v.refusal {
                out.push(format!("{}: {r}", v.service));
            }
        }
        if let Some(r) = self.slo.as_ref().and_then(|s| s.refusal.as_ref()) {
            out.push(format!("SLO: {r}"));
        }
        out
    }

    /// The error a refused promotion ends the step with (None when allowed).
    pub fn refusal_message(&self) -> Option<String> {
        (!self.allowed()).then(|| {
            format!(
                "gate: promotion to `{}` refused:\n  {}",
                self.env,
                self.reasons().join("\n  ")
            )
        })
    }
}

/// What to promote, per service, from the options.
fn wants(
    opts: &Options,
    manifest: &Manifest,
    sha: Option<&str>,
) -> Result<Vec<(String, Want)>, GateError> {
    let images = &opts.images;
    if !images.is_empty() {
        let names = ServiceSelection::Named(images.keys().cloned().collect())
            .resolve(manifest)
            .map_err(GateError::input)?;
        return Ok(names
            .into_iter()
            .map(|n| {
                let image = images[&n].clone();
                (n, Want::Image(image))
            })
            .collect());
    }
    let sha = sha.ok_or_else(|| {
        GateError::input(
            "nothing to check: pass --images (ferry build's `images` output), or --sha (GITHUB_SHA in Actions) to promote what that commit deployed",
        )
    })?;
    let names = opts
        .services
        .as_ref()
        .unwrap_or(&ServiceSelection::All)
        .resolve(manifest)
        .map_err(GateError::input)?;
    Ok(names
        .into_iter()
        .map(|n| (n, Want::Commit(sha.to_string())))
        .collect())
}

/// Fetches one service's evidence from GitHub.
async fn evidence(
    gh: &GitHub,
    source: &str,
    service: &str,
    want: Want,
) -> Result<Evidence, GitHubError> {
    let sha = match &want {
        Want::Commit(sha) => Some(sha.as_str()),
        Want::Image(_) => None,
    };
    let records = gh.deployments(source, service, sha, HISTORY_MAX).await?;
    let wanted_digest = match &want {
        Want::Image(image) => crate::image::pinned_digest(image).map(str::to_string),
        Want::Commit(_) => None,
    };
    let mut deployments = Vec::with_capacity(records.len());
    let mut read = 0;
    for r in records {
        let candidate = match (&want, &wanted_digest) {
            (Want::Commit(sha), _) => &r.sha == sha,
            (Want::Image(_), Some(d)) => {
                r.payload
                    .as_ref()
                    .and_then(|p| p.image.as_deref())
                    .and_then(crate::image::pinned_digest)
                    == Some(d.as_str())
            }
            (Want::Image(_), None) => false,
        };
        let state = if candidate && read < STATES_MAX {
            read += 1;
            gh.latest_state(r.id).await?
        } else {
            None
        };
        let done = state.is_some_and(DeploymentState::succeeded);
        deployments.push((r, state));
        if done {
            break;
        }
    }
    Ok(Evidence {
        service: service.to_string(),
        want,
        deployments,
    })
}

/// Runs the gate on a promotion to the project's environment: decides,
/// writes `allowed` and `images`, and the summary. A refusal is an `Ok`
/// outcome with `allowed() == false`; the binary turns it into a non-zero
/// exit.
pub async fn run(
    ctx: &Context,
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Outcome, GateError> {
    let manifest = &project.manifest;
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }
    let (Some(env), Some(target)) = (project.env(), project.environment()) else {
        return Err(GateError::input(
            "name the environment promoted to: --env (the `environment` input)",
        ));
    };
    let sha = opts.sha.clone().or_else(|| ctx.sha.clone());
    let wants = wants(opts, manifest, sha.as_deref())?;
    let outcome = match &target.promote_from {
        None => Outcome {
            env: env.to_string(),
            source: None,
            verdicts: Vec::new(),
            slo: None,
            refusal: Some(format!(
                "environment `{}` has no `promote-from` in {}: there is nothing to check a promotion against; add `promote-from: <environment>`",
                env,
                manifest.file.display()
            )),
        },
        Some(source) => {
            let gh = github(ctx)?;
            let mut verdicts = Vec::with_capacity(wants.len());
            for (service, want) in wants {
                let e = evidence(&gh, source, &service, want).await?;
                verdicts.push(decide(source, &e));
            }
            let slo = match &target.gate {
                None => {
                    reporter.info(&format!(
                        "gate: no SLO check configured for `{}` (gate.prometheus in the manifest); skipped",
                        env
                    ))?;
                    None
                }
                Some(_) if verdicts.iter().any(|v| !v.allowed()) => None,
                Some(settings) => Some(check_slo(settings, &verdicts, opts.now).await),
            };
            Outcome {
                env: env.to_string(),
                source: Some(source.clone()),
                verdicts,
                slo,
                refusal: None,
            }
        }
    };
    let allowed = outcome.allowed();
    reporter.output("allowed", if allowed { "true" } else { "false" })?;
    let images: BTreeMap<&str, &str> = outcome
        .verdicts
        .iter()
        .filter(|v| allowed && v.allowed())
        .filter_map(|v| Some((v.service.as_str(), v.image.as_deref()?)))
        .collect();
    reporter.output(
        "images",
        &serde_json::to_string(&images).unwrap_or_default(),
    )?;
    reporter.summary(&summary(&outcome, ctx))?;
    Ok(outcome)
}

async fn check_slo(
    settings: &crate::manifest::GateSettings,
    verdicts: &[Verdict],
    now: Option<u64>,
) -> slo::SloVerdict {
    let now = now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    // Since the newest source deployment: the code the source runs now.
    let deployed_at = verdicts
        .iter()
        .filter_map(|v| v.deployed_at.as_deref().and_then(crate::time::parse_time))
        .max()
        .unwrap_or(now);
    let window = slo::window(deployed_at, now);
    let query = slo::query(settings, &window);
    let answer = match Prometheus::new(&settings.prometheus) {
        Ok(prometheus) => prometheus.query(&query, now).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(samples) => slo::judge(settings, &window, slo::burns(samples)),
        Err(e) => slo::SloVerdict {
            window,
            max_burn_rate: settings.max_burn_rate,
            burns: Vec::new(),
            refusal: Some(format!(
                "cannot check the SLOs, so the gate stays closed: {e}"
            )),
        },
    }
}

fn github(ctx: &Context) -> Result<GitHub, GateError> {
    let token = ctx.token.as_ref().ok_or_else(|| {
        GateError::input("no GitHub token: pass `github-token: ${{ github.token }}` (or set GITHUB_TOKEN) with `deployments: read`")
    })?;
    let repo = ctx
        .repository
        .clone()
        .ok_or_else(|| GateError::input("GITHUB_REPOSITORY is not set (expected owner/repo)"))?;
    Ok(GitHub::new(&ctx.api_url, Some(token), repo)?.with_trusted(ctx.trusted_authors.clone()))
}

const SUMMARY: &str = include_str!("../../templates/gate-summary.md.tera");

/// What the summary template sees.
#[derive(Debug, Serialize)]
struct SummaryView<'a> {
    allowed: bool,
    env: &'a str,
    source: &'a str,
    refusal: Option<&'a str>,
    rows: Vec<SummaryRow<'a>>,
    slo: Option<SloView<'a>>,
}

#[derive(Debug, Serialize)]
struct SummaryRow<'a> {
    service: &'a str,
    image: Option<String>,
    deployment: Option<u64>,
    link: Option<String>,
    refusal: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct SloView<'a> {
    window: &'a str,
    max_burn_rate: f64,
    refusal: Option<&'a str>,
    burns: Vec<BurnView<'a>>,
}

#[derive(Debug, Serialize)]
struct BurnView<'a> {
    slo: &'a str,
    rate_text: String,
}

/// The job summary: one row per service, then the SLO check.
pub fn summary(outcome: &Outcome, ctx: &Context) -> String {
    let source = outcome.source.as_deref().unwrap_or("source");
    let repo_url = ctx
        .repository
        .as_ref()
        .map(|r| format!("https://github.com/{}/{}", r.owner, r.name));
    let view = SummaryView {
        allowed: outcome.allowed(),
        env: &outcome.env,
        source,
        refusal: outcome.refusal.as_deref(),
        rows: outcome
            .verdicts
            .iter()
            .map(|v| SummaryRow {
                service: &v.service,
                image: v.image.as_deref().map(crate::image::short_image),
                deployment: v.deployment,
                link: repo_url
                    .as_ref()
                    .map(|u| format!("{u}/deployments/{}", crate::github::encode(source))),
                refusal: v.refusal.as_deref(),
            })
            .collect(),
        slo: outcome.slo.as_ref().map(|s| SloView {
            window: &s.window,
            max_burn_rate: s.max_burn_rate,
            refusal: s.refusal.as_deref(),
            burns: s
                .burns
                .iter()
                .map(|b| BurnView {
                    slo: &b.slo,
                    rate_text: format!("{:.2}", b.rate),
                })
                .collect(),
        }),
    };
    let mut tera = markdown::tera();
    tera.add_raw_template("gate-summary.md", SUMMARY)
        .and_then(|_| tera::Context::from_serialize(&view))
        .and_then(|c| tera.render("gate-summary.md", &c))
        .unwrap_or_else(|e| format!("gate summary could not be rendered: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_environment_and_every_reason() {
        let verdict = |service: &str, refusal: Option<&str>| Verdict {
            service: service.into(),
            image: None,
            deployment: None,
            deployed_at: None,
            refusal: refusal.map(str::to_string),
        };
        let mut outcome = Outcome {
            env: "prod".into(),
            source: Some("staging".into()),
            verdicts: vec![verdict("api", None), verdict("worker", None)],
            slo: None,
            refusal: None,
        };
        assert_eq!(outcome.refusal_message(), None);
        outcome.verdicts[1].refusal = Some("never deployed to staging".into());
        outcome.refusal = Some("staging is frozen".into());
        assert_eq!(
            outcome.refusal_message().as_deref(),
            Some(
                "gate: promotion to `prod` refused:\n  staging is frozen\n  worker: never deployed to staging"
            )
        );
    }
}
