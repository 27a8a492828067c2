//! The GitHub side of a deploy: before the roll-out, each service's
//! rollback target and its Deployment record marked `in_progress`; during
//! it, each progressive step as a status; after it, each record's final
//! status and the deploy comment. GitHub never blocks a deploy: problems are
//! warnings.

use std::collections::BTreeMap;

use super::model::{DeployReport, Status};
use super::options::RunError;
use super::plan::DeployPlan;
use crate::gha::Reporter;
use crate::github::GitHub;
use crate::github::deployments::{DeploymentPayload, DeploymentState, NewDeployment, NewStatus};

/// How many of a service's past deployments are read to find the last one
/// that succeeded (the rollback target).
const HISTORY: usize = 30;

/// A service's GitHub Deployment record: its id, and whether an earlier
/// run of this release already marked it `success` (a re-run adds nothing).
pub(super) type Records = BTreeMap<String, (u64, bool)>;

/// Where a deploy's GitHub deployment statuses go: the client, and the
/// links every status carries (the run, the environment).
#[derive(Debug, Clone)]
pub(super) struct Statuses {
    pub(super) gh: GitHub,
    pub(super) log_url: Option<String>,
    pub(super) environment_url: Option<String>,
}

impl Statuses {
    /// Sets one status; a failure comes back as a warning line, because
    /// GitHub never blocks a deploy.
    pub(super) async fn set(
        &self,
        service: &str,
        id: u64,
        state: DeploymentState,
        description: &str,
    ) -> Option<String> {
        let status = NewStatus {
            state,
            log_url: self.log_url.as_deref(),
            environment_url: self.environment_url.as_deref(),
            description,
        };
        self.gh
            .set_status(id, &status)
            .await
            .err()
            .map(|e| format!("warning: {service}: cannot set the deployment status: {e}"))
    }
}

/// A run's GitHub side once its records are open: where the statuses go
/// (none without GitHub) and each service's Deployment record.
pub(super) struct Recording {
    pub(super) statuses: Option<Statuses>,
    pub(super) records: Records,
}

impl Recording {
    /// What turns a roll-out's progressive steps into statuses (none
    /// without GitHub).
    pub(super) fn step_statuses(&self) -> Option<StepStatuses> {
        self.statuses.clone().map(|statuses| StepStatuses {
            statuses,
            records: self.records.clone(),
        })
    }
}

/// The GitHub side before the rollout: each service's rollback target (the
/// last successful release's task definition) and its Deployment record,
/// marked `in_progress`; no records without GitHub. Problems are warnings:
/// GitHub never blocks a deploy.
pub(super) async fn open_records(
    statuses: Option<Statuses>,
    plan: &mut DeployPlan,
    reporter: &mut Reporter,
) -> Result<Recording, RunError> {
    let records = match &statuses {
        Some(statuses) => open(statuses, plan, reporter).await?,
        None => Records::new(),
    };
    Ok(Recording { statuses, records })
}

/// [`open_records`] with GitHub.
async fn open(
    statuses: &Statuses,
    plan: &mut DeployPlan,
    reporter: &mut Reporter,
) -> Result<Records, RunError> {
    let mut records = Records::new();
    let gh = &statuses.gh;
    for service in plan.services.iter_mut() {
        let Some(registered) = service.registered.clone() else {
            continue;
        };
        match gh
            .last_successful(&plan.env, &service.service, HISTORY)
            .await
        {
            Ok(Some(record)) => {
                service.rollback_to = record
                    .payload
                    .and_then(|p| p.task_definition_arn)
                    .filter(|arn| *arn != registered.arn);
            }
            Ok(None) => {}
            Err(e) => reporter.info(&format!(
                "warning: {}: cannot read the last successful release (no rollback target): {e}",
                service.service
            ))?,
        }
        let payload = DeploymentPayload {
            service: service.service.clone(),
            image: service.image.clone(),
            task_definition_arn: Some(registered.arn.clone()),
        };
        let new = NewDeployment {
            sha: &plan.sha,
            environment: &plan.env,
            service: &service.service,
            payload: &payload,
            description: &format!("Ferry: {} to {}", service.service, plan.env),
            production: plan.production,
        };
        let created = match gh.create_deployment(&new).await {
            Ok(d) => d,
            Err(e) => {
                reporter.info(&format!(
                    "warning: {}: cannot record the GitHub Deployment: {e}",
                    service.service
                ))?;
                continue;
            }
        };
        let id = created.record.id;
        let previous = if created.reused {
            gh.latest_state(id).await.ok().flatten()
        } else {
            None
        };
        if created.reused {
            match gh.trusted_descriptions(id).await {
                Ok(d) => service.tasks.done = super::tasks::plan::recorded(&d),
                Err(e) => reporter.info(&format!(
                    "warning: {}: cannot read which before-deploy tasks succeeded (they run again): {e}",
                    service.service
                ))?,
            }
        }
        // A re-run of a release that already succeeded adds no status.
        let done_before = previous == Some(DeploymentState::Success);
        if !done_before
            && let Some(warning) = statuses
                .set(
                    &service.service,
                    id,
                    DeploymentState::InProgress,
                    "rolling out",
                )
                .await
        {
            reporter.info(&warning)?;
        }
        // Only a `success` record says this release's analysis completed.
        service.verified = done_before;
        records.insert(service.service.clone(), (id, done_before));
    }
    Ok(records)
}

