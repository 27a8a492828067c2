//! The manifest as written: the serde and JSON Schema shape of `ferry.yml`.
//!
//! These types are what editors validate against (the JSON Schema is
//! generated from them) and what serde rejects unknown keys with; defaults
//! are applied afterwards, in `validate`, because they depend on the service
//! name.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::inputs::BuilderKind;

/// Ferry's service manifest (`.github/ferry.yml`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "Ferry service manifest")]
pub struct RawManifest {
    /// Project name; `{project}` in name templates.
    pub project: String,
    /// Default AWS region; `{region}` in name templates.
    pub region: String,
    /// The branch whose pushes are releases (default `release`). On a push to
    /// it, `detect` compares with the last successful deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_branch: Option<String>,
    /// Globs of repository paths whose change affects every service (a
    /// toolchain file, a shared build script).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_paths: Vec<String>,
    /// Named lists of path globs that several services share: a service
    /// lists `group:<name>` in its `paths` to include them (`common:
    /// [libs/common/**]`, then `paths: [services/api/**, group:common]`).
    /// The language-free way to say that services use a shared folder.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub path_groups: IndexMap<String, Vec<String>>,
    /// Deployment environments, in promotion order.
    pub environments: IndexMap<String, RawEnvironment>,
    /// The services this repository releases.
    pub services: IndexMap<String, RawService>,
    /// How `ferry build` tags, builds and pushes images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<RawBuild>,
}

/// Image build settings shared by every service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawBuild {
    /// Registry host the images are pushed to (default: the account's ECR
    /// registry, `<account>.dkr.ecr.<region>.amazonaws.com`, as ECR reports
    /// it). `http://host:port` marks a registry without TLS (a local one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Release tag template (default `{service}-{sha7}-{timestamp}`);
    /// placeholders `{service}`, `{project}`, `{sha}`, `{sha7}`, `{timestamp}`
    /// (UTC `yyyymmddHHMMSS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The image builder: `docker` (`docker buildx build --push`, default)
    /// or `buildah` (daemonless runners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<BuilderKind>,
    /// How many services build at once (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub parallel: Option<u32>,
}

/// One environment: an ECS cluster, optionally promoted from another.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawEnvironment {
    /// ECS cluster name; may use `{project}`, `{env}`, `{region}`.
    pub cluster: String,
    /// The environment an image must have been deployed to successfully
    /// before it may be deployed here (checked by `ferry gate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    /// URL of the environment, shown in GitHub's environments view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// AWS region of this environment, when it differs from the manifest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Extra checks `ferry gate` makes before promoting to this environment
    /// (which needs `promote-from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<RawGate>,
    /// How services roll out here (default: rolling); a service may set its
    /// own in `services.<name>.rollout.<env>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RawRollout>,
    /// What Ferry checks while a rollout here runs, for every service; a
    /// service may set its own in `services.<name>.analysis.<env>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RawAnalysis>,
}

/// The ECS deployment strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RawStrategy {
    /// Replace tasks in place (ECS's default).
    Rolling,
    /// The whole new version beside the old, then all traffic at once.
    BlueGreen,
    /// A share of the traffic first (`canary-percent`), then the rest.
    Canary,
    /// The traffic in equal steps (`step-percent`).
    Linear,
}

/// How a service rolls out in an environment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawRollout {
    /// rolling (default), blue-green, canary or linear.
    pub strategy: RawStrategy,
    /// Canary: the share of traffic the new version gets first, in percent
    /// (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 100.0))]
    pub canary_percent: Option<f64>,
    /// Linear: the share of traffic each step moves, in percent (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3.0, max = 100.0))]
    pub step_percent: Option<f64>,
    /// Canary and linear: how long each partial step holds, in whole
    /// minutes (`5m`, `1h`; default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_bake: Option<String>,
    /// How long both versions stay once all traffic moved, before the old
    /// one is removed, in whole minutes (default 5m; 0 for rolling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<String>,
}

/// What Ferry checks while a rollout runs: each check's query for the new
/// version and for the old ones at the same time, every `interval`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawAnalysis {
    /// Prometheus base URL, whose HTTP API `/api/v1/query` is queried.
    pub prometheus: String,
    /// Time between two rounds of checks (`30s`, `1m`; default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// How many failed rounds are tolerated; one more stops the rollout and
    /// rolls it back (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<u32>,
    /// The checks.
    pub checks: Vec<RawCheck>,
}

/// One check: a PromQL query and its thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCheck {
    /// Its name in the report (`error-ratio`).
    pub name: String,
    /// PromQL returning one number; `{version}` becomes the version label
    /// matcher (the new version's, or the old ones' for the baseline),
    /// `{service}` the service's name, `{window}` the interval (`60s`).
    pub query: String,
    /// The new version's value fails above this (a check needs `max`,
    /// `min`, or both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The new version's value fails below this (a throughput, a success
    /// ratio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// On top of `max`/`min`: the new version's value also fails above this
    /// many times `max(baseline, floor)`, the old versions' value at the
    /// same time. Needs `floor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_vs_baseline: Option<f64>,
    /// The smallest baseline `max-vs-baseline` multiplies: a healthy old
    /// version at 0 errors would otherwise allow nothing, or (as it was)
    /// anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub floor: Option<f64>,
    /// The metric can be negative (a difference, a delta); by default a
    /// negative value is a broken query and fails the round.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_negative: bool,
}

