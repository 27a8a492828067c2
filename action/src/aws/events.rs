//! The EventBridge port: the two calls that release a scheduled job (an
//! EventBridge rule whose ECS target runs a service's task definition
//! family) as a trait over plain Ferry types. [`Client`] answers them with
//! aws-sdk-eventbridge; the deploy stage ([`crate::deploy::schedule`]) and
//! preflight hold an `&dyn Events` and never an SDK type, so their
//! decisions run in unit tests on an in-memory port.

use aws_sdk_eventbridge::types as t;

use super::ecs::port::Call;
use super::{AwsError, call_error, sdk_message};

/// An EventBridge rule, by name, on its event bus (`None`: the account's
/// default bus).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// The rule's name.
    pub name: String,
    /// The event bus's name or ARN, when not the default one.
    pub event_bus: Option<String>,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.event_bus {
            Some(bus) => write!(f, "{} (event bus {bus})", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One target of a rule as ListTargetsByRule gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleTarget {
    /// The target's id in the rule.
    pub id: String,
    /// What it calls (an ECS cluster's ARN for an ECS target).
    pub arn: String,
    /// `EcsParameters.TaskDefinitionArn`, for an ECS target.
    pub task_definition: Option<String>,
    /// The whole target as EventBridge holds it (input, role, network
    /// configuration, retry policy, …), handed back to
    /// [`Events::put_task_definition`] so that only the revision changes.
    pub sdk: Opaque,
}

/// The SDK's target, opaque to the stages (`None` in an in-memory port).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opaque(pub(crate) Option<t::Target>);

/// The EventBridge calls of a deploy and of preflight.
pub trait Events: Send + Sync {
    /// ListTargetsByRule, every page; `None` when the rule does not exist.
    fn targets<'a>(&'a self, rule: &'a Rule)
    -> Call<'a, Result<Option<Vec<RuleTarget>>, AwsError>>;

    /// PutTargets of `target` as it is, but for its
    /// `EcsParameters.TaskDefinitionArn`, set to `task_definition`.
    fn put_task_definition<'a>(
        &'a self,
        rule: &'a Rule,
        target: &'a RuleTarget,
        task_definition: &'a str,
    ) -> Call<'a, Result<(), AwsError>>;
}

/// The SDK side of [`Events`].
#[derive(Debug, Clone)]
pub struct Client(pub aws_sdk_eventbridge::Client);

impl Client {
    /// An EventBridge client for `region` from the standard AWS settings
    /// ([`super::config`]: `AWS_ENDPOINT_URL_EVENTBRIDGE` points it at a
    /// stand-in).
    pub async fn connect(region: &str) -> Self {
        Self::from_config(&super::config(region).await)
    }

    /// An EventBridge client sharing a loaded config.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self(aws_sdk_eventbridge::Client::new(config))
    }
}

/// A ListTargetsByRule target as the port's.
fn target(t: &t::Target) -> RuleTarget {
    RuleTarget {
        id: t.id().to_string(),
        arn: t.arn().to_string(),
        task_definition: t
            .ecs_parameters()
            .map(|e| e.task_definition_arn().to_string()),
        sdk: Opaque(Some(t.clone())),
    }
}

impl Events for Client {
    fn targets<'a>(
        &'a self,
        rule: &'a Rule,
    ) -> Call<'a, Result<Option<Vec<RuleTarget>>, AwsError>> {
        Box::pin(async move {
            let mut all = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let answer = self
                    .0
                    .list_targets_by_rule()
                    .rule(&rule.name)
                    .set_event_bus_name(rule.event_bus.clone())
                    .set_next_token(token.take())
                    .send()
                    .await;
                let page = match answer {
                    Ok(page) => page,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                    {
                        return Ok(None);
                    }
                    Err(e) => {
                        return Err(call_error(
                            "ListTargetsByRule",
                            &rule.to_string(),
                            sdk_message(&e),
                        ));
                    }
                };
                all.extend(page.targets().iter().map(target));
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => return Ok(Some(all)),
                }
            }
        })
    }

    fn put_task_definition<'a>(
        &'a self,
        rule: &'a Rule,
        target: &'a RuleTarget,
        task_definition: &'a str,
    ) -> Call<'a, Result<(), AwsError>> {
        Box::pin(async move {
            let what = format!("{rule} target {}", target.id);
            let mut sdk = target.sdk.0.clone().ok_or_else(|| {
                call_error("PutTargets", &what, "the target was not read first".into())
            })?;
            let Some(ecs) = sdk.ecs_parameters.as_mut() else {
                return Err(call_error(
                    "PutTargets",
                    &what,
                    "the target has no ECS parameters".into(),
                ));
            };
            ecs.task_definition_arn = task_definition.to_string();
            let answer = self
                .0
                .put_targets()
                .rule(&rule.name)
                .set_event_bus_name(rule.event_bus.clone())
                .targets(sdk)
                .send()
                .await
                .map_err(|e| call_error("PutTargets", &what, sdk_message(&e)))?;
            match answer.failed_entries().first() {
                None if answer.failed_entry_count() == 0 => Ok(()),
                failed => Err(call_error(
                    "PutTargets",
                    &what,
                    failed
                        .map(|f| {
                            format!(
                                "{}: {}",
                                f.error_code().unwrap_or("failed"),
                                f.error_message().unwrap_or_default()
                            )
                        })
                        .unwrap_or_else(|| "EventBridge did not accept the target".into()),
                )),
            }
        })
    }
}

/// The family and revision of a task definition named by ARN
/// (`arn:aws:ecs:…:task-definition/web:7`) or as `family:revision`; the
/// revision is `None` when the name has none (the family's latest ACTIVE
/// revision).
pub fn family_revision(task_definition: &str) -> (&str, Option<&str>) {
    let name = task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, name)| name);
    match name.rsplit_once(':') {
        Some((family, revision))
            if !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (family, Some(revision))
        }
        _ => (name, None),
    }
}

/// `family:revision` of a task definition ARN, for messages.
pub fn short(task_definition: &str) -> &str {
    task_definition
        .rsplit_once(":task-definition/")
        .map_or(task_definition, |(_, name)| name)
}

/// Whether `target` is an ECS target that runs `family`.
pub fn runs_family(target: &RuleTarget, family: &str) -> bool {
    target
        .task_definition
        .as_deref()
        .is_some_and(|td| family_revision(td).0 == family)
}
