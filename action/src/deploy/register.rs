//! RegisterTaskDefinition without a new revision on every run: the rendered
//! JSON is compared with the family's latest ACTIVE revision after
//! normalisation ([`crate::taskdef`]), and an identical one is reused.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::budget::Budget;
use super::options::{RolloutOptions, RunError};
use super::plan::DeployPlan;
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

/// Registration's result per service: the ARN, or why it failed.
pub(super) type Registrations = BTreeMap<String, Result<super::register::Registered, String>>;

/// Registers every service's task definition at once, under the
/// registration budget (an identical latest revision is reused).
pub(super) async fn register_all(
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
pub(super) fn note_registrations(
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