/// `ferry gate`'s SLO check: the error budget burn of the `promote-from`
/// environment since its deployment, read from Prometheus.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawGate {
    /// Prometheus base URL (`https://prometheus.example.com`), whose HTTP
    /// API `/api/v1/query` is queried.
    pub prometheus: String,
    /// Refuse when an SLO's burn rate since the deployment is above this
    /// (1 = spending exactly the error budget over the SLO window; default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_burn_rate: Option<f64>,
    /// The SLOs to check, by the `slo` label of the recorded series
    /// `slo:sli_events_bad:rate5m`, `slo:sli_events_total:rate5m` and
    /// `slo:objective:ratio` (default: every SLO that has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slos: Option<Vec<String>>,
    /// A PromQL query to use instead, returning one burn rate per series
    /// (named by its `slo` label); `{window}` is replaced by the time since
    /// the deployment, e.g. `3600s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// One service. Every field has a default that follows the repository layout.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawService {
    /// Globs of the service's files (default `services/<name>/**`);
    /// `group:<name>` includes the globs of a `path-groups` entry. Its Cargo,
    /// Go, JavaScript and Python dependencies, Dockerfile and task
    /// definition (with its Jsonnet imports) are added automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Globs of `paths` for folders that do not exist yet. Every other glob
    /// must match a file of the checked-out commit (a typo would silently
    /// never release the service); these only give a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_paths: Option<Vec<String>>,
    /// The Cargo package of the service (default: the workspace member named
    /// like the service, if there is one).
    #[serde(default, rename = "crate", skip_serializing_if = "Option::is_none")]
    pub crate_name: Option<String>,
    /// Dockerfile (default `services/<name>/Dockerfile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Docker build context (default `.`, the repository root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Jsonnet task definition (default `task-definitions/<name>.jsonnet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// ECS service name (default `{project}-{env}-{service}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_service: Option<String>,
    /// The image repository in the registry (default `{project}/{service}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    /// Deprecated: the old name of `image-repository` (still read, with a
    /// warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub ecr_repository: Option<String>,
    /// This service's rollout per environment (`prod: {strategy: canary}`),
    /// instead of the environment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<IndexMap<String, RawRollout>>,
    /// This service's analysis per environment, instead of the environment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<IndexMap<String, RawAnalysis>>,
    /// Services that must be live first: when a release deploys this one and
    /// any of these, this one starts after they reached steady state and
    /// passed their analysis (the same in every environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// The port names the service's Service Connect configuration serves
    /// (`serviceConnectConfiguration.services[].portName`; Terraform's
    /// `service_connect_configuration.service.port_name`), the same in
    /// every environment: each must be the `name` of a port mapping of the
    /// rendered task definition (`render --check` checks it; preflight
    /// checks the live service's configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_connect: Option<Vec<String>>,
    /// The EventBridge rule that runs this service's task definition family
    /// on a schedule, per environment (`staging: {rule: nightly-report}`):
    /// after registering, Ferry moves the rule's ECS target to the new
    /// revision, and back when the release fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<IndexMap<String, RawSchedule>>,
    /// One-off tasks run before this service's rollout, per environment
    /// (`staging: [{name: migrate, command: [./migrate]}]`): each must exit
    /// 0, or the service is not updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_deploy: Option<IndexMap<String, Vec<RawTask>>>,
    /// One-off tasks run after this service's rollout succeeded, per
    /// environment; a failure marks the service failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_deploy: Option<IndexMap<String, Vec<RawTask>>>,
}

/// A one-off ECS task (RunTask) of a service's release: a command run in
/// the service's new task definition, or another task definition rendered
/// like the service's.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTask {
    /// Its name in logs, the summary and the records (`migrate`).
    pub name: String,
    /// The command, as a list (`[./migrate, --up]`): replaces the
    /// container's command. Needed unless `task-definition` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The container the command runs in (default: the task definition's
    /// first container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// A Jsonnet task definition to run instead of the service's, rendered
    /// like it (same image and variables), registered under its own family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// How long the task may run before Ferry stops it (StopTask) and
    /// reports it failed (`90s`, `10m`, `1h`; default 10m, at most 12h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// A scheduled job's EventBridge rule in one environment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSchedule {
    /// The rule's name; may use `{project}`, `{env}`, `{service}`,
    /// `{region}`. One of its targets must run the service's family.
    pub rule: String,
    /// The rule's event bus, by name or ARN (default: the account's
    /// default bus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus: Option<String>,
}

/// The JSON Schema of the manifest, for editors (`yaml-language-server`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(RawManifest);
    serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
}