/// Turns each step of a progressive rollout into an `in_progress`
/// deployment status with the step in its description, so GitHub's
/// environments view follows the canary. Failures are warnings.
pub(super) struct StepStatuses {
    pub(super) statuses: Statuses,
    pub(super) records: Records,
}

impl StepStatuses {
    pub(super) async fn run(
        self,
        mut steps: tokio::sync::mpsc::UnboundedReceiver<(String, super::progressive::StepReport)>,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        while let Some((service, step)) = steps.recv().await {
            let Some((id, done_before)) = self.records.get(&service) else {
                continue;
            };
            if *done_before {
                continue;
            }
            let description = step.title();
            let set = self
                .statuses
                .set(&service, *id, DeploymentState::InProgress, &description);
            warnings.extend(set.await);
        }
        warnings
    }
}

/// The GitHub side after the rollout: each record's final status, then the
/// deploy comment on the pull requests of the commit (nothing without GitHub).
pub(super) async fn close_records(
    recording: &Recording,
    report: &DeployReport,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    let (Some(statuses), records) = (&recording.statuses, &recording.records) else {
        return Ok(());
    };
    for o in &report.outcomes {
        if let Some((id, _)) = records.get(&o.service) {
            for line in super::tasks::records_of(o) {
                let set = statuses.set(&o.service, *id, DeploymentState::InProgress, &line);
                if let Some(warning) = set.await {
                    reporter.info(&warning)?;
                }
            }
        }
        let (Some((id, done_before)), Some(state)) =
            (records.get(&o.service), github_state(o.status))
        else {
            continue;
        };
        if *done_before && state == DeploymentState::Success {
            continue;
        }
        let description = match &o.diagnosis {
            Some(d) => d.reason.clone(),
            None => format!("{} in {:.0} s", o.status.as_str(), o.duration_secs),
        };
        if let Some(warning) = statuses.set(&o.service, *id, state, &description).await {
            reporter.info(&warning)?;
        }
    }
    if report.sha.is_empty() {
        return Ok(());
    }
    match super::post::post_deploy_comment(&statuses.gh, &report.sha, report).await {
        Ok(posted) => {
            for (pr, upserted) in posted {
                reporter.info(&format!(
                    "deploy comment on #{pr}: {}",
                    upserted_word(&upserted)
                ))?;
            }
        }
        Err(e) => reporter.info(&format!("warning: the deploy comment was not posted: {e}"))?,
    }
    Ok(())
}

fn upserted_word(u: &crate::github::comments::Upserted) -> &'static str {
    use crate::github::comments::Upserted;
    match u {
        Upserted::Created(_) => "posted",
        Upserted::Updated(_) => "edited",
        Upserted::Unchanged(_) => "unchanged",
    }
}

/// GitHub's status for an outcome (None: leave the record as it is).
pub fn github_state(status: Status) -> Option<DeploymentState> {
    match status {
        Status::Succeeded | Status::Unchanged => Some(DeploymentState::Success),
        Status::Failed | Status::RolledBack => Some(DeploymentState::Failure),
        Status::Started | Status::DryRun => None,
    }
}
