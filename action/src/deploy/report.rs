//! What a deploy says without carrying anything out, and the outputs every
//! run writes: the dry run's preview (each service, the comment it would
//! post, the summary) and the outputs (`status` is the worst service's).

use super::comment;
use super::model::{DeployReport, ServiceOutcome, Status};
use super::options::RunError;
use super::plan::{DeployPlan, untouched};
use crate::gha::{Context, Reporter};

/// The overall `status` output: the worst service's.
pub fn overall(outcomes: &[ServiceOutcome]) -> Status {
    let rank = |s: Status| match s {
        Status::Failed => 0,
        Status::RolledBack => 1,
        Status::Started => 2,
        Status::DryRun => 3,
        Status::Succeeded => 4,
        Status::Unchanged => 5,
    };
    outcomes
        .iter()
        .map(|o| o.status)
        .min_by_key(|s| rank(*s))
        .unwrap_or(Status::Unchanged)
}

/// What a deploy would do, with no effect: each service's outcome is
/// `dry-run`; the comment it would post is returned beside the report.
pub fn dry_report(plan: &DeployPlan, run_url: Option<String>) -> DeployReport {
    DeployReport {
        env: plan.env.clone(),
        sha: plan.sha.clone(),
        run_url,
        environment_url: plan.environment_url.clone(),
        outcomes: plan
            .services
            .iter()
            .map(|p| untouched(p, Status::DryRun))
            .collect(),
        waves: plan.waves.clone(),
    }
}

/// Shows a plan instead of carrying it out: what each service would run
/// where, the comment it would post, the outputs and the summary.
pub fn preview(
    plan: &DeployPlan,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let report = dry_report(plan, ctx.run_url.clone());
    for p in &plan.services {
        reporter.info(&format!(
            "dry run: {} ({}) would run {} on ECS service {} in cluster {}, rolling out {}",
            p.service,
            p.env,
            p.image.as_deref().unwrap_or("–"),
            p.ecs_service,
            p.cluster,
            super::progressive::describe_rollout(&p.rollout, p.analysis.as_ref())
        ))?;
    }
    if plan.waves.len() > 1 {
        for line in super::waves::describe(&plan.waves) {
            reporter.info(&format!("dry run: {line}"))?;
        }
    }
    for line in super::tasks::dry_lines(plan) {
        reporter.info(&line)?;
    }
    reporter.info("dry run: the deploy comment would read:")?;
    reporter.info(&comment::preview(&report))?;
    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    reporter.summary(&super::waves::markdown(&plan.waves, &report.outcomes))?;
    Ok(report)
}

/// `status` (the worst), `task-definition-arn` (first service),
/// `task-definition-arns`, `statuses` and `durations` (JSON by service).
pub(super) fn write_outputs(reporter: &mut Reporter, report: &DeployReport) -> std::io::Result<()> {
    reporter.output("status", overall(&report.outcomes).as_str())?;
    if let Some(arn) = report
        .outcomes
        .first()
        .and_then(|o| o.task_definition_arn.as_deref())
    {
        reporter.output("task-definition-arn", arn)?;
    }
    let by = |f: &dyn Fn(&ServiceOutcome) -> serde_json::Value| {
        serde_json::Value::Object(
            report
                .outcomes
                .iter()
                .map(|o| (o.service.clone(), f(o)))
                .collect(),
        )
        .to_string()
    };
    reporter.output(
        "task-definition-arns",
        &by(&|o| serde_json::json!(o.task_definition_arn)),
    )?;
    reporter.output("statuses", &by(&|o| serde_json::json!(o.status.as_str())))?;
    reporter.output(
        "durations",
        &by(&|o| serde_json::json!((o.duration_secs * 10.0).round() / 10.0)),
    )?;
    reporter.output(
        "decided-by",
        &by(&|o| serde_json::json!(o.progress.as_ref().and_then(|p| p.decided_by.clone()))),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::deploy::plan::selected;
    use crate::deploy::records::github_state;
    use crate::github::deployments::DeploymentState;
    use crate::inputs::ServiceSelection;
    use crate::manifest::Manifest;

    fn outcome(service: &str, status: Status) -> ServiceOutcome {
        ServiceOutcome {
            service: service.into(),
            env: "staging".into(),
            cluster: "c".into(),
            ecs_service: "s".into(),
            image: None,
            task_definition_arn: None,
            registered: false,
            deployment_id: None,
            status,
            duration_secs: 1.0,
            diagnosis: None,
            rollback: None,
            progress: None,
            tasks: Vec::new(),
        }
    }

    #[test]
    fn the_overall_status_is_the_worst() {
        let all = |s: &[Status]| overall(&s.iter().map(|s| outcome("a", *s)).collect::<Vec<_>>());
        assert_eq!(
            all(&[Status::Succeeded, Status::Unchanged]),
            Status::Succeeded
        );
        assert_eq!(
            all(&[Status::Unchanged, Status::Unchanged]),
            Status::Unchanged
        );
        assert_eq!(
            all(&[Status::Succeeded, Status::RolledBack]),
            Status::RolledBack
        );
        assert_eq!(all(&[Status::RolledBack, Status::Failed]), Status::Failed);
        assert_eq!(all(&[]), Status::Unchanged);
    }

    #[test]
    fn github_sees_success_failure_or_nothing_yet() {
        assert_eq!(
            github_state(Status::Unchanged),
            Some(DeploymentState::Success)
        );
        assert_eq!(
            github_state(Status::RolledBack),
            Some(DeploymentState::Failure)
        );
        assert_eq!(github_state(Status::Started), None);
    }

    #[test]
    fn services_need_an_image_each() {
        let m = Manifest::parse(
            include_str!("../../../.github/ferry.yml"),
            std::path::Path::new(".github/ferry.yml"),
        )
        .unwrap();
        let images: BTreeMap<String, String> =
            [("sampleapi".to_string(), "r/a@sha256:1".to_string())].into();
        assert_eq!(selected(&m, None, &images).unwrap(), vec!["sampleapi"]);
        let given = |text: &str| ServiceSelection::parse(text).unwrap().unwrap();
        let err = selected(&m, Some(&given("sampleapi,sampleworker")), &images).unwrap_err();
        assert!(err.contains("no image for sampleworker"), "{err}");
        let err = selected(&m, None, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("nothing to deploy"), "{err}");
        let err = selected(&m, Some(&given("sampleapj")), &images).unwrap_err();
        assert!(err.contains("sampleapj"), "{err}");
    }
}
