//! `ferry deploy` carried out: [`run`] takes the plan, then previews it
//! (`--dry-run`) or runs preflight and [`execute`]s it: register → records →
//! roll out (wave by wave) → close (statuses, comment, outputs, summary).

use std::sync::Arc;

use super::apply::roll_out;
use super::comment;
use super::model::{DeployReport, ServiceOutcome, Status};
use super::options::Options;
use super::options::{RolloutOptions, RunError};
use super::plan::{
    DeployPlan, ServicePlan, failed_before_change, preflight_targets, prepare, untouched,
};
use super::records::{Records, Statuses, StepStatuses, close_records, open_records};
use super::register::{note_registrations, register_all};
use super::report::{describe, preview, succeeded, write_outputs};
use crate::aws::ecs::Ecs;
use crate::gha::{Context, Reporter};
use crate::github::GitHub;
use crate::project::Project;

/// Runs `ferry deploy`: the plan from the manifest and the images, then
/// carried out, or previewed with `--dry-run`.
pub async fn run(
    ctx: &Context,
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let plan = prepare(ctx, project, opts, reporter)?;
    if opts.dry_run {
        preview(&plan, ctx, reporter)
    } else {
        preflight(project, &plan, &opts.preflight, reporter).await?;
        execute(ctx, plan, &opts.rollout, reporter).await
    }
}

/// Preflight before anything is registered or updated: every reference
/// checked (credentials first), or skipped with the reason recorded.
pub async fn preflight(
    project: &Project,
    plan: &DeployPlan,
    gate: &crate::preflight::Gate,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    if *gate == crate::preflight::Gate::Run {
        crate::aws::connect(&plan.region).await?;
    }
    crate::preflight::gate(&project.manifest, &preflight_targets(plan), gate, reporter).await?;
    Ok(())
}

/// Carries a plan out: register, record in GitHub, roll out and wait (with
/// diagnosis and rollback), then statuses, comment, outputs and summary.
/// The Deployment record carries the task definition ARN, so it is created
/// after registration, and marked `in_progress` before the service is
/// updated, so GitHub's environments view shows the rollout while it runs.
pub async fn execute(
    ctx: &Context,
    mut plan: DeployPlan,
    rollout: &RolloutOptions,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let ecs: Arc<dyn Ecs> = Arc::new(crate::aws::connect(&plan.region).await?);
    let statuses = GitHub::from_context(ctx).map(|gh| Statuses {
        gh,
        log_url: ctx.run_url.clone(),
        environment_url: plan.environment_url.clone(),
    });
    if statuses.is_none() {
        reporter.info(
            "note: no GitHub token or repository: no Deployment records, no rollback history, no comment",
        )?;
    }

    let mut registrations = register_all(&ecs, &plan, rollout).await?;
    note_registrations(&mut plan, &registrations, reporter)?;
    let records = match &statuses {
        Some(statuses) => open_records(statuses, &mut plan, reporter).await?,
        None => Records::new(),
    };
    super::tasks::apply_options(&mut plan, rollout);

    // The rollout: only services that registered.
    let order: Vec<String> = plan.services.iter().map(|p| p.service.clone()).collect();
    let (ready, broken): (Vec<ServicePlan>, Vec<ServicePlan>) = plan
        .services
        .into_iter()
        .partition(|p| p.registered.is_some());
    let mut outcomes = Vec::new();
    for p in broken {
        let reason = match registrations.remove(&p.service) {
            Some(Err(e)) => e,
            _ => String::new(),
        };
        outcomes.push(failed_before_change(untouched(&p, Status::Failed), reason));
    }
    outcomes.extend(
        roll_out_waves(
            &ecs,
            ready,
            &plan.waves,
            &outcomes,
            rollout,
            |statuses_for| {
                statuses_for.clone().map(|statuses| StepStatuses {
                    statuses,
                    records: records.clone(),
                })
            },
            &statuses,
            &plan.env,
            reporter,
        )
        .await?,
    );
    outcomes.sort_by_key(|o| order.iter().position(|s| *s == o.service));
    let report = DeployReport {
        env: plan.env.clone(),
        sha: plan.sha.clone(),
        run_url: ctx.run_url.clone(),
        environment_url: plan.environment_url.clone(),
        outcomes,
    };
    for o in &report.outcomes {
        crate::telemetry::record_service(&crate::telemetry::ServiceRecord {
            service: &o.service,
            environment: &o.env,
            image: o.image.as_deref(),
            task_definition_arn: o.task_definition_arn.as_deref(),
            outcome: o.status.as_str(),
            duration_secs: o.duration_secs,
            rolled_back_to: o.rollback.as_ref().map(|r| r.task_definition_arn.as_str()),
        });
        reporter.info(&describe(o))?;
    }
    if let Some(statuses) = &statuses {
        close_records(statuses, &records, &report, reporter).await?;
    }

    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    reporter.summary(&super::waves::markdown(&plan.waves, &report.outcomes))?;
    reporter.summary(&super::tasks::markdown(&report.outcomes))?;
    succeeded(report)
}

