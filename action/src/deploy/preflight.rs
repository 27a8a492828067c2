//! The deploy's preflight gate: every reference of a plan checked
//! (credentials first) before anything is registered or updated, or the
//! check skipped with its reason recorded ([`crate::preflight`] decides).

use super::options::RunError;
use super::plan::DeployPlan;
use crate::gha::Reporter;
use crate::project::Project;

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

/// What preflight checks of a plan: each service's rendered definition and
/// where it goes.
pub fn preflight_targets(plan: &DeployPlan) -> crate::preflight::Targets {
    crate::preflight::Targets {
        env: plan.env.clone(),
        region: plan.region.clone(),
        services: plan
            .services
            .iter()
            .map(|p| crate::preflight::Target {
                service: p.service.clone(),
                task_definition: p.task_definition.clone(),
                cluster: p.cluster.clone(),
                ecs_service: p.ecs_service.clone(),
            })
            .collect(),
        schedules: plan.schedules.clone(),
    }
}
