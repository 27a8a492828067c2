//! RegisterTaskDefinition without a new revision on every run: the rendered
//! JSON is compared with the family's latest ACTIVE revision after
//! normalisation ([`crate::taskdef`]), and an identical one is reused.

use super::budget::Budget;
use crate::aws::AwsError;
use crate::aws::ecs::{self, task_definition};
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
    ecs: &aws_sdk_ecs::Client,
    budget: &Budget,
    rendered: &TaskDefinition,
) -> Result<Registered, AwsError> {
    let sdk = task_definition::to_sdk(rendered)?;
    let family = sdk
        .definition
        .family()
        .ok_or_else(|| AwsError::Convert {
            field: "family".into(),
            message: "required".into(),
        })?
        .to_string();
    if let Some((arn, running)) = ecs::task_definition(ecs, &family).await?
        && crate::taskdef::diff(&running, &rendered.to_value()).is_empty()
    {
        return Ok(Registered {
            arn,
            registered: false,
        });
    }
    budget.take().await;
    let arn = ecs::register_task_definition(ecs, &family, sdk).await?;
    Ok(Registered {
        arn,
        registered: true,
    })
}
