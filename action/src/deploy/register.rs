//! The register phase: RegisterTaskDefinition without a new revision on
//! every run (the rendered JSON is compared with the family's latest ACTIVE
//! revision after normalisation, [`crate::taskdef`], and an identical one is
//! reused), every service at once under the registration budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::budget::Budget;
use super::model::{ServiceOutcome, Status};
use super::options::{RolloutOptions, RunError};
use super::plan::{DeployPlan, failed_before_change, untouched};
use crate::aws::AwsError;
use crate::aws::ecs::{self, Ecs};
use crate::gha::Reporter;
use crate::taskdef::TaskDefinition;

/// The outcome of [`ensure_registered`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The ARN to deploy.
    pub arn: String,
    /// False when the latest ACTIVE revision was identical and reused.
    pub registered: bool,
}

/// Reuses the family's latest ACTIVE revision when it equals `rendered`
/// after normalisation; registers a new one (under `budget`) otherwise.
#[tracing::instrument(name = "register", skip_all)]
pub async fn ensure_registered(
    ecs: &dyn Ecs,
    budget: &Budget,
    rendered: &TaskDefinition,
) -> Result<Registered, AwsError> {
    let family = ecs::family_of(rendered)?;
    if let Some((arn, running)) = ecs.latest_task_definition(&family).await?
        && crate::taskdef::diff(&running, &rendered.to_value()).is_empty()
    {
        return Ok(Registered {
            arn,
            registered: false,
        });
    }
    budget.take().await;
    let arn = ecs.register_task_definition(rendered).await?;
    Ok(Registered {
        arn,
        registered: true,
    })
}

/// Registration, the first phase of a run: every task definition
/// registered at once (an identical latest revision reused), each ARN said
/// and put on its service's plan. Answers the outcomes of the services that
/// did not register: they are not rolled out.
pub(super) async fn register(
    ecs: &Arc<dyn Ecs>,
    plan: &mut DeployPlan,
    rollout: &RolloutOptions,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    let mut registrations = register_all(ecs, plan, rollout).await?;
    note_registrations(plan, &registrations, reporter)?;
    Ok(plan
        .services
        .iter()
        .filter(|p| p.registered.is_none())
        .map(|p| {
            let reason = match registrations.remove(&p.service) {
                Some(Err(e)) => e,
                _ => String::new(),
            };
            failed_before_change(untouched(p, Status::Failed), reason)
        })
        .collect())
}

/// Registration's result per service: the ARN, or why it failed.
type Registrations = BTreeMap<String, Result<Registered, String>>;

/// Registers every service's task definition at once, under the
/// registration budget (an identical latest revision is reused).
async fn register_all(
    ecs: &Arc<dyn Ecs>,
    plan: &DeployPlan,
    rollout: &RolloutOptions,
) -> Result<Registrations, RunError> {
    let budget = Arc::new(Budget::new(
        rollout.register_per_second,
        rollout.register_burst,
    ));
    let mut set = tokio::task::JoinSet::new();
    for p in &plan.services {
        let (ecs, budget, td, service) = (
            ecs.clone(),
            budget.clone(),
            p.task_definition.clone(),
            p.service.clone(),
        );
        set.spawn(async move {
            let result = ensure_registered(ecs.as_ref(), &budget, &td).await;
            (service, result.map_err(|e| e.to_string()))
        });
    }
    let mut registrations = Registrations::new();
    while let Some(joined) = set.join_next().await {
        let (service, result) =
            joined.map_err(|e| RunError::Failed(format!("a registration task failed: {e}")))?;
        registrations.insert(service, result);
    }
    Ok(registrations)
}

/// Says what registration did, and puts each ARN on its service's plan.
fn note_registrations(
    plan: &mut DeployPlan,
    registrations: &Registrations,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    for service in plan.services.iter_mut() {
        if let Some(Ok(r)) = registrations.get(&service.service) {
            reporter.info(&format!(
                "{} ({}): {} {}",
                service.service,
                service.env,
                if r.registered {
                    "registered"
                } else {
                    "reusing the identical"
                },
                r.arn
            ))?;
            service.registered = Some(r.clone());
        }
    }
    Ok(())
}
