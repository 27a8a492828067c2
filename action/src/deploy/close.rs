//! The close phase of a run: the outcomes in plan order as the report, each
//! one recorded (telemetry) and said in the log, the GitHub records closed
//! and the comment posted ([`super::records`]), the outputs, the job summary,
//! and the error naming the services that failed.

use super::comment;
use super::model::{DeployReport, ServiceOutcome};
use super::options::RunError;
use super::plan::DeployPlan;
use super::records::{Recording, close_records};
use super::report::write_outputs;
use crate::gha::{Context, Reporter};

/// Closes a run on its outcomes: the report (in plan order), telemetry and
/// log lines, the GitHub side, outputs and summary; `Err` names the
/// services that did not succeed.
pub(super) async fn close(
    ctx: &Context,
    plan: &DeployPlan,
    mut outcomes: Vec<ServiceOutcome>,
    recording: &Recording,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    outcomes.sort_by_key(|o| plan.services.iter().position(|p| p.service == o.service));
    let report = DeployReport {
        env: plan.env.clone(),
        sha: plan.sha.clone(),
        run_url: ctx.run_url.clone(),
        environment_url: plan.environment_url.clone(),
        outcomes,
        waves: plan.waves.clone(),
    };
    for o in &report.outcomes {
        record(o);
        reporter.info(&describe(o))?;
    }
    close_records(recording, &report, reporter).await?;
    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    reporter.summary(&super::waves::markdown(&plan.waves, &report.outcomes))?;
    reporter.summary(&super::tasks::markdown(&report.outcomes))?;
    succeeded(report)
}

/// The outcome as a telemetry record.
fn record(o: &ServiceOutcome) {
    crate::telemetry::record_service(&crate::telemetry::ServiceRecord {
        service: &o.service,
        environment: &o.env,
        image: o.image.as_deref(),
        task_definition_arn: o.task_definition_arn.as_deref(),
        outcome: o.status.as_str(),
        duration_secs: o.duration_secs,
        rolled_back_to: o.rollback.as_ref().map(|r| r.task_definition_arn.as_str()),
    });
}

/// One line per outcome for the log.
fn describe(o: &ServiceOutcome) -> String {
    let arn = o.task_definition_arn.as_deref().unwrap_or("–");
    let mut line = format!(
        "{} ({}): {} · {} · {:.1} s",
        o.service,
        o.env,
        o.status.as_str(),
        arn,
        o.duration_secs
    );
    if let Some(d) = &o.diagnosis {
        line.push_str(&format!("\n  why: {}", d.reason));
    }
    if let Some(r) = &o.rollback {
        line.push_str(&format!(
            "\n  rollback to {}: {}",
            r.task_definition_arn,
            if r.succeeded { "done" } else { "failed" }
        ));
    }
    line
}

/// The report when every service succeeded (or was unchanged), else the
/// error naming those that did not.
fn succeeded(report: DeployReport) -> Result<DeployReport, RunError> {
    if report.succeeded() {
        return Ok(report);
    }
    let failed: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| !o.status.is_success())
        .map(|o| format!("{} {}", o.service, o.status.as_str()))
        .collect();
    Err(RunError::Failed(format!(
        "deploy to {} failed: {}",
        report.env,
        failed.join(", ")
    )))
}