/// The rollout wave by wave (`depends-on`): a wave starts when every
/// service of the one before reached steady state and passed its analysis
/// (waves before the last are waited on even with `--no-wait`); after a
/// failed wave, the later ones are not deployed (and say why), and the
/// earlier, healthy ones stay as they are. `failed_before` holds the
/// services that already failed (registration).
#[allow(clippy::too_many_arguments)]
async fn roll_out_waves(
    ecs: &Arc<dyn Ecs>,
    mut ready: Vec<ServicePlan>,
    waves: &[Vec<String>],
    failed_before: &[ServiceOutcome],
    rollout: &RolloutOptions,
    step_statuses: impl Fn(&Option<Statuses>) -> Option<StepStatuses>,
    statuses: &Option<Statuses>,
    env: &str,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    let mut outcomes = Vec::new();
    let mut stopped: Option<(usize, Vec<String>)> = None;
    if waves.len() > 1 {
        for line in super::waves::describe(waves) {
            reporter.info(&line)?;
        }
    }
    for (i, wave) in waves.iter().enumerate() {
        let (batch, rest): (Vec<ServicePlan>, Vec<ServicePlan>) =
            ready.into_iter().partition(|p| wave.contains(&p.service));
        ready = rest;
        if let Some((n, failed)) = &stopped {
            outcomes.extend(batch.iter().map(|p| {
                failed_before_change(
                    untouched(p, Status::Failed),
                    super::waves::not_deployed(*n, failed),
                )
            }));
            continue;
        }
        let last = i + 1 == waves.len();
        let options = if last {
            rollout.clone()
        } else {
            RolloutOptions {
                wait: true,
                ..rollout.clone()
            }
        };
        let done =
            roll_out_reported(ecs, batch, &options, step_statuses(statuses), env, reporter).await?;
        let failed: Vec<String> = done
            .iter()
            .chain(failed_before.iter().filter(|o| wave.contains(&o.service)))
            .filter(|o| !o.status.is_success())
            .map(|o| o.service.clone())
            .collect();
        outcomes.extend(done);
        if !failed.is_empty() && !last {
            reporter.info(&format!(
                "wave {} failed ({}): the later waves are not deployed; the earlier ones stay",
                i + 1,
                failed.join(", ")
            ))?;
            stopped = Some((i + 1, failed));
        }
    }
    // A service in no wave (none by construction) still rolls out.
    if !ready.is_empty() {
        outcomes.extend(
            roll_out_reported(ecs, ready, rollout, step_statuses(statuses), env, reporter).await?,
        );
    }
    Ok(outcomes)
}

/// The rollout in a log group, each progressive step turned into a GitHub
/// deployment status as it begins (when there is GitHub).
async fn roll_out_reported(
    ecs: &Arc<dyn Ecs>,
    ready: Vec<ServicePlan>,
    rollout: &RolloutOptions,
    statuses: Option<StepStatuses>,
    env: &str,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    reporter.group(&format!("roll out to {env}"))?;
    let (steps, poster) = match statuses {
        Some(poster) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(tokio::spawn(poster.run(rx))))
        }
        None => (None, None),
    };
    // Live: the job's log follows the rollout, and a job cancelled or
    // killed midway still shows how far it got.
    let mut written: std::io::Result<()> = Ok(());
    let plans = ready.clone();
    let mut outcomes = roll_out(
        ecs,
        ready,
        rollout,
        &mut |line| {
            if written.is_ok() {
                written = reporter.info(line);
            }
        },
        steps,
    )
    .await
    .outcomes;
    written?;
    for line in super::tasks::after_deploy(ecs.as_ref(), &plans, &mut outcomes).await {
        reporter.info(&line)?;
    }
    if let Some(poster) = poster {
        for line in poster.await.unwrap_or_default() {
            reporter.info(&line)?;
        }
    }
    reporter.end_group()?;
    Ok(outcomes)
}
